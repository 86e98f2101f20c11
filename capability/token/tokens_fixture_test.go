package token

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"github.com/keyhole-go/keyhole/capability"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Fixtures shared by the issuer, verifier, JWKS, fuzz and benchmark tests.
// Keys are generated once per test binary (RSA generation is slow under
// -race).

var vtNow = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

const (
	vtIssuer   = "https://auth.example"
	vtAudience = "forum"
)

var vtAlgs = []Algorithm{EdDSA, ES256, RS256, HS256}

type vtKeyring struct {
	byAlg   map[Algorithm]*SigningKey
	other   map[Algorithm]*SigningKey // same kid as byAlg, different key material
	second  map[Algorithm]*SigningKey // another kid, for rotation
	rsaPriv *rsa.PrivateKey
}

var (
	vtOnce sync.Once
	vtRing *vtKeyring
	vtErr  error
)

func vtKeys(tb testing.TB) *vtKeyring {
	tb.Helper()
	vtOnce.Do(func() {
		r := &vtKeyring{byAlg: map[Algorithm]*SigningKey{}, other: map[Algorithm]*SigningKey{}, second: map[Algorithm]*SigningKey{}}
		for _, alg := range vtAlgs {
			k, err := GenerateKey(alg, "k-"+strings.ToLower(string(alg)))
			if err != nil {
				vtErr = err
				return
			}
			r.byAlg[alg] = k
			if alg == RS256 {
				// One RSA key only: reuse it for "other" and "second"
				// where RSA is not the point of the test.
				r.rsaPriv = k.signer.(*rsa.PrivateKey)
				continue
			}
			o, err := GenerateKey(alg, k.kid)
			if err != nil {
				vtErr = err
				return
			}
			r.other[alg] = o
			s, err := GenerateKey(alg, k.kid+"-2")
			if err != nil {
				vtErr = err
				return
			}
			r.second[alg] = s
		}
		vtRing = r
	})
	if vtErr != nil {
		tb.Fatal(vtErr)
	}
	return vtRing
}

func vtRoles(tb testing.TB) *capability.Roles {
	tb.Helper()
	r, err := capability.Chain("member", "moderator", "admin")
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

func vtGrants(n int) []capability.Grant {
	g := make([]capability.Grant, n)
	roles := []string{"member", "moderator", "admin"}
	for i := range g {
		g[i] = capability.Grant{Group: capability.Int64Group(int64(100000 + i*7)), Role: roles[i%len(roles)]}
	}
	return g
}

func vtParams(n int) capability.Params {
	return capability.Params{Subject: "user-42", Audience: []string{vtAudience}, Grants: vtGrants(n)}
}

func vtIssuerFor(tb testing.TB, k *SigningKey, profile Profile) *Issuer {
	tb.Helper()
	is, err := NewIssuer(IssuerOptions{Issuer: vtIssuer, Roles: vtRoles(tb), Kind: capability.KindInt64, Key: k, Profile: profile, Now: func() time.Time { return vtNow }})
	if err != nil {
		tb.Fatal(err)
	}
	return is
}

func vtVerifierFor(tb testing.TB, mod func(*VerifierOptions), keys ...*SigningKey) *Verifier {
	tb.Helper()
	opts := VerifierOptions{
		Issuer:   vtIssuer,
		Audience: vtAudience,
		Roles:    vtRoles(tb),
		Kind:     capability.KindInt64,
		Now:      func() time.Time { return vtNow },
	}
	for _, k := range keys {
		opts.Keys = append(opts.Keys, k.Public())
		if !slices.Contains(opts.Algorithms, k.alg) {
			opts.Algorithms = append(opts.Algorithms, k.alg)
		}
	}
	if mod != nil {
		mod(&opts)
	}
	v, err := NewVerifier(tb.Context(), opts)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func vtMint(tb testing.TB, is *Issuer, p capability.Params) string {
	tb.Helper()
	tok, err := is.Mint(p)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// vtSign signs header.payload (both raw JSON) with k using the standard
// library, so that tests can build tokens jwx would refuse to produce.
func vtSign(tb testing.TB, k *SigningKey, header, payload []byte) string {
	tb.Helper()
	in := b64.EncodeToString(header) + "." + b64.EncodeToString(payload)
	return in + "." + b64.EncodeToString(vtRawSig(tb, k.alg, k.signer, []byte(in)))
}

func vtRawSig(tb testing.TB, alg Algorithm, key any, in []byte) []byte {
	tb.Helper()
	switch alg {
	case EdDSA:
		return ed25519.Sign(key.(ed25519.PrivateKey), in)
	case ES256:
		d := sha256.Sum256(in)
		r, s, err := ecdsa.Sign(rand.Reader, key.(*ecdsa.PrivateKey), d[:])
		if err != nil {
			tb.Fatal(err)
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return sig
	case RS256:
		d := sha256.Sum256(in)
		sig, err := rsa.SignPKCS1v15(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, d[:])
		if err != nil {
			tb.Fatal(err)
		}
		return sig
	case HS256:
		m := hmac.New(sha256.New, key.([]byte))
		m.Write(in)
		return m.Sum(nil)
	}
	tb.Fatalf("vtRawSig: algorithm %q", alg)
	return nil
}

// vtClaims returns the JSON payload of p as the issuer would write it
// (iss, iat and exp filled in), edited by edit on a generic map.
func vtClaims(tb testing.TB, p capability.Params, edit func(m map[string]any)) []byte {
	tb.Helper()
	if p.Issuer == "" {
		p.Issuer = vtIssuer
	}
	if p.IssuedAt.IsZero() {
		p.IssuedAt = vtNow
	}
	if p.Expiry.IsZero() {
		p.Expiry = vtNow.Add(15 * time.Minute)
	}
	if p.ID == "" {
		p.ID = "jti-1"
	}
	b, err := encodeClaims(p, capability.KindInt64, ProfileDefault)
	if err != nil {
		tb.Fatal(err)
	}
	if edit == nil {
		return b
	}
	m := map[string]any{}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		tb.Fatal(err)
	}
	edit(m)
	out, err := json.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func vtHeader(alg Algorithm, kid string) []byte {
	return []byte(`{"alg":"` + string(alg) + `","kid":"` + kid + `","typ":"JWT"}`)
}

// vtWantReason asserts that err is a *TokenError wrapping ErrInvalidToken
// and reason, and that its message does not contain the token.
func vtWantReason(tb testing.TB, err error, reason error, token string) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("got nil error, want %v", reason)
	}
	if !errors.Is(err, ErrInvalidToken) {
		tb.Errorf("got %v, want it to wrap ErrInvalidToken", err)
	}
	if !errors.Is(err, reason) {
		tb.Errorf("got %v, want reason %v", err, reason)
	}
	var te *TokenError
	if !errors.As(err, &te) {
		tb.Errorf("got %T, want *TokenError", err)
	}
	msg := err.Error()
	for _, part := range strings.Split(token, ".") {
		if len(part) >= 16 && strings.Contains(msg, part) {
			tb.Errorf("error %q contains a token part", msg)
		}
	}
}

// newFromHeld builds a capability from per-role lists the way the verifier
// does: capability.New with Params.ByRole.
func newFromHeld(r *capability.Roles, k capability.GroupKind, p capability.Params, held []capability.RoleGroups) (*capability.Capability, error) {
	p.ByRole = held
	if held == nil {
		p.ByRole = []capability.RoleGroups{}
	}
	return capability.New(r, k, p)
}

func forumRoles(testing.TB) *capability.Roles {
	return capability.MustChain("member", "moderator", "admin")
}
