package wall

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/keyhole-go/keyhole/capability"
)

// TxBeginner begins a transaction: *pgxpool.Pool, *pgx.Conn and pgx.Tx (a
// savepoint) satisfy it.
type TxBeginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// WithCapability runs fn in a transaction bound to capability c for the
// second wall (see Script): it begins a transaction on db, switches to
// the wall's role opts.AppRole() and sets every setting the wall reads as
// transaction-local settings, all in one statement of bound parameters:
//
//	SELECT set_config($1, $2, true), set_config($3, $4, true), ...
//
// then calls fn, and commits if fn returns nil (rolls back otherwise, and
// on panic). The role and the settings end with the transaction, so the
// connection goes back to its pool, or to a transaction-mode pooler, as it
// came. A nil capability holds nothing: the admin flag is false, the
// subject and every groups setting are empty, and the wall lets nothing
// through.
//
// For a single statement, Wall.Bind does the same in one round trip
// instead of four (begin, settings, statement, commit).
//
// Every setting is set, never skipped: the admin flag, the subject, the
// groups of every role of c's hierarchy (empty where c holds none), and,
// because a transaction may already carry the settings of another
// capability (WithCapability nested in a pgx.Tx that ran it before, with
// another capability or nil), every groups setting that an earlier
// WithCapability of the same transaction set is reset to empty in the same
// statement: the names set are listed in the setting <ns>.settings. So a
// nil capability inside a transaction that ran WithCapability for another
// capability sees nothing, like it would on its own.
//
// The connection's role must be allowed to switch to opts.AppRole()
// (Options.Grantees). Statements run by fn, guarded or not, are
// confined by the wall; the guards still decide first. The wall protects
// against a statement that forgot its guard, not against code that changes
// the settings or resets the role itself: the connection's login role can
// always RESET ROLE, so the application's code stays trusted.
//
// When db is a pgx.Tx, fn runs in a savepoint; the role and the settings
// then last until the outer transaction ends (or the savepoint is rolled
// back, when fn fails).
func WithCapability(ctx context.Context, db TxBeginner, c *capability.Capability, opts Options, fn func(pgx.Tx) error) error {
	if err := opts.validate(); err != nil {
		return err
	}
	var roles []string
	if c != nil {
		roles = c.Roles().Names()
	}
	sql := setConfigSQLFor(len(roles))
	args := make([]any, 0, 8+2*len(roles))
	subject := ""
	if c != nil {
		subject = c.Subject()
	}
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = opts.GroupsSetting(r)
	}
	args = append(args, "role", opts.AppRole(), opts.AdminSetting(), strconv.FormatBool(c.Admin()), opts.SubjectSetting(), subject)
	for i, r := range roles {
		args = append(args, names[i], groupsValue(c, r))
	}
	args = append(args, opts.ns()+".settings", names)
	tx, err := db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("wall: with capability: begin: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			// fn failed or panicked, or the commit failed: roll back
			// (a no-op after a failed commit).
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if _, err := tx.Exec(ctx, sql, args...); err != nil {
		return fmt.Errorf("wall: with capability: set role %s and settings: %w", opts.AppRole(), err)
	}
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("wall: with capability: commit: %w", err)
	}
	committed = true
	return nil
}

// setConfigSQLs holds setConfigSQL(n) for the usual hierarchies, built
// once.
var setConfigSQLs = func() (s [9]string) {
	for n := range s {
		s[n] = setConfigSQL(n)
	}
	return s
}()

// setConfigSQLFor returns setConfigSQL(n), built once for n < 9.
func setConfigSQLFor(n int) string {
	if n < len(setConfigSQLs) {
		return setConfigSQLs[n]
	}
	return setConfigSQL(n)
}

// setConfigSQL is the statement setting the role, admin, subject and n
// group settings, resetting the groups settings an earlier call of the
// transaction set that this one does not, and recording the names set:
// names and values are all parameters. The reset and the record may run
// in either order: the record only adds the names this statement sets,
// which the reset leaves alone.
func setConfigSQL(n int) string {
	var b strings.Builder
	b.WriteString("SELECT ")
	for i := 0; i < 3+n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("set_config($" + strconv.Itoa(2*i+1) + ", $" + strconv.Itoa(2*i+2) + ", true)")
	}
	list := "$" + strconv.Itoa(2*(3+n)+1)
	names := "$" + strconv.Itoa(2*(3+n)+2) + "::text[]"
	prev := "string_to_array(NULLIF(current_setting(" + list + ", true), ''), ',')"
	b.WriteString(", (SELECT count(set_config(s, '', true)) FROM unnest(" + prev + ") AS s WHERE s <> ALL(" + names + "))")
	b.WriteString(", set_config(" + list + ", array_to_string(ARRAY(SELECT DISTINCT s FROM unnest(" + prev + " || " + names + ") AS s ORDER BY s), ','), true)")
	return b.String()
}
