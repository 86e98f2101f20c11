package token

import (
	"crypto/ecdsa"
	"crypto/ed25519"
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
	// MinRSABits is the smallest RSA modulus accepted (RS256, RS384,
	// RS512, PS256, PS384, PS512).
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

// PublicKey is the verifying half of a SigningKey: an Ed25519, ECDSA
// (P-256, P-384, P-521) or RSA public key, or, for HS256, the shared secret itself (which must never be
// published). Its zero value is no key. It is immutable.
type PublicKey struct {
	alg Algorithm
	kid string
	key any // ed25519.PublicKey, *ecdsa.PublicKey, *rsa.PublicKey or []byte
}

// GenerateKey returns a new random key for alg with the given key id: an
// Ed25519 key for EdDSA; a P-256, P-384 or P-521 key for ES256, ES384 or
// ES512; a 2048-bit RSA key for RS256, RS384, RS512, PS256, PS384 and
// PS512; and a 32-byte secret for HS256.
func GenerateKey(alg Algorithm, kid string) (*SigningKey, error) {
	if err := checkKeyID(kid); err != nil {
		return nil, err
	}
	var key any
	var err error
	switch alg.family() {
	case familyEd25519:
		_, key, err = ed25519.GenerateKey(rand.Reader)
	case familyEC:
		key, err = ecdsa.GenerateKey(algInfos[alg].curve(), rand.Reader)
	case familyRSA:
		key, err = rsa.GenerateKey(rand.Reader, MinRSABits)
	case familyHMAC:
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

// NewSigningKey wraps a private key for alg: an ed25519.PrivateKey for EdDSA;
// a *ecdsa.PrivateKey on P-256, P-384 or P-521 for ES256, ES384 or ES512; a
// *rsa.PrivateKey of MinRSABits..MaxRSABits for RS256, RS384, RS512, PS256,
// PS384 or PS512; or a []byte secret of at least MinHMACKeySize bytes for
// HS256 (copied). The key id must be 1..MaxKeyIDLen printable ASCII
// characters. The key is pinned to alg: an RSA key wrapped for RS256 never
// signs or verifies PS256, and the reverse. The public half is checked as
// NewPublicKey checks it (an RSA modulus with the ROCA fingerprint is
// refused).
func NewSigningKey(alg Algorithm, kid string, key any) (*SigningKey, error) {
	if err := checkKeyID(kid); err != nil {
		return nil, err
	}
	var pub any
	switch alg.family() {
	case familyEd25519:
		k, ok := key.(ed25519.PrivateKey)
		if !ok || len(k) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("%w: EdDSA needs an ed25519.PrivateKey, got %T", ErrBadKey, key)
		}
		k = slices.Clone(k)
		key, pub = k, k.Public()
	case familyEC:
		k, ok := key.(*ecdsa.PrivateKey)
		if !ok || k == nil {
			return nil, fmt.Errorf("%w: %s needs a *ecdsa.PrivateKey, got %T", ErrBadKey, alg, key)
		}
		pub = &k.PublicKey
	case familyRSA:
		k, ok := key.(*rsa.PrivateKey)
		if !ok || k == nil {
			return nil, fmt.Errorf("%w: %s needs a *rsa.PrivateKey, got %T", ErrBadKey, alg, key)
		}
		if err := k.Validate(); err != nil {
			return nil, fmt.Errorf("%w: RSA private key: %v", ErrBadKey, err)
		}
		pub = &k.PublicKey
	case familyHMAC:
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
// EdDSA; a *ecdsa.PublicKey on P-256 for ES256, P-384 for ES384 or P-521 for
// ES512 (a key on another curve is refused); a *rsa.PublicKey of
// MinRSABits..MaxRSABits for RS256, RS384, RS512, PS256, PS384 or PS512; or
// a []byte secret of at least MinHMACKeySize bytes for HS256 (copied). The
// key id must be 1..MaxKeyIDLen printable ASCII characters. Private keys
// are refused: pass their public half.
//
// The key is pinned to alg: a token is verified with it only when its
// header names exactly alg, so that one RSA key cannot be used as both
// RS256 and PS256, nor any public key as an HS256 secret. An RSA modulus
// that carries the ROCA fingerprint (CVE-2017-15361, see HasROCAFingerprint)
// is refused: its private key can be computed from it.
//
// A raw crypto key carries no "use" or "key_ops": it is taken to be a
// signature key. A key that comes as a JWK, whose use is stated, goes
// through ParsePublicJWK, which refuses encryption keys.
func NewPublicKey(alg Algorithm, kid string, key any) (PublicKey, error) {
	if err := checkKeyID(kid); err != nil {
		return PublicKey{}, err
	}
	switch alg.family() {
	case familyEd25519:
		k, ok := key.(ed25519.PublicKey)
		if !ok || len(k) != ed25519.PublicKeySize {
			return PublicKey{}, fmt.Errorf("%w: EdDSA needs a 32-byte ed25519.PublicKey, got %T", ErrBadKey, key)
		}
		key = slices.Clone(k)
	case familyEC:
		k, ok := key.(*ecdsa.PublicKey)
		if !ok || k == nil {
			return PublicKey{}, fmt.Errorf("%w: %s needs a *ecdsa.PublicKey, got %T", ErrBadKey, alg, key)
		}
		if k.Curve == nil || k.Curve != algInfos[alg].curve() {
			return PublicKey{}, fmt.Errorf("%w: %s needs a %s key", ErrBadKey, alg, algInfos[alg].curve().Params().Name)
		}
		if _, err := k.ECDH(); err != nil { // rejects points not on the curve
			return PublicKey{}, fmt.Errorf("%w: %s key: %v", ErrBadKey, alg, err)
		}
	case familyRSA:
		k, ok := key.(*rsa.PublicKey)
		if !ok || k == nil || k.N == nil {
			return PublicKey{}, fmt.Errorf("%w: %s needs a *rsa.PublicKey, got %T", ErrBadKey, alg, key)
		}
		if bits := k.N.BitLen(); bits < MinRSABits || bits > MaxRSABits {
			return PublicKey{}, fmt.Errorf("%w: RSA key of %d bits, want %d..%d", ErrBadKey, bits, MinRSABits, MaxRSABits)
		}
		if k.E < 3 || k.E%2 == 0 {
			return PublicKey{}, fmt.Errorf("%w: RSA public exponent %d", ErrBadKey, k.E)
		}
		if HasROCAFingerprint(k.N) {
			return PublicKey{}, fmt.Errorf("%w: RSA modulus has the ROCA fingerprint (CVE-2017-15361)", ErrBadKey)
		}
	case familyHMAC:
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

// algSet is a small set of algorithms (a bit per algorithm, see algInfos).
type algSet uint16

// algBit returns a's bit, 0 for an unsupported algorithm. It is a switch,
// not a map lookup, because Verify calls it for every token.
func algBit(a Algorithm) algSet {
	switch a {
	case EdDSA:
		return 1 << 0
	case ES256:
		return 1 << 1
	case RS256:
		return 1 << 2
	case HS256:
		return 1 << 3
	case ES384:
		return 1 << 4
	case ES512:
		return 1 << 5
	case RS384:
		return 1 << 6
	case RS512:
		return 1 << 7
	case PS256:
		return 1 << 8
	case PS384:
		return 1 << 9
	case PS512:
		return 1 << 10
	}
	return 0
}

func (s algSet) has(a Algorithm) bool { b := algBit(a); return b != 0 && s&b != 0 }
