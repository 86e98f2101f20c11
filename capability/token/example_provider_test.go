package token_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/capability/token"
)

// A verifier for an OpenID provider, built from its issuer URL alone: the
// JWKS URL comes from the provider's discovery document. Here the provider
// is a loopback server publishing a keyhole Issuer's ES384 key.
func ExampleNewVerifier_discovery() {
	roles := capability.MustChain("member", "moderator")
	key, err := token.GenerateKey(token.ES384, "2026-12")
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	issuer, err := token.NewIssuer(token.IssuerOptions{Issuer: srv.URL, Roles: roles, Kind: capability.KindInt64, Key: key})
	if err != nil {
		log.Fatal(err)
	}
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"issuer": srv.URL, "jwks_uri": srv.URL + "/keys"})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		doc, _ := issuer.JWKS()
		w.Write(doc)
	})

	verifier, err := token.NewVerifier(context.Background(), token.VerifierOptions{
		Issuer:     srv.URL, // the discovery document must name exactly this issuer
		Discovery:  true,
		Audience:   "forum",
		Algorithms: []token.Algorithm{token.ES384, token.PS256},
		Roles:      roles,
		Kind:       capability.KindInt64,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer verifier.Close()

	tok, err := issuer.Mint(capability.Params{Subject: "alice", Audience: []string{"forum"},
		Grants: []capability.Grant{{Group: capability.Int64Group(7), Role: "moderator"}}})
	if err != nil {
		log.Fatal(err)
	}
	c, err := verifier.Verify(context.Background(), tok)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Subject(), c.Has("member", capability.Int64Group(7)), c.Has("member", capability.Int64Group(8)))
	// Output: alice true false
}

// A key that arrives as a JWK goes through ParsePublicJWK, which pins it to
// its algorithm and refuses encryption keys.
func ExampleParsePublicJWK() {
	// The Ed25519 public key of RFC 8037, appendix A.2.
	sig := `{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"k1","use":"sig"}`
	k, err := token.ParsePublicJWK([]byte(sig))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(k.Algorithm(), k.KeyID())

	enc := `{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"k2","use":"enc"}`
	_, err = token.ParsePublicJWK([]byte(enc))
	fmt.Println(err)
	// Output:
	// EdDSA k1
	// token: invalid key: key "k2" is for "enc", not for signatures
}
