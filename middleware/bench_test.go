package middleware_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/capability/token"
	"github.com/keyhole-go/keyhole/middleware"
)

// benchSetup returns a verifier, an Auth on it and a token with 3 grants.
// Without cached, the verifier has its verified-token cache off, so that
// every Verify checks the signature.
func benchSetup(tb testing.TB, cached bool) (*token.Verifier, *middleware.Auth, string) {
	k := newKeys(tb)
	if !cached {
		var err error
		k.verifier, err = token.NewVerifier(context.Background(), token.VerifierOptions{
			Issuer: testIssuer, Audience: testAudience, Algorithms: []token.Algorithm{token.EdDSA},
			Keys: k.issuer.PublicKeys(), Roles: k.roles, Kind: capability.KindInt64,
			Now: func() time.Time { return k.now }, NoCache: true,
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	tok := k.mint(tb, "alice", false, grant("member", 1), grant("member", 2), grant("moderator", 3))
	return k.verifier, k.newAuth(tb, middleware.Options{}), tok
}

// benchCases are the verifier setups of the benchmarks: without and with
// the verified-token cache (every Verify after the first is a hit).
var benchCases = []struct {
	name   string
	cached bool
}{{"EdDSA/grants=3", false}, {"EdDSA/grants=3/cached", true}}

var emptyHandler = http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})

// BenchmarkVerify is the floor: the bare token.Verifier.Verify of the
// token that BenchmarkMiddleware sends, in the same process.
func BenchmarkVerify(b *testing.B) {
	for _, bc := range benchCases {
		b.Run(bc.name, func(b *testing.B) {
			v, _, tok := benchSetup(b, bc.cached)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMiddleware is a full ServeHTTP through Auth.Handler to an empty
// handler, same token, the recorder reused (the success path writes
// nothing).
func BenchmarkMiddleware(b *testing.B) {
	for _, bc := range benchCases {
		b.Run(bc.name, func(b *testing.B) {
			_, a, tok := benchSetup(b, bc.cached)
			h := a.Handler(emptyHandler)
			r := httptest.NewRequest("GET", "/api/threads", nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
			if w.Code != 200 {
				b.Fatalf("status %d", w.Code)
			}
		})
	}
}

// BenchmarkMiddlewareRatio interleaves the two measurements above
// operation by operation (alternating which goes first) and reports the
// ratio of the median times as "x-verify": on a shared machine, load
// changes between two separate benchmarks swamp a 5 % difference, while
// interleaving exposes both to the same load and the medians drop the
// operations that were preempted.
func BenchmarkMiddlewareRatio(b *testing.B) {
	for _, bc := range benchCases {
		b.Run(bc.name, func(b *testing.B) {
			v, a, tok := benchSetup(b, bc.cached)
			ctx := context.Background()
			h := a.Handler(emptyHandler)
			r := httptest.NewRequest("GET", "/api/threads", nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			w := httptest.NewRecorder()
			var tv, tm []time.Duration
			verify := func() {
				t0 := time.Now()
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
				tv = append(tv, time.Since(t0))
			}
			serve := func() {
				t0 := time.Now()
				h.ServeHTTP(w, r)
				tm = append(tm, time.Since(t0))
			}
			i := 0
			for b.Loop() {
				if i++; i%2 == 0 {
					verify()
					serve()
				} else {
					serve()
					verify()
				}
			}
			slices.Sort(tv)
			slices.Sort(tm)
			mv, mm := tv[len(tv)/2], tm[len(tm)/2]
			b.ReportMetric(float64(mm)/float64(mv), "x-verify")
			b.ReportMetric(float64(mv), "verify-median-ns")
			b.ReportMetric(float64(mm), "middleware-median-ns")
		})
	}
}

// TestMiddlewareAllocs bounds the middleware's own allocations per
// request on the success path: the context value and the request copy
// that carry the capability, nothing else.
func TestMiddlewareAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	v, a, tok := benchSetup(t, false)
	ctx := context.Background()
	verify := testing.AllocsPerRun(50, func() {
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
	})
	h := a.Handler(emptyHandler)
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	full := testing.AllocsPerRun(50, func() { h.ServeHTTP(w, r) })
	if w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	if extra := full - verify; extra > 2 {
		t.Errorf("middleware allocates %.0f per request beyond Verify's %.0f, want at most 2", extra, verify)
	}
	t.Logf("allocs: verify %.0f, middleware %.0f", verify, full)
}

// BenchmarkMiddlewareOverhead is the middleware's own cost: Handler with
// a verifier that returns a fixed capability, the same 3-grant token.
func BenchmarkMiddlewareOverhead(b *testing.B) {
	_, _, tok := benchSetup(b, false)
	a, err := middleware.New(newRecordingVerifierFixed(b), middleware.Options{})
	if err != nil {
		b.Fatal(err)
	}
	h := a.Handler(emptyHandler)
	r := httptest.NewRequest("GET", "/api/threads", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

// fixedVerifier returns the same capability for every token (overhead
// measurement only).
type fixedVerifier struct{ c *capability.Capability }

func (v fixedVerifier) Verify(context.Context, string) (*capability.Capability, error) {
	return v.c, nil
}

func newRecordingVerifierFixed(tb testing.TB) fixedVerifier {
	return fixedVerifier{newRecordingVerifier(tb).c}
}
