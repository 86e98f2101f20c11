package capability

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/httprc/v3"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// ErrJWKS is returned when a JSON Web Key Set cannot be fetched or yields
// no usable key.
var ErrJWKS = errors.New("capability: JWKS")

// jwksSource is a JWKS URL kept fresh by jwx's jwk.Cache (httprc v3).
//
// The cache holds the last successfully fetched and parsed jwk.Set: a
// failed fetch (network error, non-200 status, body over the cap, JSON that
// does not parse) leaves it in place. On top of it, jwksSource converts each
// new jwk.Set into a validated keySet once, and keeps the previous keySet
// when a new set yields no usable key. Verify reads the current keySet with
// two atomic loads; only an unknown kid takes the slow path, which forces at
// most one refresh per minRefresh however many unknown kids arrive.
type jwksSource struct {
	url        string
	pinned     algSet
	now        func() time.Time
	minRefresh time.Duration

	cache  *jwk.Cache
	res    *httprc.ResourceBase[jwk.Set]
	closed atomic.Bool

	snap   atomic.Pointer[jwksSnapshot]
	convMu sync.Mutex // serializes conversions of a new jwk.Set

	refreshSem chan struct{} // capacity 1: one forced refresh at a time
	lastForced time.Time     // guarded by refreshSem
}

type jwksSnapshot struct {
	src  jwk.Set // the cached set this snapshot was built from
	keys *keySet // the last good keys (possibly from an earlier set)
	err  error   // why src itself yielded no keys, if it did not
}

func newJWKSSource(ctx context.Context, opts VerifierOptions, pinned algSet, now func() time.Time) (*jwksSource, error) {
	u, err := url.Parse(opts.JWKSURL)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" {
		return nil, errors.New("capability: VerifierOptions.JWKSURL is not an absolute URL")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	default:
		return nil, errors.New("capability: VerifierOptions.JWKSURL must be https (http only for loopback hosts)")
	}
	minRefresh := opts.JWKSMinRefresh
	if minRefresh == 0 {
		minRefresh = DefaultJWKSMinRefresh
	}
	maxBody := opts.JWKSMaxBody
	if maxBody == 0 {
		maxBody = DefaultJWKSMaxBody
	}
	hc := &http.Client{}
	if opts.HTTPClient != nil {
		*hc = *opts.HTTPClient // a copy: the caller's client is not changed
	}
	if hc.Timeout == 0 {
		hc.Timeout = DefaultJWKSTimeout
	}
	// jwx's redirect policy on top: no https->http downgrade, at most 5.
	hc = jwk.WrapHTTPClientDefaults(hc)
	client := &capClient{c: hc, max: maxBody}
	target := opts.JWKSURL
	// Errors of background fetches; only the first fetch's is read, below.
	fetchErr := make(chan error, 1)
	hrc := httprc.NewClient(
		httprc.WithHTTPClient(client),
		httprc.WithWhitelist(httprc.WhitelistFunc(func(s string) bool { return s == target })),
		httprc.WithErrorSink(errSinkFunc(func(err error) {
			select {
			case fetchErr <- err:
			default:
			}
		})),
	)
	// The cache lives until Close, not until ctx is done: ctx only bounds
	// the first fetch below.
	cache, err := jwk.NewCache(context.WithoutCancel(ctx), hrc)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrJWKS, err)
	}
	s := &jwksSource{
		url:        target,
		pinned:     pinned,
		now:        now,
		minRefresh: minRefresh,
		cache:      cache,
		refreshSem: make(chan struct{}, 1),
	}
	// Registering schedules the first fetch at once; wait for it to
	// succeed or fail (fast, through the error sink) rather than fetching a
	// second time.
	err = cache.Register(ctx, target,
		jwk.WithHTTPClient(client),
		jwk.WithIgnoreParseError(true), // see keysFromSet
		jwk.WithMaxFetchBodySize(maxBody),
		jwk.WithMinInterval(minRefresh),
		jwk.WithMaxInterval(max(time.Hour, minRefresh)),
		jwk.WithWaitReady(false),
	)
	if err == nil {
		s.res, err = cache.LookupResource(ctx, target)
	}
	if err == nil {
		waitCtx, cancel := context.WithCancel(ctx)
		ready := make(chan error, 1)
		go func() { ready <- s.res.Ready(waitCtx) }()
		select {
		case err = <-ready:
		case err = <-fetchErr:
		}
		cancel()
	}
	if err == nil {
		if snap := s.current(); snap.err != nil {
			err = snap.err
		}
	}
	if err != nil {
		_ = s.close()
		if errors.Is(err, ErrJWKS) {
			return nil, fmt.Errorf("%w (VerifierOptions.JWKSURL)", err)
		}
		return nil, fmt.Errorf("%w: first fetch of VerifierOptions.JWKSURL: %w", ErrJWKS, err)
	}
	return s, nil
}

type errSinkFunc func(error)

func (f errSinkFunc) Put(_ context.Context, err error) { f(err) }

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// current returns the keys of the cached set, converting a set the first
// time it is seen.
func (s *jwksSource) current() *jwksSnapshot {
	set := s.res.Resource()
	snap := s.snap.Load()
	if snap != nil && snap.src == set {
		return snap
	}
	s.convMu.Lock()
	defer s.convMu.Unlock()
	snap = s.snap.Load()
	if snap != nil && snap.src == set {
		return snap
	}
	next := &jwksSnapshot{src: set}
	if snap != nil {
		next.keys = snap.keys
	}
	if set == nil {
		next.err = fmt.Errorf("%w: not fetched yet", ErrJWKS)
	} else if ks, err := keysFromSet(set, s.pinned); err != nil {
		next.err = err // keep the last good keys
	} else {
		next.keys = ks
	}
	s.snap.Store(next)
	return next
}

// lookup returns the key for kid. An unknown kid forces a refresh, at most
// once per minRefresh, then looks again.
func (s *jwksSource) lookup(ctx context.Context, kid string) (PublicKey, bool) {
	if k, ok := s.current().keys.lookup(kid); ok {
		return k, true
	}
	if s.closed.Load() {
		return PublicKey{}, false
	}
	select {
	case s.refreshSem <- struct{}{}:
	case <-ctx.Done():
		return PublicKey{}, false
	}
	// Another caller may have refreshed while we waited.
	if k, ok := s.current().keys.lookup(kid); ok {
		<-s.refreshSem
		return k, true
	}
	now := s.now()
	if !s.lastForced.IsZero() && now.Sub(s.lastForced) < s.minRefresh && now.Sub(s.lastForced) >= 0 {
		<-s.refreshSem
		return PublicKey{}, false
	}
	s.lastForced = now
	_, _ = s.cache.Refresh(ctx, s.url) // a failure keeps the last good set
	<-s.refreshSem
	return s.current().keys.lookup(kid)
}

// refresh fetches the set now and reports whether it yielded usable keys.
func (s *jwksSource) refresh(ctx context.Context) error {
	if s.closed.Load() {
		return fmt.Errorf("%w: verifier closed", ErrJWKS)
	}
	if _, err := s.cache.Refresh(ctx, s.url); err != nil {
		return fmt.Errorf("%w: refresh failed, keeping the last good set: %w", ErrJWKS, err)
	}
	snap := s.current()
	if snap.err != nil {
		return snap.err
	}
	if snap.keys == nil {
		return fmt.Errorf("%w: no usable key", ErrJWKS)
	}
	return nil
}

func (s *jwksSource) close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.cache.Shutdown(context.Background())
}

// keysFromSet validates the keys of a fetched set like static keys. The
// set is parsed with jwk.WithIgnoreParseError, so that one key jwx refuses
// (say, a 1024-bit RSA key) drops that key, not the whole set; a document
// that is not JSON still fails and keeps the last good set. keysFromSet
// skips keys that are not for signatures ("use" other than "sig", or
// "key_ops" without "verify"), symmetric keys, keys of an algorithm that is
// not pinned, and keys that fail validation; a key id that appears more
// than once is dropped altogether. A key without "alg" gets the one
// algorithm keyhole supports for its type (RSA: RS256, EC P-256: ES256,
// OKP Ed25519: EdDSA). It is an error if no key remains.
func keysFromSet(set jwk.Set, pinned algSet) (*keySet, error) {
	var keys []PublicKey
	seen := make(map[string]int)
	for i := range set.Len() {
		jk, ok := set.Key(i)
		if !ok {
			continue
		}
		kid, ok := jk.KeyID()
		if !ok || !validKeyID(kid) {
			continue
		}
		seen[kid]++
		if use, ok := jk.KeyUsage(); ok && use != string(jwk.ForSignature) {
			continue
		}
		if ops, ok := jk.KeyOps(); ok && !slices.Contains(ops, jwk.KeyOpVerify) {
			continue
		}
		var raw any
		if err := jwk.Export(jk, &raw); err != nil {
			continue
		}
		var alg Algorithm
		switch raw.(type) {
		case ed25519.PublicKey:
			alg = EdDSA
		case *ecdsa.PublicKey:
			alg = ES256 // NewPublicKey checks the curve
		case *rsa.PublicKey:
			alg = RS256
		default:
			continue // symmetric, private or unsupported key
		}
		if a, ok := jk.Algorithm(); ok && a.String() != string(alg) {
			continue
		}
		if !pinned.has(alg) {
			continue
		}
		pk, err := NewPublicKey(alg, kid, raw)
		if err != nil {
			continue
		}
		keys = append(keys, pk)
	}
	keys = slices.DeleteFunc(keys, func(k PublicKey) bool { return seen[k.kid] > 1 })
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no usable key in the set", ErrJWKS)
	}
	return newKeySet(keys, pinned)
}

// capClient caps response bodies (on top of jwx's own cap), so that no
// more than max bytes are ever read from the JWKS server.
type capClient struct {
	c   *http.Client
	max int64
}

func (c *capClient) Do(req *http.Request) (*http.Response, error) {
	res, err := c.c.Do(req)
	if err != nil {
		return nil, err
	}
	if res.ContentLength > c.max {
		res.Body.Close()
		return nil, fmt.Errorf("%w: response body of %d bytes exceeds %d", ErrJWKS, res.ContentLength, c.max)
	}
	res.Body = &capBody{r: res.Body, left: c.max + 1}
	return res, nil
}

// capBody fails a read past its limit instead of truncating silently.
type capBody struct {
	r    io.ReadCloser
	left int64
}

func (b *capBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, fmt.Errorf("%w: response body too large", ErrJWKS)
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if b.left <= 0 && err == nil {
		return n, fmt.Errorf("%w: response body too large", ErrJWKS)
	}
	return n, err
}

func (b *capBody) Close() error { return b.r.Close() }
