package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
)

// Signature verification.
//
// Tokens are signed with jwx (jws.Sign) and keys are parsed and published
// with jwx (jwk), but the signature of a token being verified is checked
// here, with the standard library, over the signing input that Verify has
// already split and whose header it has already read. Measured on the
// 3-grant tokens against the bare standard-library check (the floor), fastest
// of 40 interleaved batches (TestSignaturePathOverFloor; 2-core shared
// machine):
//
//	                         EdDSA   ES256   RS256
//	this function            1.00x   1.00x   0.99x
//	jwsbb.Verify             1.00x   1.02x   1.01x
//	jws.VerifyCompactFast    1.08x   1.06x   1.10x
//	jws.Verify (pinned key)  1.17x   1.12x   1.25x
//
// The algorithms added for identity providers, whole Verify over the floor
// (fastest of 500 interleaved calls each, one run of
// BenchmarkVerifyAlgOverFloor, RS256 and ES256 as reference; the floor in
// µs at 3 grants):
//
//	            RS256 ES256 RS384 RS512 PS256 PS384 PS512 ES384 ES512
//	floor (µs)     29    79    30    30    31    33    32   608  1607
//	3 grants    1.09x 1.03x 1.09x 1.08x 1.07x 1.06x 1.06x 1.01x 1.00x
//	1000 grants 2.30x 1.78x 1.71x 1.72x 2.24x 1.70x 1.69x 1.16x 1.05x
//
// (At 1000 grants the difference is decoding the 45 KB of claims, the same
// for every algorithm; SHA-384 and SHA-512 hash the token more slowly than
// SHA-256, which raises their floor and lowers the ratio. The standard
// library's P-384 and P-521 are not assembly-optimized, unlike P-256.)
//
// jws.Verify alone exceeds the budget of Verify (1.1x the floor for EdDSA
// at 3 grants, all steps included): it splits, decodes and parses the token
// a second time into a generic header (84 allocations). jwx's building block
// jwsbb.Verify is as fast as this function and would meet the budget too;
// we call the standard library directly so that the input rules are stated
// and tested in one place, with no allocation for EdDSA and RS256:
//
//   - the signature has exactly the length of the algorithm (64 bytes for
//     EdDSA and ES256, 96 for ES384, 132 for ES512, the modulus size for
//     RS256, RS384, RS512, PS256, PS384 and PS512, 32 bytes for HS256);
//   - ES256, ES384 and ES512 are r||s of 32, 48 and 66 bytes each (RFC 7518
//     §3.4), converted to a minimal DER encoding for ecdsa.VerifyASN1, which
//     also rejects r or s of zero or not below the group order. A DER or
//     other-length signature never verifies. (The high-s twin (r, n-s) of
//     a valid signature is valid ECDSA and is accepted, as in every JOSE
//     library; tokens are therefore not unique strings, and replay
//     detection must key on jti.)
//   - PS256, PS384 and PS512 are checked by rsa.VerifyPSS with MGF1 on the
//     same hash and a salt exactly as long as the hash
//     (rsa.PSSSaltLengthEqualsHash), as RFC 7518 §3.5 requires. The
//     standard library's PSSSaltLengthAuto, which accepts any salt length,
//     is not used: a signature with another salt length is refused (every
//     JOSE library we know of, jwx and go-jose included, signs with the
//     hash length).
//   - HS256 compares MACs in constant time (hmac.Equal).
func verifySignature(k PublicKey, signingInput, sig []byte) bool {
	switch k.alg {
	case EdDSA:
		pub := k.key.(ed25519.PublicKey)
		return len(sig) == ed25519.SignatureSize && ed25519.Verify(pub, signingInput, sig)
	case ES256:
		pub := k.key.(*ecdsa.PublicKey)
		if len(sig) != 64 {
			return false
		}
		var der [72]byte
		d, ok := rsToDER(der[:0], sig[:32], sig[32:])
		if !ok {
			return false
		}
		digest := sha256.Sum256(signingInput)
		return ecdsa.VerifyASN1(pub, digest[:], d)
	case ES384, ES512:
		pub := k.key.(*ecdsa.PublicKey)
		info := algInfos[k.alg]
		if len(sig) != 2*info.half {
			return false
		}
		var der [maxECDER]byte
		d, ok := rsToDER(der[:0], sig[:info.half], sig[info.half:])
		if !ok {
			return false
		}
		var buf [sha512.Size]byte
		return ecdsa.VerifyASN1(pub, digest(&buf, info.hash, signingInput), d)
	case RS256:
		pub := k.key.(*rsa.PublicKey)
		if len(sig) != pub.Size() {
			return false
		}
		digest := sha256.Sum256(signingInput)
		return rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) == nil
	case RS384, RS512, PS256, PS384, PS512:
		pub := k.key.(*rsa.PublicKey)
		if len(sig) != pub.Size() {
			return false
		}
		info := algInfos[k.alg]
		var buf [sha512.Size]byte
		d := digest(&buf, info.hash, signingInput)
		if info.pss {
			return rsa.VerifyPSS(pub, info.hash, d, sig, pssOptions(info.hash)) == nil
		}
		return rsa.VerifyPKCS1v15(pub, info.hash, d, sig) == nil
	case HS256:
		if len(sig) != sha256.Size {
			return false
		}
		m := hmac.New(sha256.New, k.key.([]byte))
		m.Write(signingInput)
		var sum [sha256.Size]byte
		return hmac.Equal(m.Sum(sum[:0]), sig)
	}
	return false
}

// maxECDER is the longest DER signature rsToDER writes: for P-521, a
// SEQUENCE with a long-form length of two INTEGERs of up to 67 bytes.
const maxECDER = 3 + 2*(2+67)

// The PSS options, one per hash, shared and never modified: the salt is
// exactly as long as the hash.
var (
	pss256 = &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: rsa.PSSSaltLengthEqualsHash}
	pss384 = &rsa.PSSOptions{Hash: crypto.SHA384, SaltLength: rsa.PSSSaltLengthEqualsHash}
	pss512 = &rsa.PSSOptions{Hash: crypto.SHA512, SaltLength: rsa.PSSSaltLengthEqualsHash}
)

func pssOptions(h crypto.Hash) *rsa.PSSOptions {
	switch h {
	case crypto.SHA384:
		return pss384
	case crypto.SHA512:
		return pss512
	}
	return pss256
}

// digest hashes in with h (SHA-256, SHA-384 or SHA-512) into buf and
// returns the digest.
func digest(buf *[sha512.Size]byte, h crypto.Hash, in []byte) []byte {
	switch h {
	case crypto.SHA256:
		s := sha256.Sum256(in)
		return buf[:copy(buf[:], s[:])]
	case crypto.SHA384:
		s := sha512.Sum384(in)
		return buf[:copy(buf[:], s[:])]
	default:
		*buf = sha512.Sum512(in)
		return buf[:]
	}
}

// sigLen returns the exact signature length of k's algorithm. It is a
// switch, not a lookup in algInfos, because Verify calls it for every token.
func sigLen(k PublicKey) int {
	switch k.alg {
	case EdDSA:
		return ed25519.SignatureSize
	case ES256:
		return 64
	case ES384:
		return 96
	case ES512:
		return 132
	case RS256, RS384, RS512, PS256, PS384, PS512:
		return k.key.(*rsa.PublicKey).Size()
	case HS256:
		return sha256.Size
	}
	return 0
}

// rsToDER appends the DER SEQUENCE { INTEGER r, INTEGER s } of the
// big-endian unsigned r and s to dst. It reports false for a zero r or s.
func rsToDER(dst, r, s []byte) ([]byte, bool) {
	r, s = trimZeros(r), trimZeros(s)
	if len(r) == 0 || len(s) == 0 {
		return nil, false
	}
	rl, sl := len(r), len(s)
	if r[0]&0x80 != 0 {
		rl++
	}
	if s[0]&0x80 != 0 {
		sl++
	}
	if n := 2 + rl + 2 + sl; n < 0x80 {
		dst = append(dst, 0x30, byte(n))
	} else {
		dst = append(dst, 0x30, 0x81, byte(n)) // P-384 and P-521: n ≤ 138
	}
	dst = appendDERInt(dst, r, rl)
	dst = appendDERInt(dst, s, sl)
	return dst, true
}

func appendDERInt(dst, v []byte, l int) []byte {
	dst = append(dst, 0x02, byte(l))
	if l > len(v) {
		dst = append(dst, 0)
	}
	return append(dst, v...)
}

func trimZeros(b []byte) []byte {
	for len(b) > 0 && b[0] == 0 {
		b = b[1:]
	}
	return b
}
