package sqlguard

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

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
//	ErrSessionEnded                    401 (the token's session ended)
//	*DeniedError                       403, detail "needs " + Need
//	ErrDenied, ErrNotApproved          403
//	ErrNotFound                        404
//	ErrMisconfigured                   500 (the server's mistake, not the caller's)
//	ErrInvalidInput                    400 (call values that cannot be bound)
//	unique_violation (23505)           409
//	insufficient_privilege (42501)     403 (a GRANT or row-level security policy refused)
//	database unavailable or timed out  503 (see below)
//
// "Unavailable or timed out" is context.DeadlineExceeded, pgconn.Timeout,
// a *pgconn.ConnectError, or a *pgconn.PgError of class 08 (connection
// exception) or 53 (insufficient resources, e.g. 53300 too many
// connections), 57P01..57P03 (admin/crash shutdown, cannot connect now) or
// 57014 (query canceled, e.g. by statement_timeout).
//
// detail is safe to show to the caller: it is "" except for a
// *DeniedError, whose Need ("role moderator in group 7") sqlguard writes
// for the caller, who could read the row and learns only what it would
// have needed. Other PostgreSQL errors (a foreign key violation, an
// undefined table) are not classified: they are the server's bugs, 500
// by the middleware's default, and their text never reaches the client.
func Classify(err error) (status int, detail string, ok bool) {
	var de *DeniedError
	switch {
	case err == nil:
		return 0, "", false
	case errors.Is(err, ErrSessionEnded):
		// The middleware's ErrorWriter answers capability.ErrRevoked
		// itself, with its challenge, before any classifier.
		return http.StatusUnauthorized, "", true
	case errors.As(err, &de):
		if de.Need != "" {
			detail = "needs " + de.Need
		}
		return http.StatusForbidden, detail, true
	case errors.Is(err, ErrDenied), errors.Is(err, ErrNotApproved):
		return http.StatusForbidden, "", true
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound, "", true
	case errors.Is(err, ErrMisconfigured):
		return http.StatusInternalServerError, "", true
	case errors.Is(err, ErrInvalidInput):
		return http.StatusBadRequest, "", true
	case IsUniqueViolation(err):
		return http.StatusConflict, "", true
	case IsInsufficientPrivilege(err):
		return http.StatusForbidden, "", true
	case httpUnavailable(err):
		return http.StatusServiceUnavailable, "", true
	}
	return 0, "", false
}

// httpUnavailable reports whether err says that the database is unavailable
// or timed out (see Classify): the request may succeed later, and the
// answer is 503.
func httpUnavailable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) {
		return true
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "53"):
			return true
		case pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", pe.Code == "57014":
			return true
		}
	}
	return false
}
