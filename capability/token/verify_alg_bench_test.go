package token

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha512"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Benchmarks of the algorithms added for identity providers (RS384, RS512,
// PS256, PS384, PS512, ES384, ES512), with RS256 and ES256 as reference, in
// the manner of verify_bench_test.go:
//
//	go test -run '^$' -bench 'VerifyAlgOverFloor' -benchtime 300x ./capability/token/
//
// BenchmarkVerifyAlgOverFloor/<alg>/grants=<n> alternates, in one loop, the
// whole Verify and the bare standard-library check of the same token's
// signature (hash included: the floor), timing each call, and reports the
// ratio of the fastest Verify to the fastest floor as the metric
// "verify/floor" (and the fastest floor as "floor-ns"): interference from
// a busy machine only ever adds time, so the minima are the robust figures
// (as in TestVerifyOverFloor). The separate
// BenchmarkVerifyAlg and BenchmarkSignatureFloorAlg give ns/op and
// allocations of each side alone.

type algBenchCase struct {
	name  string // <alg>/grants=<n>
	k     *SigningKey
	token string
}

func algBenchCases(b testing.TB) []algBenchCase {
	keys := algKeys(b)
	var cases []algBenchCase
	// RS256 and ES256, measured before, are the reference in the same run.
	for _, alg := range append([]Algorithm{RS256, ES256}, newAlgs...) {
		for _, n := range []int{3, 1000} {
			k := keys[alg]
			cases = append(cases, algBenchCase{
				name:  string(alg) + "/grants=" + strconv.Itoa(n),
				k:     k,
				token: vtMint(b, vtIssuerFor(b, k, ProfileDefault), vtParams(n)),
			})
		}
	}
	return cases
}

// algFloor returns the bare standard-library check of tok's signature for
// the new algorithms: hash, then rsa.VerifyPKCS1v15, rsa.VerifyPSS (salt =
// hash length) or ecdsa.VerifyASN1 on a DER signature prepared in advance.
func algFloor(b testing.TB, k *SigningKey, tok string) func() bool {
	i := strings.LastIndexByte(tok, '.')
	in := []byte(tok[:i])
	sig, err := b64.DecodeString(tok[i+1:])
	if err != nil {
		b.Fatal(err)
	}
	info := algInfos[k.alg]
	switch info.family {
	case familyRSA:
		pub := k.pub.key.(*rsa.PublicKey)
		opts := &rsa.PSSOptions{Hash: info.hash, SaltLength: rsa.PSSSaltLengthEqualsHash}
		return func() bool {
			var buf [sha512.Size]byte
			d := digest(&buf, info.hash, in)
			if info.pss {
				return rsa.VerifyPSS(pub, info.hash, d, sig, opts) == nil
			}
			return rsa.VerifyPKCS1v15(pub, info.hash, d, sig) == nil
		}
	case familyEC:
		pub := k.pub.key.(*ecdsa.PublicKey)
		der, ok := rsToDER(nil, sig[:info.half], sig[info.half:])
		if !ok {
			b.Fatal("bad ECDSA signature")
		}
		return func() bool {
			var buf [sha512.Size]byte
			return ecdsa.VerifyASN1(pub, digest(&buf, info.hash, in), der)
		}
	}
	b.Fatalf("no floor for %s", k.alg)
	return nil
}

func BenchmarkVerifyAlg(b *testing.B) {
	for _, bc := range algBenchCases(b) {
		b.Run(bc.name, func(b *testing.B) {
			v := vtVerifierFor(b, func(o *VerifierOptions) { o.MaxTokenSize, o.NoCache = 1<<20, true }, bc.k)
			ctx := context.Background()
			b.SetBytes(int64(len(bc.token)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, bc.token); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSignatureFloorAlg(b *testing.B) {
	for _, bc := range algBenchCases(b) {
		b.Run(bc.name, func(b *testing.B) {
			check := algFloor(b, bc.k, bc.token)
			b.SetBytes(int64(len(bc.token)))
			b.ReportAllocs()
			for b.Loop() {
				if !check() {
					b.Fatal("signature does not verify")
				}
			}
		})
	}
}

func BenchmarkVerifyAlgOverFloor(b *testing.B) {
	for _, bc := range algBenchCases(b) {
		b.Run(bc.name, func(b *testing.B) {
			v := vtVerifierFor(b, func(o *VerifierOptions) { o.MaxTokenSize, o.NoCache = 1<<20, true }, bc.k)
			check := algFloor(b, bc.k, bc.token)
			ctx := context.Background()
			minV, minF := time.Duration(1<<62), time.Duration(1<<62)
			for b.Loop() {
				start := time.Now()
				if _, err := v.Verify(ctx, bc.token); err != nil {
					b.Fatal(err)
				}
				mid := time.Now()
				if !check() {
					b.Fatal("signature does not verify")
				}
				minV, minF = min(minV, mid.Sub(start)), min(minF, time.Since(mid))
			}
			b.ReportMetric(float64(minV)/float64(minF), "verify/floor")
			b.ReportMetric(float64(minF.Nanoseconds()), "floor-ns")
		})
	}
}
