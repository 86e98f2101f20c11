package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"strconv"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jws/jwsbb"
)

// Benchmarks to compare in one run:
//
//	go test -run '^$' -bench 'Verify|SignatureFloor' ./capability/
//
// BenchmarkVerify/<alg>/grants=<n> is the whole Verify; the matching
// BenchmarkSignatureFloor/<alg>/grants=<n> is only the standard library's
// signature check over the same token bytes (hash included), the physical
// floor. BenchmarkSignaturePath compares ways to check the signature.

type benchCase struct {
	name    string // <alg>/grants=<n>
	k       *SigningKey
	token   string
	profile Profile
}

func benchCases(b testing.TB) []benchCase {
	ring := vtKeys(b)
	var cases []benchCase
	for _, alg := range vtAlgs {
		for _, n := range []int{3, 100, 1000} {
			cases = append(cases, benchCase{name: string(alg) + "/grants=" + strconv.Itoa(n), k: ring.byAlg[alg], profile: ProfileDefault})
		}
	}
	cases = append(cases, benchCase{name: "EdDSA-compact/grants=1000", k: ring.byAlg[EdDSA], profile: ProfileCompact})
	for i := range cases {
		n, _ := strconv.Atoi(cases[i].name[strings.LastIndexByte(cases[i].name, '=')+1:])
		cases[i].token = vtMint(b, vtIssuerFor(b, cases[i].k, cases[i].profile), vtParams(n))
	}
	return cases
}

func BenchmarkVerify(b *testing.B) {
	for _, bc := range benchCases(b) {
		b.Run(bc.name, func(b *testing.B) {
			v := vtVerifierFor(b, func(o *VerifierOptions) { o.MaxTokenSize, o.NoCache = 1<<20, true }, bc.k)
			ctx := b.Context()
			if _, err := v.Verify(ctx, bc.token); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(bc.token)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := v.Verify(ctx, bc.token); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// floorCheck returns the bare standard-library check of tok's signature.
func floorCheck(b testing.TB, k *SigningKey, tok string) func() bool {
	i := strings.LastIndexByte(tok, '.')
	in := []byte(tok[:i])
	sig, err := b64.DecodeString(tok[i+1:])
	if err != nil {
		b.Fatal(err)
	}
	switch k.alg {
	case EdDSA:
		pub := k.pub.key.(ed25519.PublicKey)
		return func() bool { return ed25519.Verify(pub, in, sig) }
	case ES256:
		pub := k.pub.key.(*ecdsa.PublicKey)
		der, ok := rsToDER(nil, sig[:32], sig[32:])
		if !ok {
			b.Fatal("bad ES256 signature")
		}
		return func() bool { d := sha256.Sum256(in); return ecdsa.VerifyASN1(pub, d[:], der) }
	case RS256:
		pub := k.pub.key.(*rsa.PublicKey)
		return func() bool {
			d := sha256.Sum256(in)
			return rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig) == nil
		}
	case HS256:
		secret := k.pub.key.([]byte)
		return func() bool {
			m := hmac.New(sha256.New, secret)
			m.Write(in)
			return hmac.Equal(m.Sum(nil), sig)
		}
	}
	b.Fatal("unknown algorithm")
	return nil
}

func BenchmarkSignatureFloor(b *testing.B) {
	for _, bc := range benchCases(b) {
		b.Run(bc.name, func(b *testing.B) {
			check := floorCheck(b, bc.k, bc.token)
			if !check() {
				b.Fatal("signature does not verify")
			}
			b.SetBytes(int64(len(bc.token)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if !check() {
					b.Fatal("signature does not verify")
				}
			}
		})
	}
}

// BenchmarkSignaturePath compares, on the EdDSA token with 3 grants, the
// signature checks considered for Verify: the standard library on the
// already-split input (what Verify does), jwx's building block jwsbb.Verify
// on the same input, and jwx's whole-token jws.VerifyCompactFast and
// jws.Verify with a pinned key (which split and decode the token again).
func BenchmarkSignaturePath(b *testing.B) {
	ring := vtKeys(b)
	for _, alg := range []Algorithm{EdDSA, ES256, RS256} {
		k := ring.byAlg[alg]
		tok := vtMint(b, vtIssuerFor(b, k, ProfileDefault), vtParams(3))
		for _, p := range signaturePaths(b, k, tok) {
			b.Run(string(alg)+"/"+p.name, func(b *testing.B) {
				if !p.f() {
					b.Fatal("does not verify")
				}
				b.ReportAllocs()
				for b.Loop() {
					if !p.f() {
						b.Fatal("does not verify")
					}
				}
			})
		}
	}
}

type signaturePath struct {
	name string
	f    func() bool
}

func signaturePaths(tb testing.TB, k *SigningKey, tok string) []signaturePath {
	i := strings.LastIndexByte(tok, '.')
	in := []byte(tok[:i])
	sig, err := b64.DecodeString(tok[i+1:])
	if err != nil {
		tb.Fatal(err)
	}
	raw := []byte(tok)
	pub, alg := k.pub.key, k.alg
	return []signaturePath{
		{"stdlib", func() bool { return verifySignature(k.pub, in, sig) }},
		{"jwsbb.Verify", func() bool { return jwsbb.Verify(pub, string(alg), in, sig) == nil }},
		{"jws.VerifyCompactFast", func() bool { _, err := jws.VerifyCompactFast(pub, raw, alg.jwa()); return err == nil }},
		{"jws.Verify", func() bool {
			_, err := jws.Verify(raw, jws.WithKey(alg.jwa(), pub), jws.WithCompact())
			return err == nil
		}},
	}
}
