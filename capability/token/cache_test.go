package token

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyhole-go/keyhole/capability"
)

// countSignatures makes v count its signature checks.
func countSignatures(v *Verifier) *atomic.Int64 {
	n := new(atomic.Int64)
	v.onSignature = func() { n.Add(1) }
	return n
}

// cacheLen returns the number of cached tokens.
func cacheLen(v *Verifier) int {
	n := 0
	for i := range v.cache.shards {
		sh := &v.cache.shards[i]
		sh.mu.RLock()
		n += len(sh.entries)
		sh.mu.RUnlock()
	}
	return n
}

// reasonOf returns the reason of a *TokenError, nil for nil.
func reasonOf(t *testing.T, err error) error {
	t.Helper()
	if err == nil {
		return nil
	}
	var te *TokenError
	if !errors.As(err, &te) {
		t.Fatalf("got %T %v, want a *TokenError", err, err)
	}
	return te.Reason
}

func TestCacheDefaultOn(t *testing.T) {
	ring := vtKeys(t)
	if v := vtVerifierFor(t, nil, ring.byAlg[EdDSA]); v.cache == nil {
		t.Error("cache: got off by default, want on")
	}
	if v := vtVerifierFor(t, func(o *VerifierOptions) { o.NoCache = true }, ring.byAlg[EdDSA]); v.cache != nil {
		t.Error("NoCache: got a cache")
	}
	for name, mod := range map[string]func(*VerifierOptions){
		"CacheEntries": func(o *VerifierOptions) { o.CacheEntries = -1 },
		"CacheMaxAge":  func(o *VerifierOptions) { o.CacheMaxAge = -time.Second },
	} {
		opts := VerifierOptions{Issuer: vtIssuer, Audience: vtAudience, Algorithms: []Algorithm{EdDSA},
			Keys: []PublicKey{ring.byAlg[EdDSA].Public()}, Roles: vtRoles(t), Kind: capability.KindInt64}
		mod(&opts)
		if _, err := NewVerifier(t.Context(), opts); err == nil {
			t.Errorf("negative %s: got no error", name)
		}
	}
}

// TestCacheMatchesVerify walks a clock forwards and backwards over tokens
// with nbf, iat in the future, no iat, and expiry, and checks that the
// cached verifier answers exactly as one without the cache.
func TestCacheMatchesVerify(t *testing.T) {
	ring := vtKeys(t)
	ed := ring.byAlg[EdDSA]
	clock := &fakeClock{now: vtNow}
	mod := func(noCache bool) func(*VerifierOptions) {
		return func(o *VerifierOptions) {
			o.Now, o.NoCache, o.CacheMaxAge, o.MaxLifetime = clock.Now, noCache, 24*time.Hour, 20*time.Minute
		}
	}
	cached, plain := vtVerifierFor(t, mod(false), ed), vtVerifierFor(t, mod(true), ed)
	sigs := countSignatures(cached)
	at := func(d time.Duration) int64 { return vtNow.Add(d).Unix() }
	sign := func(edit func(m map[string]any)) string {
		return vtSign(t, ed, vtHeader(EdDSA, ed.kid), vtClaims(t, vtParams(3), edit))
	}
	tokens := map[string]string{
		"plain":      sign(nil),
		"nbf":        sign(func(m map[string]any) { m["nbf"] = at(5 * time.Minute) }),
		"iat future": sign(func(m map[string]any) { m["iat"] = at(2 * time.Minute) }),
		"no iat":     sign(func(m map[string]any) { delete(m, "iat") }),
	}
	steps := []time.Duration{
		0, time.Minute, 4*time.Minute + 29*time.Second, 4*time.Minute + 30*time.Second, 10 * time.Minute,
		-10 * time.Minute, -4 * time.Minute, 2 * time.Minute,
		15*time.Minute + 29*time.Second, 15*time.Minute + 30*time.Second - time.Nanosecond,
		15*time.Minute + 30*time.Second, time.Hour, 0, 15*time.Minute + 30*time.Second, 0,
	}
	calls := 0
	for _, d := range steps {
		clock.mu.Lock()
		clock.now = vtNow.Add(d)
		clock.mu.Unlock()
		for name, tok := range tokens {
			for range 2 {
				calls++
				_, gotErr := cached.Verify(t.Context(), tok)
				_, wantErr := plain.Verify(t.Context(), tok)
				if got, want := reasonOf(t, gotErr), reasonOf(t, wantErr); got != want {
					t.Errorf("%s at %v: got %v, want %v", name, d, got, want)
				}
			}
		}
	}
	if n := sigs.Load(); n >= int64(calls) || n == 0 {
		t.Errorf("signature checks: got %d for %d calls, want some cache hits", n, calls)
	}
}

func TestCacheHitsAndMaxAge(t *testing.T) {
	ring := vtKeys(t)
	clock := &fakeClock{now: vtNow}
	v := vtVerifierFor(t, func(o *VerifierOptions) { o.Now, o.CacheMaxAge = clock.Now, time.Minute }, ring.byAlg[RS256])
	sigs := countSignatures(v)
	tok := vtMint(t, vtIssuerFor(t, ring.byAlg[RS256], ProfileDefault), vtParams(3))
	verify := func(wantSigs int64) *capability.Capability {
		t.Helper()
		c, err := v.Verify(t.Context(), tok)
		if err != nil {
			t.Fatal(err)
		}
		if got := sigs.Load(); got != wantSigs {
			t.Fatalf("signature checks: got %d, want %d", got, wantSigs)
		}
		return c
	}
	first := verify(1)
	if again := verify(1); again != first {
		t.Error("a cache hit returned another capability")
	}
	clock.Advance(time.Minute - time.Nanosecond)
	verify(1)
	clock.Advance(time.Nanosecond) // CacheMaxAge reached: verified again
	verify(2)
	verify(2)
	clock.Advance(-time.Second) // a clock that goes back: verified again
	verify(3)
	if got := cacheLen(v); got != 1 {
		t.Errorf("entries: got %d, want 1", got)
	}
}

func TestCacheFailuresNotCached(t *testing.T) {
	ring := vtKeys(t)
	ed := ring.byAlg[EdDSA]
	v := vtVerifierFor(t, nil, ed)
	sigs := countSignatures(v)
	hdr := vtHeader(EdDSA, ed.kid)
	tokens := map[string]struct {
		tok    string
		reason error
	}{
		"bad signature": {vtSign(t, ring.other[EdDSA], hdr, vtClaims(t, vtParams(3), nil)), ErrBadSignature},
		"expired": {vtSign(t, ed, hdr, vtClaims(t, vtParams(3), func(m map[string]any) {
			m["exp"] = vtNow.Add(-time.Hour).Unix()
			m["iat"] = vtNow.Add(-2 * time.Hour).Unix()
		})), ErrExpired},
		"wrong audience": {vtSign(t, ed, hdr, vtClaims(t, vtParams(3), func(m map[string]any) { m["aud"] = "other" })), ErrAudience},
	}
	for name, tc := range tokens {
		before := sigs.Load()
		for range 3 {
			_, err := v.Verify(t.Context(), tc.tok)
			vtWantReason(t, err, tc.reason, tc.tok)
		}
		if got := sigs.Load() - before; got != 3 {
			t.Errorf("%s: signature checks for 3 calls: got %d, want 3", name, got)
		}
	}
	if got := cacheLen(v); got != 0 {
		t.Errorf("entries after failures only: got %d, want 0", got)
	}
}

func TestCacheBounds(t *testing.T) {
	ring := vtKeys(t)
	ed := ring.byAlg[EdDSA]
	is := vtIssuerFor(t, ed, ProfileDefault)
	for _, max := range []int{1, 4, 20} {
		t.Run("entries="+strconv.Itoa(max), func(t *testing.T) {
			v := vtVerifierFor(t, func(o *VerifierOptions) { o.CacheEntries = max }, ed)
			for i := range 50 {
				p := vtParams(3)
				p.Subject = "user-" + strconv.Itoa(i)
				tok := vtMint(t, is, p)
				for range 2 {
					c, err := v.Verify(t.Context(), tok)
					if err != nil {
						t.Fatal(err)
					}
					if c.Subject() != p.Subject {
						t.Fatalf("subject: got %q, want %q", c.Subject(), p.Subject)
					}
				}
				if got := cacheLen(v); got > max || got == 0 {
					t.Fatalf("entries after %d tokens: got %d, want 1..%d", i+1, got, max)
				}
			}
		})
	}
	t.Run("token size", func(t *testing.T) {
		v := vtVerifierFor(t, func(o *VerifierOptions) { o.MaxTokenSize = 1 << 16 }, ed)
		sigs := countSignatures(v)
		tok := vtMint(t, is, vtParams(100))
		if len(tok) <= MaxCachedTokenSize {
			t.Fatalf("token of %d bytes, want over %d", len(tok), MaxCachedTokenSize)
		}
		for range 3 {
			if _, err := v.Verify(t.Context(), tok); err != nil {
				t.Fatal(err)
			}
		}
		if got := sigs.Load(); got != 3 {
			t.Errorf("signature checks of a long token: got %d, want 3", got)
		}
		if got := cacheLen(v); got != 0 {
			t.Errorf("entries: got %d, want 0", got)
		}
	})
}

// TestCacheKeySetChange: a cached token is refused as soon as its key
// leaves the JWKS, and every change of the set empties the cache.
func TestCacheKeySetChange(t *testing.T) {
	ring := vtKeys(t)
	k1, k2 := ring.byAlg[EdDSA], ring.byAlg[ES256]
	srv := newJWKSServer(t, jwksOf(t, k1, k2))
	clock := &fakeClock{now: vtNow}
	v := jwksVerifier(t, srv.URL, clock, func(o *VerifierOptions) { o.JWKSMaxStale, o.CacheMaxAge = 10*time.Minute, time.Hour })
	sigs := countSignatures(v)
	tok1 := vtMint(t, vtIssuerFor(t, k1, ProfileDefault), vtParams(3))
	tok2 := vtMint(t, vtIssuerFor(t, k2, ProfileDefault), vtParams(3))
	check := func(step string, tok string, wantReason error, wantSigs int64) {
		t.Helper()
		_, err := v.Verify(t.Context(), tok)
		if got := reasonOf(t, err); got != wantReason {
			t.Errorf("%s: got %v, want %v", step, got, wantReason)
		}
		if got := sigs.Load(); got != wantSigs {
			t.Errorf("%s: signature checks: got %d, want %d", step, got, wantSigs)
		}
	}
	refresh := func(doc []byte) {
		t.Helper()
		srv.serve(http.StatusOK, doc)
		_ = v.Refresh(t.Context())
	}
	check("k1", tok1, nil, 1)
	check("k2", tok2, nil, 2)
	check("k1 cached", tok1, nil, 2)
	check("k2 cached", tok2, nil, 2)

	refresh(jwksOf(t, k2)) // k1 removed
	check("k1 removed", tok1, ErrUnknownKey, 2)
	check("k2 after the change", tok2, nil, 3)
	check("k2 cached again", tok2, nil, 3)

	refresh(jwksOf(t, k2, k1)) // k1 back: a new set
	check("k1 back", tok1, nil, 4)
	check("k2 in the new set", tok2, nil, 5)

	refresh([]byte(`{"keys":[]}`)) // no usable key: every token refused
	check("k1, empty set", tok1, ErrUnknownKey, 5)
	check("k2, empty set", tok2, ErrUnknownKey, 5)

	refresh(jwksOf(t, k1, k2))
	check("k1 restored", tok1, nil, 6)
	srv.serve(http.StatusInternalServerError, nil) // refreshes fail from now on
	clock.Advance(10*time.Minute + time.Second)    // the set goes stale
	check("k1, stale set", tok1, ErrUnknownKey, 6)
}

// TestCacheSingleflight: concurrent callers with one new token check its
// signature once, and share a failure only while it is in flight.
func TestCacheSingleflight(t *testing.T) {
	ring := vtKeys(t)
	ed := ring.byAlg[EdDSA]
	good := vtMint(t, vtIssuerFor(t, ed, ProfileDefault), vtParams(3))
	bad := vtSign(t, ring.other[EdDSA], vtHeader(EdDSA, ed.kid), vtClaims(t, vtParams(3), nil))
	const n = 8
	for _, tc := range []struct {
		name   string
		tok    string
		reason error
	}{{"good", good, nil}, {"bad signature", bad, ErrBadSignature}} {
		t.Run(tc.name, func(t *testing.T) {
			v := vtVerifierFor(t, nil, ed)
			waiting := make(chan struct{}, n)
			release := make(chan struct{})
			v.cache.onWait = func() { waiting <- struct{}{} }
			var sigs atomic.Int64
			v.onSignature = func() {
				if sigs.Add(1) == 1 {
					<-release // the leader waits for all the others
				}
			}
			go func() {
				for range n - 1 {
					<-waiting
				}
				close(release)
			}()
			caps := make([]*capability.Capability, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { caps[i], errs[i] = v.Verify(t.Context(), tc.tok) })
			}
			wg.Wait()
			if got := sigs.Load(); got != 1 {
				t.Errorf("signature checks for %d concurrent calls: got %d, want 1", n, got)
			}
			for i := range n {
				if got := reasonOf(t, errs[i]); got != tc.reason {
					t.Errorf("call %d: got %v, want %v", i, got, tc.reason)
				}
				if caps[i] != caps[0] {
					t.Errorf("call %d: got another capability", i)
				}
			}
			// The failure was shared with the waiters only.
			_, err := v.Verify(t.Context(), tc.tok)
			if got := reasonOf(t, err); got != tc.reason {
				t.Errorf("later call: got %v, want %v", got, tc.reason)
			}
			want := int64(1)
			if tc.reason != nil {
				want = 2
			}
			if got := sigs.Load(); got != want {
				t.Errorf("signature checks after a later call: got %d, want %d", got, want)
			}
		})
	}
}

// TestCacheLeaderCanceled: the leader's canceled context cuts its JWKS
// refresh short; the waiters do not inherit that failure.
func TestCacheLeaderCanceled(t *testing.T) {
	ring := vtKeys(t)
	k1, k2 := ring.byAlg[EdDSA], ring.byAlg[ES256]
	srv := newJWKSServer(t, jwksOf(t, k1))
	v := jwksVerifier(t, srv.URL, &fakeClock{now: vtNow}, nil)
	srv.serve(http.StatusOK, jwksOf(t, k1, k2)) // k2 is seen after a refresh
	tok := vtMint(t, vtIssuerFor(t, k2, ProfileDefault), vtParams(3))

	const n = 4
	leading, proceed := make(chan struct{}), make(chan struct{})
	var leads atomic.Int64
	v.cache.onLead = func() {
		if leads.Add(1) == 1 {
			close(leading)
			<-proceed
		}
	}
	waiting := make(chan struct{}, n)
	v.cache.onWait = func() { waiting <- struct{}{} }

	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	leaderErr := make(chan error, 1)
	go func() { _, err := v.Verify(canceled, tok); leaderErr <- err }()
	<-leading
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, errs[i] = v.Verify(t.Context(), tok) })
	}
	for range n {
		<-waiting
	}
	close(proceed)
	wg.Wait()
	if got := reasonOf(t, <-leaderErr); got != ErrUnknownKey {
		t.Errorf("leader with a canceled context: got %v, want ErrUnknownKey", got)
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("waiter %d: %v", i, err)
		}
	}
}

// TestCacheRace runs many goroutines over the same and different tokens
// while the clock moves and the key set is refreshed; run with -race.
func TestCacheRace(t *testing.T) {
	ring := vtKeys(t)
	k := ring.byAlg[EdDSA]
	srv := newJWKSServer(t, jwksOf(t, k))
	clock := &fakeClock{now: vtNow}
	v := jwksVerifier(t, srv.URL, clock, func(o *VerifierOptions) { o.CacheEntries, o.CacheMaxAge = 4, time.Second })
	is := vtIssuerFor(t, k, ProfileDefault)
	tokens := make([]string, 6)
	for i := range tokens {
		p := vtParams(3)
		p.Subject = "user-" + strconv.Itoa(i)
		tokens[i] = vtMint(t, is, p)
	}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 40 {
				j := (g + i) % len(tokens)
				if g%2 == 0 {
					j = 0 // half the goroutines share one token
				}
				c, err := v.Verify(t.Context(), tokens[j])
				if err != nil {
					t.Error(err)
					return
				}
				if want := "user-" + strconv.Itoa(j); c.Subject() != want {
					t.Errorf("subject: got %q, want %q", c.Subject(), want)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range 10 {
			clock.Advance(300 * time.Millisecond)
			if err := v.Refresh(t.Context()); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()
	if got := cacheLen(v); got > 4 {
		t.Errorf("entries: got %d, want at most 4", got)
	}
}

// TestHeaderMemo: the memo of the last header changes no answer: other
// headers are read and refused as before, and the memo follows the last
// header that parsed.
func TestHeaderMemo(t *testing.T) {
	ring := vtKeys(t)
	ed := ring.byAlg[EdDSA]
	v := vtVerifierFor(t, func(o *VerifierOptions) { o.NoCache = true }, ed)
	claims := vtClaims(t, vtParams(3), nil)
	good := vtSign(t, ed, vtHeader(EdDSA, ed.kid), claims)
	for _, tc := range []struct {
		name   string
		tok    string
		reason error
	}{
		{"good", good, nil},
		{"jku", vtSign(t, ed, []byte(`{"alg":"EdDSA","kid":"`+ed.kid+`","jku":"https://evil.example"}`), claims), ErrMalformed},
		{"good again", good, nil},
		{"other kid", vtSign(t, ed, vtHeader(EdDSA, "other"), claims), ErrUnknownKey},
		{"alg not pinned", vtSign(t, ring.byAlg[ES256], vtHeader(ES256, ed.kid), claims), ErrAlgorithm},
		{"not base64", "!" + good[1:], ErrMalformed},
		{"good at last", good, nil},
	} {
		_, err := v.Verify(t.Context(), tc.tok)
		if got := reasonOf(t, err); got != tc.reason {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.reason)
		}
	}
	if m := v.lastHeader.Load(); m == nil || m.h.kid != ed.kid {
		t.Errorf("memo: got %+v, want the good token's header", m)
	}
}

// TestCacheStaticKeySet: a static set is fixed for the verifier's life;
// caches are per verifier, so another verifier without the key refuses a
// token the first one has cached.
func TestCacheStaticKeySet(t *testing.T) {
	ring := vtKeys(t)
	k1, k2 := ring.byAlg[EdDSA], ring.second[EdDSA]
	both, only2 := vtVerifierFor(t, nil, k1, k2), vtVerifierFor(t, nil, k2)
	tok := vtMint(t, vtIssuerFor(t, k1, ProfileDefault), vtParams(3))
	for range 2 {
		if _, err := both.Verify(t.Context(), tok); err != nil {
			t.Fatal(err)
		}
	}
	if both.keysInForce() != both.static || cacheLen(both) != 1 {
		t.Errorf("static set: got keys %p and %d entries, want %p and 1", both.keysInForce(), cacheLen(both), both.static)
	}
	_, err := only2.Verify(t.Context(), tok)
	vtWantReason(t, err, ErrUnknownKey, tok)
	// A verifier with no known source of keys caches nothing.
	none := &Verifier{}
	if none.keysInForce() != nil {
		t.Error("keysInForce without a source: got a set")
	}
}

// TestCacheWaiterCanceled: a waiter whose context is done stops waiting
// for a slow leader and verifies by itself, as it would without the cache.
func TestCacheWaiterCanceled(t *testing.T) {
	ring := vtKeys(t)
	ed := ring.byAlg[EdDSA]
	tok := vtMint(t, vtIssuerFor(t, ed, ProfileDefault), vtParams(3))
	v := vtVerifierFor(t, nil, ed)
	leading, release := make(chan struct{}), make(chan struct{})
	var sigs atomic.Int64
	v.onSignature = func() {
		if sigs.Add(1) == 1 {
			close(leading)
			<-release
		}
	}
	leaderErr := make(chan error, 1)
	go func() { _, err := v.Verify(t.Context(), tok); leaderErr <- err }()
	<-leading
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := v.Verify(canceled, tok); err != nil {
		t.Errorf("waiter with a canceled context: %v", err)
	}
	close(release)
	if err := <-leaderErr; err != nil {
		t.Errorf("leader: %v", err)
	}
	if got := sigs.Load(); got != 2 {
		t.Errorf("signature checks: got %d, want 2", got)
	}
}
