package token

import (
	"context"
	"errors"
	"fmt"
	"github.com/keyhole-go/keyhole/capability"
	"net/http"
	"slices"
	"sync/atomic"
	"time"
)

// Verifier defaults.
const (
	DefaultSkew           = 30 * time.Second
	DefaultMaxLifetime    = 24 * time.Hour
	DefaultMaxTokenSize   = 8192
	DefaultJWKSMinRefresh = 5 * time.Minute
	DefaultJWKSMaxBody    = 1 << 20
	DefaultJWKSTimeout    = 10 * time.Second
	DefaultJWKSMaxStale   = 24 * time.Hour
)

// VerifierOptions configure NewVerifier. Everything is checked once, at
// construction; NewVerifier names the field of the first problem.
type VerifierOptions struct {
	// Issuer is required: a token's iss must equal it.
	Issuer string
	// Audience is required: a token's aud must contain it.
	Audience string
	// Algorithms pins the accepted algorithms; required, no default. HS256
	// cannot be pinned together with an asymmetric algorithm.
	Algorithms []Algorithm
	// Keys is a static key set. Exactly one of Keys and JWKSURL is set.
	Keys []PublicKey
	// JWKSURL is the https URL of a JSON Web Key Set kept fresh through
	// httprc v3, as jwx's jwk.Cache does (plain http is accepted for
	// loopback hosts only). Each key of the set is read as ParsePublicJWK
	// reads one, and skipped when ParsePublicJWK would refuse it (an
	// encryption key: "use" other than "sig" or "key_ops" without "verify";
	// a symmetric or private key; a key that fails validation, such as an
	// RSA modulus with the ROCA fingerprint) or when its algorithm is not
	// pinned. An RSA key without "alg" is taken as RS256: a provider that
	// signs RS384, RS512 or PS* with it must publish "alg".
	//
	// The set in force follows one rule. A fetch that fails before a
	// document is read (network error, HTTP status other than 200, body
	// over JWKSMaxBody, JSON that does not parse) changes nothing: the last
	// good set stays in use. A 200 response whose JSON parses is the truth
	// and replaces the set at once, even when it holds no usable key (an
	// empty "keys", only encryption, symmetric or unpinned keys): every
	// token is then refused with ErrUnknownKey, which is how a key is
	// revoked. A set not confirmed by such a fetch for JWKSMaxStale is
	// dropped too (fail closed) until a fetch succeeds. The first fetch, in
	// NewVerifier, must succeed and hold a usable key.
	JWKSURL string
	// Discovery reads the JWKS URL from the OpenID Connect discovery
	// document of Issuer (OpenID Connect Discovery 1.0) instead of JWKSURL:
	// NewVerifier fetches <Issuer>/.well-known/openid-configuration (a
	// trailing "/" of Issuer removed first), within ctx and HTTPClient's
	// timeout, under the rules of JWKSURL: https, or http for a loopback
	// host only, no https->http redirect, a body of at most
	// MaxDiscoveryBody bytes. The document must be one strict JSON object
	// whose "issuer" is a string equal to Issuer byte for byte (no
	// trailing-slash or case normalisation: a provider that names itself
	// differently is not this issuer) and whose "jwks_uri" is a string
	// obeying the rules of JWKSURL. That URL is then used exactly as
	// JWKSURL is, with the same cache, refresh, rotation and staleness
	// rules. Any failure is an error wrapping ErrDiscovery.
	//
	// The document is read once, by NewVerifier: a provider that moves its
	// jwks_uri needs a new Verifier. Nothing else in it is used.
	//
	// Discovery is a switch, not a URL of its own, so that the document is
	// always the one of the issuer whose tokens are accepted: there is no
	// second URL to keep in step with Issuer. Exactly one of Keys, JWKSURL
	// and Discovery is set.
	Discovery bool
	// HTTPClient fetches JWKSURL and the discovery document (default: a
	// client with a 10 s timeout). A client without a timeout gets one;
	// redirects that downgrade https to http are refused.
	HTTPClient *http.Client
	// JWKSMinRefresh is the minimum interval, measured with Now, between
	// refreshes caused by unknown key ids, however many arrive (default
	// 5 min); the first unknown kid refreshes at once. It is also the
	// shortest interval of the background refresh (which follows the
	// response's Cache-Control, at most hourly).
	JWKSMinRefresh time.Duration
	// JWKSMaxBody caps the JWKS response body (default 1 MiB).
	JWKSMaxBody int64
	// JWKSMaxStale bounds how long, measured with Now, a key set is used
	// without a successful fetch (a 200 response whose JSON parses) when
	// refreshes keep failing; past it every token is refused with
	// ErrUnknownKey (default 24 h).
	JWKSMaxStale time.Duration
	// Roles is the role hierarchy; required.
	Roles *capability.Roles
	// Kind is the kind of the group ids; required.
	Kind capability.GroupKind
	// Mapping optionally reads other identity providers' claim shapes.
	Mapping *ClaimMapping
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Skew is the clock skew tolerated on exp, nbf and iat (default 30 s).
	Skew time.Duration
	// MaxLifetime bounds exp-iat, or exp-now without iat (default 24 h).
	MaxLifetime time.Duration
	// MaxTokenSize bounds the token length in bytes, checked before any
	// decoding (default 8192).
	MaxTokenSize int
	// MaxGrants bounds the number of grants (default MaxGrantsDefault).
	MaxGrants int

	// NoCache turns the verified-token cache off: every Verify checks the
	// signature. The cache is on by default; see "Verified-token cache" in
	// the package documentation.
	NoCache bool
	// CacheEntries bounds the number of cached tokens (default
	// DefaultCacheEntries). Tokens longer than MaxCachedTokenSize are
	// never cached.
	CacheEntries int
	// CacheMaxAge bounds, measured with Now, how long a verified token is
	// answered from the cache before it is verified again (default
	// DefaultCacheMaxAge). Within it, a cached token is still refused from
	// its exp (with Skew) on and whenever the key set changes.
	CacheMaxAge time.Duration
}

// Verifier turns tokens into capabilities. It is built once by NewVerifier
// and is safe for concurrent use.
//
// Verification fails closed, in this order: size; compact serialization of
// three strict base64url parts; the protected header (only alg, kid and typ
// "JWT"; alg pinned; kid known, after at most one JWKS refresh per
// JWKSMinRefresh; alg equal to the key's algorithm); the signature; the
// claims (strict JSON, exp and a non-empty sub required); the times (exp,
// nbf, iat with Skew; lifetime); iss; aud; the grants (MaxGrants, known
// roles, group kind).
// Every error is a *TokenError that wraps ErrInvalidToken and one reason.
// Tokens that verified are kept in a bounded cache that gives the same
// answers (see "Verified-token cache" in the package documentation).
type Verifier struct {
	iss          string
	aud          string
	algs         algSet
	static       *keySet
	jwks         *jwksSource
	roles        *capability.Roles
	kind         capability.GroupKind
	mapping      *ClaimMapping
	now          func() time.Time
	skew         time.Duration
	maxLifetime  time.Duration
	maxTokenSize int
	maxGrants    int

	cache       *tokenCache         // nil: off
	macs        map[string]*macPool // HS256 keys of static, by kid
	audOnly     []string            // []string{aud}, shared by decoded claims, never modified
	onSignature func()              // test hook: called before each signature check
	lastHeader  atomic.Pointer[headerMemo]
}

// NewVerifier checks opts and returns a verifier. With Discovery it first
// fetches the issuer's discovery document, within ctx, for the JWKS URL.
// With JWKSURL (or Discovery) it fetches
// the key set once, within ctx, and fails if that fetch fails or yields no
// usable key; later refreshes run in the background until Close. A failed
// refresh keeps the last good set (for at most JWKSMaxStale); a fetched
// document replaces it, even one without a usable key (see JWKSURL).
func NewVerifier(ctx context.Context, opts VerifierOptions) (*Verifier, error) {
	v := &Verifier{
		iss:          opts.Issuer,
		aud:          opts.Audience,
		roles:        opts.Roles,
		kind:         opts.Kind,
		mapping:      opts.Mapping.clone(),
		now:          opts.Now,
		skew:         opts.Skew,
		maxLifetime:  opts.MaxLifetime,
		maxTokenSize: opts.MaxTokenSize,
		maxGrants:    opts.MaxGrants,
		audOnly:      []string{opts.Audience},
	}
	switch {
	case opts.Issuer == "":
		return nil, errors.New("token: VerifierOptions.Issuer is required")
	case opts.Audience == "":
		return nil, errors.New("token: VerifierOptions.Audience is required")
	case len(opts.Algorithms) == 0:
		return nil, errors.New("token: VerifierOptions.Algorithms is required")
	case opts.Roles == nil:
		return nil, errors.New("token: VerifierOptions.Roles is required")
	case !opts.Kind.Valid():
		return nil, errors.New("token: VerifierOptions.Kind is required")
	case len(opts.Keys) == 0 && opts.JWKSURL == "" && !opts.Discovery:
		return nil, errors.New("token: VerifierOptions.Keys, VerifierOptions.JWKSURL or VerifierOptions.Discovery is required")
	case len(opts.Keys) > 0 && opts.JWKSURL != "":
		return nil, errors.New("token: set VerifierOptions.Keys or VerifierOptions.JWKSURL, not both")
	case opts.Discovery && (len(opts.Keys) > 0 || opts.JWKSURL != ""):
		return nil, errors.New("token: VerifierOptions.Discovery excludes Keys and JWKSURL")
	case opts.Skew < 0:
		return nil, errors.New("token: VerifierOptions.Skew is negative")
	case opts.MaxLifetime < 0:
		return nil, errors.New("token: VerifierOptions.MaxLifetime is negative")
	case opts.MaxTokenSize < 0:
		return nil, errors.New("token: VerifierOptions.MaxTokenSize is negative")
	case opts.MaxGrants < 0:
		return nil, errors.New("token: VerifierOptions.MaxGrants is negative")
	case opts.JWKSMinRefresh < 0:
		return nil, errors.New("token: VerifierOptions.JWKSMinRefresh is negative")
	case opts.JWKSMaxBody < 0:
		return nil, errors.New("token: VerifierOptions.JWKSMaxBody is negative")
	case opts.JWKSMaxStale < 0:
		return nil, errors.New("token: VerifierOptions.JWKSMaxStale is negative")
	}
	sym := false
	for _, a := range opts.Algorithms {
		if !a.Valid() {
			return nil, fmt.Errorf("token: VerifierOptions.Algorithms: unsupported algorithm %q", a)
		}
		v.algs |= algBit(a)
		sym = sym || a == HS256
	}
	if sym && v.algs != algBit(HS256) {
		return nil, errors.New("token: VerifierOptions.Algorithms: HS256 cannot be pinned together with an asymmetric algorithm")
	}
	if v.mapping != nil {
		// The copy is validated and kept: changing opts.Mapping afterwards
		// changes nothing.
		if err := v.mapping.validate(opts.Roles, opts.Kind); err != nil {
			return nil, fmt.Errorf("token: VerifierOptions.Mapping: %w", err)
		}
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.skew == 0 {
		v.skew = DefaultSkew
	}
	if v.maxLifetime == 0 {
		v.maxLifetime = DefaultMaxLifetime
	}
	if v.maxTokenSize == 0 {
		v.maxTokenSize = DefaultMaxTokenSize
	}
	if v.maxGrants == 0 {
		v.maxGrants = capability.MaxGrantsDefault
	}
	cache, err := newTokenCache(opts)
	if err != nil {
		return nil, err
	}
	v.cache = cache
	if len(opts.Keys) > 0 {
		ks, err := newKeySet(opts.Keys, v.algs)
		if err != nil {
			return nil, fmt.Errorf("token: VerifierOptions.Keys: %w", err)
		}
		v.static = ks
		v.macs = macPools(ks)
		return v, nil
	}
	if sym {
		return nil, errors.New("token: VerifierOptions.JWKSURL: HS256 secrets are never read from a JWKS URL")
	}
	if opts.Discovery {
		u, err := discoverJWKSURL(ctx, opts)
		if err != nil {
			return nil, err
		}
		opts.JWKSURL = u
	}
	src, err := newJWKSSource(ctx, opts, v.algs, v.now)
	if err != nil {
		return nil, err
	}
	v.jwks = src
	return v, nil
}

// Audience returns the audience the verifier requires.
func (v *Verifier) Audience() string { return v.aud }

// Refresh fetches the JWKS now, regardless of JWKSMinRefresh, and reports
// whether it yielded a usable key set. When the fetch fails the last good
// set stays in use; when it succeeds with a document that holds no usable
// key, that document is installed all the same (every token is refused)
// and Refresh returns an error wrapping ErrJWKS. For a verifier with
// static Keys it does nothing.
func (v *Verifier) Refresh(ctx context.Context) error {
	if v.jwks == nil {
		return nil
	}
	return v.jwks.refresh(ctx)
}

// Close stops the background JWKS refresh. The verifier keeps verifying
// with the last good key set, until it is JWKSMaxStale old, but no longer
// refreshes it. For a verifier with
// static Keys it does nothing.
func (v *Verifier) Close() error {
	if v.jwks == nil {
		return nil
	}
	return v.jwks.close()
}

// Verify checks token and returns the capability it carries. On failure it
// returns a *TokenError wrapping ErrInvalidToken and the reason; the error
// never contains the token. ctx bounds a JWKS refresh caused by an unknown
// key id. A nil *Verifier accepts nothing.
func (v *Verifier) Verify(ctx context.Context, token string) (*capability.Capability, error) {
	if v == nil {
		return nil, tokenError(ErrUnknownKey, "no verifier") // fail closed
	}
	var c *capability.Capability
	var te *TokenError
	if v.cache != nil {
		c, te = v.cachedVerify(ctx, token)
	} else {
		c, te = v.verify(ctx, token, nil)
	}
	if te != nil {
		return nil, te
	}
	return c, nil
}

// verify checks token; on success it stores the time claims in times
// when times is not nil.
func (v *Verifier) verify(ctx context.Context, token string, times *tokenTimes) (*capability.Capability, *TokenError) {
	if len(token) > v.maxTokenSize {
		return nil, tokenError(ErrTooLarge, "")
	}
	hdr64, payload64, sig64, te := splitCompact(token)
	if te != nil {
		return nil, te
	}
	// One allocation: the token as bytes (its prefix is the signing
	// input), then the decoded parts.
	signingLen := len(hdr64) + 1 + len(payload64)
	hdrLen, payloadLen, sigLen64 := b64.DecodedLen(len(hdr64)), b64.DecodedLen(len(payload64)), b64.DecodedLen(len(sig64))
	buf := make([]byte, len(token)+hdrLen+payloadLen+sigLen64)
	copy(buf, token)
	signingInput := buf[:signingLen:signingLen]
	rest := buf[len(token):]
	// A header read before (the same base64url bytes) is not read again.
	h, hdrKnown := v.knownHeader(hdr64)
	var hdrJSON []byte
	if !hdrKnown {
		n, err := b64.Decode(rest[:hdrLen], signingInput[:len(hdr64)])
		if err != nil {
			return nil, tokenError(ErrMalformed, "header is not canonical base64url")
		}
		hdrJSON = rest[:n:n]
	}
	rest = rest[hdrLen:]
	n, err := b64.Decode(rest[:payloadLen], signingInput[len(hdr64)+1:])
	if err != nil {
		return nil, tokenError(ErrMalformed, "payload is not canonical base64url")
	}
	payload := rest[:n:n]
	rest = rest[payloadLen:]
	n, err = b64.Decode(rest, buf[signingLen+1:len(token)])
	if err != nil {
		return nil, tokenError(ErrMalformed, "signature is not canonical base64url")
	}
	sig := rest[:n:n]

	if !hdrKnown {
		if h, te = parseHeader(hdrJSON); te != nil {
			return nil, te
		}
		v.rememberHeader(hdr64, h)
	}
	alg := Algorithm(h.alg)
	if !v.algs.has(alg) {
		return nil, &TokenError{Reason: ErrAlgorithm, KeyID: boundKID(h.kid), detail: "algorithm not pinned"}
	}
	if !h.hasKID || h.kid == "" {
		return nil, tokenError(ErrUnknownKey, "no kid")
	}
	if len(h.kid) > MaxKeyIDLen {
		return nil, &TokenError{Reason: ErrUnknownKey, KeyID: boundKID(h.kid), detail: "kid too long"}
	}
	key, ok := v.lookup(ctx, h.kid)
	if !ok {
		return nil, &TokenError{Reason: ErrUnknownKey, KeyID: h.kid}
	}
	if key.alg != alg {
		return nil, &TokenError{Reason: ErrAlgorithm, KeyID: h.kid, detail: "algorithm does not match the key"}
	}
	if v.onSignature != nil {
		v.onSignature()
	}
	if len(sig) != sigLen(key) || !v.checkSignature(key, signingInput, sig) {
		return nil, &TokenError{Reason: ErrBadSignature, KeyID: h.kid}
	}

	// The token is authentic from here on.
	dc, err := decodeClaims(payload, decodeOptions{roles: v.roles, kind: v.kind, mapping: v.mapping, maxGrants: v.maxGrants, byRole: true, issuer: v.iss, audience: v.audOnly})
	if err != nil {
		var de *TokenError
		if errors.As(err, &de) {
			te := *de
			te.KeyID = h.kid
			if te.Reason == nil {
				te.Reason = ErrClaims
			}
			return nil, &te
		}
		return nil, &TokenError{Reason: ErrClaims, KeyID: h.kid}
	}
	p := dc.params
	fail := func(reason error, detail string) (*capability.Capability, *TokenError) {
		return nil, &TokenError{Reason: reason, KeyID: h.kid, Subject: p.Subject, detail: detail}
	}
	now := v.now()
	if p.Expiry.IsZero() {
		return fail(ErrClaims, "no exp")
	}
	if p.Subject == "" {
		// A capability belongs to someone: a token without "sub" (or with
		// an empty one) names no one to hold it, log or revoke.
		return fail(ErrClaims, "no sub")
	}
	t := tokenTimes{exp: p.Expiry, nbf: dc.notBefore, iat: p.IssuedAt, hasIAT: dc.hasIAT}
	if reason, detail := v.checkTimes(now, &t); reason != nil {
		return fail(reason, detail)
	}
	if p.Issuer != v.iss {
		return fail(ErrIssuer, "")
	}
	if !slices.Contains(p.Audience, v.aud) {
		return fail(ErrAudience, "")
	}
	if len(p.Grants) > v.maxGrants {
		return fail(ErrTooManyGrants, "")
	}
	p.MaxGrants = v.maxGrants
	if dc.held != nil {
		p.ByRole = dc.held
	}
	c, err := capability.New(v.roles, v.kind, p)
	if err != nil {
		return fail(ErrClaims, "grants do not build a capability")
	}
	if times != nil {
		*times = t
	}
	return c, nil
}

// lookup finds the key for kid in the static set or the JWKS (refreshing
// it at most once per JWKSMinRefresh for an unknown kid).
func (v *Verifier) lookup(ctx context.Context, kid string) (PublicKey, bool) {
	if v.static != nil {
		return v.static.lookup(kid)
	}
	return v.jwks.lookup(ctx, kid)
}

// boundKID returns kid for TokenError.KeyID, cut to MaxKeyIDLen bytes.
func boundKID(kid string) string {
	if len(kid) > MaxKeyIDLen {
		return kid[:MaxKeyIDLen]
	}
	return kid
}
