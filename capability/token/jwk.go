package token

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"fmt"
	"slices"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// maxJWKSize bounds the JSON of one key handed to ParsePublicJWK (an 8192-bit
// RSA key with every optional member is about 3 KiB).
const maxJWKSize = 16 << 10

// ParsePublicJWK parses one JSON Web Key (RFC 7517) into a verification key.
// It is the way to hand in a key that comes as a JWK, and it applies the
// rules of keys fetched from a JWKS URL, each refusal an error wrapping
// ErrBadKey:
//
//   - "kid" is required (1..MaxKeyIDLen printable ASCII characters);
//   - a key for encryption is refused: "use" other than "sig", or
//     "key_ops" present without "verify";
//   - private keys and symmetric ("oct") keys are refused (an HS256 secret
//     is passed to NewPublicKey as bytes, never as a JWK);
//   - the algorithm is "alg" when present, which must be one keyhole
//     supports and fit the key type (and, for ECDSA, the curve); without
//     "alg" an Ed25519 key is EdDSA, an ECDSA key is ES256, ES384 or ES512
//     by its curve, and an RSA key is RS256 (a PS256, PS384, PS512, RS384
//     or RS512 key must say so in "alg");
//   - the key itself is checked by NewPublicKey (sizes, curve points, the
//     ROCA fingerprint).
//
// The key is pinned to that one algorithm.
func ParsePublicJWK(data []byte) (PublicKey, error) {
	if len(data) > maxJWKSize {
		return PublicKey{}, fmt.Errorf("%w: JWK of %d bytes exceeds %d", ErrBadKey, len(data), maxJWKSize)
	}
	jk, err := jwk.ParseKey(data)
	if err != nil {
		return PublicKey{}, fmt.Errorf("%w: not a JWK: %v", ErrBadKey, err)
	}
	return publicKeyFromJWK(jk)
}

// publicKeyFromJWK applies the rules of ParsePublicJWK to a parsed key.
func publicKeyFromJWK(jk jwk.Key) (PublicKey, error) {
	kid, ok := jk.KeyID()
	if !ok {
		return PublicKey{}, fmt.Errorf("%w: JWK without kid", ErrBadKey)
	}
	if err := checkKeyID(kid); err != nil {
		return PublicKey{}, err
	}
	if use, ok := jk.KeyUsage(); ok && use != string(jwk.ForSignature) {
		return PublicKey{}, fmt.Errorf("%w: key %q is for %q, not for signatures", ErrBadKey, kid, use)
	}
	if ops, ok := jk.KeyOps(); ok && !slices.Contains(ops, jwk.KeyOpVerify) {
		return PublicKey{}, fmt.Errorf("%w: key %q: key_ops without \"verify\"", ErrBadKey, kid)
	}
	var raw any
	if err := jwk.Export(jk, &raw); err != nil {
		return PublicKey{}, fmt.Errorf("%w: key %q: %v", ErrBadKey, kid, err)
	}
	var alg Algorithm
	var family keyFamily
	switch k := raw.(type) {
	case ed25519.PublicKey:
		alg, family = EdDSA, familyEd25519
	case *ecdsa.PublicKey:
		alg, family = ecAlgorithm(k.Curve), familyEC
		if alg == "" {
			return PublicKey{}, fmt.Errorf("%w: key %q: unsupported curve", ErrBadKey, kid)
		}
	case *rsa.PublicKey:
		alg, family = RS256, familyRSA
	case []byte:
		return PublicKey{}, fmt.Errorf("%w: key %q is a symmetric secret, not a public key", ErrBadKey, kid)
	default:
		return PublicKey{}, fmt.Errorf("%w: key %q is a private or unsupported key (%T); pass the public half", ErrBadKey, kid, raw)
	}
	if a, ok := jk.Algorithm(); ok {
		named := Algorithm(a.String())
		if !named.Valid() || named.family() != family {
			return PublicKey{}, fmt.Errorf("%w: key %q: alg %q does not fit the key", ErrBadKey, kid, a.String())
		}
		alg = named // NewPublicKey checks an ECDSA key's curve against it
	}
	return NewPublicKey(alg, kid, raw)
}
