package middleware

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/capability/token"
)

// Verifier verifies a bearer token into a capability. *token.Verifier
// satisfies it. Verify must return a non-nil capability or an error; a
// rejected token's error should wrap token.ErrInvalidToken (every
// *token.TokenError does).
type Verifier interface {
	Verify(ctx context.Context, token string) (*capability.Capability, error)
}

var _ Verifier = (*token.Verifier)(nil)

// DefaultMaxTokenBytes is the default bound on a token's size, the
// capability verifier's default MaxTokenSize.
const DefaultMaxTokenBytes = token.DefaultMaxTokenSize

// Options configure New. The zero Options are valid: no realm, no token
// cookie, DefaultMaxTokenBytes, WriteError answers, no logging.
type Options struct {
	// Realm is the realm of the WWW-Authenticate challenges. It may not
	// contain '"', '\\' or characters outside printable ASCII. Empty: the
	// challenges carry no realm attribute.
	Realm string

	// Cookie is the name of a cookie that may carry the token, for browser
	// sessions (set it HttpOnly, Secure, SameSite=Lax or Strict, Path=/,
	// preferably with a "__Host-" name so that a sibling subdomain cannot
	// plant one). Empty: only the Authorization header is read.
	//
	// A browser attaches cookies to cross-site requests, so a request
	// authenticated by the cookie alone (no Bearer Authorization header,
	// which browsers never add on their own) whose method is not GET, HEAD
	// or OPTIONS must pass CrossOriginProtection's Check, or is refused
	// with 403 (ReasonCrossOrigin) before its token is verified.
	Cookie string

	// CrossOriginProtection checks the unsafe requests authenticated by
	// the token cookie (see Cookie). Nil: http.NewCrossOriginProtection(),
	// built once by New, which trusts the request's own origin only
	// (Sec-Fetch-Site, else Origin against Host). Pass your own to trust
	// other origins (AddTrustedOrigin) or exempt paths; it is used as is,
	// and may be changed afterwards as net/http allows.
	CrossOriginProtection *http.CrossOriginProtection

	// InsecureAllowCrossOriginCookies turns the cross-origin check of
	// cookie-authenticated requests off: any site a user visits can then
	// make the browser send state-changing requests with the user's token
	// cookie. Only for an application that protects every unsafe route
	// itself.
	InsecureAllowCrossOriginCookies bool

	// MaxTokenBytes bounds the size of a token, in the header or the
	// cookie. A larger one is refused before it is parsed or decoded.
	// Zero means DefaultMaxTokenBytes.
	MaxTokenBytes int

	// ErrorWriter writes the answer to a refused request; its err is an
	// *AuthError. Nil means WriteError, which answers with the status, the
	// WWW-Authenticate challenge and a generic problem body (any
	// ErrorWriter's WriteError method answers an *AuthError alike). A
	// replacement should send AuthError.Status and AuthError.Challenge (RFC
	// 9110 requires WWW-Authenticate on a 401), and nothing of the error's
	// text.
	ErrorWriter func(w http.ResponseWriter, r *http.Request, err error)

	// Revocation, when set, is asked whether a verified token's session
	// ended (see RevocationChecker), so that a revoked token is refused by
	// every route, those that never reach the database included: 401
	// invalid_token (ReasonRevoked), or 503 when the checker fails
	// (ReasonRevocationError; fail closed). Nil: tokens are good until
	// they expire, unless the handler's own statements check (sqlguard's
	// live sessions).
	Revocation RevocationChecker
	// RevocationCacheTTL, when positive, caches the checker's answers
	// for capabilities with a session id, keyed by session, subject and
	// issued-at time, for at most MaxRevocationCacheTTL: a revocation
	// then reaches every route within this time. Errors are never cached.
	RevocationCacheTTL time.Duration
	// RevocationCacheSize bounds the cached answers; zero means
	// DefaultRevocationCacheSize.
	RevocationCacheSize int

	// Logger, when set, receives one record per refused request, at
	// LevelInfo (LevelError for a failed verifier), with the reason code,
	// the status, the token's kid (quoted and bounded; it is untrusted) and
	// the subject when the signature verified. Never the token.
	Logger *slog.Logger
}

// Auth authenticates requests with bearer tokens (RFC 6750) verified by a
// Verifier, and puts the verified *capability.Capability in the request
// context, where handlers find it with capability.FromContext.
//
// Handler fails closed: a request without a valid token never reaches the
// wrapped handler. Optional lets requests without any token through as
// anonymous, but still refuses an invalid one. Check is the pure decision
// both use.
//
// An Auth is built once by New and is safe for concurrent use; its
// configuration cannot change afterwards. The zero Auth has no verifier and
// refuses every request (500).
type Auth struct {
	v         Verifier
	cookie    string
	cop       *http.CrossOriginProtection // nil: cookie tokens are not checked
	maxToken  int
	maxHeader int // maxToken + len("Bearer ")
	ew        func(http.ResponseWriter, *http.Request, error)
	log       *slog.Logger
	rev       *revocation // nil: no revocation check

	chNone, chInvalidToken, chInvalidRequest, chInsufficientScope string
}

// New returns an Auth that verifies tokens with v. It reports invalid
// options by their field name.
func New(v Verifier, opts Options) (*Auth, error) {
	if v == nil {
		return nil, errors.New("middleware: New: nil Verifier")
	}
	if !validRealm(opts.Realm) {
		return nil, fmt.Errorf("middleware: Options.Realm %q must be at most 256 printable ASCII characters without '\"' or '\\'", opts.Realm)
	}
	if opts.Cookie != "" && !validToken(opts.Cookie) {
		return nil, fmt.Errorf("middleware: Options.Cookie %q is not a valid cookie name", opts.Cookie)
	}
	if opts.MaxTokenBytes < 0 {
		return nil, errors.New("middleware: Options.MaxTokenBytes is negative")
	}
	a := &Auth{
		v:        v,
		cookie:   opts.Cookie,
		maxToken: opts.MaxTokenBytes,
		ew:       opts.ErrorWriter,
		log:      opts.Logger,
	}
	if a.maxToken == 0 {
		a.maxToken = DefaultMaxTokenBytes
	}
	if a.cookie != "" && !opts.InsecureAllowCrossOriginCookies {
		a.cop = opts.CrossOriginProtection
		if a.cop == nil {
			a.cop = http.NewCrossOriginProtection()
		}
	}
	if opts.Revocation != nil {
		rev, err := newRevocation(opts.Revocation, opts.RevocationCacheTTL, opts.RevocationCacheSize)
		if err != nil {
			return nil, err
		}
		a.rev = rev
	} else if opts.RevocationCacheTTL != 0 || opts.RevocationCacheSize != 0 {
		return nil, errors.New("middleware: Options.RevocationCacheTTL and RevocationCacheSize need Options.Revocation")
	}
	a.maxHeader = a.maxToken + len("Bearer ")
	if a.ew == nil {
		a.ew = WriteError
	}
	a.chNone = challenge(opts.Realm, "")
	a.chInvalidToken = challenge(opts.Realm, "invalid_token")
	a.chInvalidRequest = challenge(opts.Realm, "invalid_request")
	a.chInsufficientScope = challenge(opts.Realm, "insufficient_scope")
	return a, nil
}

// challenge returns the value of a WWW-Authenticate header (RFC 6750 §3).
func challenge(realm, code string) string {
	s := "Bearer"
	sep := " "
	if realm != "" {
		s += sep + `realm="` + realm + `"`
		sep = ", "
	}
	if code != "" {
		s += sep + `error="` + code + `"`
	}
	return s
}

func validRealm(s string) bool {
	if len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		// RFC 6750 §3: %x20-21 / %x23-5B / %x5D-7E.
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// validToken reports whether s is an RFC 9110 token (a cookie name).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '!' || c == '#' || c == '$' || c == '%' || c == '&' || c == '\'' || c == '*' ||
			c == '+' || c == '-' || c == '.' || c == '^' || c == '_' || c == '`' || c == '|' || c == '~':
		default:
			return false
		}
	}
	return true
}

// Check authenticates r: it extracts the bearer token (see the package
// documentation for the sources and rules) and verifies it. It returns the
// capability, or an *AuthError: matching ErrNoToken when r carries no
// token, ErrBadRequest when r is malformed, token.ErrInvalidToken when
// the token was refused. Check neither logs nor writes an answer; it does
// not look at the request context's capability.
func (a *Auth) Check(r *http.Request) (*capability.Capability, error) {
	c, err := a.check(r)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (a *Auth) check(r *http.Request) (*capability.Capability, *AuthError) {
	if a.v == nil {
		// The zero Auth (not built by New) refuses everything.
		return nil, &AuthError{Status: http.StatusInternalServerError, Reason: ReasonVerifierError,
			Err: errors.New("middleware: Auth has no Verifier (use New)")}
	}
	tok, aerr := a.token(r)
	if aerr != nil {
		return nil, aerr
	}
	c, err := a.v.Verify(r.Context(), tok)
	if err != nil {
		return nil, a.verifyError(err)
	}
	if c == nil {
		// A verifier that returns neither a capability nor an error is
		// broken; fail closed.
		return nil, &AuthError{Status: http.StatusInternalServerError, Reason: ReasonVerifierError,
			Err: errors.New("middleware: verifier returned no capability and no error")}
	}
	if a.rev != nil {
		if aerr := a.checkRevoked(r.Context(), c); aerr != nil {
			return nil, aerr
		}
	}
	return c, nil
}

// Handler returns a handler that calls next only for requests that carry a
// valid token, with the capability in the request context. Every other
// request is refused through the ErrorWriter: 401 without a token or with
// an invalid one, 400 when malformed, 403 for a cross-origin unsafe request
// authenticated by the token cookie.
func (a *Auth) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := a.check(r)
		if err != nil {
			a.refuse(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(capability.NewContext(r.Context(), c)))
	})
}

// Optional is Handler for routes that also serve anonymous callers: a
// request that carries no token at all reaches next without a capability
// (capability.FromContext reports false, even if an outer layer had stored
// one). A request with a token is treated exactly as by Handler: an invalid
// token is refused with 401, never downgraded to anonymous, and a
// malformed request is refused with 400. (With a token cookie, an expired
// session therefore answers 401 until the cookie is replaced or cleared; a
// browser application's ErrorWriter may clear it.)
func (a *Auth) Optional(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := a.check(r)
		if err != nil {
			if err.sentinel != ErrNoToken {
				a.refuse(w, r, err)
				return
			}
			if _, ok := capability.FromContext(r.Context()); ok {
				r = r.WithContext(capability.NewContext(r.Context(), nil))
			}
			next.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r.WithContext(capability.NewContext(r.Context(), c)))
	})
}

// refuse logs e and writes its answer.
func (a *Auth) refuse(w http.ResponseWriter, r *http.Request, e *AuthError) {
	a.logRefusal(r, e)
	if a.ew == nil {
		WriteError(w, r, e)
		return
	}
	a.ew(w, r, e)
}

// verifyError classifies an error of the verifier.
func (a *Auth) verifyError(err error) *AuthError {
	if !errors.Is(err, token.ErrInvalidToken) {
		status := http.StatusInternalServerError
		if timedOut(err) {
			status = http.StatusServiceUnavailable
		}
		return &AuthError{Status: status, Reason: ReasonVerifierError, Err: err}
	}
	return &AuthError{
		Status:    http.StatusUnauthorized,
		Code:      "invalid_token",
		Reason:    tokenReason(err),
		Err:       err,
		challenge: a.chInvalidToken,
	}
}

// tokenReason returns the reason code of a rejected token's error (the
// Reason… constants are token.ReasonCode's codes).
func tokenReason(err error) string { return token.ReasonCode(err) }
