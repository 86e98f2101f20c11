package middleware_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/capability/token"
	"github.com/keyhole-go/keyhole/middleware"
	"github.com/keyhole-go/keyhole/tokenserver"
)

// TestEndToEnd: issuer → JWKSHandler on a loopback server → verifier
// configured with that JWKS URL → Auth → handler, over real HTTP; then the
// issuer rotates keys: old tokens keep working until their key is removed,
// new tokens work after the refresh.
func TestEndToEnd(t *testing.T) {
	ctx := context.Background()
	roles := testRoles(t)
	now := time.Now()
	clock := func() time.Time { return now }
	k1, err := token.GenerateKey(token.EdDSA, "2026-03-k1")
	if err != nil {
		t.Fatal(err)
	}
	issuer, err := token.NewIssuer(token.IssuerOptions{Issuer: testIssuer, Roles: roles, Kind: capability.KindInt64, Key: k1, Now: clock})
	if err != nil {
		t.Fatal(err)
	}

	// The auth service publishes its keys in one line.
	authMux := http.NewServeMux()
	authMux.Handle("GET /.well-known/jwks.json", tokenserver.JWKSHandler(issuer))
	authSrv := httptest.NewServer(authMux)
	defer authSrv.Close()

	verifier, err := token.NewVerifier(ctx, token.VerifierOptions{
		Issuer: testIssuer, Audience: testAudience, Algorithms: []token.Algorithm{token.EdDSA},
		JWKSURL: authSrv.URL + "/.well-known/jwks.json", HTTPClient: authSrv.Client(),
		Roles: roles, Kind: capability.KindInt64, Now: clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer verifier.Close()

	var logs logBuffer
	auth, err := middleware.New(verifier, middleware.Options{Realm: testRealm, Logger: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	apiMux := http.NewServeMux()
	apiMux.Handle("POST /api/threads", auth.Handler(auth.RequireRole("member")(capHandler)))
	apiSrv := httptest.NewServer(middleware.Recover(apiMux))
	defer apiSrv.Close()

	call := func(tok string) (int, string, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, "POST", apiSrv.URL+"/api/threads", nil)
		if err != nil {
			t.Fatal(err)
		}
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := apiSrv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body [256]byte
		n, _ := resp.Body.Read(body[:])
		return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), string(body[:n])
	}
	mint := func(sub string) string {
		t.Helper()
		tok, err := issuer.Mint(capability.Params{Subject: sub, Audience: []string{testAudience}, Grants: []capability.Grant{grant("member", 1)}})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	expect := func(step, tok string, status int, body string) {
		t.Helper()
		got, ch, b := call(tok)
		if got != status || status == 200 && b != body {
			t.Errorf("%s: got %d %q %q, want %d %q", step, got, ch, b, status, body)
		}
		if status == 401 && ch != chInvalid && tok != "" {
			t.Errorf("%s: WWW-Authenticate %q", step, ch)
		}
	}

	old := mint("alice")
	expect("before rotation, no token", "", 401, "")
	expect("before rotation", old, 200, "sub=alice")

	// Rotate: k2 signs from now on; k1 stays published.
	k2, err := token.GenerateKey(token.EdDSA, "2026-03-k2")
	if err != nil {
		t.Fatal(err)
	}
	issuer.Rotate(k2)
	fresh := mint("bob")
	if err := verifier.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	expect("old token after rotation", old, 200, "sub=alice")
	expect("new token after refresh", fresh, 200, "sub=bob")

	// Remove k1: after the refresh its tokens are refused; k2's still work.
	if err := issuer.RemoveKey(k1.KeyID()); err != nil {
		t.Fatal(err)
	}
	if err := verifier.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	logs.buf.Reset()
	expect("old token after removal", old, 401, "")
	expect("new token after removal", fresh, 200, "sub=bob")
	recs := logs.records(t)
	if len(recs) != 1 || recs[0]["reason"] != middleware.ReasonUnknownKey || recs[0]["kid"] != `"2026-03-k1"` {
		t.Errorf("log after removal: %v", recs)
	}
	_, err = auth.Check(request("GET", "/", bearer(old), ""))
	if !errors.Is(err, token.ErrUnknownKey) {
		t.Errorf("Check(old): got %v, want ErrUnknownKey", err)
	}
}
