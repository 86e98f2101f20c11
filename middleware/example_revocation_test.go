package middleware_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/middleware"
)

// loggedOut is an application's session store: the ended sessions.
type loggedOut struct {
	mu    sync.Mutex
	ended map[string]bool
}

func (s *loggedOut) Revoked(_ context.Context, c *capability.Capability) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return c.SessionID() == "" || s.ended[c.SessionID()], nil
}

// A route that runs no guarded statement still refuses a token whose
// session ended: Options.Revocation asks the application's store
// (sqlguard's Registry.Revocations over the sessions table, in a real
// application) after the token verified.
func ExampleRevocationChecker() {
	issuer, verifier := exampleSetup()
	store := &loggedOut{ended: map[string]bool{}}
	auth, err := middleware.New(verifier, middleware.Options{Realm: "forum", Revocation: store})
	if err != nil {
		panic(err)
	}
	me := auth.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := capability.FromContext(r.Context())
		fmt.Fprintln(w, c.Subject())
	}))
	tok, _ := issuer.Mint(capability.Params{Subject: "alice", SessionID: "s-1", Audience: []string{"forum"}})
	call := func() {
		r := httptest.NewRequest("GET", "/me", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		me.ServeHTTP(w, r)
		fmt.Println(strings.TrimSpace(fmt.Sprint(w.Code, " ", w.Header().Get("WWW-Authenticate"))))
	}
	call()
	store.mu.Lock()
	store.ended["s-1"] = true // POST /logout
	store.mu.Unlock()
	call()
	// Output:
	// 200
	// 401 Bearer realm="forum", error="invalid_token"
}
