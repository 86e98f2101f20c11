package token

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/httprc/v3"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// ErrJWKS is returned when a JSON Web Key Set cannot be fetched or holds
// no usable key.
var ErrJWKS = errors.New("token: JWKS")

// jwksSource is a JWKS URL kept fresh by httprc v3 (the machinery of jwx's
// jwk.Cache), with a transformer of its own that parses each fetched
// document with jwk.Parse and converts it into a validated keySet once.
//
// The rule, in full: a fetch that fails before a document is parsed (a
// network error, a status other than 200, a body over the cap, JSON that
// does not parse) changes nothing, and the last good set stays in use. A
// 200 response whose document parses is the truth: it is installed at once,
// even when it holds no usable key, and then every token is refused with
// ErrUnknownKey until a later document holds usable keys (that is how a
// compromised key is revoked). A set that has not been confirmed by such a
// fetch for maxStale (measured with now) is dropped: tokens are refused,
// and an unknown kid tries a refresh, until a fetch succeeds again.
//
// Verify reads the current set with one atomic load; only an unknown kid
// takes the slow path, which forces at most one refresh per minRefresh
// however many unknown kids arrive.
type jwksSource struct {
	url        string
	pinned     algSet
	now        func() time.Time
	minRefresh time.Duration
	maxStale   time.Duration
	timeout    time.Duration // of one forced refresh: the HTTP client's

	ctrl   httprc.Controller
	res    *httprc.ResourceBase[*jwksFetch]
	closed atomic.Bool

	refreshSem chan struct{} // capacity 1: one forced refresh at a time
	lastForced time.Time     // guarded by refreshSem
}

// jwksFetch is the result of one fetched and parsed document.
type jwksFetch struct {
	keys *keySet   // nil: the document held no usable key
	err  error     // why keys is nil
	at   time.Time // when the document was parsed, by the source's clock
}

// jwksTransformer turns a 200 response into a jwksFetch. An error here
// (body too large, not JSON) is a failed fetch: httprc keeps the previous
// value.
type jwksTransformer struct {
	pinned  algSet
	maxBody int64
	now     func() time.Time
}

func (t jwksTransformer) Transform(_ context.Context, res *http.Response) (*jwksFetch, error) {
	buf, err := io.ReadAll(io.LimitReader(res.Body, t.maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading the response: %w", ErrJWKS, err)
	}
	if int64(len(buf)) > t.maxBody {
		return nil, fmt.Errorf("%w: response body exceeds %d bytes", ErrJWKS, t.maxBody)
	}
	// WithIgnoreParseError: one key jwx refuses drops that key, not the
	// whole set; see keysFromSet.
	set, err := jwk.Parse(buf, jwk.WithIgnoreParseError(true))
	if err != nil {
		return nil, fmt.Errorf("%w: parsing the document: %w", ErrJWKS, err)
	}
	f := &jwksFetch{at: t.now()}
	f.keys, f.err = keysFromSet(set, t.pinned)
	if f.err != nil {
		f.keys = nil
	}
	return f, nil
}

func newJWKSSource(ctx context.Context, opts VerifierOptions, pinned algSet, now func() time.Time) (*jwksSource, error) {
	if _, err := fetchURL(opts.JWKSURL); err != nil {
		return nil, fmt.Errorf("token: VerifierOptions.JWKSURL %w", err)
	}
	minRefresh := opts.JWKSMinRefresh
	if minRefresh == 0 {
		minRefresh = DefaultJWKSMinRefresh
	}
	maxBody := opts.JWKSMaxBody
	if maxBody == 0 {
		maxBody = DefaultJWKSMaxBody
	}
	maxStale := opts.JWKSMaxStale
	if maxStale == 0 {
		maxStale = DefaultJWKSMaxStale
	}
	hc, timeout := fetchClient(opts.HTTPClient)
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
	// The controller lives until Close, not until ctx is done: ctx only
	// bounds the first fetch below.
	ctrl, err := hrc.Start(context.WithoutCancel(ctx))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrJWKS, err)
	}
	s := &jwksSource{
		url:        target,
		pinned:     pinned,
		now:        now,
		minRefresh: minRefresh,
		maxStale:   maxStale,
		timeout:    timeout,
		ctrl:       ctrl,
		refreshSem: make(chan struct{}, 1),
	}
	s.res, err = httprc.NewResource[*jwksFetch](target,
		jwksTransformer{pinned: pinned, maxBody: maxBody, now: now},
		httprc.WithHTTPClient(client),
		httprc.WithMinInterval(minRefresh),
		httprc.WithMaxInterval(max(time.Hour, minRefresh)),
	)
	// Adding schedules the first fetch at once; wait for it to succeed or
	// fail (fast, through the error sink) rather than fetching a second
	// time.
	if err == nil {
		err = ctrl.Add(ctx, s.res, httprc.WithWaitReady(false))
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
		// The first document must hold a usable key.
		if f := s.res.Resource(); f == nil {
			err = fmt.Errorf("%w: not fetched", ErrJWKS)
		} else if f.err != nil {
			err = f.err
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

// fetchClient returns the HTTP client of the JWKS and discovery fetches: a
// copy of c (the caller's client is not changed; nil means a default one)
// with a timeout of DefaultJWKSTimeout if it has none, and jwx's redirect
// policy on top (no https->http downgrade, at most 5 redirects).
func fetchClient(c *http.Client) (*http.Client, time.Duration) {
	hc := &http.Client{}
	if c != nil {
		*hc = *c
	}
	if hc.Timeout == 0 {
		hc.Timeout = DefaultJWKSTimeout
	}
	return jwk.WrapHTTPClientDefaults(hc), hc.Timeout
}

// fetchURL parses raw as the absolute URL of a key set or discovery
// document: https, or http for a loopback host only; no user info, no
// fragment.
func fetchURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" {
		return nil, errors.New("is not an absolute URL")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	default:
		return nil, errors.New("must be https (http only for loopback hosts)")
	}
	return u, nil
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

// current returns the keys in force: those of the last parsed document,
// or nil (no key) when there is none or it is older than maxStale.
func (s *jwksSource) current() *keySet {
	f := s.res.Resource()
	if f == nil || f.keys == nil {
		return nil
	}
	if age := s.now().Sub(f.at); age > s.maxStale {
		return nil // fail closed: not confirmed for too long
	}
	return f.keys
}

// lookup returns the key for kid. An unknown kid forces a refresh, at most
// once per minRefresh, then looks again.
func (s *jwksSource) lookup(ctx context.Context, kid string) (PublicKey, bool) {
	if k, ok := s.current().lookup(kid); ok {
		return k, true
	}
	// A caller that has already given up does not take the interval's
	// forced refresh from the next one.
	if s.closed.Load() || ctx.Err() != nil {
		return PublicKey{}, false
	}
	select {
	case s.refreshSem <- struct{}{}:
	case <-ctx.Done():
		return PublicKey{}, false
	}
	defer func() { <-s.refreshSem }()
	// Another caller may have refreshed while we waited.
	if k, ok := s.current().lookup(kid); ok {
		return k, true
	}
	now := s.now()
	if !s.lastForced.IsZero() && now.Sub(s.lastForced) < s.minRefresh && now.Sub(s.lastForced) >= 0 {
		return PublicKey{}, false
	}
	// The refresh runs to its end even if this request is canceled
	// meanwhile, bounded by the HTTP client's timeout: the interval's one
	// forced refresh is always a real attempt.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
	defer cancel()
	s.lastForced = now
	_ = s.ctrl.Refresh(rctx, s.url) // a failed fetch keeps the last good set
	return s.current().lookup(kid)
}

// refresh fetches the set now and reports whether it yielded usable keys.
func (s *jwksSource) refresh(ctx context.Context) error {
	if s.closed.Load() {
		return fmt.Errorf("%w: verifier closed", ErrJWKS)
	}
	if err := s.ctrl.Refresh(ctx, s.url); err != nil {
		return fmt.Errorf("%w: refresh failed, keeping the last good set: %w", ErrJWKS, err)
	}
	f := s.res.Resource()
	switch {
	case f == nil:
		return fmt.Errorf("%w: not fetched", ErrJWKS)
	case f.err != nil:
		return fmt.Errorf("%w; every token is refused until a document holds one", f.err)
	}
	return nil
}

func (s *jwksSource) close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.ctrl.ShutdownContext(context.Background())
}

// keysFromSet validates the keys of a fetched set like static keys. The
// set is parsed with jwk.WithIgnoreParseError, so that one key jwx refuses
// (say, a 1024-bit RSA key) drops that key, not the whole set; a document
// that is not JSON still fails and keeps the last good set. keysFromSet
// applies the rules of ParsePublicJWK to each key and skips those it
// refuses: keys that are not for signatures ("use" other than "sig", or
// "key_ops" without "verify"), symmetric and private keys, keys that fail
// validation (sizes, curve, the ROCA fingerprint), and keys of an algorithm
// that is not pinned; a key id that appears more than once is dropped
// altogether. A key without "alg" gets the algorithm ParsePublicJWK gives
// it (RSA: RS256, ECDSA: by its curve, Ed25519: EdDSA). It is an error if
// no key remains (the document is installed all the same, with no key: see
// jwksSource).
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
		pk, err := publicKeyFromJWK(jk)
		if err != nil || !pinned.has(pk.alg) {
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
