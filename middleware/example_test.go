package middleware_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/capability/token"
	"github.com/keyhole-go/keyhole/middleware"
	"github.com/keyhole-go/keyhole/sqlguard"
)

// exampleSetup returns an issuer and a verifier with a static key and a
// fixed clock (no network).
func exampleSetup() (*token.Issuer, *token.Verifier) {
	roles, _ := capability.Chain("member", "moderator")
	key, _ := token.GenerateKey(token.EdDSA, "k1")
	clock := func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }
	issuer, err := token.NewIssuer(token.IssuerOptions{
		Issuer: "https://auth.example", Roles: roles, Kind: capability.KindInt64, Key: key, Now: clock,
	})
	if err != nil {
		panic(err)
	}
	verifier, err := token.NewVerifier(context.Background(), token.VerifierOptions{
		Issuer: "https://auth.example", Audience: "forum",
		Algorithms: []token.Algorithm{token.EdDSA}, Keys: issuer.PublicKeys(),
		Roles: roles, Kind: capability.KindInt64, Now: clock,
	})
	if err != nil {
		panic(err)
	}
	return issuer, verifier
}

// The quick start: a verifier, the middleware built once, a handler that
// reads the capability from the context, and an ErrorWriter with
// sqlguard's classification for the handler's errors. The guarded
// statement is stood in for by the error it would return for a member.
func Example() {
	issuer, verifier := exampleSetup() // token.NewVerifier with the auth service's keys
	auth, err := middleware.New(verifier, middleware.Options{Realm: "forum"})
	if err != nil {
		panic(err)
	}
	errs := middleware.ErrorWriter{Classifiers: []middleware.Classifier{sqlguard.Classify}}

	deleteThread := func(c *capability.Capability, id string) error {
		// deleteThread.Exec(ctx, pool, c, id) in a real handler: PostgreSQL
		// refuses a member, and sqlguard says what was needed.
		if c.Has("moderator", capability.Int64Group(7)) {
			return nil
		}
		return &sqlguard.DeniedError{Policy: "threads.delete", Need: "role moderator in group 7"}
	}
	mux := http.NewServeMux()
	mux.Handle("DELETE /threads/{id}", auth.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := capability.FromContext(r.Context()) // always there behind Handler
		if err := deleteThread(c, r.PathValue("id")); err != nil {
			errs.WriteError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})))

	for _, role := range []string{"moderator", "member", ""} {
		r := httptest.NewRequest("DELETE", "/threads/42", nil)
		if role != "" {
			tok, _ := issuer.Mint(capability.Params{
				Subject: "alice", Audience: []string{"forum"},
				Grants: []capability.Grant{{Group: capability.Int64Group(7), Role: role}},
			})
			r.Header.Set("Authorization", "Bearer "+tok)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		fmt.Println(strings.TrimSpace(fmt.Sprintf("%s: %d %s", cmp.Or(role, "no token"), w.Code, w.Body)))
		if ch := w.Header().Get("WWW-Authenticate"); ch != "" {
			fmt.Printf("   WWW-Authenticate: %s\n", ch)
		}
	}
	// Output:
	// moderator: 204
	// member: 403 {"type":"about:blank","title":"Forbidden","status":403,"detail":"needs role moderator in group 7"}
	// no token: 401 {"type":"about:blank","title":"Unauthorized","status":401}
	//    WWW-Authenticate: Bearer realm="forum"
}

func ExampleAuth_Handler() {
	issuer, verifier := exampleSetup()
	auth, err := middleware.New(verifier, middleware.Options{Realm: "forum"})
	if err != nil {
		panic(err)
	}
	threads := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := capability.FromContext(r.Context())
		fmt.Fprintf(w, "%s may post in %v", c.Subject(), c.Groups("member").Int64s())
	})
	mux := http.NewServeMux()
	mux.Handle("POST /threads", auth.Handler(threads))

	token, _ := issuer.Mint(capability.Params{
		Subject:  "alice",
		Audience: []string{"forum"},
		Grants:   []capability.Grant{{Group: capability.Int64Group(7), Role: "member"}},
	})
	r := httptest.NewRequest("POST", "/threads", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Body)

	// Without a token: refused, with a challenge.
	w = httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("POST", "/threads", nil))
	fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))
	// Output:
	// 200 alice may post in [7]
	// 401 Bearer realm="forum"
}

func ExampleAuth_Optional() {
	_, verifier := exampleSetup()
	auth, _ := middleware.New(verifier, middleware.Options{Realm: "forum"})
	h := auth.Optional(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := capability.FromContext(r.Context()); !ok {
			fmt.Fprint(w, "public threads only")
		}
	}))

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/threads", nil))
	fmt.Println(w.Code, w.Body)

	// An invalid token is refused, not downgraded to anonymous.
	r := httptest.NewRequest("GET", "/threads", nil)
	r.Header.Set("Authorization", "Bearer not.a.token")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))
	// Output:
	// 200 public threads only
	// 401 Bearer realm="forum", error="invalid_token"
}

func ExampleAuth_RequireRole() {
	issuer, verifier := exampleSetup()
	auth, _ := middleware.New(verifier, middleware.Options{Realm: "forum"})
	moderation := auth.Handler(auth.RequireRole("moderator")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "moderation queue")
	})))

	token, _ := issuer.Mint(capability.Params{
		Subject: "bob", Audience: []string{"forum"},
		Grants: []capability.Grant{{Group: capability.Int64Group(7), Role: "member"}},
	})
	r := httptest.NewRequest("GET", "/moderation", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	moderation.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))
	fmt.Print(w.Body)
	// Output:
	// 403 Bearer realm="forum", error="insufficient_scope"
	// {"type":"about:blank","title":"Forbidden","status":403}
}

func ExampleWriteError() {
	// The defaults know capability's shared sentinels, which sqlguard's
	// errors match, but nothing of SQL: no detail, and a unique violation
	// would be a 500. See ErrorWriter for the one line that adds sqlguard's
	// classification.
	err := fmt.Errorf("delete thread 42: %w", &sqlguard.DeniedError{Policy: "threads.delete", Need: "role moderator in group 7"})
	w := httptest.NewRecorder()
	middleware.WriteError(w, httptest.NewRequest("DELETE", "/threads/42", nil), err)
	fmt.Println(w.Code, w.Header().Get("Content-Type"))
	fmt.Print(w.Body)

	w = httptest.NewRecorder()
	middleware.WriteError(w, httptest.NewRequest("GET", "/threads/42", nil), capability.ErrNotFound)
	fmt.Println(w.Code)
	fmt.Print(w.Body)
	// Output:
	// 403 application/problem+json
	// {"type":"about:blank","title":"Forbidden","status":403}
	// 404
	// {"type":"about:blank","title":"Not Found","status":404}
}

func ExampleErrorWriter() {
	// The application plugs sqlguard's classification in, in one line.
	errs := middleware.ErrorWriter{Classifiers: []middleware.Classifier{sqlguard.Classify}}

	err := fmt.Errorf("delete thread 42: %w", &sqlguard.DeniedError{Policy: "threads.delete", Need: "role moderator in group 7"})
	w := httptest.NewRecorder()
	errs.WriteError(w, httptest.NewRequest("DELETE", "/threads/42", nil), err)
	fmt.Println(w.Code)
	fmt.Print(w.Body)
	// Output:
	// 403
	// {"type":"about:blank","title":"Forbidden","status":403,"detail":"needs role moderator in group 7"}
}

// An application changes one row by putting a classifier of its own
// first: here a denial is answered 404, like a row the caller may not
// see, and everything else as before.
func ExampleErrorWriter_override() {
	hideDenials := func(err error) (int, string, bool) {
		if errors.Is(err, capability.ErrForbidden) {
			return http.StatusNotFound, "", true
		}
		return 0, "", false
	}
	errs := middleware.ErrorWriter{
		Classifiers: []middleware.Classifier{hideDenials, sqlguard.Classify},
		RetryAfter:  2 * time.Second,
	}
	r := httptest.NewRequest("DELETE", "/threads/42", nil)
	for _, err := range []error{
		&sqlguard.DeniedError{Policy: "threads.delete", Need: "role moderator in group 7"},
		fmt.Errorf("%w: group id", sqlguard.ErrInvalidInput),
		fmt.Errorf("query: %w", context.DeadlineExceeded),
	} {
		w := httptest.NewRecorder()
		errs.WriteError(w, r, err)
		fmt.Printf("%d Retry-After: %q\n", w.Code, w.Header().Get("Retry-After"))
	}
	// Output:
	// 404 Retry-After: ""
	// 400 Retry-After: ""
	// 503 Retry-After: "2"
}

func ExampleRecover() {
	h := middleware.RecoverWith(slog.New(slog.DiscardHandler), nil)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("nil map")
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	fmt.Println(w.Code)
	fmt.Print(w.Body)
	// Output:
	// 500
	// {"type":"about:blank","title":"Internal Server Error","status":500}
}
