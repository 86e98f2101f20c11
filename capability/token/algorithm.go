package token

// Algorithm is a JWS signature algorithm that keyhole signs and verifies
// with. Only these four exist; a verifier pins the ones it accepts.
type Algorithm string

const (
	// EdDSA is Ed25519 (RFC 8037), the default.
	EdDSA Algorithm = "EdDSA"
	// ES256 is ECDSA on P-256 with SHA-256.
	ES256 Algorithm = "ES256"
	// RS256 is RSASSA-PKCS1-v1_5 with SHA-256, keys of 2048 bits or more.
	RS256 Algorithm = "RS256"
	// HS256 is HMAC with SHA-256, keys of 32 bytes or more.
	HS256 Algorithm = "HS256"
)

// Valid reports whether a is one of the supported algorithms.
func (a Algorithm) Valid() bool {
	switch a {
	case EdDSA, ES256, RS256, HS256:
		return true
	}
	return false
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
