package wall

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/sqlguard"
)

// ErrInTransaction is the error of a Bound statement sent on a
// transaction (a pgx.Tx, or a connection that is in one): there the
// settings would outlive the statement. Use WithCapability.
var ErrInTransaction = errors.New("wall: a bound statement cannot run inside a transaction (use WithCapability)")

// Batcher sends a pgx batch: *pgxpool.Pool, *pgxpool.Conn and *pgx.Conn
// satisfy it (pgx.Tx too, which Bound refuses).
type Batcher interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// Wall is the run-time side of the second wall of one registry: it binds
// a capability to single statements (Bind) in one round trip. It is
// immutable and safe for concurrent use.
type Wall struct {
	opts  Options
	roles *capability.Roles
	kind  capability.GroupKind // the registry's: the form of the groups settings
	names []string             // the registry's role names, in the order of set
	set   string               // the set_config statement, see New
}

// New returns the run-time wall of r's second wall (Script with the same
// opts). It builds, once, the statement that switches to opts.AppRole()
// and sets the settings of r's hierarchy, names as literals and values as
// parameters:
//
//	SELECT octet_length(set_config('role', 'keyhole_app', true))
//	     + octet_length(set_config('keyhole.admin', $1, true)) + octet_length(set_config('keyhole.subject', $2, true))
//	     + octet_length(set_config('keyhole.groups_member', $3, true)) + ...
func New(r *sqlguard.Registry, opts Options) (*Wall, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	w := &Wall{opts: opts, roles: r.Roles(), kind: r.GroupKind(), names: r.Roles().Names()}
	// The lengths' sum is the statement's one value: every set_config is
	// evaluated, and the values (1,000 groups are about 5 kB) are not
	// sent back.
	var b strings.Builder
	b.WriteString("SELECT octet_length(set_config('role', " + lit(opts.AppRole()) + ", true))")
	b.WriteString(" + octet_length(set_config(" + lit(opts.AdminSetting()) + ", $1, true))")
	b.WriteString(" + octet_length(set_config(" + lit(opts.SubjectSetting()) + ", $2, true))")
	for i, role := range w.names {
		b.WriteString(" + octet_length(set_config(" + lit(opts.GroupsSetting(role)) + ", $" + strconv.Itoa(i+3) + ", true))")
	}
	w.set = b.String()
	return w, nil
}

// Bind returns db bound to capability c: a sqlguard.DB whose every
// statement runs under the second wall in one round trip (a call of a
// policy that requires a live session and does nothing then runs its
// liveness query the same way: a second one). Bound's Exec,
// Query and QueryRow send two statements in one pgx batch, that is one
// pipeline ending with a single Sync message: the set_config statement of
// New (bound to c: its admin flag, its subject, its groups per role) and
// the statement. PostgreSQL runs the statements between two Syncs in one
// implicit transaction, so
//
//   - the role and the settings, set with set_config(…, true), end with
//     that transaction: the next statement on the connection (another
//     caller's, behind a transaction-mode pooler) sees none of them;
//   - a failure of either statement rolls back both: when the
//     set_config statement fails (the connection's role may not switch to
//     opts.AppRole()), the statement does not run; when the statement
//     fails, nothing it did is kept.
//
// It is what a declared statement needs to run behind the wall, at the
// cost of one round trip instead of the four of WithCapability (begin,
// settings, statement, commit):
//
//	err := post.Exec(ctx, w.Bind(pool, c), c, "hello", threadID)
//
// Pass the same capability to Bind and to the policy: the guard judges
// with the policy's, the wall with Bind's, and a statement passes only
// where both allow it. A raw statement on the bound DB is confined by the
// wall alone. For several statements in one transaction use
// WithCapability.
//
// db must not be in a transaction: the implicit transaction would then be
// the caller's, and the settings would outlive the statement. Bound
// refuses a pgx.Tx and a connection (*pgx.Conn, *pgxpool.Conn) whose
// transaction status is not idle with an error wrapping ErrInTransaction,
// before sending anything; a *pgxpool.Pool only ever hands out idle
// connections. Every pgx query exec mode works: the extended-protocol
// modes send the batch as one pipeline (a first use of a statement in the
// cache modes may cost one more round trip to prepare it, outside the
// transaction, as for any statement), and QueryExecModeSimpleProtocol
// sends it as one Query message of two statements, which PostgreSQL also
// runs as one implicit transaction.
//
// A nil c holds nothing: the wall then lets nothing through. A capability
// of another hierarchy than the registry's is refused (as the guards
// refuse it).
func (w *Wall) Bind(db Batcher, c *capability.Capability) Bound {
	return Bound{w: w, db: db, c: c}
}

// Bound is a database bound to a capability under the second wall, see
// Wall.Bind. It satisfies sqlguard.DB. The zero value is not usable.
type Bound struct {
	w  *Wall
	db Batcher
	c  *capability.Capability
}

var _ sqlguard.DB = Bound{}

// SingleStatements reports true: every statement through Bound runs in an
// implicit transaction of its own (send refuses a DB inside a
// transaction), so sqlguard retries a guarded statement on it as it
// retries one on a pool (see sqlguard.Retry).
func (b Bound) SingleStatements() bool { return true }

var _ sqlguard.SingleStatementDB = Bound{}

// send queues the set_config statement and sql in one batch and sends
// it, after checking that db is not in a transaction.
func (b Bound) send(ctx context.Context, sql string, args []any) (pgx.BatchResults, error) {
	if b.w == nil {
		return nil, errors.New("wall: Bound: the zero value is not usable (use Wall.Bind)")
	}
	switch db := b.db.(type) {
	case pgx.Tx:
		return nil, ErrInTransaction
	case interface{ Conn() *pgx.Conn }: // *pgxpool.Conn
		if db.Conn().PgConn().TxStatus() != 'I' {
			return nil, ErrInTransaction
		}
	case interface{ PgConn() *pgconn.PgConn }: // *pgx.Conn
		if db.PgConn().TxStatus() != 'I' {
			return nil, ErrInTransaction
		}
	}
	c := b.c
	if c != nil && c.Roles() != b.w.roles && !c.Roles().Equal(b.w.roles) {
		return nil, fmt.Errorf("wall: Bound: the capability's role hierarchy %v is not the registry's %v", c.Roles(), b.w.roles)
	}
	if c != nil && c.GroupKind() != b.w.kind {
		// The settings' form follows the kind: a text capability's array
		// literal must never be read by an int8 or uuid wall.
		return nil, fmt.Errorf("wall: Bound: the capability's group kind %v is not the registry's %v", c.GroupKind(), b.w.kind)
	}
	set := make([]any, 2+len(b.w.names))
	set[0] = strconv.FormatBool(c.Admin())
	set[1] = c.Subject()
	for i, role := range b.w.names {
		set[2+i] = groupsValue(c, role)
	}
	batch := &pgx.Batch{QueuedQueries: []*pgx.QueuedQuery{{SQL: b.w.set, Arguments: set}, {SQL: sql, Arguments: args}}}
	return b.db.SendBatch(ctx, batch), nil
}

// setErr wraps an error of the set_config statement.
func (b Bound) setErr(err error) error {
	return fmt.Errorf("wall: set role %s and settings: %w", b.w.opts.AppRole(), err)
}

// Exec runs sql under the wall in one round trip. Errors of the
// statement are returned as pgx returns them; an error of the set_config
// statement (the statement then did not run) is wrapped.
func (b Bound) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	br, err := b.send(ctx, sql, args)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	if _, err := br.Exec(); err != nil {
		_ = br.Close()
		return pgconn.CommandTag{}, b.setErr(err)
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr // the implicit commit at Sync
	}
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	return tag, nil
}

// Query runs sql under the wall in one round trip. The rows must be
// closed (reading them to the end closes them); the implicit transaction
// ends when they are, and its error, if any, is the rows' Err.
func (b Bound) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	br, err := b.send(ctx, sql, args)
	if err != nil {
		return nil, err
	}
	if _, err := br.Exec(); err != nil {
		_ = br.Close()
		return nil, b.setErr(err)
	}
	rows, err := br.Query()
	if err != nil {
		rows.Close()
		_ = br.Close()
		return nil, err
	}
	return &boundRows{Rows: rows, br: br}, nil
}

// QueryRow runs sql under the wall in one round trip when Scan is
// called, and scans its first row; no row is pgx.ErrNoRows.
func (b Bound) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return boundRow{b: b, ctx: ctx, sql: sql, args: args}
}

// boundRows closes the batch with the rows: on Close, or when Next finds
// no more rows, so that Err (read before Close by pgx.CollectRows) holds
// the error of the implicit commit too.
type boundRows struct {
	pgx.Rows
	br     pgx.BatchResults
	closed bool
	err    error
}

func (r *boundRows) Next() bool {
	if r.closed {
		return false
	}
	if r.Rows.Next() {
		return true
	}
	r.Close()
	return false
}

func (r *boundRows) Close() {
	if r.closed {
		return
	}
	r.closed = true
	r.Rows.Close()
	r.err = r.Rows.Err()
	if err := r.br.Close(); r.err == nil {
		r.err = err
	}
}

func (r *boundRows) Err() error {
	if r.closed {
		return r.err
	}
	return r.Rows.Err()
}

type boundRow struct {
	b    Bound
	ctx  context.Context
	sql  string
	args []any
}

func (r boundRow) Scan(dest ...any) error {
	rows, err := r.b.Query(r.ctx, r.sql, r.args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	rows.Close()
	return rows.Err()
}
