package token

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"
)

// ErrBadKey is returned for key material that keyhole refuses to sign or
// verify with: a key of the wrong type or size for its algorithm, an invalid
// key id, or a key set that mixes symmetric and asymmetric keys or repeats a
// key id.
var ErrBadKey = errors.New("token: invalid key")

// Key size bounds, checked whenever a key is loaded.
const (
	// MinRSABits is the smallest RSA modulus accepted for RS256.
	MinRSABits = 2048
	// MaxRSABits is the largest RSA modulus accepted (verification time
	// grows with the modulus; larger keys are a denial-of-service lever).
	MaxRSABits = 8192
	// MinHMACKeySize is the smallest HS256 secret accepted, in bytes.
	MinHMACKeySize = 32
	// MaxKeyIDLen bounds the length of a key id, ours and the header's.
	MaxKeyIDLen = 128
)

// SigningKey is a private key together with its key id (kid) and the one
// algorithm it signs with. It is immutable.
type SigningKey struct {
	alg    Algorithm
	kid    string
	signer any // ed25519.PrivateKey, *ecdsa.PrivateKey, *rsa.PrivateKey or []byte
	pub    PublicKey
}

// PublicKey is the verifying half of a SigningKey: an Ed25519, P-256 or RSA
// public key, or, for HS256, the shared secret itself (which must never be
// published). Its zero value is no key. It is immutable.
type PublicKey struct {
	alg Algorithm
	kid string
	key any // ed25519.PublicKey, *ecdsa.PublicKey, *rsa.PublicKey or []byte
}

// GenerateKey returns a new random key for alg with the given key id: an
// Ed25519 key for EdDSA, a P-256 key for ES256, a 2048-bit RSA key for RS256
// and a 32-byte secret for HS256.
func GenerateKey(alg Algorithm, kid string) (*SigningKey, error) {
	if err := checkKeyID(kid); err != nil {
		return nil, err
	}
	var key any
	var err error
	switch alg {
	case EdDSA:
		_, key, err = ed25519.GenerateKey(rand.Reader)
	case ES256:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256:
		key, err = rsa.GenerateKey(rand.Reader, MinRSABits)
	case HS256:
		secret := make([]byte, MinHMACKeySize)
		_, err = rand.Read(secret)
		key = secret
	default:
		return nil, fmt.Errorf("%w: unsupported algorithm %q", ErrBadKey, alg)
	}
	if err != nil {
		return nil, fmt.Errorf("token: generating %s key: %w", alg, err)
	}
	return NewSigningKey(alg, kid, key)
}

// NewSigningKey wraps a private key for alg: an ed25519.PrivateKey for EdDSA,
// a *ecdsa.PrivateKey on P-256 for ES256, a *rsa.PrivateKey of at least
// MinRSABits for RS256, or a []byte secret of at least MinHMACKeySize bytes
// for HS256 (copied). The key id must be 1..MaxKeyIDLen printable ASCII
// characters.
func NewSigningKey(alg Algorithm, kid string, key any) (*SigningKey, error) {
	if err := checkKeyID(kid); err != nil {
		return nil, err
	}
	var pub any
	switch alg {
	case EdDSA:
		k, ok := key.(ed25519.PrivateKey)
		if !ok || len(k) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("%w: EdDSA needs an ed25519.PrivateKey, got %T", ErrBadKey, key)
		}
		k = slices.Clone(k)
		key, pub = k, k.Public()
	case ES256:
		k, ok := key.(*ecdsa.PrivateKey)
		if !ok || k == nil {
			return nil, fmt.Errorf("%w: ES256 needs a *ecdsa.PrivateKey, got %T", ErrBadKey, key)
		}
		pub = &k.PublicKey
	case RS256:
		k, ok := key.(*rsa.PrivateKey)
		if !ok || k == nil {
			return nil, fmt.Errorf("%w: RS256 needs a *rsa.PrivateKey, got %T", ErrBadKey, key)
		}
		if err := k.Validate(); err != nil {
			return nil, fmt.Errorf("%w: RSA private key: %v", ErrBadKey, err)
		}
		pub = &k.PublicKey
	case HS256:
		k, ok := key.([]byte)
		if !ok {
			return nil, fmt.Errorf("%w: HS256 needs a []byte secret, got %T", ErrBadKey, key)
		}
		k = slices.Clone(k)
		key, pub = k, k
	default:
		return nil, fmt.Errorf("%w: unsupported algorithm %q", ErrBadKey, alg)
	}
	p, err := NewPublicKey(alg, kid, pub)
	if err != nil {
		return nil, err
	}
	return &SigningKey{alg: alg, kid: kid, signer: key, pub: p}, nil
}

// Format prints only the algorithm and key id, never key material, for
// every verb (%v, %+v, %#v, %s, …), so that logging a key leaks nothing.
func (k SigningKey) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "capability.SigningKey{%s %q}", k.alg, k.kid)
}

// KeyID returns the key id (the tokens' kid header).
func (k *SigningKey) KeyID() string { return k.kid }

// Algorithm returns the one algorithm the key signs with.
func (k *SigningKey) Algorithm() Algorithm { return k.alg }

// Public returns the verifying half of the key. For HS256 it is the secret.
func (k *SigningKey) Public() PublicKey { return k.pub }

// NewPublicKey wraps a verification key for alg: an ed25519.PublicKey for
// EdDSA, a *ecdsa.PublicKey on P-256 for ES256, a *rsa.PublicKey of
// MinRSABits..MaxRSABits for RS256, or a []byte secret of at least
// MinHMACKeySize bytes for HS256 (copied). The key id must be 1..MaxKeyIDLen
// printable ASCII characters. Private keys are refused: pass their public
// half.
func NewPublicKey(alg Algorithm, kid string, key any) (PublicKey, error) {
	if err := checkKeyID(kid); err != nil {
		return PublicKey{}, err
	}
	switch alg {
	case EdDSA:
		k, ok := key.(ed25519.PublicKey)
		if !ok || len(k) != ed25519.PublicKeySize {
			return PublicKey{}, fmt.Errorf("%w: EdDSA needs a 32-byte ed25519.PublicKey, got %T", ErrBadKey, key)
		}
		key = slices.Clone(k)
	case ES256:
		k, ok := key.(*ecdsa.PublicKey)
		if !ok || k == nil {
			return PublicKey{}, fmt.Errorf("%w: ES256 needs a *ecdsa.PublicKey, got %T", ErrBadKey, key)
		}
		if k.Curve != elliptic.P256() {
			return PublicKey{}, fmt.Errorf("%w: ES256 needs a P-256 key", ErrBadKey)
		}
		if _, err := k.ECDH(); err != nil { // rejects points not on the curve
			return PublicKey{}, fmt.Errorf("%w: ES256 key: %v", ErrBadKey, err)
		}
	case RS256:
		k, ok := key.(*rsa.PublicKey)
		if !ok || k == nil || k.N == nil {
			return PublicKey{}, fmt.Errorf("%w: RS256 needs a *rsa.PublicKey, got %T", ErrBadKey, key)
		}
		if bits := k.N.BitLen(); bits < MinRSABits || bits > MaxRSABits {
			return PublicKey{}, fmt.Errorf("%w: RSA key of %d bits, want %d..%d", ErrBadKey, bits, MinRSABits, MaxRSABits)
		}
		if k.E < 3 || k.E%2 == 0 {
			return PublicKey{}, fmt.Errorf("%w: RSA public exponent %d", ErrBadKey, k.E)
		}
	case HS256:
		k, ok := key.([]byte)
		if !ok {
			return PublicKey{}, fmt.Errorf("%w: HS256 needs a []byte secret, got %T", ErrBadKey, key)
		}
		if len(k) < MinHMACKeySize {
			return PublicKey{}, fmt.Errorf("%w: HS256 secret of %d bytes, want at least %d", ErrBadKey, len(k), MinHMACKeySize)
		}
		key = slices.Clone(k)
	default:
		return PublicKey{}, fmt.Errorf("%w: unsupported algorithm %q", ErrBadKey, alg)
	}
	return PublicKey{alg: alg, kid: kid, key: key}, nil
}

// KeyID returns the key id.
func (k PublicKey) KeyID() string { return k.kid }

// Format prints only the algorithm and key id, never key material (an
// HS256 PublicKey holds the secret), for every verb.
func (k PublicKey) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "capability.PublicKey{%s %q}", k.alg, k.kid)
}

// Algorithm returns the one algorithm the key verifies.
func (k PublicKey) Algorithm() Algorithm { return k.alg }

// IsZero reports whether k is the zero PublicKey (no key).
func (k PublicKey) IsZero() bool { return k.key == nil }

func (k PublicKey) symmetric() bool { return k.alg == HS256 }

// checkKeyID accepts 1..MaxKeyIDLen printable ASCII characters, so that a
// key id is always safe to log and to use as a map key.
func checkKeyID(kid string) error {
	if !validKeyID(kid) {
		return fmt.Errorf("%w: key id must be 1..%d printable ASCII characters", ErrBadKey, MaxKeyIDLen)
	}
	return nil
}

func validKeyID(kid string) bool {
	if len(kid) == 0 || len(kid) > MaxKeyIDLen {
		return false
	}
	for i := 0; i < len(kid); i++ {
		if kid[i] < 0x21 || kid[i] > 0x7e {
			return false
		}
	}
	return true
}

// keySet is an immutable set of verification keys indexed by key id.
type keySet struct {
	byKID map[string]PublicKey
}

// newKeySet checks that keys are all valid, have distinct key ids, use an
// algorithm in pinned, and do not mix symmetric and asymmetric keys.
func newKeySet(keys []PublicKey, pinned algSet) (*keySet, error) {
	s := &keySet{byKID: make(map[string]PublicKey, len(keys))}
	sym, asym := false, false
	for i, k := range keys {
		if k.IsZero() {
			return nil, fmt.Errorf("%w: Keys[%d] is the zero PublicKey", ErrBadKey, i)
		}
		if !pinned.has(k.alg) {
			return nil, fmt.Errorf("%w: key %q is %s, which is not in Algorithms", ErrBadKey, k.kid, k.alg)
		}
		if _, dup := s.byKID[k.kid]; dup {
			return nil, fmt.Errorf("%w: key id %q appears twice", ErrBadKey, k.kid)
		}
		if k.symmetric() {
			sym = true
		} else {
			asym = true
		}
		s.byKID[k.kid] = k
	}
	if sym && asym {
		return nil, fmt.Errorf("%w: a key set mixes HS256 secrets and public keys", ErrBadKey)
	}
	return s, nil
}

func (s *keySet) lookup(kid string) (PublicKey, bool) {
	if s == nil {
		return PublicKey{}, false
	}
	k, ok := s.byKID[kid]
	return k, ok
}

// algSet is a small set of algorithms (a bit per algorithm).
type algSet uint8

func algBit(a Algorithm) algSet {
	switch a {
	case EdDSA:
		return 1
	case ES256:
		return 2
	case RS256:
		return 4
	case HS256:
		return 8
	}
	return 0
}

func (s algSet) has(a Algorithm) bool { b := algBit(a); return b != 0 && s&b != 0 }
