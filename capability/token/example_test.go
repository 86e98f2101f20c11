package token_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/capability/token"
)

// exampleNow is the fixed clock of the examples.
func exampleNow() time.Time { return time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC) }

// exampleSetup returns the forum's roles, an EdDSA issuer and a verifier
// for audience "forum" that trusts the issuer's keys.
func exampleSetup() (*capability.Roles, *token.Issuer, *token.Verifier) {
	roles, err := capability.Chain("member", "moderator", "admin")
	if err != nil {
		log.Fatal(err)
	}
	key, err := token.GenerateKey(token.EdDSA, "2026-11")
	if err != nil {
		log.Fatal(err)
	}
	issuer, err := token.NewIssuer(token.IssuerOptions{
		Issuer: "https://auth.example",
		Roles:  roles,
		Kind:   capability.KindInt64,
		Key:    key,
		Now:    exampleNow,
	})
	if err != nil {
		log.Fatal(err)
	}
	verifier, err := token.NewVerifier(context.Background(), token.VerifierOptions{
		Issuer:     "https://auth.example",
		Audience:   "forum",
		Algorithms: []token.Algorithm{token.EdDSA},
		Keys:       issuer.PublicKeys(),
		Roles:      roles,
		Kind:       capability.KindInt64,
		Now:        exampleNow,
	})
	if err != nil {
		log.Fatal(err)
	}
	return roles, issuer, verifier
}

func ExampleVerifier_Verify() {
	_, issuer, verifier := exampleSetup()
	tok, err := issuer.Mint(capability.Params{
		Subject:  "alice",
		Audience: []string{"forum"},
		Grants: []capability.Grant{
			{Group: capability.Int64Group(7), Role: "moderator"},
			{Group: capability.Int64Group(9), Role: "member"},
		},
	})
	if err != nil {
		log.Fatal(err)
	}

	c, err := verifier.Verify(context.Background(), tok)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("subject:", c.Subject())
	fmt.Println("member in", c.Groups("member").Int64s())
	fmt.Println("moderator in", c.Groups("moderator").Int64s())
	fmt.Println("admin in", c.Groups("admin").Int64s())
	fmt.Println("expires", c.Expiry().UTC())
	// Output:
	// subject: alice
	// member in [7 9]
	// moderator in [7]
	// admin in []
	// expires 2026-11-24 12:15:00 +0000 UTC
}

func ExampleVerifier_Verify_expired() {
	roles, issuer, _ := exampleSetup()
	tok, err := issuer.Mint(capability.Params{Subject: "alice", Audience: []string{"forum"}})
	if err != nil {
		log.Fatal(err)
	}
	// A verifier whose clock is an hour later.
	later, err := token.NewVerifier(context.Background(), token.VerifierOptions{
		Issuer:     "https://auth.example",
		Audience:   "forum",
		Algorithms: []token.Algorithm{token.EdDSA},
		Keys:       issuer.PublicKeys(),
		Roles:      roles,
		Kind:       capability.KindInt64,
		Now:        func() time.Time { return exampleNow().Add(time.Hour) },
	})
	if err != nil {
		log.Fatal(err)
	}

	_, err = later.Verify(context.Background(), tok)
	fmt.Println(errors.Is(err, token.ErrInvalidToken), errors.Is(err, token.ErrExpired))
	var te *token.TokenError
	if errors.As(err, &te) {
		fmt.Println("key", te.KeyID, "subject", te.Subject)
	}
	fmt.Println(err)
	// Output:
	// true true
	// key 2026-11 subject alice
	// token: invalid token: token expired
}

// The verified-token cache is on by default: a token verified once is
// answered from memory, with the same capability, until its exp, a change
// of the key set or CacheMaxAge, whichever comes first.
func ExampleVerifier_Verify_cache() {
	roles, issuer, _ := exampleSetup()
	tok, err := issuer.Mint(capability.Params{Subject: "alice", Audience: []string{"forum"}})
	if err != nil {
		log.Fatal(err)
	}
	now := exampleNow()
	verifier, err := token.NewVerifier(context.Background(), token.VerifierOptions{
		Issuer:      "https://auth.example",
		Audience:    "forum",
		Algorithms:  []token.Algorithm{token.EdDSA},
		Keys:        issuer.PublicKeys(),
		Roles:       roles,
		Kind:        capability.KindInt64,
		Now:         func() time.Time { return now },
		CacheMaxAge: time.Hour, // longer than the token's life, for the example
	})
	if err != nil {
		log.Fatal(err)
	}

	first, _ := verifier.Verify(context.Background(), tok)
	again, _ := verifier.Verify(context.Background(), tok) // from the cache
	fmt.Println(first == again)
	now = now.Add(token.DefaultTTL + token.DefaultSkew) // exp, with the skew, has passed
	_, err = verifier.Verify(context.Background(), tok)
	fmt.Println(err)
	// Output:
	// true
	// token: invalid token: token expired
}

func ExampleCapability_Narrow() {
	_, issuer, verifier := exampleSetup()
	tok, err := issuer.Mint(capability.Params{
		Subject:  "alice",
		Audience: []string{"forum", "plugin"},
		Grants: []capability.Grant{
			{Group: capability.Int64Group(7), Role: "moderator"},
			{Group: capability.Int64Group(9), Role: "member"},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	c, err := verifier.Verify(context.Background(), tok)
	if err != nil {
		log.Fatal(err)
	}

	// A plugin gets member rights in group 7 only, for ten minutes.
	narrow, err := c.Narrow(capability.Narrowing{
		Groups:   []capability.Group{capability.Int64Group(7)},
		Role:     "member",
		Audience: "plugin",
		Expiry:   exampleNow().Add(10 * time.Minute),
	})
	if err != nil {
		log.Fatal(err)
	}
	pluginToken, err := issuer.Mint(narrow.Params())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("member in", narrow.Groups("member").Int64s())
	fmt.Println("moderator in", narrow.Groups("moderator").Int64s())
	fmt.Println("audience", narrow.Audience())

	// The forum's verifier does not accept the plugin's token.
	_, err = verifier.Verify(context.Background(), pluginToken)
	fmt.Println(errors.Is(err, token.ErrAudience))
	// Output:
	// member in [7]
	// moderator in []
	// audience [plugin]
	// true
}

func ExampleIssuer_Rotate() {
	roles, issuer, _ := exampleSetup()
	old, err := issuer.Mint(capability.Params{Subject: "alice", Audience: []string{"forum"}})
	if err != nil {
		log.Fatal(err)
	}
	next, err := token.GenerateKey(token.EdDSA, "2026-12")
	if err != nil {
		log.Fatal(err)
	}
	issuer.Rotate(next)
	fresh, err := issuer.Mint(capability.Params{Subject: "bob", Audience: []string{"forum"}})
	if err != nil {
		log.Fatal(err)
	}

	// Both keys stay published until the old one is removed.
	verifier, err := token.NewVerifier(context.Background(), token.VerifierOptions{
		Issuer:     "https://auth.example",
		Audience:   "forum",
		Algorithms: []token.Algorithm{token.EdDSA},
		Keys:       issuer.PublicKeys(),
		Roles:      roles,
		Kind:       capability.KindInt64,
		Now:        exampleNow,
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, tok := range []string{old, fresh} {
		c, err := verifier.Verify(context.Background(), tok)
		fmt.Println(c.Subject(), err)
	}
	for _, k := range issuer.PublicKeys() {
		fmt.Println("published", k.KeyID())
	}
	// Output:
	// alice <nil>
	// bob <nil>
	// published 2026-11
	// published 2026-12
}

func ExampleIssuer_JWKS() {
	_, issuer, _ := exampleSetup()
	doc, err := issuer.JWKS()
	if err != nil {
		log.Fatal(err)
	}
	var set struct {
		Keys []struct {
			Kty, Crv, Kid, Alg, Use string
			D                       string `json:"d"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		log.Fatal(err)
	}
	for _, k := range set.Keys {
		fmt.Println(k.Kid, k.Kty, k.Crv, k.Alg, k.Use, "private part published:", k.D != "")
	}
	// Output:
	// 2026-11 OKP Ed25519 EdDSA sig private part published: false
}
