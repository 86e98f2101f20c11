package token

import (
	"slices"
	"testing"
	"time"
)

// Ratio benchmarks: each iteration runs the measured function and its
// baseline once each, alternately, and times each call, so that whatever
// else the machine is doing affects both sides alike. They report the
// ratio of the medians as a custom metric (b.ReportMetric), which is what
// to compare across runs and commits; ns/op is the time of one whole
// iteration (all functions). Run them with a fixed count of iterations:
//
//	go test -run '^$' -bench 'Ratio' -benchtime 2000x ./capability/token

// alternate runs each of fns once per iteration, in order, b.N times, and
// returns the median time of each.
func alternate(b *testing.B, fns ...func()) []time.Duration {
	b.Helper()
	times := make([][]time.Duration, len(fns))
	for i := range times {
		times[i] = make([]time.Duration, 0, b.N)
	}
	b.ResetTimer()
	for range b.N {
		for i, f := range fns {
			start := time.Now()
			f()
			times[i] = append(times[i], time.Since(start))
		}
	}
	b.StopTimer()
	med := make([]time.Duration, len(fns))
	for i, ts := range times {
		slices.Sort(ts)
		med[i] = ts[len(ts)/2]
	}
	return med
}

func ratio(a, base time.Duration) float64 { return float64(a) / float64(base) }

// BenchmarkVerifyRatio reports Verify, without the verified-token cache,
// over the bare signature check of the same token (BenchmarkSignatureFloor)
// as "x-floor".
func BenchmarkVerifyRatio(b *testing.B) {
	for _, bc := range benchCases(b) {
		b.Run(bc.name, func(b *testing.B) {
			v := vtVerifierFor(b, func(o *VerifierOptions) { o.MaxTokenSize, o.NoCache = 1<<20, true }, bc.k)
			check := floorCheck(b, bc.k, bc.token)
			ctx := b.Context()
			med := alternate(b,
				func() {
					if _, err := v.Verify(ctx, bc.token); err != nil {
						b.Fatal(err)
					}
				},
				func() {
					if !check() {
						b.Fatal("floor does not verify")
					}
				})
			b.ReportMetric(ratio(med[0], med[1]), "x-floor")
			b.ReportMetric(float64(med[1].Nanoseconds()), "floor-ns")
		})
	}
}

// BenchmarkSignaturePathRatio reports, on the tokens with 3 grants, each of
// the signature checks considered for Verify (see BenchmarkSignaturePath)
// and the whole Verify over the bare signature check, as "x-floor".
func BenchmarkSignaturePathRatio(b *testing.B) {
	ring := vtKeys(b)
	for _, alg := range []Algorithm{EdDSA, ES256, RS256} {
		k := ring.byAlg[alg]
		tok := vtMint(b, vtIssuerFor(b, k, ProfileDefault), vtParams(3))
		v := vtVerifierFor(b, func(o *VerifierOptions) { o.NoCache = true }, k)
		paths := signaturePaths(b, k, tok)
		paths = append(paths, signaturePath{"Verify", func() bool { _, err := v.Verify(b.Context(), tok); return err == nil }})
		floor := floorCheck(b, k, tok)
		for _, p := range paths {
			b.Run(string(alg)+"/"+p.name, func(b *testing.B) {
				med := alternate(b,
					func() {
						if !p.f() {
							b.Fatal("does not verify")
						}
					},
					func() {
						if !floor() {
							b.Fatal("floor does not verify")
						}
					})
				b.ReportMetric(ratio(med[0], med[1]), "x-floor")
			})
		}
	}
}
