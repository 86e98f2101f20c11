package sqlguard

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
// second wall (see SecondWall): it begins a transaction on db, switches to
// the wall's role opts.AppRole() and sets the capability's groups per role,
// admin flag and subject as transaction-local settings, all in one
// statement of bound parameters:
//
//	SELECT set_config($1, $2, true), set_config($3, $4, true), ...
//
// then calls fn, and commits if fn returns nil (rolls back otherwise, and
// on panic). The role and the settings end with the transaction, so the
// connection goes back to its pool, or to a transaction-mode pooler, as it
// came. A nil capability holds nothing: every setting is empty and the
// wall lets nothing through.
//
// The connection's role must be allowed to switch to opts.AppRole()
// (WallOptions.Grantees). Statements run by fn, guarded or not, are
// confined by the wall; the guards still decide first. The wall protects
// against a statement that forgot its guard, not against code that changes
// the settings or resets the role itself: the connection's login role can
// always RESET ROLE, so the application's code stays trusted.
//
// When db is a pgx.Tx, fn runs in a savepoint; the role and the settings
// then last until the outer transaction ends (or the savepoint is rolled
// back, when fn fails).
func WithCapability(ctx context.Context, db TxBeginner, c *capability.Capability, opts WallOptions, fn func(pgx.Tx) error) error {
	if err := opts.validate(); err != nil {
		return err
	}
	var roles []string
	if c != nil {
		roles = c.Roles().Names()
	}
	sql := setConfigSQL(len(roles))
	args := make([]any, 0, 6+2*len(roles))
	subject := ""
	if c != nil {
		subject = c.Subject()
	}
	args = append(args, "role", opts.AppRole(), opts.AdminSetting(), strconv.FormatBool(c.Admin()), opts.SubjectSetting(), subject)
	for _, r := range roles {
		args = append(args, opts.GroupsSetting(r), groupsArg(c, r))
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("sqlguard: with capability: begin: %w", err)
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
		return fmt.Errorf("sqlguard: with capability: set role %s and settings: %w", opts.AppRole(), err)
	}
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("sqlguard: with capability: commit: %w", err)
	}
	committed = true
	return nil
}

// setConfigSQL is the statement setting the role, admin, subject and n
// group settings: names and values are all parameters.
func setConfigSQL(n int) string {
	var b strings.Builder
	b.WriteString("SELECT ")
	for i := 0; i < 3+n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("set_config($" + strconv.Itoa(2*i+1) + ", $" + strconv.Itoa(2*i+2) + ", true)")
	}
	return b.String()
}
