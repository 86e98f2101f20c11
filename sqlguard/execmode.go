package sqlguard

import (
	"errors"
	"runtime"
	"sync"
	"weak"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrUnsafeExecMode reports a guarded statement that would run in pgx's
// QueryExecModeDescribeExec on a DB not declared direct with
// DirectConnection: behind a transaction pooler its describe and its
// execute can reach different server sessions, and then run another
// client's statement. Nothing was sent to the database.
var ErrUnsafeExecMode = errors.New("sqlguard: unsafe query exec mode")

// execModeError is ErrUnsafeExecMode with the reason.
type execModeError struct{ mode pgx.QueryExecMode }

func (e *execModeError) Error() string {
	return ErrUnsafeExecMode.Error() + ": " + e.mode.String() +
		" sends the describe and the execute in separate syncs, which a transaction pooler may hand to different server sessions" +
		" (use exec or cache_describe, or wrap a DB that reaches PostgreSQL without a pooler with sqlguard.DirectConnection)"
}

func (e *execModeError) Unwrap() error { return ErrUnsafeExecMode }

// DirectConnection returns db declared as reaching PostgreSQL directly,
// with no transaction pooler (PgBouncer, pgcat, Odyssey, RDS Proxy…) on
// the way: guarded statements then run in every query exec mode,
// QueryExecModeDescribeExec included. Statements on the returned DB go to
// db unchanged. Wrap each handle (pool, connection or transaction) that a
// guarded statement runs on; an unwrapped one is checked.
func DirectConnection(db DB) DB {
	if d, ok := db.(directConnection); ok {
		return d
	}
	return directConnection{db}
}

// directConnection is a DB declared free of poolers.
type directConnection struct{ DB }

// CheckExecMode returns an error wrapping ErrUnsafeExecMode when a
// statement run on db with args (pgx's arguments, which may begin with
// pgx's per-call options, a pgx.QueryExecMode among them) would use
// pgx.QueryExecModeDescribeExec, unless db was wrapped with
// DirectConnection; nil otherwise. It knows the modes of *pgx.Conn,
// *pgxpool.Pool, and of anything with a Conn() *pgx.Conn method
// (pgx.Tx, *pgxpool.Conn, *pgxpool.Tx); another DB is not checked,
// except for a mode in args. A handle's configuration is read once and
// remembered for as long as the handle lives.
func CheckExecMode(db DB, args ...any) error {
	if _, ok := db.(directConnection); ok {
		return nil
	}
	mode, ok := execMode(db, args)
	if ok && mode == pgx.QueryExecModeDescribeExec {
		return &execModeError{mode: mode}
	}
	return nil
}

// execMode returns the query exec mode of a statement on db with args,
// and whether it is known.
func execMode(db DB, args []any) (pgx.QueryExecMode, bool) {
	// pgx reads its options from the front of the arguments, in any
	// order, the last mode winning.
	var (
		mode     pgx.QueryExecMode
		explicit bool
	)
options:
	for _, a := range args {
		switch a := a.(type) {
		case pgx.QueryExecMode:
			mode, explicit = a, true
		case pgx.QueryRewriter, pgx.QueryResultFormats, pgx.QueryResultFormatsByOID:
		default:
			break options
		}
	}
	if explicit {
		return mode, true
	}
	switch h := db.(type) {
	case *pgx.Conn:
		return connMode(h), true
	case *pgxpool.Pool:
		return memoMode(h, func(p *pgxpool.Pool) pgx.QueryExecMode { return p.Config().ConnConfig.DefaultQueryExecMode }), true
	case interface{ Conn() *pgx.Conn }:
		if c := h.Conn(); c != nil {
			return connMode(c), true
		}
	}
	return 0, false
}

func connMode(c *pgx.Conn) pgx.QueryExecMode {
	return memoMode(c, func(c *pgx.Conn) pgx.QueryExecMode { return c.Config().DefaultQueryExecMode })
}

// modes memoizes the default query exec mode of pgx handles: pgx returns
// a copy of the whole configuration on every Config call (a pool's: 0.5
// to 4 µs and 4 allocations, against about 50 ns and none for the memo,
// BenchmarkCheckExecMode), and a handle's configuration never changes.
// The keys are weak: an entry goes when its handle is collected.
var modes sync.Map // weak.Pointer[pgx.Conn] or weak.Pointer[pgxpool.Pool] -> pgx.QueryExecMode

func memoMode[T any](h *T, read func(*T) pgx.QueryExecMode) pgx.QueryExecMode {
	k := weak.Make(h)
	if m, ok := modes.Load(k); ok {
		return m.(pgx.QueryExecMode)
	}
	m := read(h)
	if _, loaded := modes.LoadOrStore(k, m); !loaded {
		runtime.AddCleanup(h, func(k weak.Pointer[T]) { modes.Delete(k) }, k)
	}
	return m
}

// checkMode is CheckExecMode for a statement of c, with c's name.
func (c *compiled) checkMode(db DB, args []any) error {
	if err := CheckExecMode(db, args...); err != nil {
		return c.wrap(err)
	}
	return nil
}
