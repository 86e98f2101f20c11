package tokenserver

import (
	"net/http"

	"github.com/keyhole-go/keyhole/capability/token"
)

// ExchangeError is the error of a refused exchange. Its Err is for the
// server's log; the client receives only Code.
type ExchangeError struct {
	// Status is the HTTP status of the answer.
	Status int
	// Code is the OAuth error code, one of the Exchange… constants.
	Code string
	// Reason says more, for logs and metrics: for invalid_grant the
	// reason code of the subject token, the strings of package
	// middleware's Reason… constants ("expired",
	// "wrong_audience", …), otherwise a short phrase such as
	// "repeated parameter".
	Reason string
	// Err is the underlying error, if any: for invalid_grant the
	// verifier's (matching token.ErrInvalidToken).
	Err error
}

func (e *ExchangeError) Error() string {
	msg := "tokenserver: token exchange refused: " + e.Code
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns Err.
func (e *ExchangeError) Unwrap() error { return e.Err }

// unconfigured is the error of a TokenExchange not built by
// NewTokenExchange.
func unconfigured() *ExchangeError {
	return exchangeError(http.StatusInternalServerError, ExchangeServerError, "not built by NewTokenExchange", nil)
}

func exchangeError(status int, code, reason string, err error) *ExchangeError {
	return &ExchangeError{Status: status, Code: code, Reason: reason, Err: err}
}

func badExchange(reason string) *ExchangeError {
	return exchangeError(http.StatusBadRequest, ExchangeInvalidRequest, reason, nil)
}

// Reason codes, the strings of package middleware's Reason… constants, so
// that the logs of both sides read alike.
const (
	reasonExpired       = "expired"
	reasonVerifierError = "verifier_error"
)

// tokenReason returns the reason code of a rejected token's error.
func tokenReason(err error) string { return token.ReasonCode(err) }
