package token

import (
	"context"
	"os"
	"testing"
	"time"
)

// TestVerifyOverFloor measures the Verify/SignatureFloor ratios of the
// benchmark cases robustly on a busy machine: it alternates small batches of
// Verify and of the bare signature check on the same token and keeps the
// fastest batch of each, so that interference from other processes (which
// only ever adds time) affects both sides alike. It is a measurement, not a
// timed test: it runs only with KEYHOLE_VERIFY_RATIO=1 and never fails on
// the numbers.
//
//	KEYHOLE_VERIFY_RATIO=1 go test -run TestVerifyOverFloor -v ./capability/
func TestVerifyOverFloor(t *testing.T) {
	if os.Getenv("KEYHOLE_VERIFY_RATIO") == "" {
		t.Skip("set KEYHOLE_VERIFY_RATIO=1 to measure")
	}
	cases := benchCases(t)
	const rounds, batch = 60, 10
	for _, bc := range cases {
		v := vtVerifierFor(t, func(o *VerifierOptions) { o.MaxTokenSize = 1 << 20 }, bc.k)
		check := floorCheck(t, bc.k, bc.token)
		ctx := context.Background()
		best := func(f func()) time.Duration {
			start := time.Now()
			for range batch {
				f()
			}
			return time.Since(start) / batch
		}
		minV, minF := time.Duration(1<<62), time.Duration(1<<62)
		for range rounds {
			if d := best(func() {
				if _, err := v.Verify(ctx, bc.token); err != nil {
					t.Fatal(err)
				}
			}); d < minV {
				minV = d
			}
			if d := best(func() {
				if !check() {
					t.Fatal("floor does not verify")
				}
			}); d < minF {
				minF = d
			}
		}
		t.Logf("%-28s %6d B  verify %9v  floor %9v  ratio %.2fx", bc.name, len(bc.token), minV, minF, float64(minV)/float64(minF))
	}
}

// TestSignaturePathOverFloor compares, like TestVerifyOverFloor, the
// signature checks considered for Verify on the 3-grant tokens (see
// BenchmarkSignaturePath), interleaved, fastest batch of each.
//
//	KEYHOLE_VERIFY_RATIO=1 go test -run TestSignaturePathOverFloor -v ./capability/
func TestSignaturePathOverFloor(t *testing.T) {
	if os.Getenv("KEYHOLE_VERIFY_RATIO") == "" {
		t.Skip("set KEYHOLE_VERIFY_RATIO=1 to measure")
	}
	ring := vtKeys(t)
	for _, alg := range []Algorithm{EdDSA, ES256, RS256} {
		k := ring.byAlg[alg]
		tok := vtMint(t, vtIssuerFor(t, k, ProfileDefault), vtParams(3))
		v := vtVerifierFor(t, nil, k)
		floor := floorCheck(t, k, tok)
		paths := signaturePaths(t, k, tok)
		paths = append(paths, signaturePath{"Verify (whole)", func() bool { _, err := v.Verify(context.Background(), tok); return err == nil }})
		mins := make([]time.Duration, len(paths))
		minF := time.Duration(1 << 62)
		for i := range mins {
			mins[i] = 1 << 62
		}
		const rounds, batch = 40, 10
		run := func(f func() bool) time.Duration {
			start := time.Now()
			for range batch {
				if !f() {
					t.Fatal("does not verify")
				}
			}
			return time.Since(start) / batch
		}
		for range rounds {
			minF = min(minF, run(floor))
			for i, p := range paths {
				mins[i] = min(mins[i], run(p.f))
			}
		}
		t.Logf("%s floor %v", alg, minF)
		for i, p := range paths {
			t.Logf("%s %-22s %9v  %.2fx floor", alg, p.name, mins[i], float64(mins[i])/float64(minF))
		}
	}
}
