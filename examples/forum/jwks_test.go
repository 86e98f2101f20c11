package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/capability/token"
)

// TestJWKS: a separate service verifies the login's tokens with nothing
// but the published key set, through the public API.
func TestJWKS(t *testing.T) {
	f := newForum(t)
	v, err := token.NewVerifier(context.Background(), token.VerifierOptions{
		Issuer: tokenIssuer, Audience: tokenAudience,
		Algorithms: []token.Algorithm{signingAlgorithm},
		JWKSURL:    f.srv.URL + "/.well-known/jwks.json",
		HTTPClient: f.srv.Client(),
		Roles:      forumRoles, Kind: capability.KindInt64,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	c, err := v.Verify(context.Background(), f.token("bob"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject() != "bob" || !c.Has(roleModerator, capability.Int64Group(1)) ||
		!c.Has(roleMember, capability.Int64Group(2)) || c.Has(roleModerator, capability.Int64Group(2)) || c.Admin() {
		t.Errorf("bob's capability: %v admin=%v", c.Grants(), c.Admin())
	}
	c, err = v.Verify(context.Background(), f.token("carol"))
	if err != nil || !c.Admin() {
		t.Errorf("carol: admin=%v err=%v", c.Admin(), err)
	}
}

// TestAuditFlag: -audit prints every declared policy and starts nothing.
func TestAuditFlag(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"-audit"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	reg, _ := newPolicies()
	for _, p := range reg.Policies() {
		if !bytes.Contains(out.Bytes(), []byte(p.Name)) {
			t.Errorf("-audit output misses %s:\n%s", p.Name, out.String())
		}
	}
	if !bytes.Contains(out.Bytes(), []byte("\nPLUGINS: 1 ")) || !bytes.Contains(out.Bytes(), []byte("forum-digest  roles=member  ttl=2m0s")) {
		t.Errorf("-audit output misses the plugins:\n%s", out.String())
	}
	if len(reg.Policies()) != 17 {
		t.Errorf("%d policies, want 17", len(reg.Policies()))
	}
}
