package token

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
)

func TestGenerateKey(t *testing.T) {
	ring := vtKeys(t)
	for _, alg := range vtAlgs {
		k := ring.byAlg[alg]
		if k.Algorithm() != alg || k.KeyID() != "k-"+strings.ToLower(string(alg)) {
			t.Errorf("%s: got alg %s kid %q", alg, k.Algorithm(), k.KeyID())
		}
		pub := k.Public()
		if pub.Algorithm() != alg || pub.KeyID() != k.KeyID() || pub.IsZero() {
			t.Errorf("%s: Public() = %+v", alg, pub)
		}
	}
	if _, err := GenerateKey("none", "k"); !errors.Is(err, ErrBadKey) {
		t.Errorf("GenerateKey(none): got %v, want ErrBadKey", err)
	}
	if _, err := GenerateKey(EdDSA, ""); !errors.Is(err, ErrBadKey) {
		t.Errorf("GenerateKey with empty kid: got %v, want ErrBadKey", err)
	}
}

func TestKeyValidation(t *testing.T) {
	ring := vtKeys(t)
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p256 := ring.byAlg[ES256].signer.(*ecdsa.PrivateKey)
	offCurve := &ecdsa.PublicKey{Curve: elliptic.P256(), X: big.NewInt(1), Y: big.NewInt(1)}
	rsaPub := &ring.rsaPriv.PublicKey
	small := &rsa.PublicKey{N: new(big.Int).Rsh(rsaPub.N, 1100), E: 65537} // ~948 bits
	evenE := &rsa.PublicKey{N: rsaPub.N, E: 65536}
	tests := []struct {
		name string
		alg  Algorithm
		kid  string
		key  any
	}{
		{"EdDSA wrong type", EdDSA, "k", p256.Public()},
		{"EdDSA short", EdDSA, "k", ed25519.PublicKey(make([]byte, 31))},
		{"EdDSA private key", EdDSA, "k", edPriv},
		{"ES256 on P-384", ES256, "k", &p384.PublicKey},
		{"ES256 point off the curve", ES256, "k", offCurve},
		{"ES256 nil", ES256, "k", (*ecdsa.PublicKey)(nil)},
		{"ES256 Ed25519 key", ES256, "k", edPriv.Public()},
		{"RS256 small", RS256, "k", small},
		{"RS256 even exponent", RS256, "k", evenE},
		{"RS256 private key", RS256, "k", ring.rsaPriv},
		{"HS256 short", HS256, "k", make([]byte, 31)},
		{"HS256 string", HS256, "k", strings.Repeat("s", 40)},
		{"HS256 RSA public key", HS256, "k", rsaPub},
		{"none", "none", "k", []byte(strings.Repeat("s", 40))},
		{"empty kid", EdDSA, "", edPriv.Public()},
		{"kid with space", EdDSA, "a b", edPriv.Public()},
		{"kid with slash is fine but NUL is not", EdDSA, "a\x00", edPriv.Public()},
		{"kid too long", EdDSA, strings.Repeat("k", MaxKeyIDLen+1), edPriv.Public()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewPublicKey(tt.alg, tt.kid, tt.key); !errors.Is(err, ErrBadKey) {
				t.Errorf("NewPublicKey: got %v, want ErrBadKey", err)
			}
		})
	}
	signing := []struct {
		name string
		alg  Algorithm
		key  any
	}{
		{"EdDSA public key", EdDSA, edPriv.Public()},
		{"ES256 on P-384", ES256, p384},
		{"ES256 RSA key", ES256, ring.rsaPriv},
		{"RS256 ECDSA key", RS256, p256},
		{"HS256 short", HS256, make([]byte, 16)},
		{"EdDSA nil", EdDSA, nil},
	}
	for _, tt := range signing {
		t.Run("signing/"+tt.name, func(t *testing.T) {
			if _, err := NewSigningKey(tt.alg, "k", tt.key); !errors.Is(err, ErrBadKey) {
				t.Errorf("NewSigningKey: got %v, want ErrBadKey", err)
			}
		})
	}
}

func TestKeysAreCopied(t *testing.T) {
	secret := []byte(strings.Repeat("s", 32))
	k, err := NewSigningKey(HS256, "k", secret)
	if err != nil {
		t.Fatal(err)
	}
	secret[0] = 'x'
	if k.signer.([]byte)[0] != 's' || k.pub.key.([]byte)[0] != 's' {
		t.Error("NewSigningKey kept a reference to the caller's secret")
	}
}

func TestKeySetRules(t *testing.T) {
	ring := vtKeys(t)
	ed, es, hs := ring.byAlg[EdDSA], ring.byAlg[ES256], ring.byAlg[HS256]
	all := algBit(EdDSA) | algBit(ES256) | algBit(RS256) | algBit(HS256)
	if _, err := newKeySet([]PublicKey{ed.Public(), es.Public()}, all); err != nil {
		t.Errorf("EdDSA+ES256: %v", err)
	}
	if _, err := newKeySet([]PublicKey{ed.Public(), hs.Public()}, all); !errors.Is(err, ErrBadKey) {
		t.Errorf("mixed symmetric/asymmetric: got %v, want ErrBadKey", err)
	}
	if _, err := newKeySet([]PublicKey{ed.Public(), ring.other[EdDSA].Public()}, all); !errors.Is(err, ErrBadKey) {
		t.Errorf("duplicate kid: got %v, want ErrBadKey", err)
	}
	if _, err := newKeySet([]PublicKey{es.Public()}, algBit(EdDSA)); !errors.Is(err, ErrBadKey) {
		t.Errorf("alg not pinned: got %v, want ErrBadKey", err)
	}
}

func TestKeysDoNotPrintMaterial(t *testing.T) {
	ring := vtKeys(t)
	for _, alg := range vtAlgs {
		k := ring.byAlg[alg]
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
			for _, v := range []any{k, k.Public(), *k, []PublicKey{k.Public()}} {
				got := fmt.Sprintf(verb, v)
				if strings.Contains(got, "signer") || strings.Contains(got, "key:") || len(got) > 200 {
					t.Errorf("%s %s of %T prints %q", alg, verb, v, got)
				}
			}
		}
	}
	secret := ring.byAlg[HS256].signer.([]byte)
	for _, v := range []any{ring.byAlg[HS256], ring.byAlg[HS256].Public()} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%x", "%s"} {
			got := fmt.Sprintf(verb, v)
			if strings.Contains(got, fmt.Sprintf("%x", secret)) || strings.Contains(got, string(secret)) || strings.Contains(got, fmt.Sprint(secret)) {
				t.Errorf("%s prints the HS256 secret: %q", verb, got)
			}
		}
	}
}
