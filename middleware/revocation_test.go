package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/middleware"
)

// fakeRevocations is an application's session store in memory.
type fakeRevocations struct {
	mu      sync.Mutex
	revoked map[string]bool
	fail    error
	calls   int
}

func (f *fakeRevocations) Revoked(_ context.Context, c *capability.Capability) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.fail != nil {
		return false, f.fail
	}
	return c.SessionID() == "" || f.revoked[c.SessionID()], nil
}

func (f *fakeRevocations) set(sid string, revoked bool, fail error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revoked[sid] = revoked
	f.fail = fail
}

func (f *fakeRevocations) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// TestRevocation: a token whose session ended is refused with 401
// invalid_token by Handler and Optional before the handler runs; a live
// one passes; a failing checker answers 503 (fail closed) and is asked
// again next time (errors are not cached).
func TestRevocation(t *testing.T) {
	k := newKeys(t)
	store := &fakeRevocations{revoked: map[string]bool{}}
	a := k.newAuth(t, middleware.Options{Revocation: store})
	live := k.mintParams(t, capability.Params{Subject: "alice", SessionID: "s1", Audience: []string{testAudience}})
	noSID := k.mint(t, "alice", false)
	reached := 0
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached++ })

	checkAnswer(t, serve(a.Handler(ok), request("GET", "/", bearer(live), "")), 200, "")
	if reached != 1 {
		t.Fatalf("live session: handler reached %d times, want 1", reached)
	}
	checkAnswer(t, serve(a.Handler(mustNotRun(t)), request("GET", "/", bearer(noSID), "")), 401, `Bearer realm="forum", error="invalid_token"`)

	store.set("s1", true, nil)
	for _, h := range []http.Handler{a.Handler(mustNotRun(t)), a.Optional(mustNotRun(t))} {
		checkAnswer(t, serve(h, request("GET", "/", bearer(live), "")), 401, `Bearer realm="forum", error="invalid_token"`)
	}
	_, err := a.Check(request("GET", "/", bearer(live), ""))
	var ae *middleware.AuthError
	if !errors.As(err, &ae) || ae.Reason != middleware.ReasonRevoked || !errors.Is(err, capability.ErrRevoked) {
		t.Errorf("Check: %v, want an *AuthError with ReasonRevoked matching capability.ErrRevoked", err)
	}

	store.set("s1", false, errors.New("store down"))
	before := store.count()
	for range 2 {
		checkAnswer(t, serve(a.Handler(mustNotRun(t)), request("GET", "/", bearer(live), "")), 503, "")
	}
	if got := store.count() - before; got != 2 {
		t.Errorf("failing checker asked %d times for 2 requests: an error was cached", got)
	}
}

// TestRevocationCacheOptions: the cache's bounds are checked by New; with
// a TTL, answers are cached per session, and a cache smaller than the
// sessions in use still answers each right (expiry is tested on an
// injected clock in TestRevocationCacheExpiry).
func TestRevocationCacheOptions(t *testing.T) {
	k := newKeys(t)
	store := &fakeRevocations{revoked: map[string]bool{}}
	for _, o := range []middleware.Options{
		{Revocation: store, RevocationCacheTTL: middleware.MaxRevocationCacheTTL + time.Nanosecond},
		{Revocation: store, RevocationCacheTTL: -1},
		{Revocation: store, RevocationCacheSize: -1},
		{RevocationCacheTTL: time.Second},
	} {
		if _, err := middleware.New(k.verifier, o); err == nil {
			t.Errorf("New(%+v): no error", o)
		}
	}
	a := k.newAuth(t, middleware.Options{Revocation: store, RevocationCacheTTL: middleware.MaxRevocationCacheTTL, RevocationCacheSize: 2})
	h := a.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	tok := func(sid string) string {
		return k.mintParams(t, capability.Params{Subject: "alice", SessionID: sid, Audience: []string{testAudience}})
	}
	t1 := tok("s1")
	for range 3 {
		checkAnswer(t, serve(h, request("GET", "/", bearer(t1), "")), 200, "")
	}
	if got := store.count(); got != 1 {
		t.Errorf("3 requests of one session asked the checker %d times, want 1 (cached)", got)
	}
	// More sessions than the bound: every answer is still right.
	for i := range 5 {
		sid := fmt.Sprintf("x%d", i)
		store.set(sid, i%2 == 0, nil)
		want := 200
		if i%2 == 0 {
			want = 401
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, request("GET", "/", bearer(tok(sid)), ""))
		if w.Code != want {
			t.Errorf("session %s: got %d, want %d", sid, w.Code, want)
		}
	}
}

// TestErrorWriterRevoked: an ended session found by any layer (sqlguard's
// ErrSessionEnded matches capability.ErrRevoked) answers 401 with the
// invalid_token challenge, before the classifiers, never 403 or 404.
func TestErrorWriterRevoked(t *testing.T) {
	ew := middleware.ErrorWriter{Classifiers: []middleware.Classifier{
		func(error) (int, string, bool) { return http.StatusNotFound, "", true },
	}}
	w := httptest.NewRecorder()
	ew.WriteError(w, httptest.NewRequest("GET", "/", nil), fmt.Errorf("sqlguard: threads.get: %w", capability.ErrRevoked))
	checkAnswer(t, w, 401, `Bearer error="invalid_token"`)
	w = httptest.NewRecorder()
	middleware.WriteError(w, httptest.NewRequest("GET", "/", nil), capability.ErrRevoked)
	checkAnswer(t, w, 401, `Bearer error="invalid_token"`)
}
