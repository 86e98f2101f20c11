package token_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/capability/token"
)

// A service that verifies the tokens of an auth service it does not run
// takes the keys from the auth service's JWKS URL: the verifier fetches
// the set once in NewVerifier (which fails if it cannot), keeps it fresh
// in the background, refetches when a token names an unknown key id, and
// keeps the last good set when a fetch fails. Here the auth service is an
// httptest server on the loopback (plain http is accepted for loopback
// hosts only; use https elsewhere).
func ExampleNewVerifier_jwksURL() {
	roles := capability.MustChain("member", "moderator")

	// The auth service: an issuer and its key set at /.well-known/jwks.json
	// (tokenserver.JWKSHandler serves it the same way).
	key, err := token.GenerateKey(token.EdDSA, "auth-2026")
	if err != nil {
		panic(err)
	}
	issuer, err := token.NewIssuer(token.IssuerOptions{Issuer: "https://auth.example",
		Roles: roles, Kind: capability.KindInt64, Key: key})
	if err != nil {
		panic(err)
	}
	auth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		jwks, err := issuer.JWKS()
		if err != nil {
			http.Error(w, "no keys", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Write(jwks)
	}))
	defer auth.Close()

	// The service: a verifier that trusts that URL, pinned to EdDSA.
	verifier, err := token.NewVerifier(context.Background(), token.VerifierOptions{
		Issuer:     "https://auth.example",
		Audience:   "notes",
		Algorithms: []token.Algorithm{token.EdDSA},
		JWKSURL:    auth.URL + "/.well-known/jwks.json",
		Roles:      roles,
		Kind:       capability.KindInt64,
	})
	if err != nil {
		panic(err)
	}
	defer verifier.Close()

	tok, err := issuer.Mint(capability.Params{Subject: "alice", Audience: []string{"notes"},
		Grants: []capability.Grant{{Group: capability.Int64Group(3), Role: "moderator"}}})
	if err != nil {
		panic(err)
	}
	c, err := verifier.Verify(context.Background(), tok)
	if err != nil {
		panic(err)
	}
	fmt.Println(c.Subject(), "member in", c.Groups("member").Int64s())

	// A token for another audience is refused.
	other, err := issuer.Mint(capability.Params{Subject: "alice", Audience: []string{"billing"}})
	if err != nil {
		panic(err)
	}
	_, err = verifier.Verify(context.Background(), other)
	fmt.Println(errors.Is(err, token.ErrInvalidToken), errors.Is(err, token.ErrAudience))
	// Output:
	// alice member in [3]
	// true true
}
