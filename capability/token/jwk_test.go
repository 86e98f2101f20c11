package token

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// jwkJSON returns k's public JWK as a generic map, for editing.
func jwkJSON(t *testing.T, k PublicKey) map[string]any {
	t.Helper()
	jk, err := k.jwk()
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(jk)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParsePublicJWK(t *testing.T) {
	keys := algKeys(t)
	for _, alg := range allAlgs {
		if alg == HS256 {
			continue
		}
		k := keys[alg]
		m := jwkJSON(t, k.pub)
		got, err := ParsePublicJWK(mustJSON(t, m))
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		if got.alg != alg || got.kid != k.kid {
			t.Errorf("%s: got %v", alg, got)
		}
		// Without "use" and "alg": still a signature key, algorithm by type.
		delete(m, "use")
		delete(m, "alg")
		got, err = ParsePublicJWK(mustJSON(t, m))
		want := map[keyFamily]Algorithm{familyRSA: RS256, familyEd25519: EdDSA}[alg.family()]
		if alg.family() == familyEC {
			want = alg
		}
		if err != nil || got.alg != want {
			t.Errorf("%s without alg: got %v, %v, want %s", alg, got, err, want)
		}
		// key_ops with verify is fine.
		m["key_ops"] = []string{"verify"}
		if _, err := ParsePublicJWK(mustJSON(t, m)); err != nil {
			t.Errorf("%s with key_ops [verify]: %v", alg, err)
		}
	}
	// A key from ParsePublicJWK verifies the issuer's tokens.
	k := keys[PS384]
	pk, err := ParsePublicJWK(mustJSON(t, jwkJSON(t, k.pub)))
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(context.Background(), VerifierOptions{Issuer: vtIssuer, Audience: vtAudience, Roles: vtRoles(t),
		Kind: capability.KindInt64, Algorithms: []Algorithm{PS384}, Keys: []PublicKey{pk}, Now: func() time.Time { return vtNow }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), vtMint(t, vtIssuerFor(t, k, ProfileDefault), vtParams(2))); err != nil {
		t.Errorf("Verify with a parsed JWK: %v", err)
	}
}

// TestParsePublicJWKRefuses: encryption keys and every other unusable JWK
// are refused when handed in directly, as they are skipped in a JWKS.
func TestParsePublicJWKRefuses(t *testing.T) {
	keys := algKeys(t)
	rsa := func() map[string]any { return jwkJSON(t, keys[RS256].pub) }
	ec := func() map[string]any { return jwkJSON(t, keys[ES384].pub) }
	edit := func(m map[string]any, f func(m map[string]any)) map[string]any { f(m); return m }
	privRSA, err := jwk.Import(vtKeys(t).rsaPriv)
	if err != nil {
		t.Fatal(err)
	}
	_ = privRSA.Set(jwk.KeyIDKey, "priv")
	privEC, err := jwk.Import(keys[ES256].signer)
	if err != nil {
		t.Fatal(err)
	}
	_ = privEC.Set(jwk.KeyIDKey, "priv")
	tests := []struct {
		name string
		doc  []byte
	}{
		{"use enc (RSA)", mustJSON(t, edit(rsa(), func(m map[string]any) { m["use"] = "enc" }))},
		{"use enc (EC)", mustJSON(t, edit(ec(), func(m map[string]any) { m["use"] = "enc" }))},
		{"use enc without alg", mustJSON(t, edit(rsa(), func(m map[string]any) { m["use"] = "enc"; delete(m, "alg") }))},
		{"key_ops encrypt only", mustJSON(t, edit(rsa(), func(m map[string]any) { delete(m, "use"); m["key_ops"] = []string{"encrypt", "wrapKey"} }))},
		{"key_ops sign only", mustJSON(t, edit(ec(), func(m map[string]any) { delete(m, "use"); m["key_ops"] = []string{"sign"} }))},
		{"key_ops empty", mustJSON(t, edit(ec(), func(m map[string]any) { delete(m, "use"); m["key_ops"] = []string{} }))},
		{"encryption alg RSA-OAEP", mustJSON(t, edit(rsa(), func(m map[string]any) { delete(m, "use"); m["alg"] = "RSA-OAEP" }))},
		{"alg none", mustJSON(t, edit(rsa(), func(m map[string]any) { m["alg"] = "none" }))},
		{"RSA key with alg ES256", mustJSON(t, edit(rsa(), func(m map[string]any) { m["alg"] = "ES256" }))},
		{"P-384 key with alg ES256", mustJSON(t, edit(ec(), func(m map[string]any) { m["alg"] = "ES256" }))},
		{"P-384 key with alg PS384", mustJSON(t, edit(ec(), func(m map[string]any) { m["alg"] = "PS384" }))},
		{"RSA key with alg HS256", mustJSON(t, edit(rsa(), func(m map[string]any) { m["alg"] = "HS256" }))},
		{"no kid", mustJSON(t, edit(rsa(), func(m map[string]any) { delete(m, "kid") }))},
		{"kid with a space", mustJSON(t, edit(rsa(), func(m map[string]any) { m["kid"] = "a b" }))},
		{"symmetric oct key", []byte(`{"kty":"oct","kid":"s","alg":"HS256","use":"sig","k":"` + b64.EncodeToString([]byte(strings.Repeat("s", 32))) + `"}`)},
		{"private RSA key", mustJSON(t, privRSA)},
		{"private EC key", mustJSON(t, privEC)},
		{"not JSON", []byte(`{"kty":`)},
		{"a JWKS, not a key", mustJSON(t, map[string]any{"keys": []any{rsa()}})},
		{"too large", mustJSON(t, edit(rsa(), func(m map[string]any) { m["x-pad"] = strings.Repeat("p", maxJWKSize) }))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if k, err := ParsePublicJWK(tt.doc); !errors.Is(err, ErrBadKey) {
				t.Errorf("got %v, %v, want ErrBadKey", k, err)
			}
		})
	}
}

// TestJWKSSkipsEncryptionKeys: in a fetched set, an encryption key is never
// used for verification, even with the kid a token names and the right
// algorithm.
func TestJWKSSkipsEncryptionKeys(t *testing.T) {
	keys := algKeys(t)
	for _, f := range []func(m map[string]any){
		func(m map[string]any) { m["use"] = "enc" },
		func(m map[string]any) { delete(m, "use"); m["key_ops"] = []string{"encrypt"} },
	} {
		m := jwkJSON(t, keys[PS256].pub)
		f(m)
		set, err := jwk.Parse(mustJSON(t, map[string]any{"keys": []any{m}}))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := keysFromSet(set, algBit(PS256)); !errors.Is(err, ErrJWKS) {
			t.Errorf("set with only an encryption key: got %v, want ErrJWKS", err)
		}
	}
}

// TestVerifyRequiresSubject: a token without "sub", or with an empty one,
// is refused, whatever else it carries.
func TestVerifyRequiresSubject(t *testing.T) {
	k := algKeys(t)[ES384]
	v := vtVerifierFor(t, nil, k)
	ctx := context.Background()
	for name, edit := range map[string]func(m map[string]any){
		"missing sub": func(m map[string]any) { delete(m, "sub") },
		"empty sub":   func(m map[string]any) { m["sub"] = "" },
	} {
		t.Run(name, func(t *testing.T) {
			payload := vtClaims(t, vtParams(2), edit)
			in := b64.EncodeToString(vtHeader(ES384, k.kid)) + "." + b64.EncodeToString(payload)
			tok := in + "." + b64.EncodeToString(algRawSig(t, ES384, k.signer, []byte(in)))
			_, err := v.Verify(ctx, tok)
			vtWantReason(t, err, ErrClaims, tok)
		})
	}
	// The issuer mints such a token, but no verifier accepts it.
	p := vtParams(1)
	p.Subject = ""
	tok := vtMint(t, vtIssuerFor(t, k, ProfileDefault), p)
	_, err := v.Verify(ctx, tok)
	vtWantReason(t, err, ErrClaims, tok)
	// With a subject it verifies.
	if _, err := v.Verify(ctx, vtMint(t, vtIssuerFor(t, k, ProfileDefault), vtParams(1))); err != nil {
		t.Errorf("with a subject: %v", err)
	}
}
