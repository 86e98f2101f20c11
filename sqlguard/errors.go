package sqlguard

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/keyhole-go/keyhole/capability"
)

// Sentinel errors. Match them with errors.Is.
var (
	// ErrDenied is matched by every *DeniedError: the row exists and the
	// caller may read it, but the capability does not allow the write.
	// A *DeniedError also matches capability.ErrForbidden.
	ErrDenied = errors.New("sqlguard: denied")
	// ErrNotFound reports that no row matched, or that the matching row is
	// one the caller may not read: the two are indistinguishable on purpose.
	// It wraps capability.ErrNotFound, so that errors.Is(err,
	// capability.ErrNotFound) holds for it too.
	ErrNotFound error = &sharedSentinel{msg: "sqlguard: not found", shared: capability.ErrNotFound}
	// ErrInvalidInput reports call values that cannot be bound, for example
	// a group id that does not parse or a wrong number of values: the
	// caller's mistake. Nothing was sent to the database.
	ErrInvalidInput = errors.New("sqlguard: invalid input")
	// ErrNotApproved reports a policy that the approved lock does not cover.
	// Nothing was sent to the database.
	ErrNotApproved = errors.New("sqlguard: policy not approved")
	// ErrMisconfigured reports a server misconfiguration, not a bad
	// request: a capability built for another role hierarchy, or another
	// kind of group id, than the registry's. The error names what differs.
	// Nothing was sent to the database.
	ErrMisconfigured = errors.New("sqlguard: misconfigured")
)

// DeniedError is returned when PostgreSQL found the target row, the caller
// may read it, and the guard refused the write. It names the policy and what
// was needed, and nothing the caller may not already know.
type DeniedError struct {
	Policy string // the policy's name, e.g. "threads.delete"
	Need   string // what was needed, e.g. "role moderator in group 7"
}

func (e *DeniedError) Error() string {
	return "sqlguard: " + e.Policy + ": denied: needs " + e.Need
}

// Unwrap returns ErrDenied and capability.ErrForbidden.
func (e *DeniedError) Unwrap() []error { return []error{ErrDenied, capability.ErrForbidden} }

// sharedSentinel is a sentinel of this package that also matches a shared
// sentinel of package capability, keeping its own message.
type sharedSentinel struct {
	msg    string
	shared error
}

func (e *sharedSentinel) Error() string { return e.msg }
func (e *sharedSentinel) Unwrap() error { return e.shared }

// PostgreSQL error codes the caller may want to tell apart.
const (
	codeUniqueViolation       = "23505"
	codeForeignKeyViolation   = "23503"
	codeInsufficientPrivilege = "42501"
)

func hasCode(err error, code string) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && pg.Code == code
}

// IsUniqueViolation reports whether err is PostgreSQL's unique_violation
// (23505), for example a second row with the same key.
func IsUniqueViolation(err error) bool { return hasCode(err, codeUniqueViolation) }

// IsForeignKeyViolation reports whether err is PostgreSQL's
// foreign_key_violation (23503).
func IsForeignKeyViolation(err error) bool { return hasCode(err, codeForeignKeyViolation) }

// IsInsufficientPrivilege reports whether err is PostgreSQL's
// insufficient_privilege (42501): a GRANT or a row-level security policy
// refused the statement.
func IsInsufficientPrivilege(err error) bool { return hasCode(err, codeInsufficientPrivilege) }
