package token

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// rocaResidue returns 65537^a mod M, M the product of rocaPrimes: the
// residue every RSALib prime has.
func rocaResidue(a int64) *big.Int {
	t := rocaOnce()
	return new(big.Int).Exp(big.NewInt(65537), big.NewInt(a), t.product)
}

// rocaNumber returns k·M + 65537^a mod M for a random k such that the
// result has bits bits and is odd: the form of RSALib's primes, and, with
// a = a1+a2, of the product of two of them.
func rocaNumber(t *testing.T, bits int, a int64) *big.Int {
	t.Helper()
	M := rocaOnce().product
	r := rocaResidue(a)
	for {
		k, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), uint(bits-M.BitLen()+1)))
		if err != nil {
			t.Fatal(err)
		}
		n := new(big.Int).Add(new(big.Int).Mul(k, M), r)
		if n.BitLen() == bits && n.Bit(0) == 1 {
			return n
		}
	}
}

// rocaPrime returns a prime of bits bits of RSALib's form.
func rocaPrime(t *testing.T, bits int, a int64) *big.Int {
	t.Helper()
	for range 100000 {
		if p := rocaNumber(t, bits, a); p.ProbablyPrime(20) {
			return p
		}
	}
	t.Fatal("no prime found")
	return nil
}

func TestROCAMasks(t *testing.T) {
	// The first subgroup masks of the roca-detect tool, as published.
	want := []uint64{6, 30, 126, 1026, 5658, 107286, 199410, 8388606, 536870910, 2147483646}
	tab := rocaOnce()
	for i, w := range want {
		if got := tab.masks[i][0]; got != w || tab.masks[i][1] != 0 {
			t.Errorf("mask for %d: got %d, want %d", rocaPrimes[i], got, w)
		}
	}
	if got := tab.product.BitLen(); got != 219 {
		t.Errorf("product of the primes: %d bits, want 219", got)
	}
}

// TestROCAFingerprintRate computes the probability that a modulus not
// made by RSALib passes the test (the figure HasROCAFingerprint documents).
func TestROCAFingerprintRate(t *testing.T) {
	tab := rocaOnce()
	var log2 float64
	for i, p := range rocaPrimes {
		n := 0
		for _, w := range tab.masks[i] {
			for ; w != 0; w &= w - 1 {
				n++
			}
		}
		log2 += math.Log2(float64(n) / float64(p))
	}
	if log2 > -29 || log2 < -31 {
		t.Errorf("false-positive rate 2^%.1f, documented as about 2^-30", log2)
	}
}

func TestROCAFingerprint(t *testing.T) {
	// Moduli of RSALib's form (only n matters to the test).
	for _, a := range []int64{1, 2, 12345, 1<<40 + 7} {
		n := rocaNumber(t, 2048, a)
		if !HasROCAFingerprint(n) {
			t.Errorf("a=%d: a ROCA-form modulus has no fingerprint", a)
		}
		if _, err := NewPublicKey(RS256, "roca", &rsa.PublicKey{N: n, E: 65537}); !errors.Is(err, ErrBadKey) {
			t.Errorf("a=%d: NewPublicKey: got %v, want ErrBadKey", a, err)
		}
		if _, err := NewPublicKey(PS256, "roca", &rsa.PublicKey{N: n, E: 65537}); !errors.Is(err, ErrBadKey) {
			t.Errorf("a=%d: NewPublicKey(PS256): got %v, want ErrBadKey", a, err)
		}
	}
	// Sound moduli do not have it: the test keys, and random odd numbers
	// (each would pass by chance with probability about 2^-30).
	if HasROCAFingerprint(vtKeys(t).rsaPriv.N) {
		t.Error("the test RSA key has the ROCA fingerprint")
	}
	for range 200 {
		n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 2048))
		if err != nil {
			t.Fatal(err)
		}
		n.SetBit(n, 0, 1)
		if HasROCAFingerprint(n) {
			t.Errorf("random modulus %x… has the fingerprint", n.Bytes()[:8])
		}
	}
	// One residue off the subgroup for a single prime is enough to pass.
	n := rocaNumber(t, 2048, 3)
	for _, delta := range []int64{2, 2 * 3 * 5 * 7 * 11} {
		m := new(big.Int).Add(n, big.NewInt(delta))
		if HasROCAFingerprint(m) {
			t.Errorf("n+%d still has the fingerprint", delta)
		}
	}
	if HasROCAFingerprint(nil) || HasROCAFingerprint(big.NewInt(0)) {
		t.Error("nil or zero modulus reported as ROCA")
	}
}

// TestROCAKeyPair builds a real RSA key pair from two RSALib-form primes
// and checks it is refused on every path: as a signing key, as a public
// key, as a JWK and inside a JWKS.
func TestROCAKeyPair(t *testing.T) {
	var priv *rsa.PrivateKey
	for a := int64(17); priv == nil && a < 1017; a += 2 {
		p, q := rocaPrime(t, 1024, a), rocaPrime(t, 1024, a*3)
		n := new(big.Int).Mul(p, q)
		phi := new(big.Int).Mul(new(big.Int).Sub(p, big.NewInt(1)), new(big.Int).Sub(q, big.NewInt(1)))
		d := new(big.Int).ModInverse(big.NewInt(65537), phi)
		if d == nil || n.BitLen() != 2048 || p.Cmp(q) == 0 {
			continue // 65537 divides phi, or a 2047-bit product: try again
		}
		priv = &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: n, E: 65537}, D: d, Primes: []*big.Int{p, q}}
	}
	if priv == nil {
		t.Fatal("no ROCA-form key pair found")
	}
	priv.Precompute()
	if err := priv.Validate(); err != nil {
		t.Fatalf("the ROCA-form key is not a valid RSA key: %v", err)
	}
	if _, err := NewSigningKey(RS256, "roca", priv); !errors.Is(err, ErrBadKey) {
		t.Errorf("NewSigningKey: got %v, want ErrBadKey", err)
	}
	jk, err := jwk.Import(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	_ = jk.Set(jwk.KeyIDKey, "roca")
	_ = jk.Set(jwk.KeyUsageKey, "sig")
	doc, err := json.Marshal(jk)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParsePublicJWK(doc); !errors.Is(err, ErrBadKey) {
		t.Errorf("ParsePublicJWK: got %v, want ErrBadKey", err)
	}
	set := jwk.NewSet()
	_ = set.AddKey(jk)
	if _, err := keysFromSet(set, algBit(RS256)); !errors.Is(err, ErrJWKS) {
		t.Errorf("keysFromSet: got %v, want ErrJWKS (no usable key)", err)
	}
}

func BenchmarkHasROCAFingerprint(b *testing.B) {
	n := vtKeys(b).rsaPriv.N
	for b.Loop() {
		if HasROCAFingerprint(n) {
			b.Fatal("fingerprint")
		}
	}
}
