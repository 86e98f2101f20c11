package token

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/keyhole-go/keyhole/capability"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMintClaims(t *testing.T) {
	ring := vtKeys(t)
	ed := ring.byAlg[EdDSA]
	is := vtIssuerFor(t, ed, ProfileDefault)
	p := vtParams(2)
	p.Issuer, p.ID, p.IssuedAt = "spoofed", "spoofed", vtNow.Add(-time.Hour) // ignored
	tok := vtMint(t, is, p)
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("got %d parts", len(parts))
	}
	hdr, _ := b64.DecodeString(parts[0])
	var h map[string]any
	if err := json.Unmarshal(hdr, &h); err != nil {
		t.Fatal(err)
	}
	if h["alg"] != "EdDSA" || h["kid"] != ed.kid || h["typ"] != "JWT" || len(h) != 3 {
		t.Errorf("header: got %v, want exactly alg EdDSA, kid %s, typ JWT", h, ed.kid)
	}
	payload, _ := b64.DecodeString(parts[1])
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	if c["iss"] != vtIssuer {
		t.Errorf("iss: got %v", c["iss"])
	}
	if got, want := c["iat"], float64(vtNow.Unix()); got != want {
		t.Errorf("iat: got %v, want %v", got, want)
	}
	if got, want := c["exp"], float64(vtNow.Add(DefaultTTL).Unix()); got != want {
		t.Errorf("exp: got %v, want %v", got, want)
	}
	jti, _ := c["jti"].(string)
	if raw, err := b64.DecodeString(jti); err != nil || len(raw) != 16 {
		t.Errorf("jti %q: want 128 random bits in base64url", jti)
	}
	if tok2 := vtMint(t, is, p); tok2 == tok {
		t.Error("two tokens with the same jti")
	}
}

func TestMintRejects(t *testing.T) {
	ring := vtKeys(t)
	is := vtIssuerFor(t, ring.byAlg[EdDSA], ProfileDefault)
	tests := []struct {
		name string
		edit func(p *capability.Params)
	}{
		{"expiry in the past", func(p *capability.Params) { p.Expiry = vtNow.Add(-time.Second) }},
		{"expiry now", func(p *capability.Params) { p.Expiry = vtNow }},
		{"lifetime over MaxTTL", func(p *capability.Params) { p.Expiry = vtNow.Add(DefaultMaxTTL + time.Second) }},
		{"no audience", func(p *capability.Params) { p.Audience = nil }},
		{"empty audience", func(p *capability.Params) { p.Audience = []string{""} }},
		{"unknown role", func(p *capability.Params) {
			p.Grants = []capability.Grant{{Group: capability.Int64Group(1), Role: "owner"}}
		}},
		{"wrong group kind", func(p *capability.Params) {
			p.Grants = []capability.Grant{{Group: capability.TextGroup("a"), Role: "member"}}
		}},
		{"too many grants", func(p *capability.Params) { p.Grants = vtGrants(capability.MaxGrantsDefault + 1) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := vtParams(1)
			tt.edit(&p)
			if tok, err := is.Mint(p); !errors.Is(err, ErrMint) {
				t.Errorf("Mint: got %q, %v; want ErrMint", tok, err)
			}
		})
	}
	p := vtParams(1)
	p.Expiry = vtNow.Add(DefaultMaxTTL)
	if _, err := is.Mint(p); err != nil {
		t.Errorf("lifetime exactly MaxTTL: %v", err)
	}
}

func TestNewIssuerOptions(t *testing.T) {
	ring := vtKeys(t)
	roles := vtRoles(t)
	base := func() IssuerOptions {
		return IssuerOptions{Issuer: vtIssuer, Roles: roles, Kind: capability.KindInt64, Key: ring.byAlg[EdDSA]}
	}
	tests := []struct {
		name  string
		edit  func(o *IssuerOptions)
		field string
	}{
		{"no issuer", func(o *IssuerOptions) { o.Issuer = "" }, "Issuer"},
		{"no roles", func(o *IssuerOptions) { o.Roles = nil }, "Roles"},
		{"no kind", func(o *IssuerOptions) { o.Kind = 0 }, "Kind"},
		{"no key", func(o *IssuerOptions) { o.Key = nil }, "Key"},
		{"TTL over MaxTTL", func(o *IssuerOptions) { o.TTL, o.MaxTTL = time.Hour, time.Minute }, "TTL"},
		{"negative TTL", func(o *IssuerOptions) { o.TTL = -1 }, "TTL"},
		{"bad profile", func(o *IssuerOptions) { o.Profile = 7 }, "Profile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := base()
			tt.edit(&o)
			_, err := NewIssuer(o)
			if err == nil || !strings.Contains(err.Error(), tt.field) {
				t.Errorf("got %v, want an error naming %s", err, tt.field)
			}
		})
	}
}

func TestIssuerRotation(t *testing.T) {
	ring := vtKeys(t)
	k1, k2 := ring.byAlg[EdDSA], ring.second[EdDSA]
	is := vtIssuerFor(t, k1, ProfileDefault)
	old := vtMint(t, is, vtParams(1))
	is.Rotate(k2)
	if got := is.ActiveKeyID(); got != k2.kid {
		t.Fatalf("ActiveKeyID: got %q, want %q", got, k2.kid)
	}
	fresh := vtMint(t, is, vtParams(1))
	v, err := NewVerifier(context.Background(), VerifierOptions{
		Issuer: vtIssuer, Audience: vtAudience, Algorithms: []Algorithm{EdDSA},
		Keys: is.PublicKeys(), Roles: vtRoles(t), Kind: capability.KindInt64, Now: func() time.Time { return vtNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{"old": old, "fresh": fresh} {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Errorf("%s token: %v", name, err)
		}
	}
	if err := is.RemoveKey(k2.kid); !errors.Is(err, ErrBadKey) {
		t.Errorf("RemoveKey(active): got %v, want ErrBadKey", err)
	}
	if err := is.RemoveKey("nope"); !errors.Is(err, ErrBadKey) {
		t.Errorf("RemoveKey(unknown): got %v, want ErrBadKey", err)
	}
	if err := is.RemoveKey(k1.kid); err != nil {
		t.Fatalf("RemoveKey(old): %v", err)
	}
	if got := is.PublicKeys(); len(got) != 1 || got[0].KeyID() != k2.kid {
		t.Errorf("PublicKeys after RemoveKey: got %v", got)
	}
}

func TestIssuerJWKS(t *testing.T) {
	ring := vtKeys(t)
	is := vtIssuerFor(t, ring.byAlg[EdDSA], ProfileDefault)
	is.Rotate(ring.byAlg[ES256])
	is.Rotate(ring.byAlg[RS256])
	is.Rotate(ring.byAlg[HS256]) // a secret: never published
	doc, err := is.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 3 {
		t.Fatalf("got %d keys, want 3 (EdDSA, ES256, RS256): %s", len(set.Keys), doc)
	}
	for _, k := range set.Keys {
		if k["use"] != "sig" || k["kid"] == nil || k["alg"] == nil {
			t.Errorf("key %v: want use sig, kid and alg", k["kid"])
		}
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if _, ok := k[private]; ok {
				t.Errorf("key %v publishes private member %q", k["kid"], private)
			}
		}
	}
	if strings.Contains(string(doc), `"oct"`) {
		t.Error("JWKS contains a symmetric key")
	}
	hsOnly := vtIssuerFor(t, ring.byAlg[HS256], ProfileDefault)
	doc, err = hsOnly.JWKS()
	if err != nil || string(doc) != `{"keys":[]}` {
		t.Errorf("HS256-only JWKS: got %s, %v; want {\"keys\":[]}", doc, err)
	}
}

// TestIssuerJWKSCached: the document is built once per key set, each call
// gets its own copy, and Rotate and RemoveKey are visible at once.
func TestIssuerJWKSCached(t *testing.T) {
	ring := vtKeys(t)
	is := vtIssuerFor(t, ring.byAlg[EdDSA], ProfileDefault)
	a, _ := is.JWKS()
	b, _ := is.JWKS()
	if string(a) != string(b) {
		t.Fatalf("two calls, one key set: %s != %s", a, b)
	}
	a[0] = 'x' // a caller's copy
	if c, _ := is.JWKS(); string(c) != string(b) {
		t.Errorf("changing a returned document changed the next one: %s", c)
	}
	is.Rotate(ring.byAlg[ES256])
	rotated, _ := is.JWKS()
	if !strings.Contains(string(rotated), ring.byAlg[ES256].kid) {
		t.Errorf("after Rotate: %s lacks %q", rotated, ring.byAlg[ES256].kid)
	}
	if err := is.RemoveKey(ring.byAlg[EdDSA].kid); err != nil {
		t.Fatal(err)
	}
	removed, _ := is.JWKS()
	if strings.Contains(string(removed), ring.byAlg[EdDSA].kid) {
		t.Errorf("after RemoveKey: %s still has %q", removed, ring.byAlg[EdDSA].kid)
	}
	if allocs := testing.AllocsPerRun(100, func() { _, _ = is.JWKS() }); allocs > 1 {
		t.Errorf("JWKS of an unchanged key set: %v allocations, want 1 (the copy)", allocs)
	}
}

func TestIssuerAccessors(t *testing.T) {
	ring := vtKeys(t)
	roles := vtRoles(t)
	is, err := NewIssuer(IssuerOptions{Issuer: vtIssuer, Roles: roles, Kind: capability.KindText, Key: ring.byAlg[EdDSA], MaxTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if is.Roles() != roles || is.Kind() != capability.KindText || is.MaxTTL() != time.Hour {
		t.Errorf("got %p %v %v, want %p text 1h", is.Roles(), is.Kind(), is.MaxTTL(), roles)
	}
	if is = vtIssuerFor(t, ring.byAlg[EdDSA], ProfileDefault); is.MaxTTL() != DefaultMaxTTL {
		t.Errorf("default MaxTTL: got %v, want %v", is.MaxTTL(), DefaultMaxTTL)
	}
}

// TestIssuerConcurrentRotation mints and rotates at once (run with -race).
func TestIssuerConcurrentRotation(t *testing.T) {
	ring := vtKeys(t)
	a, b := ring.byAlg[EdDSA], ring.second[EdDSA]
	is := vtIssuerFor(t, a, ProfileDefault)
	v := vtVerifierFor(t, nil, a, b)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 10 {
				if i == 0 {
					if j%2 == 0 {
						is.Rotate(b)
					} else {
						is.Rotate(a)
					}
					_, _ = is.JWKS()
					continue
				}
				tok, err := is.Mint(vtParams(1))
				if err == nil {
					_, err = v.Verify(context.Background(), tok)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
