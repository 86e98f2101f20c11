package middleware

import (
	"errors"
	"net/http"
)

// Sentinel errors. Match them with errors.Is.
var (
	// ErrNoToken is matched by the error of a request that carries no
	// bearer token at all (no Authorization header with the Bearer scheme,
	// no token cookie). Handler answers it with 401 and a challenge without
	// an error code (RFC 6750 §3.1); Optional lets such a request through
	// as anonymous.
	ErrNoToken = errors.New("middleware: no bearer token")

	// ErrBadRequest is matched by the error of a malformed request: a
	// malformed or repeated Authorization header, or a token header and a
	// token cookie that disagree. WriteError answers it with 400, so a
	// handler may wrap it too for a request it cannot parse (a path
	// parameter, a body).
	ErrBadRequest = errors.New("middleware: bad request")

	// ErrCrossOrigin is matched by the error of a request authenticated by
	// the token cookie alone, with a method other than GET, HEAD or
	// OPTIONS, that Options.CrossOriginProtection refuses as cross-origin.
	// WriteError answers it with 403.
	ErrCrossOrigin = errors.New("middleware: cross-origin request with the token cookie")

	// ErrInsufficientScope is matched by the error of a request whose valid
	// capability does not pass a Require… check. WriteError answers it with
	// 403 and error="insufficient_scope".
	ErrInsufficientScope = errors.New("middleware: insufficient scope")
)

// errPanic is what Recover hands to the error writer.
var errPanic = errors.New("middleware: handler panicked")

// Reason codes of an AuthError: stable strings for logs and metrics.
const (
	ReasonMissingToken      = "missing_token"      // no bearer token in the request
	ReasonMalformedHeader   = "malformed_header"   // Authorization: Bearer … does not follow RFC 6750 §2.1
	ReasonDuplicateHeader   = "duplicate_header"   // more than one Authorization header
	ReasonMalformedCookie   = "malformed_cookie"   // the token cookie is not a b64token
	ReasonDuplicateCookie   = "duplicate_cookie"   // several token cookies with different values
	ReasonTokenMismatch     = "token_mismatch"     // header and cookie carry different tokens
	ReasonTooLarge          = "too_large"          // token over the size bound
	ReasonMalformedToken    = "malformed_token"    // token.ErrMalformed
	ReasonAlgorithm         = "algorithm"          // token.ErrAlgorithm
	ReasonUnknownKey        = "unknown_key"        // token.ErrUnknownKey
	ReasonBadSignature      = "bad_signature"      // token.ErrBadSignature
	ReasonExpired           = "expired"            // token.ErrExpired
	ReasonNotYetValid       = "not_yet_valid"      // token.ErrNotYetValid
	ReasonIssuer            = "wrong_issuer"       // token.ErrIssuer
	ReasonAudience          = "wrong_audience"     // token.ErrAudience
	ReasonLifetime          = "lifetime"           // token.ErrLifetime
	ReasonClaims            = "bad_claims"         // token.ErrClaims
	ReasonTooManyGrants     = "too_many_grants"    // token.ErrTooManyGrants
	ReasonInvalidToken      = "invalid_token"      // token.ErrInvalidToken without a known reason
	ReasonVerifierError     = "verifier_error"     // the verifier failed without judging the token
	ReasonInsufficientScope = "insufficient_scope" // a Require… check refused a valid capability
	ReasonCrossOrigin       = "cross_origin"       // a cookie-authenticated unsafe request from another origin
	ReasonRevoked           = "revoked"            // the token's session ended (Options.Revocation)
	ReasonRevocationError   = "revocation_error"   // the RevocationChecker failed: 503
)

// AuthError is the error of a request that Auth refuses. Its fields are
// for the server (logs, metrics, a custom ErrorWriter); none of them is
// meant for the client. Error never contains the token.
type AuthError struct {
	// Status is the HTTP status of the answer: 400, 401 or 403, or 500/503
	// when the verifier failed without judging the token.
	Status int
	// Code is the RFC 6750 error code of the challenge: "" (no token was
	// sent), "invalid_request", "invalid_token" or "insufficient_scope".
	Code string
	// Reason is one of the Reason… codes.
	Reason string
	// Err is the underlying error, typically a *token.TokenError;
	// nil when the request was refused before verification.
	Err error

	sentinel  error  // ErrNoToken, ErrBadRequest, ErrInsufficientScope, ErrCrossOrigin or nil
	challenge string // the WWW-Authenticate value, "" for none
}

func (e *AuthError) Error() string {
	msg := "middleware: request refused: " + e.Reason
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the sentinel of the error's class (ErrNoToken,
// ErrBadRequest, ErrInsufficientScope or ErrCrossOrigin) and Err, for errors.Is and
// errors.As. A rejected token matches token.ErrInvalidToken through
// Err.
func (e *AuthError) Unwrap() []error {
	errs := make([]error, 0, 2)
	if e.sentinel != nil {
		errs = append(errs, e.sentinel)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// Challenge returns the value of the WWW-Authenticate header that answers
// e, or "" when the answer has none (a failed verifier).
func (e *AuthError) Challenge() string { return e.challenge }

// statusText is http.StatusText with a fallback.
func statusText(status int) string {
	if t := http.StatusText(status); t != "" {
		return t
	}
	return "Error"
}
