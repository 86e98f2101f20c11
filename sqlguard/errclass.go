package sqlguard

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// Error classes. An error of a statement falls in at most one of these
// classes, tested with the predicates below (errors.As underneath, the way
// pgconn.SafeToRetry works), whatever wraps it:
//
//   - IsCanceled: the caller's context was canceled (the client went away);
//     not a server error, nothing to report or retry.
//   - IsTimeout: a bound on waiting was reached: the context's deadline, or
//     statement_timeout on the server (query_canceled, 57014). A
//     statement stopped by statement_timeout was rolled back; one stopped
//     by the context's deadline alone may still run, and commit, on the
//     server (pgx closes the connection; PostgreSQL notices only when it
//     next talks to the client, or every client_connection_check_interval):
//     keep statement_timeout below the request's deadline.
//   - IsRetryable: PostgreSQL rolled the statement back and trying again
//     may succeed: serialization_failure (40001), deadlock_detected
//     (40P01), lock_not_available (55P03, lock_timeout or NOWAIT), the
//     server shutting down or refusing connections for now (57P01
//     admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now,
//     53300 too_many_connections, class 08), a failed connection attempt
//     (*pgconn.ConnectError), a connection lost (unexpected EOF, reset,
//     broken pipe, closed), and whatever pgx reports was never sent
//     (pgconn.SafeToRetry). An error wrapping ErrOutcomeUnknown is not
//     retryable.
//   - IsConflict: the statement broke a uniqueness or foreign key
//     constraint (23505 unique_violation, 23503 foreign_key_violation,
//     23P01 exclusion_violation): the request conflicts with the data;
//     ConstraintName tells the application which constraint.
//
// Retrying a write is safe only when it cannot have taken effect: a
// connection lost after a write or a COMMIT was sent leaves its outcome
// unknown, which is what ErrOutcomeUnknown reports (Retry and RunTx wrap
// such errors with it).

// ErrOutcomeUnknown reports that a write or a COMMIT was sent and the
// connection was lost before PostgreSQL answered: it may or may not have
// taken effect. It is not retryable: a blind retry could apply it twice.
var ErrOutcomeUnknown = errors.New("sqlguard: outcome unknown (connection lost after the write was sent)")

// outcomeError wraps the error of a write whose outcome is unknown.
type outcomeError struct{ err error }

func (e *outcomeError) Error() string   { return ErrOutcomeUnknown.Error() + ": " + e.err.Error() }
func (e *outcomeError) Unwrap() []error { return []error{ErrOutcomeUnknown, e.err} }

// SQLSTATE codes of the error classes.
const (
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
	codeLockNotAvailable     = "55P03"
	codeQueryCanceled        = "57014"
	codeAdminShutdown        = "57P01"
	codeCrashShutdown        = "57P02"
	codeCannotConnectNow     = "57P03"
	codeTooManyConnections   = "53300"
	codeExclusionViolation   = "23P01"
)

// pgCode returns the SQLSTATE of the *pgconn.PgError in err's chain, or "".
func pgCode(err error) string {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code
	}
	return ""
}

// IsCanceled reports whether err comes from the caller's context being
// canceled (context.Canceled): the client gave up; it is not a server
// error and not a timeout.
func IsCanceled(err error) bool {
	return errors.Is(err, context.Canceled)
}

// IsTimeout reports whether err is a bound on waiting being reached: the
// context's deadline (context.DeadlineExceeded, pgconn.Timeout) or
// PostgreSQL's query_canceled (57014, statement_timeout). A 57014 caused
// by the caller's own canceled context is IsCanceled, not a timeout.
func IsTimeout(err error) bool {
	if err == nil || IsCanceled(err) {
		return false
	}
	return errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) || pgCode(err) == codeQueryCanceled
}

// IsRetryable reports whether err leaves the statement or transaction
// undone and trying it again may succeed (see the error classes above).
// It is false for nil, for timeouts and cancellations, and for an error
// wrapping ErrOutcomeUnknown.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, ErrOutcomeUnknown) || IsCanceled(err) || IsTimeout(err) {
		return false
	}
	switch code := pgCode(err); code {
	case codeSerializationFailure, codeDeadlockDetected, codeLockNotAvailable,
		codeAdminShutdown, codeCrashShutdown, codeCannotConnectNow, codeTooManyConnections:
		return true
	case "":
	default:
		// Any other server error is not retryable, even in a failed
		// connection attempt (a password refused, a missing database),
		// except class 08, connection_exception.
		return strings.HasPrefix(code, "08")
	}
	var ce *pgconn.ConnectError
	return errors.As(err, &ce) || pgconn.SafeToRetry(err) || connectionLost(err)
}

// connectionLost reports whether err says the connection to the server
// broke (it was closed, reset, or ended in the middle of a message).
func connectionLost(err error) bool {
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNABORTED)
}

// IsConflict reports whether err is a constraint that the request's data
// conflicts with: unique_violation (23505), foreign_key_violation (23503)
// or exclusion_violation (23P01). A foreign key violation of a child
// insert whose parent was deleted meanwhile is one.
func IsConflict(err error) bool {
	switch pgCode(err) {
	case codeUniqueViolation, codeForeignKeyViolation, codeExclusionViolation:
		return true
	}
	return false
}

// ConstraintName returns the name of the constraint that err (a
// *pgconn.PgError anywhere in its chain) broke, or "". It is for the
// application (to tell a duplicate name from a duplicate e-mail, say),
// never for the client: constraint names describe the schema.
func ConstraintName(err error) string {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.ConstraintName
	}
	return ""
}

// connLostError reports whether err is a lost connection (and not an
// error PostgreSQL reported and survived): a FATAL or PANIC error, or a
// broken connection.
func connLostError(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Severity == "FATAL" || pg.Severity == "PANIC" || strings.HasPrefix(pg.Code, "08")
	}
	var ce *pgconn.ConnectError
	return errors.As(err, &ce) || connectionLost(err)
}
