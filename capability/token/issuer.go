package token

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/keyhole-go/keyhole/capability"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// Issuer defaults.
const (
	DefaultTTL    = 15 * time.Minute
	DefaultMaxTTL = 24 * time.Hour
)

// ErrMint is returned when a token cannot be minted.
var ErrMint = errors.New("token: cannot mint token")

// IssuerOptions configure NewIssuer.
type IssuerOptions struct {
	// Issuer is the iss claim of every token. Required.
	Issuer string
	// Roles is the role hierarchy grants are checked against. Required.
	Roles *capability.Roles
	// Kind is the kind of the group ids. Required.
	Kind capability.GroupKind
	// Key is the initial active signer. Required.
	Key *SigningKey
	// TTL is the lifetime of a token whose Params.Expiry is zero
	// (default DefaultTTL).
	TTL time.Duration
	// MaxTTL bounds every token's lifetime (default DefaultMaxTTL).
	MaxTTL time.Duration
	// Profile is the claims profile written.
	Profile Profile
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Issuer mints signed tokens. It holds one active signing key and the
// published keys of earlier rotations, so that tokens signed before a
// rotation keep verifying until they expire. An Issuer is safe for
// concurrent use; Rotate and RemoveKey swap an immutable key set atomically.
type Issuer struct {
	iss     string
	roles   *capability.Roles
	kind    capability.GroupKind
	ttl     time.Duration
	maxTTL  time.Duration
	profile Profile
	now     func() time.Time

	mu   sync.Mutex // serializes writers of keys
	keys atomic.Pointer[issuerKeys]
}

// issuerKeys is immutable once stored (its JWKS document is computed on
// first use, once).
type issuerKeys struct {
	active *SigningKey
	all    []*SigningKey // published keys, oldest first; includes active

	jwksOnce sync.Once
	jwksDoc  []byte
	jwksErr  error
}

// NewIssuer returns an issuer for opts. It reports the first missing or
// invalid option by its field name.
func NewIssuer(opts IssuerOptions) (*Issuer, error) {
	switch {
	case opts.Issuer == "":
		return nil, fmt.Errorf("token: IssuerOptions.Issuer is required")
	case opts.Roles == nil:
		return nil, fmt.Errorf("token: IssuerOptions.Roles is required")
	case !opts.Kind.Valid():
		return nil, fmt.Errorf("token: IssuerOptions.Kind is required")
	case opts.Key == nil:
		return nil, fmt.Errorf("token: IssuerOptions.Key is required")
	case opts.TTL < 0:
		return nil, fmt.Errorf("token: IssuerOptions.TTL is negative")
	case opts.MaxTTL < 0:
		return nil, fmt.Errorf("token: IssuerOptions.MaxTTL is negative")
	case opts.Profile != ProfileDefault && opts.Profile != ProfileCompact:
		return nil, fmt.Errorf("token: IssuerOptions.Profile %d is unknown", opts.Profile)
	}
	is := &Issuer{
		iss:     opts.Issuer,
		roles:   opts.Roles,
		kind:    opts.Kind,
		ttl:     opts.TTL,
		maxTTL:  opts.MaxTTL,
		profile: opts.Profile,
		now:     opts.Now,
	}
	if is.ttl == 0 {
		is.ttl = DefaultTTL
	}
	if is.maxTTL == 0 {
		is.maxTTL = DefaultMaxTTL
	}
	if is.ttl > is.maxTTL {
		return nil, fmt.Errorf("token: IssuerOptions.TTL %v exceeds MaxTTL %v", is.ttl, is.maxTTL)
	}
	if is.now == nil {
		is.now = time.Now
	}
	is.keys.Store(&issuerKeys{active: opts.Key, all: []*SigningKey{opts.Key}})
	return is, nil
}

// Mint signs a token for p with the active key. The issuer sets iss, iat
// (now) and a random 128-bit jti; p's values for these are ignored. A zero
// Expiry means now+TTL; an expiry not after now, or a lifetime over MaxTTL, is
// an error. p must have at least one audience (a token for every audience is
// not minted). A token without a Subject is minted, but a Verifier refuses
// it (ErrClaims): set one. The grants are validated through New, so a token
// is never minted for a capability that could not be built.
func (is *Issuer) Mint(p capability.Params) (string, error) {
	now := is.now().Truncate(time.Second)
	p.Issuer = is.iss
	p.IssuedAt = now
	if p.Expiry.IsZero() {
		p.Expiry = now.Add(is.ttl)
	}
	p.Expiry = p.Expiry.Truncate(time.Second)
	if !p.Expiry.After(now) {
		return "", fmt.Errorf("%w: expiry is not in the future", ErrMint)
	}
	if life := p.Expiry.Sub(now); life > is.maxTTL {
		return "", fmt.Errorf("%w: lifetime %v exceeds MaxTTL %v", ErrMint, life, is.maxTTL)
	}
	if len(p.Audience) == 0 {
		return "", fmt.Errorf("%w: no audience", ErrMint)
	}
	for _, a := range p.Audience {
		if a == "" {
			return "", fmt.Errorf("%w: empty audience", ErrMint)
		}
	}
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", fmt.Errorf("%w: %w", ErrMint, err)
	}
	p.ID = base64.RawURLEncoding.EncodeToString(jti[:])
	if _, err := capability.New(is.roles, is.kind, p); err != nil {
		return "", fmt.Errorf("%w: %w", ErrMint, err)
	}
	payload, err := encodeClaims(p, is.kind, is.profile)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrMint, err)
	}
	return sign(is.keys.Load().active, payload)
}

// sign produces the compact JWS of payload with jwx, with the protected
// headers alg, kid and typ "JWT" and nothing else.
func sign(k *SigningKey, payload []byte) (string, error) {
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.KeyIDKey, k.kid); err != nil {
		return "", fmt.Errorf("%w: %w", ErrMint, err)
	}
	if err := hdr.Set(jws.TypeKey, "JWT"); err != nil {
		return "", fmt.Errorf("%w: %w", ErrMint, err)
	}
	tok, err := jws.Sign(payload, jws.WithKey(k.alg.jwa(), k.signer, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrMint, err)
	}
	return string(tok), nil
}

func (a Algorithm) jwa() jwa.SignatureAlgorithm {
	switch a {
	case EdDSA:
		return jwa.EdDSA()
	case ES256:
		return jwa.ES256()
	case ES384:
		return jwa.ES384()
	case ES512:
		return jwa.ES512()
	case RS256:
		return jwa.RS256()
	case RS384:
		return jwa.RS384()
	case RS512:
		return jwa.RS512()
	case PS256:
		return jwa.PS256()
	case PS384:
		return jwa.PS384()
	case PS512:
		return jwa.PS512()
	case HS256:
		return jwa.HS256()
	}
	return jwa.NoSignature()
}

// Rotate makes next the active signer. Earlier keys stay published (see
// PublicKeys and JWKS) until RemoveKey, so that their tokens keep verifying
// until they expire. A next whose key id is already published replaces that
// key. Rotate panics if next is nil.
func (is *Issuer) Rotate(next *SigningKey) {
	if next == nil {
		panic("token: Issuer.Rotate with a nil key")
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	old := is.keys.Load()
	all := make([]*SigningKey, 0, len(old.all)+1)
	for _, k := range old.all {
		if k.kid != next.kid {
			all = append(all, k)
		}
	}
	all = append(all, next)
	is.keys.Store(&issuerKeys{active: next, all: all})
}

// RemoveKey stops publishing the key with key id kid. The active key cannot
// be removed; rotate first.
func (is *Issuer) RemoveKey(kid string) error {
	is.mu.Lock()
	defer is.mu.Unlock()
	old := is.keys.Load()
	if old.active.kid == kid {
		return fmt.Errorf("%w: key %q is the active signer", ErrBadKey, kid)
	}
	all := make([]*SigningKey, 0, len(old.all))
	for _, k := range old.all {
		if k.kid != kid {
			all = append(all, k)
		}
	}
	if len(all) == len(old.all) {
		return fmt.Errorf("%w: no key %q", ErrBadKey, kid)
	}
	is.keys.Store(&issuerKeys{active: old.active, all: all})
	return nil
}

// Roles returns the role hierarchy the issuer's grants are checked against.
func (is *Issuer) Roles() *capability.Roles { return is.roles }

// Kind returns the kind of the issuer's group ids.
func (is *Issuer) Kind() capability.GroupKind { return is.kind }

// MaxTTL returns the upper bound of any token's lifetime.
func (is *Issuer) MaxTTL() time.Duration { return is.maxTTL }

// ActiveKeyID returns the key id of the active signer.
func (is *Issuer) ActiveKeyID() string { return is.keys.Load().active.kid }

// PublicKeys returns the verifying halves of the published keys, oldest
// first, for building a Verifier in the same process. For HS256 keys these
// are the secrets: never publish them (JWKS leaves them out).
func (is *Issuer) PublicKeys() []PublicKey {
	ks := is.keys.Load()
	out := make([]PublicKey, 0, len(ks.all))
	for _, k := range ks.all {
		out = append(out, k.pub)
	}
	return out
}

// JWKS returns the JSON Web Key Set {"keys":[…]} of the published public
// keys, each with kid, alg and "use":"sig". HS256 secrets are never
// included: an issuer that signs only with HS256 publishes {"keys":[]}
// (verifiers fetching it then find no usable key and fail closed). The
// document is built once per key set (after NewIssuer, Rotate or
// RemoveKey); each call returns a copy of it.
func (is *Issuer) JWKS() ([]byte, error) {
	ks := is.keys.Load()
	ks.jwksOnce.Do(func() { ks.jwksDoc, ks.jwksErr = buildJWKS(ks.all) })
	if ks.jwksErr != nil {
		return nil, ks.jwksErr
	}
	return slices.Clone(ks.jwksDoc), nil
}

// buildJWKS builds the JWKS document of keys.
func buildJWKS(keys []*SigningKey) ([]byte, error) {
	set := jwk.NewSet()
	for _, k := range keys {
		if k.pub.symmetric() {
			continue
		}
		jk, err := k.pub.jwk()
		if err != nil {
			return nil, err
		}
		if err := set.AddKey(jk); err != nil {
			return nil, fmt.Errorf("token: JWKS: %w", err)
		}
	}
	b, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("token: JWKS: %w", err)
	}
	return b, nil
}

// jwk returns k as a jwx public JWK with kid, alg and use set. It refuses
// HS256 secrets.
func (k PublicKey) jwk() (jwk.Key, error) {
	if k.symmetric() || k.IsZero() {
		return nil, fmt.Errorf("%w: only public keys can be published", ErrBadKey)
	}
	jk, err := jwk.Import(k.key)
	if err != nil {
		return nil, fmt.Errorf("token: JWKS: %w", err)
	}
	if err := jk.Set(jwk.KeyIDKey, k.kid); err != nil {
		return nil, fmt.Errorf("token: JWKS: %w", err)
	}
	if err := jk.Set(jwk.AlgorithmKey, k.alg.jwa()); err != nil {
		return nil, fmt.Errorf("token: JWKS: %w", err)
	}
	if err := jk.Set(jwk.KeyUsageKey, jwk.ForSignature); err != nil {
		return nil, fmt.Errorf("token: JWKS: %w", err)
	}
	return jk, nil
}
