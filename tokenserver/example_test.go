package tokenserver_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/capability/token"
	"github.com/keyhole-go/keyhole/tokenserver"
)

// A forum user's token is exchanged for a short-lived token for the
// "plugin.stats" plugin, which the application approves for the role member
// only: the user's moderator grant is lowered to member, the admin flag is
// dropped, and the token is bound to the plugin's audience.
func ExampleTokenExchange() {
	roles, _ := capability.Chain("member", "moderator")
	key, _ := token.GenerateKey(token.EdDSA, "k1")
	clock := func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }
	issuer, err := token.NewIssuer(token.IssuerOptions{
		Issuer: "https://auth.example", Roles: roles, Kind: capability.KindInt64, Key: key, Now: clock,
	})
	if err != nil {
		panic(err)
	}
	verifierFor := func(aud string) *token.Verifier {
		v, err := token.NewVerifier(context.Background(), token.VerifierOptions{
			Issuer: "https://auth.example", Audience: aud,
			Algorithms: []token.Algorithm{token.EdDSA}, Keys: issuer.PublicKeys(),
			Roles: roles, Kind: capability.KindInt64, Now: clock,
		})
		if err != nil {
			panic(err)
		}
		return v
	}

	exchange, err := tokenserver.NewTokenExchange(tokenserver.TokenExchangeOptions{
		Verifier: verifierFor("forum"), // subject tokens: the users' audience only
		Issuer:   issuer,               // and its role hierarchy
		Audiences: map[string]tokenserver.AudiencePolicy{
			"plugin.stats": {Roles: []string{"member"}},
		},
		Now: clock,
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /oauth/token", exchange)

	userToken, _ := issuer.Mint(capability.Params{
		Subject:  "alice",
		Audience: []string{"forum"},
		Admin:    true,
		Grants: []capability.Grant{
			{Group: capability.Int64Group(1), Role: "member"},
			{Group: capability.Int64Group(7), Role: "moderator"},
		},
	})
	form := url.Values{
		"grant_type":         {tokenserver.GrantTypeTokenExchange},
		"subject_token":      {userToken},
		"subject_token_type": {tokenserver.TokenTypeJWT},
		"audience":           {"plugin.stats"},
	}
	r := httptest.NewRequest("POST", "/oauth/token", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)

	var resp struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
		panic(err)
	}
	fmt.Println(w.Code, resp.TokenType, resp.ExpiresIn, w.Header().Get("Cache-Control"))

	// The plugin verifies the token with a verifier for its own audience.
	c, err := verifierFor("plugin.stats").Verify(context.Background(), resp.AccessToken)
	if err != nil {
		panic(err)
	}
	fmt.Println(c.Subject(), c.Audience(), "admin:", c.Admin())
	for _, g := range c.Grants() {
		fmt.Println(g)
	}
	// The forum itself refuses the plugin's token.
	_, err = verifierFor("forum").Verify(context.Background(), resp.AccessToken)
	fmt.Println("forum refuses it, wrong audience:", errors.Is(err, token.ErrAudience))
	// Output:
	// 200 Bearer 300 no-store
	// alice [plugin.stats] admin: false
	// role member in group 1
	// role member in group 7
	// forum refuses it, wrong audience: true
}

func ExampleJWKSHandler() {
	roles, _ := capability.Chain("member", "moderator")
	key, _ := token.GenerateKey(token.EdDSA, "k1")
	issuer, err := token.NewIssuer(token.IssuerOptions{
		Issuer: "https://auth.example", Roles: roles, Kind: capability.KindInt64, Key: key,
	})
	if err != nil {
		panic(err)
	}
	// An auth service publishes its keys in one line.
	mux := http.NewServeMux()
	mux.Handle("GET /.well-known/jwks.json", tokenserver.JWKSHandler(issuer))

	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("GET", "/.well-known/jwks.json", nil))
	fmt.Println(w.Code, w.Header().Get("Content-Type"), w.Header().Get("Cache-Control"))

	// A client that has the document revalidates with its ETag.
	r := httptest.NewRequest("GET", "/.well-known/jwks.json", nil)
	r.Header.Set("If-None-Match", w.Header().Get("ETag"))
	w = httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	fmt.Println(w.Code)
	// Output:
	// 200 application/jwk-set+json public, max-age=300
	// 304
}
