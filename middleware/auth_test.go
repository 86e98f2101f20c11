package middleware_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/capability/token"
	"github.com/keyhole-go/keyhole/middleware"
)

const (
	chNone    = `Bearer realm="forum"`
	chInvalid = `Bearer realm="forum", error="invalid_token"`
	chRequest = `Bearer realm="forum", error="invalid_request"`
	chScope   = `Bearer realm="forum", error="insufficient_scope"`
)

// TestBearerParsing is the RFC 6750 §2.1 table: where the token is read
// from and which requests are malformed. Its verifier accepts everything
// and records what it was asked, so each row proves which token (if any)
// reached verification; the security of verification itself is proven by
// the tests that use token.Verifier.
func TestBearerParsing(t *testing.T) {
	const max = 64
	long := strings.Repeat("a", max)
	tests := []struct {
		name   string
		target string
		authz  []string
		cookie string
		status int
		ch     string
		token  string // the token the verifier must see; "" for none
	}{
		{name: "bearer", authz: []string{"Bearer abc.def.ghi"}, status: 200, token: "abc.def.ghi"},
		{name: "lowercase scheme", authz: []string{"bearer abc"}, status: 200, token: "abc"},
		{name: "uppercase scheme", authz: []string{"BEARER abc"}, status: 200, token: "abc"},
		{name: "mixed case scheme", authz: []string{"bEaReR abc"}, status: 200, token: "abc"},
		{name: "every b64token character", authz: []string{"Bearer azAZ09-._~+/"}, status: 200, token: "azAZ09-._~+/"},
		{name: "trailing padding", authz: []string{"Bearer abc=="}, status: 200, token: "abc=="},
		{name: "one padding", authz: []string{"Bearer abc="}, status: 200, token: "abc="},
		{name: "two spaces", authz: []string{"Bearer  abc"}, status: 400, ch: chRequest},
		{name: "tab", authz: []string{"Bearer\tabc"}, status: 400, ch: chRequest},
		{name: "space then tab", authz: []string{"Bearer \tabc"}, status: 400, ch: chRequest},
		{name: "trailing space", authz: []string{"Bearer abc "}, status: 400, ch: chRequest},
		{name: "empty token", authz: []string{"Bearer "}, status: 400, ch: chRequest},
		{name: "scheme only", authz: []string{"Bearer"}, status: 400, ch: chRequest},
		{name: "space in token", authz: []string{"Bearer abc def"}, status: 400, ch: chRequest},
		{name: "comma list", authz: []string{"Bearer abc, Bearer def"}, status: 400, ch: chRequest},
		{name: "illegal percent", authz: []string{"Bearer abc%2E"}, status: 400, ch: chRequest},
		{name: "illegal quote", authz: []string{`Bearer "abc"`}, status: 400, ch: chRequest},
		{name: "illegal non-ASCII", authz: []string{"Bearer abcé"}, status: 400, ch: chRequest},
		{name: "illegal NUL", authz: []string{"Bearer abc\x00"}, status: 400, ch: chRequest},
		{name: "padding inside", authz: []string{"Bearer ab=c"}, status: 400, ch: chRequest},
		{name: "padding only", authz: []string{"Bearer =="}, status: 400, ch: chRequest},
		{name: "auth-param form", authz: []string{`Bearer token="abc"`}, status: 400, ch: chRequest},
		{name: "empty header", authz: []string{""}, status: 400, ch: chRequest},
		{name: "leading space", authz: []string{" Bearer abc"}, status: 400, ch: chRequest},
		{name: "duplicate headers", authz: []string{"Bearer abc", "Bearer abc"}, status: 400, ch: chRequest},
		{name: "duplicate headers, other scheme", authz: []string{"Bearer abc", "Basic dXNlcjpwYXNz"}, status: 400, ch: chRequest},
		{name: "no token", status: 401, ch: chNone},
		{name: "basic scheme ignored", authz: []string{"Basic dXNlcjpwYXNz"}, status: 401, ch: chNone},
		{name: "scheme without space is another scheme", authz: []string{"Bearerabc"}, status: 401, ch: chNone},
		{name: "query token ignored", target: "/?access_token=abc", status: 401, ch: chNone},
		{name: "query token ignored beside header", target: "/?access_token=query", authz: bearer("header"), status: 200, token: "header"},
		{name: "cookie", cookie: "kh=abc.def", status: 200, token: "abc.def"},
		{name: "cookie and header agree", authz: bearer("abc"), cookie: "kh=abc", status: 200, token: "abc"},
		{name: "cookie and header disagree", authz: bearer("abc"), cookie: "kh=abd", status: 400, ch: chRequest},
		{name: "two cookies agree", cookie: "kh=abc; kh=abc", status: 200, token: "abc"},
		{name: "two cookies disagree", cookie: "kh=abc; kh=abd", status: 400, ch: chRequest},
		{name: "empty cookie is no cookie", cookie: "kh=", status: 401, ch: chNone},
		{name: "empty cookie beside header", authz: bearer("abc"), cookie: "kh=", status: 200, token: "abc"},
		{name: "malformed cookie", cookie: "kh=ab=c", status: 400, ch: chRequest},
		{name: "other cookie ignored", cookie: "session=abc", status: 401, ch: chNone},
		{name: "basic header and cookie", authz: []string{"Basic dXNlcjpwYXNz"}, cookie: "kh=abc", status: 200, token: "abc"},
		{name: "token at the size bound", authz: bearer(long), status: 200, token: long},
		{name: "oversize header", authz: bearer(long + "a"), status: 401, ch: chInvalid},
		{name: "oversize garbage header", authz: []string{strings.Repeat("\x00", 4096)}, status: 401, ch: chInvalid},
		{name: "oversize cookie", cookie: "kh=" + long + "a", status: 401, ch: chInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newRecordingVerifier(t)
			a, err := middleware.New(v, middleware.Options{Realm: testRealm, Cookie: "kh", MaxTokenBytes: max})
			if err != nil {
				t.Fatal(err)
			}
			target := tt.target
			if target == "" {
				target = "/"
			}
			w := serve(a.Handler(capHandler), request("GET", target, tt.authz, tt.cookie))
			checkAnswer(t, w, tt.status, tt.ch)
			var want []string
			if tt.token != "" {
				want = []string{tt.token}
			}
			if got := v.seen(); !slices.Equal(got, want) {
				t.Errorf("verifier saw %q, want %q", got, want)
			}
			if tt.status == 200 && w.Body.String() != "sub=rec" {
				t.Errorf("body: got %q, want %q", w.Body.String(), "sub=rec")
			}
		})
	}
}

// TestCookieNotConfigured: without Options.Cookie, cookies are never read.
func TestCookieNotConfigured(t *testing.T) {
	v := newRecordingVerifier(t)
	a, err := middleware.New(v, middleware.Options{Realm: testRealm})
	if err != nil {
		t.Fatal(err)
	}
	w := serve(a.Handler(mustNotRun(t)), request("GET", "/", nil, "kh=abc"))
	checkAnswer(t, w, 401, chNone)
	if got := v.seen(); len(got) != 0 {
		t.Errorf("verifier saw %q", got)
	}
}

// TestRejectedTokens runs tokens refused by the real verifier through
// Handler: each is 401 invalid_token, the handler never runs, and the
// error Check returns carries the verifier's reason.
func TestRejectedTokens(t *testing.T) {
	k := newKeys(t)
	good := k.mint(t, "alice", false, grant("member", 1))
	other, err := token.GenerateKey(token.EdDSA, "k1") // same kid, other key
	if err != nil {
		t.Fatal(err)
	}
	otherIssuer, err := token.NewIssuer(token.IssuerOptions{Issuer: testIssuer, Roles: k.roles, Kind: capability.KindInt64, Key: other, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	forged, err := otherIssuer.Mint(capability.Params{Subject: "mallory", Audience: []string{testAudience}, Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	flip := []byte(parts[2])
	if flip[3] == 'A' {
		flip[3] = 'B'
	} else {
		flip[3] = 'A'
	}
	tampered := parts[0] + "." + parts[1] + "." + string(flip)
	swapped := parts[0] + "." + strings.Split(forged, ".")[1] + "." + parts[2]
	tests := []struct {
		name   string
		token  string
		reason error
		at     time.Duration // clock offset at verification
	}{
		{"expired", good, token.ErrExpired, time.Hour},
		{"not yet valid", good, token.ErrNotYetValid, -time.Hour},
		{"wrong audience", k.mintParams(t, capability.Params{Subject: "alice", Audience: []string{"other"}}), token.ErrAudience, 0},
		{"bad signature", tampered, token.ErrBadSignature, 0},
		{"other key, same kid", forged, token.ErrBadSignature, 0},
		{"payload swapped", swapped, token.ErrBadSignature, 0},
		{"malformed", "abc.def.ghi", token.ErrMalformed, 0},
		{"two parts", parts[0] + "." + parts[1], token.ErrMalformed, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k.now = testNow.Add(tt.at)
			defer func() { k.now = testNow }()
			a := k.newAuth(t, middleware.Options{})
			w := serve(a.Handler(mustNotRun(t)), request("GET", "/", bearer(tt.token), ""))
			checkAnswer(t, w, 401, chInvalid)
			if strings.Contains(w.Body.String(), tt.token) || strings.Contains(w.Body.String(), "alice") {
				t.Errorf("body %q leaks the token or a claim", w.Body.String())
			}
			_, err := a.Check(request("GET", "/", bearer(tt.token), ""))
			if !errors.Is(err, token.ErrInvalidToken) || !errors.Is(err, tt.reason) {
				t.Errorf("Check: got %v, want ErrInvalidToken and %v", err, tt.reason)
			}
			for _, part := range strings.Split(tt.token, ".") {
				if len(part) >= 8 && strings.Contains(err.Error(), part) {
					t.Errorf("error text %q holds token bytes", err)
				}
			}
		})
	}
}

func TestHandlerAcceptsValidToken(t *testing.T) {
	k := newKeys(t)
	a := k.newAuth(t, middleware.Options{Cookie: "kh"})
	tok := k.mint(t, "alice", false, grant("member", 7))
	var got *capability.Capability
	var gotReq *http.Request
	h := a.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = capability.FromContext(r.Context())
		gotReq = r
	}))
	for _, r := range []*http.Request{
		request("GET", "/x?y=1", bearer(tok), ""),
		request("GET", "/x?y=1", nil, "kh="+tok),
	} {
		got = nil
		w := serve(h, r)
		if w.Code != 200 {
			t.Fatalf("status %d", w.Code)
		}
		if got.Subject() != "alice" || !got.Has("member", capability.Int64Group(7)) || got.Has("member", capability.Int64Group(8)) {
			t.Errorf("capability: got %q %v", got.Subject(), got.Grants())
		}
		// The request is not otherwise modified.
		if gotReq.URL != r.URL || gotReq.Method != r.Method || gotReq.Header.Get("Authorization") != r.Header.Get("Authorization") {
			t.Errorf("request modified")
		}
	}
}

// TestOptional: no token → anonymous; a token is checked exactly as by
// Handler, an invalid one is never downgraded to anonymous.
func TestOptional(t *testing.T) {
	k := newKeys(t)
	a := k.newAuth(t, middleware.Options{Cookie: "kh"})
	expired := k.mintParams(t, capability.Params{Subject: "bob", Audience: []string{testAudience}, Expiry: testNow.Add(time.Second)})
	k.now = testNow.Add(time.Minute)
	defer func() { k.now = testNow }()
	good := k.mint(t, "alice", false, grant("member", 1))

	tests := []struct {
		name   string
		r      *http.Request
		status int
		ch     string
		body   string
	}{
		{"no token", request("GET", "/", nil, ""), 200, "", "anonymous"},
		{"query token only", request("GET", "/?access_token="+good, nil, ""), 200, "", "anonymous"},
		{"basic scheme", request("GET", "/", []string{"Basic dXNlcjpwYXNz"}, ""), 200, "", "anonymous"},
		{"empty cookie", request("GET", "/", nil, "kh="), 200, "", "anonymous"},
		{"valid token", request("GET", "/", bearer(good), ""), 200, "", "sub=alice"},
		{"valid cookie", request("GET", "/", nil, "kh="+good), 200, "", "sub=alice"},
		{"expired token", request("GET", "/", bearer(expired), ""), 401, chInvalid, ""},
		{"garbage token", request("GET", "/", bearer("abc"), ""), 401, chInvalid, ""},
		{"expired cookie", request("GET", "/", nil, "kh="+expired), 401, chInvalid, ""},
		{"malformed header", request("GET", "/", []string{"Bearer  " + good}, ""), 400, chRequest, ""},
		{"duplicate header", request("GET", "/", []string{"Bearer " + good, "Bearer " + good}, ""), 400, chRequest, ""},
		{"header and cookie disagree", request("GET", "/", bearer(good), "kh="+expired), 400, chRequest, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := serve(a.Optional(capHandler), tt.r)
			checkAnswer(t, w, tt.status, tt.ch)
			if tt.status == 200 && w.Body.String() != tt.body {
				t.Errorf("body: got %q, want %q", w.Body.String(), tt.body)
			}
		})
	}

	// An anonymous request does not see a capability an outer layer stored.
	t.Run("outer capability hidden", func(t *testing.T) {
		outer, err := k.verifier.Verify(context.Background(), good)
		if err != nil {
			t.Fatal(err)
		}
		r := request("GET", "/", nil, "")
		r = r.WithContext(capability.NewContext(r.Context(), outer))
		if w := serve(a.Optional(capHandler), r); w.Body.String() != "anonymous" {
			t.Errorf("got %q, want anonymous", w.Body.String())
		}
	})
}

// TestCheck: Check is pure (no answer written, nothing logged) and its
// errors match the documented sentinels.
func TestCheck(t *testing.T) {
	k := newKeys(t)
	var logs logBuffer
	a := k.newAuth(t, middleware.Options{Logger: logs.logger(), ErrorWriter: func(http.ResponseWriter, *http.Request, error) {
		t.Error("Check called the error writer")
	}})
	good := k.mint(t, "alice", true)

	c, err := a.Check(request("GET", "/", bearer(good), ""))
	if err != nil || c.Subject() != "alice" || !c.Admin() {
		t.Fatalf("Check(good): %v, %v", c, err)
	}
	tests := []struct {
		name   string
		r      *http.Request
		is     []error
		status int
		reason string
	}{
		{"no token", request("GET", "/", nil, ""), []error{middleware.ErrNoToken}, 401, middleware.ReasonMissingToken},
		{"malformed", request("GET", "/", []string{"Bearer"}, ""), []error{middleware.ErrBadRequest}, 400, middleware.ReasonMalformedHeader},
		{"duplicate", request("GET", "/", []string{"Bearer a", "Bearer a"}, ""), []error{middleware.ErrBadRequest}, 400, middleware.ReasonDuplicateHeader},
		{"too large", request("GET", "/", bearer(strings.Repeat("a", middleware.DefaultMaxTokenBytes+1)), ""), []error{token.ErrInvalidToken, token.ErrTooLarge}, 401, middleware.ReasonTooLarge},
		{"unknown key", request("GET", "/", bearer(forgeToken(t, nil2key(t), map[string]string{"alg": "EdDSA", "kid": "k9", "typ": "JWT"}, map[string]any{"sub": "x"})), ""),
			[]error{token.ErrInvalidToken, token.ErrUnknownKey}, 401, middleware.ReasonUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := a.Check(tt.r)
			if c != nil {
				t.Errorf("got a capability")
			}
			for _, target := range tt.is {
				if !errors.Is(err, target) {
					t.Errorf("got %v, want errors.Is %v", err, target)
				}
			}
			var ae *middleware.AuthError
			if !errors.As(err, &ae) || ae.Status != tt.status || ae.Reason != tt.reason {
				t.Fatalf("got %#v, want an *AuthError with status %d reason %s", err, tt.status, tt.reason)
			}
		})
	}
	if logs.String() != "" {
		t.Errorf("Check logged: %s", logs.String())
	}
}

// TestBrokenVerifier: a verifier that fails without judging the token, or
// returns nothing at all, refuses the request (fail closed).
func TestBrokenVerifier(t *testing.T) {
	tests := []struct {
		name   string
		v      funcVerifier
		status int
	}{
		{"nil, nil", func(context.Context, string) (*capability.Capability, error) { return nil, nil }, 500},
		{"internal error", func(context.Context, string) (*capability.Capability, error) { return nil, errors.New("boom") }, 500},
		{"deadline", func(context.Context, string) (*capability.Capability, error) { return nil, context.DeadlineExceeded }, 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := middleware.New(tt.v, middleware.Options{Realm: testRealm})
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range []http.Handler{a.Handler(mustNotRun(t)), a.Optional(mustNotRun(t))} {
				w := serve(h, request("GET", "/", bearer("abc"), ""))
				checkAnswer(t, w, tt.status, "")
			}
		})
	}
}

func TestNewOptions(t *testing.T) {
	v := newRecordingVerifier(t)
	bad := []middleware.Options{
		{Realm: `a"b`},
		{Realm: `a\b`},
		{Realm: "a\nb"},
		{Realm: strings.Repeat("a", 257)},
		{Cookie: "a b"},
		{Cookie: "a;b"},
		{MaxTokenBytes: -1},
	}
	for _, o := range bad {
		if _, err := middleware.New(v, o); err == nil {
			t.Errorf("New(%+v): no error", o)
		}
	}
	if _, err := middleware.New(nil, middleware.Options{}); err == nil {
		t.Errorf("New(nil): no error")
	}
	// No realm: the challenges have no realm attribute.
	a, err := middleware.New(v, middleware.Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkAnswer(t, serve(a.Handler(mustNotRun(t)), request("GET", "/", nil, "")), 401, "Bearer")
	checkAnswer(t, serve(a.Handler(mustNotRun(t)), request("GET", "/", []string{"Bearer"}, "")), 400, `Bearer error="invalid_request"`)
}

// TestErrorWriterOption: a replaced error writer receives the *AuthError.
func TestErrorWriterOption(t *testing.T) {
	k := newKeys(t)
	var got error
	a := k.newAuth(t, middleware.Options{ErrorWriter: func(w http.ResponseWriter, r *http.Request, err error) {
		got = err
		w.WriteHeader(http.StatusTeapot)
	}})
	w := serve(a.Handler(mustNotRun(t)), request("GET", "/", bearer("abc"), ""))
	var ae *middleware.AuthError
	if w.Code != http.StatusTeapot || !errors.As(got, &ae) || ae.Reason != middleware.ReasonMalformedToken || ae.Challenge() != chInvalid {
		t.Errorf("got %d, %#v", w.Code, got)
	}
}

// TestTokenReasons: every reason sentinel of the verifier has its stable
// reason code, and the answer is 401 invalid_token for all.
func TestTokenReasons(t *testing.T) {
	tests := []struct {
		reason error
		want   string
	}{
		{token.ErrMalformed, "malformed_token"},
		{token.ErrTooLarge, "too_large"},
		{token.ErrAlgorithm, "algorithm"},
		{token.ErrUnknownKey, "unknown_key"},
		{token.ErrBadSignature, "bad_signature"},
		{token.ErrExpired, "expired"},
		{token.ErrNotYetValid, "not_yet_valid"},
		{token.ErrIssuer, "wrong_issuer"},
		{token.ErrAudience, "wrong_audience"},
		{token.ErrLifetime, "lifetime"},
		{token.ErrClaims, "bad_claims"},
		{token.ErrTooManyGrants, "too_many_grants"},
		{errors.New("some future reason"), "invalid_token"},
	}
	for _, tt := range tests {
		v := funcVerifier(func(context.Context, string) (*capability.Capability, error) {
			return nil, &token.TokenError{Reason: tt.reason}
		})
		var logs logBuffer
		a, err := middleware.New(v, middleware.Options{Realm: testRealm, Logger: logs.logger()})
		if err != nil {
			t.Fatal(err)
		}
		checkAnswer(t, serve(a.Handler(mustNotRun(t)), request("GET", "/", bearer("abc"), "")), 401, chInvalid)
		if recs := logs.records(t); len(recs) != 1 || recs[0]["reason"] != tt.want {
			t.Errorf("%v: got %v, want reason %s", tt.reason, recs, tt.want)
		}
	}
}

// TestZeroAuth: an Auth not built by New fails closed.
func TestZeroAuth(t *testing.T) {
	var a middleware.Auth
	for _, h := range []http.Handler{a.Handler(mustNotRun(t)), a.Optional(mustNotRun(t))} {
		for _, r := range []*http.Request{request("GET", "/", nil, ""), request("GET", "/", bearer("abc"), "")} {
			checkAnswer(t, serve(h, r), 500, "")
		}
	}
	if c, err := a.Check(request("GET", "/", bearer("abc"), "")); c != nil || err == nil {
		t.Errorf("Check: %v, %v", c, err)
	}
}

// TestCookieCrossOrigin: a request authenticated by the token cookie alone,
// with an unsafe method, must come from the request's own origin; a header
// token, a safe method and a same-origin request are not affected.
func TestCookieCrossOrigin(t *testing.T) {
	k := newKeys(t)
	tok := k.mint(t, "alice", true, grant("moderator", 1))
	trusted := http.NewCrossOriginProtection()
	if err := trusted.AddTrustedOrigin("https://app.example"); err != nil {
		t.Fatal(err)
	}
	def := k.newAuth(t, middleware.Options{Cookie: "kh"})
	tests := []struct {
		name    string
		opts    *middleware.Options // nil: def
		method  string
		cookie  bool
		header  bool
		site    string // Sec-Fetch-Site
		origin  string
		want    int
		optWant int // the answer of Optional (0: want)
	}{
		{name: "cross-site POST, cookie", method: "POST", cookie: true, site: "cross-site", origin: "https://evil.example", want: 403},
		{name: "same-site POST, cookie", method: "POST", cookie: true, site: "same-site", want: 403},
		{name: "cross-origin POST, cookie, Origin only", method: "POST", cookie: true, origin: "https://evil.example", want: 403},
		{name: "cross-site DELETE, cookie", method: "DELETE", cookie: true, site: "cross-site", want: 403},
		{name: "same-origin POST, cookie", method: "POST", cookie: true, site: "same-origin", want: 200},
		{name: "user-initiated POST, cookie", method: "POST", cookie: true, site: "none", want: 200},
		{name: "same-origin POST, cookie, Origin only", method: "POST", cookie: true, origin: "http://example.com", want: 200},
		{name: "non-browser POST, cookie", method: "POST", cookie: true, want: 200},
		{name: "cross-site GET, cookie", method: "GET", cookie: true, site: "cross-site", origin: "https://evil.example", want: 200},
		{name: "cross-site HEAD, cookie", method: "HEAD", cookie: true, site: "cross-site", want: 200},
		{name: "cross-site POST, header", method: "POST", header: true, site: "cross-site", origin: "https://evil.example", want: 200},
		{name: "cross-site POST, header and cookie", method: "POST", header: true, cookie: true, site: "cross-site", want: 200},
		{name: "cross-site POST, no token", method: "POST", site: "cross-site", want: 401, optWant: 200},
		{name: "trusted origin", opts: &middleware.Options{Cookie: "kh", CrossOriginProtection: trusted},
			method: "POST", cookie: true, site: "cross-site", origin: "https://app.example", want: 200},
		{name: "untrusted origin with a custom protection", opts: &middleware.Options{Cookie: "kh", CrossOriginProtection: trusted},
			method: "POST", cookie: true, site: "cross-site", origin: "https://evil.example", want: 403},
		{name: "check turned off", opts: &middleware.Options{Cookie: "kh", InsecureAllowCrossOriginCookies: true},
			method: "POST", cookie: true, site: "cross-site", origin: "https://evil.example", want: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := def
			if tt.opts != nil {
				a = k.newAuth(t, *tt.opts)
			}
			newReq := func() *http.Request {
				var authz []string
				if tt.header {
					authz = []string{"Bearer " + tok}
				}
				cookie := ""
				if tt.cookie {
					cookie = "kh=" + tok
				}
				r := request(tt.method, "/threads/1", authz, cookie)
				if tt.site != "" {
					r.Header.Set("Sec-Fetch-Site", tt.site)
				}
				if tt.origin != "" {
					r.Header.Set("Origin", tt.origin)
				}
				return r
			}
			w := serve(a.Handler(capHandler), newReq())
			if w.Code != tt.want {
				t.Fatalf("Handler: got %d %q, want %d", w.Code, w.Body.String(), tt.want)
			}
			optWant := tt.optWant
			if optWant == 0 {
				optWant = tt.want
			}
			if w := serve(a.Optional(capHandler), newReq()); w.Code != optWant {
				t.Errorf("Optional: got %d %q, want %d", w.Code, w.Body.String(), optWant)
			}
			if tt.want != 403 {
				return
			}
			checkAnswer(t, w, 403, "")
			_, err := a.Check(newReq())
			var ae *middleware.AuthError
			if !errors.As(err, &ae) || ae.Reason != middleware.ReasonCrossOrigin || !errors.Is(err, middleware.ErrCrossOrigin) {
				t.Errorf("Check: got %v, want an *AuthError with ReasonCrossOrigin matching ErrCrossOrigin", err)
			}
		})
	}
}
