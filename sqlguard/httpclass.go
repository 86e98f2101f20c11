package sqlguard

import (
	"errors"
	"net/http"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// StatusClientClosedRequest is the status Classify gives a request whose
// context was canceled: the client went away, nobody reads the answer, and
// it is not a failure of the server (499, nginx's "client closed request").
const StatusClientClosedRequest = 499

// Classify maps the errors of sqlguard, pgx and PostgreSQL to the HTTP
// status that answers them, for an HTTP layer that must not link the SQL
// driver to do it. Its signature uses plain types only, so that it is
// assignable to keyhole's middleware.Classifier as it is, and an
// application plugs it in with one line:
//
//	ew := middleware.ErrorWriter{Classifiers: []middleware.Classifier{sqlguard.Classify}}
//
// ok is false for an error it does not know, which the next classifier or
// the middleware's defaults then answer. The mapping, first match wins:
//
//	*DeniedError                         403, detail "needs " + Need
//	ErrDenied, ErrNotApproved            403
//	ErrNotFound                          404
//	ErrMisconfigured, ErrUnsafeExecMode  500 (the server's mistake, not the caller's)
//	ErrInvalidInput                      400 (call values that cannot be bound)
//	IsCanceled (the client gave up)      499 (StatusClientClosedRequest; not a server error)
//	IsConflict (unique, foreign key,     409
//	  exclusion violations)
//	insufficient_privilege (42501)       403 (a GRANT or row-level security policy refused)
//	IsTimeout, IsRetryable,              503 (try again: the middleware's ErrorWriter
//	  ErrOutcomeUnknown, unavailable       adds Retry-After)
//
// "Unavailable" is also a *pgconn.ConnectError or a *pgconn.PgError of
// class 08 (connection exception) or 53 (insufficient resources). A write
// whose outcome is unknown (ErrOutcomeUnknown: the connection broke after
// it was sent) is 503 as well: the client must look before it tries again.
//
// detail is safe to show to the caller: it is "" except for a
// *DeniedError, whose Need ("role moderator in group 7") sqlguard writes
// for the caller, who could read the row and learns only what it would
// have needed. A conflict's constraint name is not shown (ConstraintName
// is for the application). Other PostgreSQL errors (an undefined table, a
// check violation) are not classified: they are the server's bugs, 500 by
// the middleware's default, and their text never reaches the client.
func Classify(err error) (status int, detail string, ok bool) {
	var de *DeniedError
	switch {
	case err == nil:
		return 0, "", false
	case errors.As(err, &de):
		if de.Need != "" {
			detail = "needs " + de.Need
		}
		return http.StatusForbidden, detail, true
	case errors.Is(err, ErrDenied), errors.Is(err, ErrNotApproved):
		return http.StatusForbidden, "", true
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound, "", true
	case errors.Is(err, ErrMisconfigured), errors.Is(err, ErrUnsafeExecMode):
		return http.StatusInternalServerError, "", true
	case errors.Is(err, ErrInvalidInput):
		return http.StatusBadRequest, "", true
	case IsCanceled(err):
		return StatusClientClosedRequest, "", true
	case IsConflict(err):
		return http.StatusConflict, "", true
	case IsInsufficientPrivilege(err):
		return http.StatusForbidden, "", true
	case IsTimeout(err), IsRetryable(err), errors.Is(err, ErrOutcomeUnknown), httpUnavailable(err):
		return http.StatusServiceUnavailable, "", true
	}
	return 0, "", false
}

// httpUnavailable reports whether err says that the database is unavailable
// (see Classify): the request may succeed later, and the answer is 503.
func httpUnavailable(err error) bool {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || connectionLost(err) {
		return true
	}
	code := pgCode(err)
	return strings.HasPrefix(code, "08") || strings.HasPrefix(code, "53")
}
