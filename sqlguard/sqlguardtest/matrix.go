package sqlguardtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/sqlguard"
)

// Outcome is what one call of a policy is expected to answer.
type Outcome uint8

const (
	// Allowed: the call returns nil.
	Allowed Outcome = iota + 1
	// Denied: the call returns an error matching sqlguard.ErrDenied.
	Denied
	// NotFound: the call returns an error matching sqlguard.ErrNotFound.
	NotFound
	// SessionEnded: the call returns an error matching
	// capability.ErrRevoked: the policy requires a live session that the
	// capability does not have (sqlguard.ErrSessionEnded).
	SessionEnded
)

func (o Outcome) String() string {
	switch o {
	case Allowed:
		return "allowed"
	case Denied:
		return "denied"
	case NotFound:
		return "not found"
	case SessionEnded:
		return "session ended"
	}
	return fmt.Sprintf("Outcome(%d)", uint8(o))
}

// Call runs one call of a policy. A write's Exec method value is a Call
// (posts.Exec); GetCall adapts a Get.
type Call func(ctx context.Context, db sqlguard.DB, c *capability.Capability, values ...any) error

// GetCall returns the Call that selects the row of p and scans it into
// dest, one destination per column of p's query (nil skips a column).
func GetCall(p *sqlguard.Get, dest ...any) Call {
	return func(ctx context.Context, db sqlguard.DB, c *capability.Capability, values ...any) error {
		return p.QueryRow(ctx, db, c, values...).Scan(dest...)
	}
}

// Case is one row of a permission matrix: who calls, with what, and what
// must happen.
type Case struct {
	Name   string
	Cap    *capability.Capability
	Values []any
	Want   Outcome
}

// CheckMatrix runs every case against PostgreSQL through pool and fails
// the test (t.Error, naming the case) when a call's outcome is not the
// case's Want.
//
// Each case runs in a transaction of its own that is rolled back, so the
// cases see the same rows whatever their order. For every call that is
// refused (Denied, NotFound or SessionEnded, expected or not) it also checks, inside that
// transaction, that the call changed nothing: a digest of every row of
// every table of the current schema that pool's role can read is taken
// before and after the call, and must be equal. An error other than a
// denial or a not-found fails the case.
func CheckMatrix(t testing.TB, pool *pgxpool.Pool, call Call, cases ...Case) {
	t.Helper()
	if len(cases) == 0 {
		t.Fatal("sqlguardtest: CheckMatrix without cases")
	}
	for _, tc := range cases {
		if tc.Want < Allowed || tc.Want > SessionEnded {
			t.Fatalf("sqlguardtest: case %q: no expected outcome", tc.Name)
		}
		if err := runCase(t, pool, call, tc); err != nil {
			t.Errorf("%s: %v", tc.Name, err)
		}
	}
}

// runCase runs tc in a transaction that it rolls back.
func runCase(t testing.TB, pool *pgxpool.Pool, call Call, tc Case) error {
	ctx := context.Background()
	if c, ok := t.(interface{ Context() context.Context }); ok {
		ctx = c.Context()
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("sqlguardtest: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // rolled back on purpose
	before, err := fingerprint(ctx, tx)
	if err != nil {
		return err
	}
	callErr := call(ctx, tx, tc.Cap, tc.Values...)
	got := outcomeOf(callErr)
	if got == 0 {
		return fmt.Errorf("got error %v, want %v", callErr, tc.Want)
	}
	if got != tc.Want {
		return fmt.Errorf("got %v (%v), want %v", got, callErr, tc.Want)
	}
	if got == Allowed {
		return nil
	}
	// A refusal is a status row of the statement, not an error of
	// PostgreSQL: the transaction is still usable.
	after, err := fingerprint(ctx, tx)
	if err != nil {
		return err
	}
	if after != before {
		return fmt.Errorf("refused (%v) but the database changed", got)
	}
	return nil
}

// outcomeOf classifies the error of a call; 0 for any other error.
func outcomeOf(err error) Outcome {
	switch {
	case err == nil:
		return Allowed
	case errors.Is(err, sqlguard.ErrDenied):
		return Denied
	case errors.Is(err, sqlguard.ErrNotFound):
		return NotFound
	case errors.Is(err, capability.ErrRevoked):
		return SessionEnded
	}
	return 0
}

// fingerprint returns a digest of every row of every ordinary table of the
// current schema, read through tx.
func fingerprint(ctx context.Context, tx pgx.Tx) (string, error) {
	rows, err := tx.Query(ctx, `SELECT quote_ident(relname) FROM pg_class
		WHERE relnamespace = current_schema()::regnamespace AND relkind IN ('r', 'p')
		AND has_table_privilege(oid, 'SELECT') ORDER BY relname`)
	if err != nil {
		return "", fmt.Errorf("sqlguardtest: list tables: %w", err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", fmt.Errorf("sqlguardtest: list tables: %w", err)
	}
	var b strings.Builder
	for _, tbl := range tables {
		var d string
		q := "SELECT coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM " + tbl + " t"
		if err := tx.QueryRow(ctx, q).Scan(&d); err != nil {
			return "", fmt.Errorf("sqlguardtest: digest of %s: %w", tbl, err)
		}
		b.WriteString(tbl + "=" + d + ";")
	}
	return b.String(), nil
}
