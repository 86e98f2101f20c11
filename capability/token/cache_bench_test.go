package token

import (
	"strings"
	"testing"
)

// BenchmarkVerifyCachedRatio reports a Verify answered from the
// verified-token cache over the bare signature check of the same token, as
// "x-floor", for the tokens short enough to be cached:
//
//	go test -run '^$' -bench 'VerifyCachedRatio' -benchtime 1000x ./capability/token
func BenchmarkVerifyCachedRatio(b *testing.B) {
	for _, bc := range benchCases(b) {
		if len(bc.token) > MaxCachedTokenSize || !(strings.HasSuffix(bc.name, "=3") || strings.Contains(bc.name, "compact")) {
			continue
		}
		b.Run(bc.name, func(b *testing.B) {
			v := vtVerifierFor(b, nil, bc.k)
			check := floorCheck(b, bc.k, bc.token)
			ctx := b.Context()
			first, err := v.Verify(ctx, bc.token)
			if err != nil {
				b.Fatal(err)
			}
			med := alternate(b,
				func() {
					if c, err := v.Verify(ctx, bc.token); err != nil || c != first {
						b.Fatal("not a cache hit: ", err)
					}
				},
				func() {
					if !check() {
						b.Fatal("floor does not verify")
					}
				})
			b.ReportMetric(ratio(med[0], med[1]), "x-floor")
			b.ReportMetric(float64(med[0].Nanoseconds()), "hit-ns")
		})
	}
}
