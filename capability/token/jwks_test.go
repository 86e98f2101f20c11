package token

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"errors"
	"github.com/keyhole-go/keyhole/capability"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// jwksServer serves a JWKS document that a test can change, or make fail,
// and counts the requests it gets.
type jwksServer struct {
	*httptest.Server
	requests atomic.Int64
	mu       sync.Mutex
	doc      []byte
	status   int
}

func newJWKSServer(t *testing.T, doc []byte) *jwksServer {
	t.Helper()
	s := &jwksServer{doc: doc, status: http.StatusOK}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		s.mu.Lock()
		doc, status := s.doc, s.status
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(doc)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) serve(status int, doc []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.doc = status, doc
}

// fakeClock is a clock tests advance by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func jwksOf(t *testing.T, keys ...*SigningKey) []byte {
	t.Helper()
	is := vtIssuerFor(t, keys[0], ProfileDefault)
	for _, k := range keys[1:] {
		is.Rotate(k)
	}
	doc, err := is.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func jwksVerifier(t *testing.T, url string, clock *fakeClock, mod func(*VerifierOptions)) *Verifier {
	t.Helper()
	opts := VerifierOptions{
		Issuer: vtIssuer, Audience: vtAudience, Algorithms: []Algorithm{EdDSA, ES256, RS256},
		JWKSURL: url, Roles: vtRoles(t), Kind: capability.KindInt64, Now: clock.Now,
	}
	if mod != nil {
		mod(&opts)
	}
	v, err := NewVerifier(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.Close() })
	return v
}

func TestJWKSVerify(t *testing.T) {
	ring := vtKeys(t)
	srv := newJWKSServer(t, jwksOf(t, ring.byAlg[EdDSA], ring.byAlg[ES256], ring.byAlg[RS256]))
	v := jwksVerifier(t, srv.URL, &fakeClock{now: vtNow}, nil)
	if got := srv.requests.Load(); got != 1 {
		t.Errorf("fetches at construction: got %d, want 1", got)
	}
	for _, alg := range []Algorithm{EdDSA, ES256, RS256} {
		tok := vtMint(t, vtIssuerFor(t, ring.byAlg[alg], ProfileDefault), vtParams(3))
		if _, err := v.Verify(t.Context(), tok); err != nil {
			t.Errorf("%s: %v", alg, err)
		}
	}
	if got := srv.requests.Load(); got != 1 {
		t.Errorf("fetches after verifying known kids: got %d, want 1", got)
	}
}

// TestJWKSUnknownKidStorm: 100 tokens with random unknown kids cause at
// most one refresh per JWKSMinRefresh.
func TestJWKSUnknownKidStorm(t *testing.T) {
	ring := vtKeys(t)
	ed := ring.byAlg[EdDSA]
	srv := newJWKSServer(t, jwksOf(t, ed))
	clock := &fakeClock{now: vtNow}
	v := jwksVerifier(t, srv.URL, clock, nil)
	before := srv.requests.Load()
	payload := vtClaims(t, vtParams(3), nil)
	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var kid [8]byte
			_, _ = rand.Read(kid[:])
			tok := vtSign(t, ed, vtHeader(EdDSA, hex.EncodeToString(kid[:])), payload)
			_, err := v.Verify(t.Context(), tok)
			if !errors.Is(err, ErrUnknownKey) {
				t.Errorf("got %v, want ErrUnknownKey", err)
			}
		}()
	}
	wg.Wait()
	if extra := srv.requests.Load() - before; extra > 1 {
		t.Errorf("storm of 100 unknown kids: %d extra fetches, want at most 1", extra)
	}
	// Past the interval, an unknown kid may refresh once more.
	clock.Advance(DefaultJWKSMinRefresh)
	before = srv.requests.Load()
	for range 10 {
		tok := vtSign(t, ed, vtHeader(EdDSA, "unknown"), payload)
		if _, err := v.Verify(t.Context(), tok); !errors.Is(err, ErrUnknownKey) {
			t.Errorf("got %v, want ErrUnknownKey", err)
		}
	}
	if extra := srv.requests.Load() - before; extra != 1 {
		t.Errorf("after the interval: %d extra fetches, want 1", extra)
	}
}

// TestJWKSKeepsLastGoodSet: a fetch that fails before a document is parsed
// keeps the last good set; a parsed 200 document is installed even without
// a usable key, and then every token is refused.
func TestJWKSKeepsLastGoodSet(t *testing.T) {
	ring := vtKeys(t)
	ed := ring.byAlg[EdDSA]
	good := jwksOf(t, ed)
	srv := newJWKSServer(t, good)
	v := jwksVerifier(t, srv.URL, &fakeClock{now: vtNow}, func(o *VerifierOptions) { o.JWKSMaxBody = 4096 })
	tok := vtMint(t, vtIssuerFor(t, ed, ProfileDefault), vtParams(3))

	encOnly := strings.Replace(string(good), `"use":"sig"`, `"use":"enc"`, 1)
	oversized := `{"keys":[],"pad":"` + strings.Repeat("x", 8192) + `"}`
	tests := []struct {
		name   string
		status int
		doc    string
		keep   bool // the last good set stays in use
	}{
		{"status 500", http.StatusInternalServerError, string(good), true},
		{"status 404", http.StatusNotFound, "", true},
		{"oversized body", http.StatusOK, oversized, true},
		{"not JSON", http.StatusOK, "<html>", true},
		{"empty set", http.StatusOK, `{"keys":[]}`, false},
		{"only encryption keys", http.StatusOK, encOnly, false},
		{"only a symmetric key", http.StatusOK, `{"keys":[{"kty":"oct","kid":"k-eddsa","k":"` + b64.EncodeToString(make([]byte, 32)) + `"}]}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.serve(http.StatusOK, good)
			if err := v.Refresh(t.Context()); err != nil {
				t.Fatalf("Refresh with the good set: %v", err)
			}
			srv.serve(tt.status, []byte(tt.doc))
			if err := v.Refresh(t.Context()); !errors.Is(err, ErrJWKS) {
				t.Errorf("Refresh: got %v, want ErrJWKS", err)
			}
			_, err := v.Verify(t.Context(), tok)
			switch {
			case tt.keep && err != nil:
				t.Errorf("Verify with the last good set: %v", err)
			case !tt.keep && !errors.Is(err, ErrUnknownKey):
				t.Errorf("Verify after a set without usable keys: got %v, want ErrUnknownKey", err)
			}
		})
	}
	srv.serve(http.StatusOK, good)
	if err := v.Refresh(t.Context()); err != nil {
		t.Errorf("Refresh after recovery: %v", err)
	}
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Errorf("Verify after recovery: %v", err)
	}
}

// TestJWKSRevocationBySetWithoutUsableKey: publishing a document that no
// longer holds a key revokes it, whether the document is empty or holds
// only keys of other, unpinned algorithms; the background-free path (an
// unknown kid after the revocation) sees it too.
func TestJWKSRevocationBySetWithoutUsableKey(t *testing.T) {
	ring := vtKeys(t)
	ed, es := ring.byAlg[EdDSA], ring.byAlg[ES256]
	tok := vtMint(t, vtIssuerFor(t, ed, ProfileDefault), vtParams(3))
	for name, doc := range map[string][]byte{
		"empty set":            []byte(`{"keys":[]}`),
		"only an unpinned key": jwksOf(t, es),
	} {
		t.Run(name, func(t *testing.T) {
			srv := newJWKSServer(t, jwksOf(t, ed))
			clock := &fakeClock{now: vtNow}
			v := jwksVerifier(t, srv.URL, clock, func(o *VerifierOptions) { o.Algorithms = []Algorithm{EdDSA} })
			if _, err := v.Verify(t.Context(), tok); err != nil {
				t.Fatal(err)
			}
			srv.serve(http.StatusOK, doc)
			if err := v.Refresh(t.Context()); !errors.Is(err, ErrJWKS) {
				t.Errorf("Refresh: got %v, want ErrJWKS (no usable key)", err)
			}
			if _, err := v.Verify(t.Context(), tok); !errors.Is(err, ErrUnknownKey) {
				t.Errorf("token of the unpublished key: got %v, want ErrUnknownKey", err)
			}
			// Publishing the key again restores it at the next forced
			// refresh (one per JWKSMinRefresh).
			srv.serve(http.StatusOK, jwksOf(t, ed))
			clock.Advance(DefaultJWKSMinRefresh)
			if _, err := v.Verify(t.Context(), tok); err != nil {
				t.Errorf("after republishing: %v", err)
			}
		})
	}
}

// TestJWKSMaxStale: a set that no fetch confirms for JWKSMaxStale is
// dropped; a successful fetch brings it back.
func TestJWKSMaxStale(t *testing.T) {
	ring := vtKeys(t)
	ed := ring.byAlg[EdDSA]
	good := jwksOf(t, ed)
	srv := newJWKSServer(t, good)
	clock := &fakeClock{now: vtNow}
	v := jwksVerifier(t, srv.URL, clock, func(o *VerifierOptions) { o.JWKSMaxStale = 2 * time.Hour })
	srv.serve(http.StatusServiceUnavailable, nil)
	clock.Advance(2 * time.Hour)
	is, err := NewIssuer(IssuerOptions{Issuer: vtIssuer, Roles: vtRoles(t), Kind: capability.KindInt64, Key: ed, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	tok := vtMint(t, is, vtParams(1)) // valid for 15 min from now
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Errorf("at JWKSMaxStale: %v", err)
	}
	clock.Advance(time.Second)
	if _, err := v.Verify(t.Context(), tok); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("past JWKSMaxStale with failing refreshes: got %v, want ErrUnknownKey", err)
	}
	// The server recovers: the next forced refresh (one per
	// JWKSMinRefresh) confirms the set again.
	srv.serve(http.StatusOK, good)
	clock.Advance(DefaultJWKSMinRefresh)
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Errorf("after a successful fetch: %v", err)
	}
	if _, err := NewVerifier(t.Context(), VerifierOptions{
		Issuer: vtIssuer, Audience: vtAudience, Algorithms: []Algorithm{EdDSA},
		JWKSURL: srv.URL, JWKSMaxStale: -1, Roles: vtRoles(t), Kind: capability.KindInt64,
	}); err == nil || !strings.Contains(err.Error(), "JWKSMaxStale") {
		t.Errorf("negative JWKSMaxStale: got %v, want an error naming it", err)
	}
}

func TestJWKSRotation(t *testing.T) {
	ring := vtKeys(t)
	k1, k2, k3 := ring.byAlg[EdDSA], ring.second[EdDSA], ring.byAlg[ES256]
	is := vtIssuerFor(t, k1, ProfileDefault)
	srv := newJWKSServer(t, nil)
	publish := func() {
		doc, err := is.JWKS()
		if err != nil {
			t.Fatal(err)
		}
		srv.serve(http.StatusOK, doc)
	}
	publish()
	clock := &fakeClock{now: vtNow}
	v := jwksVerifier(t, srv.URL, clock, nil)
	old := vtMint(t, is, vtParams(1))

	is.Rotate(k2)
	publish()
	fresh := vtMint(t, is, vtParams(1))
	// The first unknown kid refreshes at once.
	for name, tok := range map[string]string{"old": old, "fresh": fresh} {
		if _, err := v.Verify(t.Context(), tok); err != nil {
			t.Errorf("%s token after rotation: %v", name, err)
		}
	}
	// A second rotation within JWKSMinRefresh is seen after the interval
	// (or after an explicit Refresh).
	is.Rotate(k3)
	publish()
	third := vtMint(t, is, vtParams(1))
	if _, err := v.Verify(t.Context(), third); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("within the refresh interval: got %v, want ErrUnknownKey", err)
	}
	clock.Advance(DefaultJWKSMinRefresh + time.Second)
	for name, tok := range map[string]string{"old": old, "fresh": fresh, "third": third} {
		if _, err := v.Verify(t.Context(), tok); err != nil {
			t.Errorf("%s token after the interval: %v", name, err)
		}
	}
	// Removing a key unpublishes it; an explicit refresh drops it.
	if err := is.RemoveKey(k1.kid); err != nil {
		t.Fatal(err)
	}
	publish()
	if err := v.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(t.Context(), old); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("token of a removed key: got %v, want ErrUnknownKey", err)
	}
}

func TestJWKSConstruction(t *testing.T) {
	ring := vtKeys(t)
	tests := []struct {
		name   string
		status int
		doc    string
	}{
		{"server error", http.StatusInternalServerError, ""},
		{"empty set", http.StatusOK, `{"keys":[]}`},
		{"not JSON", http.StatusOK, "nope"},
		{"keys of an algorithm not pinned", http.StatusOK, string(jwksOf(t, ring.byAlg[RS256]))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newJWKSServer(t, []byte(tt.doc))
			srv.serve(tt.status, []byte(tt.doc))
			v, err := NewVerifier(t.Context(), VerifierOptions{
				Issuer: vtIssuer, Audience: vtAudience, Algorithms: []Algorithm{EdDSA},
				JWKSURL: srv.URL, Roles: vtRoles(t), Kind: capability.KindInt64,
			})
			if !errors.Is(err, ErrJWKS) {
				if v != nil {
					_ = v.Close()
				}
				t.Errorf("NewVerifier: got %v, want ErrJWKS", err)
			}
		})
	}
}

// TestJWKSKeySelection checks which keys of a fetched set are used.
func TestJWKSKeySelection(t *testing.T) {
	ring := vtKeys(t)
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	entry := func(raw any, fields map[string]any) map[string]any {
		jk, err := jwk.Import(raw)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(jk)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]any{}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		for k, v := range fields {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}
	edPub := ring.byAlg[EdDSA].pub.key
	esPub := ring.byAlg[ES256].pub.key
	keys := []map[string]any{
		entry(edPub, map[string]any{"kid": "ok-ed", "alg": "EdDSA", "use": "sig"}),
		entry(edPub, map[string]any{"kid": "ok-no-alg-no-use"}),
		entry(esPub, map[string]any{"kid": "ok-es", "alg": "ES256", "key_ops": []any{"verify"}}),
		entry(edPub, map[string]any{"kid": "enc", "use": "enc"}),
		entry(edPub, map[string]any{"kid": "ops-encrypt", "key_ops": []any{"encrypt"}}),
		entry(edPub, map[string]any{"kid": "alg-mismatch", "alg": "ES256"}),
		entry(&ring.rsaPriv.PublicKey, map[string]any{"kid": "rsa-not-pinned", "alg": "RS256"}),
		{"kty": "RSA", "kid": "rsa-weak", "n": b64.EncodeToString(weak.N.Bytes()), "e": "AQAB"},
		entry([]byte(strings.Repeat("s", 32)), map[string]any{"kid": "oct"}),
		entry(ring.byAlg[EdDSA].signer, map[string]any{"kid": "private"}),
		entry(edPub, map[string]any{"kid": "dup"}),
		entry(esPub, map[string]any{"kid": "dup"}),
		entry(edPub, map[string]any{"kid": nil}),
		entry(edPub, map[string]any{"kid": strings.Repeat("k", MaxKeyIDLen+1)}),
	}
	doc, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	set, err := jwk.Parse(doc, jwk.WithIgnoreParseError(true))
	if err != nil {
		t.Fatal(err)
	}
	ks, err := keysFromSet(set, algBit(EdDSA)|algBit(ES256))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for kid := range ks.byKID {
		got = append(got, kid)
	}
	want := map[string]bool{"ok-ed": true, "ok-no-alg-no-use": true, "ok-es": true}
	if len(got) != len(want) {
		t.Errorf("usable keys: got %v, want %v", got, want)
	}
	for _, kid := range got {
		if !want[kid] {
			t.Errorf("key %q should have been skipped", kid)
		}
	}
}

func TestCapClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// No Content-Length: the cap must hold while streaming.
		w.(http.Flusher).Flush()
		_, _ = w.Write([]byte(strings.Repeat("x", 5000)))
	}))
	defer srv.Close()
	c := &capClient{c: srv.Client(), max: 1000}
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if !errors.Is(err, ErrJWKS) {
		t.Errorf("reading past the cap: got %v, want ErrJWKS", err)
	}
	if len(b) > 1001 {
		t.Errorf("read %d bytes, cap 1000", len(b))
	}
}

func TestJWKSTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // hang until the client gives up
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	start := time.Now()
	_, err := NewVerifier(t.Context(), VerifierOptions{
		Issuer: vtIssuer, Audience: vtAudience, Algorithms: []Algorithm{EdDSA},
		JWKSURL: srv.URL, HTTPClient: &http.Client{Timeout: 100 * time.Millisecond},
		Roles: vtRoles(t), Kind: capability.KindInt64,
	})
	if !errors.Is(err, ErrJWKS) {
		t.Fatalf("got %v, want ErrJWKS", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("NewVerifier took %v with a 100ms client timeout", d)
	}
}

func TestJWKSUnknownKidCanceledContext(t *testing.T) {
	ring := vtKeys(t)
	ed := ring.byAlg[EdDSA]
	srv := newJWKSServer(t, jwksOf(t, ed))
	v := jwksVerifier(t, srv.URL, &fakeClock{now: vtNow}, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	tok := vtSign(t, ed, vtHeader(EdDSA, "unknown"), vtClaims(t, vtParams(1), nil))
	if _, err := v.Verify(ctx, tok); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("got %v, want ErrUnknownKey", err)
	}
	// Known kids do not need the context.
	if _, err := v.Verify(ctx, vtMint(t, vtIssuerFor(t, ed, ProfileDefault), vtParams(1))); err != nil {
		t.Errorf("known kid with a canceled context: %v", err)
	}
	if err := v.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := v.Verify(t.Context(), tok); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("after Close: got %v, want ErrUnknownKey", err)
	}
}

// TestJWKSCanceledRequestKeepsForcedRefresh: requests with unknown kids
// whose context is already canceled do not use up the forced refresh of
// the interval, so a key published meanwhile is found by the next request.
func TestJWKSCanceledRequestKeepsForcedRefresh(t *testing.T) {
	ring := vtKeys(t)
	ed, es := ring.byAlg[EdDSA], ring.byAlg[ES256]
	srv := newJWKSServer(t, jwksOf(t, ed))
	v := jwksVerifier(t, srv.URL, &fakeClock{now: vtNow}, nil)
	srv.serve(http.StatusOK, jwksOf(t, ed, es)) // rotation published
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	junk := vtSign(t, ed, vtHeader(EdDSA, "junk"), vtClaims(t, vtParams(1), nil))
	for range 20 {
		if _, err := v.Verify(ctx, junk); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("unknown kid, canceled context: got %v, want ErrUnknownKey", err)
		}
	}
	before := srv.requests.Load()
	newTok := vtMint(t, vtIssuerFor(t, es, ProfileDefault), vtParams(1))
	if _, err := v.Verify(t.Context(), newTok); err != nil {
		t.Errorf("token of the newly published key: %v (fetches since: %d)", err, srv.requests.Load()-before)
	}
}

// TestJWKSForcedRefreshOutlivesCanceledRequest: a forced refresh that has
// started completes even though the request that started it is canceled;
// its result serves the next request.
func TestJWKSForcedRefreshOutlivesCanceledRequest(t *testing.T) {
	ring := vtKeys(t)
	ed, es := ring.byAlg[EdDSA], ring.byAlg[ES256]
	first := jwksOf(t, ed)
	rotated := jwksOf(t, ed, es)
	ctx, cancel := context.WithCancel(t.Context())
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if n.Add(1) == 1 {
			_, _ = w.Write(first)
			return
		}
		cancel() // the request that forced this refresh gives up meanwhile
		_, _ = w.Write(rotated)
	}))
	t.Cleanup(srv.Close)
	v := jwksVerifier(t, srv.URL, &fakeClock{now: vtNow}, nil)
	newTok := vtMint(t, vtIssuerFor(t, es, ProfileDefault), vtParams(1))
	_, _ = v.Verify(ctx, newTok)
	if _, err := v.Verify(t.Context(), newTok); err != nil {
		t.Errorf("after a forced refresh whose request was canceled: %v (fetches %d)", err, n.Load())
	}
}
