package token

import "errors"

// ErrInvalidToken is wrapped by every token verification failure. The
// specific reason is a second sentinel in the same chain, matched with
// errors.Is (for example errors.Is(err, ErrExpired)).
var ErrInvalidToken = errors.New("token: invalid token")

// Reasons a token is rejected. Each is wrapped, together with
// ErrInvalidToken, by a *TokenError.
var (
	ErrMalformed     = errors.New("malformed token")
	ErrTooLarge      = errors.New("token too large")
	ErrAlgorithm     = errors.New("algorithm not allowed")
	ErrUnknownKey    = errors.New("unknown key")
	ErrBadSignature  = errors.New("bad signature")
	ErrExpired       = errors.New("token expired")
	ErrNotYetValid   = errors.New("token not yet valid")
	ErrIssuer        = errors.New("wrong issuer")
	ErrAudience      = errors.New("wrong audience")
	ErrLifetime      = errors.New("lifetime too long")
	ErrClaims        = errors.New("invalid claims")
	ErrTooManyGrants = errors.New("too many grants")
)

// TokenError is the error of a rejected token. It never holds the token or
// its signature.
type TokenError struct {
	// Reason is one of the reason sentinels (ErrMalformed, ErrExpired, …).
	Reason error
	// KeyID is the header's kid as received, "" when there was none or the
	// header could not be read. It is untrusted input: escape it before
	// logging or displaying it.
	KeyID string
	// Subject is the token's subject, set only when the signature verified.
	Subject string

	detail string // a short, fixed-vocabulary explanation; never token bytes
}

// Error returns "token: invalid token: <reason>[: detail]". A
// TokenError without a Reason reads as ErrInvalidToken alone.
func (e *TokenError) Error() string {
	if e.Reason == nil {
		return ErrInvalidToken.Error()
	}
	msg := ErrInvalidToken.Error() + ": " + e.Reason.Error()
	if e.detail != "" {
		msg += ": " + e.detail
	}
	return msg
}

// Unwrap returns ErrInvalidToken and the reason, for errors.Is.
func (e *TokenError) Unwrap() []error {
	if e.Reason == nil {
		return []error{ErrInvalidToken}
	}
	return []error{ErrInvalidToken, e.Reason}
}

// tokenError returns a *TokenError for reason with a detail that must not
// contain token bytes or claim values.
func tokenError(reason error, detail string) *TokenError {
	return &TokenError{Reason: reason, detail: detail}
}

// reasonCodes maps the reason sentinels to ReasonCode's codes.
var reasonCodes = []struct {
	err  error
	code string
}{
	{ErrMalformed, "malformed_token"},
	{ErrTooLarge, "too_large"},
	{ErrAlgorithm, "algorithm"},
	{ErrUnknownKey, "unknown_key"},
	{ErrBadSignature, "bad_signature"},
	{ErrExpired, "expired"},
	{ErrNotYetValid, "not_yet_valid"},
	{ErrIssuer, "wrong_issuer"},
	{ErrAudience, "wrong_audience"},
	{ErrLifetime, "lifetime"},
	{ErrClaims, "bad_claims"},
	{ErrTooManyGrants, "too_many_grants"},
}

// ReasonCode returns a short, stable code for why err rejected a token,
// for logs and metrics: "expired", "bad_signature", "wrong_audience", …
// (one per reason sentinel), or "invalid_token" for any other error. It
// never contains anything of the token.
func ReasonCode(err error) string {
	for _, rc := range reasonCodes {
		if errors.Is(err, rc.err) {
			return rc.code
		}
	}
	return "invalid_token"
}
