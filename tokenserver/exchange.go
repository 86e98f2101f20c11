package tokenserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/capability/token"
)

// Token exchange identifiers (RFC 8693 §2.1, §3).
const (
	// GrantTypeTokenExchange is the grant_type of a token exchange request.
	GrantTypeTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	// TokenTypeJWT is the token type of a JWT; the exchange accepts it as
	// subject_token_type and issues tokens of this type.
	TokenTypeJWT = "urn:ietf:params:oauth:token-type:jwt"
	// TokenTypeAccessToken is the generic access token type, accepted as
	// subject_token_type and requested_token_type as well.
	TokenTypeAccessToken = "urn:ietf:params:oauth:token-type:access_token"
)

// Token exchange defaults.
const (
	// DefaultExchangeTTL is the lifetime of an exchanged token when
	// TokenExchangeOptions.TTL is zero (it is shortened further to the
	// subject token's expiry).
	DefaultExchangeTTL = 5 * time.Minute
	// DefaultExchangeMaxBody bounds the body of an exchange request when
	// TokenExchangeOptions.MaxBodyBytes is zero.
	DefaultExchangeMaxBody = 16 << 10
	// maxAudienceLen bounds a declared audience name.
	maxAudienceLen = 256
)

// Error codes of a token exchange (RFC 6749 §5.2, RFC 8693 §2.2.2), the
// "error" member of the JSON answer and ExchangeError.Code.
const (
	ExchangeInvalidRequest         = "invalid_request"         // 400 (405, 413, 415 for the transport)
	ExchangeUnsupportedGrantType   = "unsupported_grant_type"  // 400
	ExchangeInvalidGrant           = "invalid_grant"           // 400: the subject token is invalid or expired
	ExchangeInvalidTarget          = "invalid_target"          // 400: the audience is not declared
	ExchangeInvalidScope           = "invalid_scope"           // 400: scope is not supported
	ExchangeAccessDenied           = "access_denied"           // 403: nothing to grant for the audience
	ExchangeServerError            = "server_error"            // 500
	ExchangeTemporarilyUnavailable = "temporarily_unavailable" // 503: the verifier timed out
)

// Verifier verifies a subject token into a capability. *token.Verifier
// satisfies it. Verify must return a non-nil capability or an error; a
// rejected token's error should wrap token.ErrInvalidToken (every
// *token.TokenError does).
type Verifier interface {
	Verify(ctx context.Context, token string) (*capability.Capability, error)
}

var _ Verifier = (*token.Verifier)(nil)

// AudiencePolicy is what the application approves for one audience of the
// token exchange.
type AudiencePolicy struct {
	// Roles are the approved roles: a token exchanged for the audience
	// holds, in each of the user's groups, at most these roles (through the
	// hierarchy; see [capability.Capability.GrantsWithin]). For example
	// {Roles: []string{"member"}} lets a plugin act as a member in the
	// user's groups, never as a moderator. Empty approves no role, and is
	// only valid with AllowEmpty (a token that names the user and grants
	// nothing).
	Roles []string
	// AllowEmpty issues a token without grants to a user who holds nothing
	// within Roles. When false such a user is refused with 403
	// access_denied.
	AllowEmpty bool
}

// TokenExchangeOptions configure NewTokenExchange.
type TokenExchangeOptions struct {
	// Verifier verifies the subject token. Required. It must be configured
	// for the users' audience (for example "forum") and for none of the
	// exchange's audiences, so that a token issued by the exchange cannot
	// be presented to it again. When it has an Audience() string method
	// (*token.Verifier has), a declared audience equal to it is an
	// error.
	Verifier Verifier
	// Issuer mints the exchanged tokens. Required. Its MaxTTL must allow
	// TTL. Its role hierarchy (Issuer.Roles), which must be the verifier's,
	// is the one the approved roles are checked against.
	Issuer *token.Issuer
	// Audiences declares the audiences a token may be exchanged for, with
	// their approved roles. Required, at least one. An audience name is 1
	// to 256 printable ASCII characters without spaces.
	Audiences map[string]AudiencePolicy
	// TTL is the lifetime of an exchanged token, shortened to the subject
	// token's expiry (default DefaultExchangeTTL). Negative is an error.
	TTL time.Duration
	// MaxBodyBytes bounds the request body (default DefaultExchangeMaxBody).
	MaxBodyBytes int64
	// Now is the clock (default time.Now); give it the issuer's clock.
	Now func() time.Time
	// Logger, when set, receives one record per exchange: the outcome
	// ("issued" or an error code), the reason of a refusal, the status, the
	// audience (quoted when not declared), the subject when the subject
	// token's signature verified, and the number of grants issued. Never a
	// token.
	Logger *slog.Logger
}

// TokenExchange is an OAuth 2.0 token exchange endpoint (RFC 8693) that
// narrows a user's token for a plugin or a downstream service, which thus
// never receives the user's token. It is an http.Handler; Exchange is the
// same decision for callers in the same process.
//
// A request is a POST with an application/x-www-form-urlencoded body of at
// most MaxBodyBytes:
//
//	grant_type=urn:ietf:params:oauth:grant-type:token-exchange
//	subject_token=<the user's token>
//	subject_token_type=urn:ietf:params:oauth:token-type:jwt   (or …:access_token)
//	audience=<one declared audience>
//
// and the answer (RFC 8693 §2.2.1), with Cache-Control: no-store, is
//
//	{"access_token":"…","issued_token_type":"urn:ietf:params:oauth:token-type:jwt",
//	 "token_type":"Bearer","expires_in":300}
//
// The issued token names the same subject; its only audience is the
// requested one; its grants are the intersection of the subject token's
// grants with the audience's approved roles
// ([capability.Capability.GrantsWithin]); it never carries the admin flag, since the admin override
// would reach every group and every role, past the approved roles; it
// expires after TTL or with the subject token, whichever comes first; it
// has a new jti.
//
// # Trust model
//
// The subject token is the only credential: there is no client
// authentication, because what the exchange issues is never more than what
// the presented token already allows. The Authorization header and cookies
// are not read, so a browser's ambient credentials never authorize an
// exchange (a cross-site form cannot use them). The audience comes only
// from the audience parameter of the body, checked against the declared
// audiences: never from Referer, Origin, Host or any other header, which a
// browser or an attacker's page controls. An exchange parameter in the
// query string is refused (tokens do not belong in URLs); parameters the
// exchange does not know, such as client_id, are ignored (RFC 6749 §3.2).
//
// A token issued by the exchange cannot be exchanged back into a wider one:
// the Verifier accepts only the users' audience, and even a verifier that
// accepted an exchanged token would only narrow it further.
//
// # Failing closed
//
// Every answer has Cache-Control: no-store and Pragma: no-cache. Every
// refusal is a JSON body {"error":"<code>"} (RFC 6749 §5.2) and nothing else: no error_description, no
// reason, no token or claim value. The codes and statuses:
//
//	wrong method                                   405 invalid_request, Allow: POST
//	body not application/x-www-form-urlencoded     415 invalid_request
//	body over MaxBodyBytes                         413 invalid_request
//	malformed body, repeated or missing parameter,
//	parameter in the query string, unsupported
//	subject_token_type or requested_token_type,
//	actor_token (delegation is not supported)      400 invalid_request
//	grant_type other than token exchange           400 unsupported_grant_type
//	scope (not supported: it would be ignored)     400 invalid_scope
//	resource (not supported), undeclared audience  400 invalid_target
//	subject token invalid, expired, or without sub 400 invalid_grant
//	nothing within the approved roles              403 access_denied (unless AllowEmpty)
//	verifier or issuer failure                     500 server_error (503 temporarily_unavailable on a deadline)
//
// The subject token is verified before the audience is looked up, so that
// a caller without a valid token cannot enumerate the declared audiences.
//
// A TokenExchange is built once by NewTokenExchange and is safe for
// concurrent use. The zero TokenExchange refuses every request with
// server_error.
type TokenExchange struct {
	v       Verifier
	issuer  *token.Issuer
	aud     map[string]audience
	ttl     time.Duration
	maxBody int64
	now     func() time.Time
	log     *slog.Logger
}

// audience is a declared audience, its approved roles compiled once.
type audience struct {
	approval   *capability.Approval
	allowEmpty bool
}

// NewTokenExchange checks opts and returns an exchange. It reports the first
// invalid option by its field name: a missing Verifier or Issuer, no
// audience, an invalid audience name, an audience equal to the Verifier's
// own, an unknown, reserved or repeated approved role, an audience that
// approves nothing without AllowEmpty, a negative TTL or MaxBodyBytes, a TTL
// over the Issuer's MaxTTL.
func NewTokenExchange(opts TokenExchangeOptions) (*TokenExchange, error) {
	switch {
	case opts.Verifier == nil:
		return nil, errors.New("tokenserver: TokenExchangeOptions.Verifier is required")
	case opts.Issuer == nil:
		return nil, errors.New("tokenserver: TokenExchangeOptions.Issuer is required")
	case len(opts.Audiences) == 0:
		return nil, errors.New("tokenserver: TokenExchangeOptions.Audiences is required")
	case opts.TTL < 0:
		return nil, errors.New("tokenserver: TokenExchangeOptions.TTL is negative")
	case opts.MaxBodyBytes < 0:
		return nil, errors.New("tokenserver: TokenExchangeOptions.MaxBodyBytes is negative")
	}
	e := &TokenExchange{
		v:       opts.Verifier,
		issuer:  opts.Issuer,
		aud:     make(map[string]audience, len(opts.Audiences)),
		ttl:     opts.TTL,
		maxBody: opts.MaxBodyBytes,
		now:     opts.Now,
		log:     opts.Logger,
	}
	if e.ttl == 0 {
		e.ttl = DefaultExchangeTTL
	}
	if e.maxBody == 0 {
		e.maxBody = DefaultExchangeMaxBody
	}
	if e.now == nil {
		e.now = time.Now
	}
	if maxTTL := opts.Issuer.MaxTTL(); e.ttl > maxTTL {
		return nil, fmt.Errorf("tokenserver: TokenExchangeOptions.TTL %v exceeds the Issuer's MaxTTL %v: every exchange would fail", e.ttl, maxTTL)
	}
	roles := opts.Issuer.Roles()
	subjectAud := ""
	if va, ok := opts.Verifier.(interface{ Audience() string }); ok {
		subjectAud = va.Audience()
	}
	for name, p := range opts.Audiences {
		if !validAudience(name) {
			return nil, fmt.Errorf("tokenserver: TokenExchangeOptions.Audiences: audience %q must be 1..%d printable ASCII characters without spaces", name, maxAudienceLen)
		}
		if name == subjectAud {
			return nil, fmt.Errorf("tokenserver: TokenExchangeOptions.Audiences: audience %q is the Verifier's own: exchanged tokens would be accepted as subject tokens", name)
		}
		if len(p.Roles) == 0 && !p.AllowEmpty {
			return nil, fmt.Errorf("tokenserver: TokenExchangeOptions.Audiences[%q] approves no role and does not AllowEmpty: every exchange would be refused", name)
		}
		for i, r := range p.Roles {
			if !roles.Known(r) {
				return nil, fmt.Errorf("tokenserver: TokenExchangeOptions.Audiences[%q]: approved role %q is not declared", name, r)
			}
			if slices.Contains(p.Roles[:i], r) {
				return nil, fmt.Errorf("tokenserver: TokenExchangeOptions.Audiences[%q]: approved role %q is listed twice", name, r)
			}
		}
		ap, err := capability.NewApproval(roles, p.Roles...)
		if err != nil {
			return nil, fmt.Errorf("tokenserver: TokenExchangeOptions.Audiences[%q]: %w", name, err)
		}
		e.aud[name] = audience{approval: ap, allowEmpty: p.AllowEmpty}
	}
	return e, nil
}

// validAudience reports whether s is a usable audience name: 1..256 bytes of
// printable ASCII without space.
func validAudience(s string) bool {
	if s == "" || len(s) > maxAudienceLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// ExchangedToken is a token issued by a TokenExchange, with what it holds.
type ExchangedToken struct {
	// Token is the signed token (a JWT): give it to the audience, never log
	// it.
	Token string
	// Subject is the subject token's (and the issued token's) sub.
	Subject string
	// Audience is the issued token's only audience.
	Audience string
	// Expiry is the issued token's exp.
	Expiry time.Time
	// Grants are the issued token's grants, sorted by group then role.
	Grants []capability.Grant

	now time.Time // the exchange's clock when the token was minted
}

// Exchange exchanges subjectToken for a token for audience, exactly as
// ServeHTTP does for a request with these parameters, and logs the outcome.
// It is for a server that calls a plugin or a service itself, in process.
// Its error is an *ExchangeError.
func (e *TokenExchange) Exchange(ctx context.Context, subjectToken, audience string) (*ExchangedToken, error) {
	if e == nil || e.v == nil {
		return nil, unconfigured()
	}
	var t *ExchangedToken
	var sub string
	var xerr *ExchangeError
	if subjectToken == "" {
		xerr = badExchange("missing subject_token")
	} else if audience == "" {
		xerr = badExchange("missing audience")
	} else {
		t, sub, xerr = e.exchange(ctx, subjectToken, audience)
	}
	e.logExchange(ctx, audience, sub, t, xerr)
	if xerr != nil {
		return nil, xerr
	}
	return t, nil
}

// exchange verifies tok and mints the narrowed token for audience. It also
// returns the subject once the subject token is verified, for the log.
func (e *TokenExchange) exchange(ctx context.Context, tok, audience string) (*ExchangedToken, string, *ExchangeError) {
	c, err := e.v.Verify(ctx, tok)
	if err != nil {
		if errors.Is(err, token.ErrInvalidToken) {
			return nil, "", exchangeError(http.StatusBadRequest, ExchangeInvalidGrant, tokenReason(err), err)
		}
		if timedOut(err) {
			return nil, "", exchangeError(http.StatusServiceUnavailable, ExchangeTemporarilyUnavailable, reasonVerifierError, err)
		}
		return nil, "", exchangeError(http.StatusInternalServerError, ExchangeServerError, reasonVerifierError, err)
	}
	if c == nil {
		return nil, "", exchangeError(http.StatusInternalServerError, ExchangeServerError, reasonVerifierError,
			errors.New("tokenserver: verifier returned no capability and no error"))
	}
	t, xerr := e.narrow(c, audience)
	return t, c.Subject(), xerr
}

// narrow mints the token of verified capability c for audience.
func (e *TokenExchange) narrow(c *capability.Capability, audience string) (*ExchangedToken, *ExchangeError) {
	if c.Subject() == "" {
		// An exchanged token acts for someone; a token naming no one
		// cannot be exchanged.
		return nil, exchangeError(http.StatusBadRequest, ExchangeInvalidGrant, "no subject", nil)
	}
	policy, ok := e.aud[audience]
	if !ok {
		return nil, exchangeError(http.StatusBadRequest, ExchangeInvalidTarget, "undeclared audience", nil)
	}
	grants, err := c.GrantsWithinApproval(policy.approval)
	if err != nil {
		// The verifier's hierarchy does not declare the approved roles.
		return nil, exchangeError(http.StatusInternalServerError, ExchangeServerError, "role hierarchy mismatch", err)
	}
	if len(grants) == 0 && !policy.allowEmpty {
		return nil, exchangeError(http.StatusForbidden, ExchangeAccessDenied, "no grant within the approved roles", nil)
	}
	now := e.now()
	exp := now.Add(e.ttl)
	if c.Expiry().Before(exp) {
		exp = c.Expiry()
	}
	// The issuer truncates exp to the second; do it first so that the
	// token never outlives the subject token, and refuse a subject token
	// with less than a second left (the verifier tolerates clock skew).
	exp = exp.Truncate(time.Second)
	if exp.Sub(now) < time.Second {
		return nil, exchangeError(http.StatusBadRequest, ExchangeInvalidGrant, reasonExpired, nil)
	}
	signed, err := e.issuer.Mint(capability.Params{
		Subject: c.Subject(),
		// The exchanged token belongs to the user's session: it ends
		// with it wherever a live session is required.
		SessionID: c.SessionID(),
		Audience:  []string{audience},
		Expiry:    exp,
		Grants:    grants,
		// Admin is deliberately false: see TokenExchange.
	})
	if err != nil {
		return nil, exchangeError(http.StatusInternalServerError, ExchangeServerError, "mint", err)
	}
	return &ExchangedToken{Token: signed, Subject: c.Subject(), Audience: audience, Expiry: exp, Grants: grants, now: now}, nil
}
