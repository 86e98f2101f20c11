package token

import (
	"context"
	"errors"
	"hash/maphash"
	"strings"
	"sync"
	"time"

	"github.com/keyhole-go/keyhole/capability"
)

// Verified-token cache defaults.
const (
	// DefaultCacheEntries bounds the verified-token cache of a Verifier.
	DefaultCacheEntries = 1024
	// DefaultCacheMaxAge bounds how long a verified token is answered from
	// the cache before its signature is checked again.
	DefaultCacheMaxAge = time.Minute
	// MaxCachedTokenSize is the length in bytes above which a token is
	// verified every time and never cached.
	MaxCachedTokenSize = 4096
)

// The verified-token cache (see "Verified-token cache" in the package
// documentation).
//
// Entries are keyed by the whole token string (a private copy). An entry
// holds the immutable capability Verify built, the token's time claims, the
// key set in force when its verification began, and when it was stored. A
// lookup answers from an entry only if, at the verifier's clock now,
//
//   - the key set in force is the entry's (same pointer: every JWKS fetch
//     that installs a document, every removal, a set gone stale, yields
//     another pointer or nil; a static set never changes),
//   - the entry is younger than the maximum age (and not from the future),
//   - checkTimes accepts the token's times, the check Verify makes.
//
// Issuer, audience, roles, kind, mapping and limits are fixed per verifier.
// Only successes are stored. Concurrent misses on one token verify it once:
// the first caller (the leader) verifies, the others wait for its result;
// a failure reaches only those waiters, and not even them when the leader's
// context was done (the only way a context changes the answer is an
// unknown key id whose refresh it cut short): they then verify themselves.
type tokenCache struct {
	seed   maphash.Seed
	shards []cacheShard
	perMax int // entries per shard
	maxAge time.Duration

	// Test hooks: onLead runs when a caller becomes the leader of a
	// verification, before it verifies; onWait when a caller starts to
	// wait for a leader.
	onLead, onWait func()
}

type cacheShard struct {
	mu      sync.RWMutex
	entries map[string]*cacheEntry
	calls   map[string]*cacheCall
	_       [64]byte // keep shards' locks on separate cache lines
}

// cacheEntry is immutable once stored.
type cacheEntry struct {
	token string // the map key: a private copy of the token
	c     *capability.Capability
	keys  *keySet // the key set in force when verification began
	times tokenTimes
	at    time.Time // when verification began, by the verifier's clock
}

// cacheCall is one in-flight verification; its fields are written by the
// leader before done is closed.
type cacheCall struct {
	done     chan struct{}
	e        *cacheEntry // success
	te       *TokenError // failure
	shareErr bool        // te may be handed to the waiters
}

// tokenTimes are the time claims of a token whose signature verified.
type tokenTimes struct {
	exp, nbf, iat time.Time // nbf zero: absent
	hasIAT        bool
}

// checkTimes applies Verify's time rules at now: exp, nbf and iat with the
// skew, then the lifetime (exp-iat, or exp-now without iat). It returns the
// reason and detail of the first failure, or nil. exp is known to be set.
func (v *Verifier) checkTimes(now time.Time, t *tokenTimes) (error, string) {
	if !now.Before(t.exp.Add(v.skew)) {
		return ErrExpired, ""
	}
	if !t.nbf.IsZero() && t.nbf.After(now.Add(v.skew)) {
		return ErrNotYetValid, "nbf in the future"
	}
	if t.hasIAT && t.iat.After(now.Add(v.skew)) {
		return ErrNotYetValid, "iat in the future"
	}
	if t.hasIAT {
		if t.exp.Sub(t.iat) > v.maxLifetime {
			return ErrLifetime, ""
		}
	} else if t.exp.Sub(now) > v.maxLifetime {
		return ErrLifetime, ""
	}
	return nil, ""
}

// newTokenCache returns the cache opts ask for, or nil (no cache).
func newTokenCache(opts VerifierOptions) (*tokenCache, error) {
	switch {
	case opts.CacheEntries < 0:
		return nil, errors.New("token: VerifierOptions.CacheEntries is negative")
	case opts.CacheMaxAge < 0:
		return nil, errors.New("token: VerifierOptions.CacheMaxAge is negative")
	case opts.NoCache:
		return nil, nil
	}
	n := opts.CacheEntries
	if n == 0 {
		n = DefaultCacheEntries
	}
	c := &tokenCache{seed: maphash.MakeSeed(), maxAge: opts.CacheMaxAge}
	if c.maxAge == 0 {
		c.maxAge = DefaultCacheMaxAge
	}
	shards := 1
	for shards*2 <= min(n, 16) {
		shards *= 2
	}
	c.perMax = n / shards // shards*perMax <= n
	c.shards = make([]cacheShard, shards)
	for i := range c.shards {
		c.shards[i].entries = make(map[string]*cacheEntry)
		c.shards[i].calls = make(map[string]*cacheCall)
	}
	return c, nil
}

// keysInForce returns the verifier's current key set (nil: none, and
// nothing is cached). Every source of keys must be listed here: a verifier
// with a source this function does not know caches nothing.
func (v *Verifier) keysInForce() *keySet {
	switch {
	case v.static != nil:
		return v.static
	case v.jwks != nil:
		return v.jwks.current()
	}
	return nil
}

// usable reports whether e answers for the verifier at now under keys.
func (v *Verifier) usable(e *cacheEntry, keys *keySet, now time.Time) bool {
	if e == nil || keys == nil || e.keys != keys || now.Before(e.at) || now.Sub(e.at) >= v.cache.maxAge {
		return false
	}
	reason, _ := v.checkTimes(now, &e.times)
	return reason == nil
}

// cachedVerify is Verify through the cache. Tokens that cannot be cached
// (too long) are verified directly.
func (v *Verifier) cachedVerify(ctx context.Context, token string) (*capability.Capability, *TokenError) {
	if len(token) > MaxCachedTokenSize || len(token) > v.maxTokenSize {
		return v.verify(ctx, token, nil)
	}
	cc := v.cache
	sh := &cc.shards[maphash.String(cc.seed, token)&uint64(len(cc.shards)-1)]
	now, keys := v.now(), v.keysInForce()
	sh.mu.RLock()
	e := sh.entries[token]
	sh.mu.RUnlock()
	if v.usable(e, keys, now) {
		return e.c, nil
	}

	sh.mu.Lock()
	if e = sh.entries[token]; v.usable(e, keys, now) { // stored meanwhile
		sh.mu.Unlock()
		return e.c, nil
	}
	if call := sh.calls[token]; call != nil {
		sh.mu.Unlock()
		if cc.onWait != nil {
			cc.onWait()
		}
		return v.await(ctx, token, call)
	}
	// A stale entry (expired, older key set, too old) goes now; a
	// successful verification below stores a fresh one.
	var key string
	if e != nil {
		key = e.token
		delete(sh.entries, key)
	} else {
		key = strings.Clone(token) // the caller's string may be part of a larger one
	}
	call := &cacheCall{done: make(chan struct{})}
	sh.calls[key] = call
	sh.mu.Unlock()
	return v.lead(ctx, sh, key, call)
}

// lead verifies token for the waiters of call and stores a success.
func (v *Verifier) lead(ctx context.Context, sh *cacheShard, token string, call *cacheCall) (c *capability.Capability, te *TokenError) {
	defer func() {
		// Also on a panic: the waiters then verify themselves.
		sh.mu.Lock()
		delete(sh.calls, token)
		if call.e != nil {
			v.cache.store(sh, token, call.e)
		}
		sh.mu.Unlock()
		close(call.done)
	}()
	if v.cache.onLead != nil {
		v.cache.onLead()
	}
	// The key set is read before verifying: if it changes meanwhile, the
	// entry is tagged with the older set and is never used.
	now, keys := v.now(), v.keysInForce()
	var t tokenTimes
	c, te = v.verify(ctx, token, &t)
	switch {
	case te != nil:
		call.te, call.shareErr = te, ctx.Err() == nil
	case keys != nil:
		call.e = &cacheEntry{token: token, c: c, keys: keys, times: t, at: now}
	}
	return c, te
}

// await waits for the leader's result. A waiter whose context is done
// stops waiting and verifies itself, as it would without the cache.
func (v *Verifier) await(ctx context.Context, token string, call *cacheCall) (*capability.Capability, *TokenError) {
	select {
	case <-call.done:
	case <-ctx.Done():
		return v.verify(ctx, token, nil)
	}
	if e := call.e; e != nil && v.usable(e, v.keysInForce(), v.now()) {
		return e.c, nil
	}
	if call.te != nil && call.shareErr {
		te := *call.te // each caller gets its own error value
		return nil, &te
	}
	return v.verify(ctx, token, nil)
}

// store adds e under token, evicting first when the shard is full: among
// a few entries taken from the map's randomized iteration, the first one
// that can no longer be used, else the first one seen. Called with sh.mu
// held.
func (cc *tokenCache) store(sh *cacheShard, token string, e *cacheEntry) {
	if cc.perMax == 0 {
		return
	}
	if _, ok := sh.entries[token]; !ok && len(sh.entries) >= cc.perMax {
		victim, seen := "", 0
		for k, old := range sh.entries {
			if seen == 0 {
				victim = k
			}
			if old.keys != e.keys || e.at.Sub(old.at) >= cc.maxAge || !e.at.Before(old.times.exp) {
				victim = k
				break
			}
			if seen++; seen == 8 {
				break
			}
		}
		delete(sh.entries, victim)
	}
	sh.entries[token] = e
}

// headerMemo is the last protected header a verifier parsed without error:
// its base64url text and what parseHeader read from it. Tokens of one
// issuer key share their header, so that most tokens skip its decoding,
// parsing and the copy of its kid. The memo is a pure function of the
// text, compared whole: it changes no answer.
type headerMemo struct {
	b64 string
	h   header
}

// knownHeader returns the parsed header of hdr64 if it is the memo's.
func (v *Verifier) knownHeader(hdr64 string) (header, bool) {
	if m := v.lastHeader.Load(); m != nil && m.b64 == hdr64 {
		return m.h, true
	}
	return header{}, false
}

// rememberHeader makes hdr64, parsed as h, the memo.
func (v *Verifier) rememberHeader(hdr64 string, h header) {
	v.lastHeader.Store(&headerMemo{b64: strings.Clone(hdr64), h: h})
}
