package token

import (
	"crypto"
	"crypto/elliptic"
)

// Algorithm is a JWS signature algorithm (RFC 7518 §3.1) that keyhole signs
// and verifies with. Only the constants below exist; a verifier pins the
// ones it accepts, and every key is pinned to exactly one of them.
type Algorithm string

const (
	// EdDSA is Ed25519 (RFC 8037), the default.
	EdDSA Algorithm = "EdDSA"
	// ES256 is ECDSA on P-256 with SHA-256; the signature is r||s, 64 bytes.
	ES256 Algorithm = "ES256"
	// ES384 is ECDSA on P-384 with SHA-384; the signature is r||s, 96 bytes.
	ES384 Algorithm = "ES384"
	// ES512 is ECDSA on P-521 with SHA-512; the signature is r||s, 132
	// bytes.
	ES512 Algorithm = "ES512"
	// RS256 is RSASSA-PKCS1-v1_5 with SHA-256, keys of MinRSABits or more.
	RS256 Algorithm = "RS256"
	// RS384 is RSASSA-PKCS1-v1_5 with SHA-384, keys as for RS256.
	RS384 Algorithm = "RS384"
	// RS512 is RSASSA-PKCS1-v1_5 with SHA-512, keys as for RS256.
	RS512 Algorithm = "RS512"
	// PS256 is RSASSA-PSS with SHA-256, MGF1 with SHA-256 and a salt as
	// long as the hash (32 bytes), as RFC 7518 §3.5 requires; keys as for
	// RS256. A signature with any other salt length is refused.
	PS256 Algorithm = "PS256"
	// PS384 is RSASSA-PSS with SHA-384 and a 48-byte salt; see PS256.
	PS384 Algorithm = "PS384"
	// PS512 is RSASSA-PSS with SHA-512 and a 64-byte salt; see PS256.
	PS512 Algorithm = "PS512"
	// HS256 is HMAC with SHA-256, keys of 32 bytes or more.
	HS256 Algorithm = "HS256"
)

// keyFamily is the kind of key an algorithm uses.
type keyFamily uint8

const (
	familyNone keyFamily = iota
	familyEd25519
	familyEC
	familyRSA
	familyHMAC
)

// algInfo describes one supported algorithm.
type algInfo struct {
	bit    algSet
	family keyFamily
	hash   crypto.Hash // none for EdDSA
	pss    bool        // RSASSA-PSS rather than PKCS #1 v1.5
	curve  func() elliptic.Curve
	half   int // ECDSA: the size of r and of s in the signature
}

var algInfos = map[Algorithm]algInfo{
	EdDSA: {bit: 1 << 0, family: familyEd25519},
	ES256: {bit: 1 << 1, family: familyEC, hash: crypto.SHA256, curve: elliptic.P256, half: 32},
	RS256: {bit: 1 << 2, family: familyRSA, hash: crypto.SHA256},
	HS256: {bit: 1 << 3, family: familyHMAC, hash: crypto.SHA256},
	ES384: {bit: 1 << 4, family: familyEC, hash: crypto.SHA384, curve: elliptic.P384, half: 48},
	ES512: {bit: 1 << 5, family: familyEC, hash: crypto.SHA512, curve: elliptic.P521, half: 66},
	RS384: {bit: 1 << 6, family: familyRSA, hash: crypto.SHA384},
	RS512: {bit: 1 << 7, family: familyRSA, hash: crypto.SHA512},
	PS256: {bit: 1 << 8, family: familyRSA, hash: crypto.SHA256, pss: true},
	PS384: {bit: 1 << 9, family: familyRSA, hash: crypto.SHA384, pss: true},
	PS512: {bit: 1 << 10, family: familyRSA, hash: crypto.SHA512, pss: true},
}

// Valid reports whether a is one of the supported algorithms. "none" and
// every algorithm not declared above are not.
func (a Algorithm) Valid() bool {
	_, ok := algInfos[a]
	return ok
}

func (a Algorithm) family() keyFamily { return algInfos[a].family }

// ecAlgorithm returns the ECDSA algorithm of curve c, "" for another curve.
func ecAlgorithm(c elliptic.Curve) Algorithm {
	switch c {
	case elliptic.P256():
		return ES256
	case elliptic.P384():
		return ES384
	case elliptic.P521():
		return ES512
	}
	return ""
}

// Profile is the shape of the grants in a token's claims.
type Profile uint8

const (
	// ProfileDefault writes "permissions": [{"group": …, "role": …}, …].
	ProfileDefault Profile = iota
	// ProfileCompact writes grants grouped by role, for users in many
	// groups; see the package documentation for the encoding.
	ProfileCompact
)
