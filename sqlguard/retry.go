package sqlguard

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Retry bounds the retries of a guarded statement or a transaction that
// PostgreSQL rolled back and that may succeed when run again. The zero
// value is the default: 4 runs in all, waits of up to 10 ms, 20 ms, 40 ms
// (each a random duration up to its bound, so that transactions that
// collided do not collide again in step).
//
// What is retried, and how often:
//
//   - A serialization failure (40001) or a deadlock (40P01) of a statement
//     that runs on its own (not inside the caller's transaction): it is
//     one implicit transaction, rolled back whole, so running it again is
//     safe. Up to Attempts runs in all. The same for RunTx's transaction.
//   - A statement that pgx reports it never sent (pgconn.SafeToRetry: the
//     connection was found closed before the first byte went out), or a
//     connection attempt that failed: once.
//   - A read (a List or a Get) whose connection was lost: once; nothing
//     it did can have taken effect.
//   - Nothing inside a transaction of the caller (a pgx.Tx, a connection
//     in a transaction, a DB whose state cannot be told): the transaction
//     is the caller's to retry, RunTx does that.
//
// A write or a COMMIT whose connection was lost after it was sent is not
// retried: it may have committed. Its error wraps ErrOutcomeUnknown. A
// lock timeout (55P03) is not retried here: the wait would repeat; it is
// IsRetryable for the client. Waiting between runs ends early, with the
// last error, when ctx is done.
type Retry struct {
	// Attempts bounds the runs in all (the first included); 0 means 4,
	// 1 means no retry.
	Attempts int
	// Backoff bounds the wait before the second run; it doubles for each
	// further run up to MaxBackoff. 0 means 10 ms.
	Backoff time.Duration
	// MaxBackoff bounds every wait. 0 means 200 ms.
	MaxBackoff time.Duration
}

func (r Retry) attempts() int {
	if r.Attempts <= 0 {
		return 4
	}
	return r.Attempts
}

// wait sleeps before run n+1 (n ≥ 1) for a random duration up to the
// bound of run n, or until ctx is done; it reports whether to go on.
func (r Retry) wait(ctx context.Context, n int) bool {
	base, most := r.Backoff, r.MaxBackoff
	if base <= 0 {
		base = 10 * time.Millisecond
	}
	if most <= 0 {
		most = 200 * time.Millisecond
	}
	bound := most
	if n-1 < 30 && base<<(n-1) < most {
		bound = base << (n - 1)
	}
	t := time.NewTimer(rand.N(bound) + 1)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// rolledBack reports whether err is a serialization failure or a
// deadlock: PostgreSQL rolled the transaction back.
func rolledBack(err error) bool {
	switch pgCode(err) {
	case codeSerializationFailure, codeDeadlockDetected:
		return true
	}
	return false
}

// notSent reports whether err is known to have happened before anything
// was sent (or without a connection at all).
func notSent(err error) bool {
	var ce *pgconn.ConnectError
	return pgconn.SafeToRetry(err) || errors.As(err, &ce)
}

// statement runs fn, one guarded statement on db, retrying it as Retry
// describes; read says that fn only reads. fn must run exactly one
// statement (all-or-nothing) and may be run again.
func (r Retry) statement(ctx context.Context, db DB, read bool, fn func() error) error {
	if inTx(db) {
		return fn()
	}
	resent := false // the one retry of a statement not sent, or of a lost read
	for n := 1; ; n++ {
		err := fn()
		switch {
		case err == nil:
			return nil
		case isRefusal(err):
			return err // PostgreSQL answered: the write did nothing
		case ctx.Err() != nil || IsCanceled(err) || IsTimeout(err):
			if !read && unanswered(ctx, err) {
				return &outcomeError{err: err} // pgx hung up; the server may still commit
			}
			return err
		case rolledBack(err):
			if n >= r.attempts() || !r.wait(ctx, n) {
				return err
			}
		case notSent(err) || (read && connLostError(err)):
			if resent || n >= r.attempts() {
				return err
			}
			resent = true
		case connLostError(err):
			return &outcomeError{err: err} // a write, sent: it may have committed
		default:
			return err
		}
	}
}

// inTx reports whether a statement on db may be part of a transaction of
// the caller: db is a pgx.Tx, a connection inside a transaction, or a DB
// whose state cannot be told.
func inTx(db DB) bool {
	if d, ok := db.(directConnection); ok {
		db = d.DB
	}
	if sc, ok := db.(SingleStatementDB); ok {
		return !sc.SingleStatements()
	}
	switch h := db.(type) {
	case *pgxpool.Pool:
		return false // every statement takes a connection of its own
	case pgx.Tx:
		return true
	case *pgx.Conn:
		return h.PgConn().TxStatus() != 'I'
	case *pgxpool.Conn:
		return h.Conn().PgConn().TxStatus() != 'I'
	}
	return true
}

// SingleStatementDB is implemented by a DB that runs every statement in a
// transaction of its own and refuses to run inside a caller's (the second
// wall's wall.Bound: its settings and the statement travel in one
// implicit transaction). A statement on it is all-or-nothing, so it is
// retried like a statement on a pool when SingleStatements reports true.
// Any other DB type that is not a pool, a connection or a transaction is
// treated as a caller's transaction: never retried.
type SingleStatementDB interface {
	DB
	SingleStatements() bool
}

// Beginner begins transactions with options: *pgxpool.Pool, *pgx.Conn
// and *pgxpool.Conn satisfy it (a pgx.Tx does not: RunTx never nests).
type Beginner interface {
	BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
}

// RunTx runs fn in a transaction begun on db with opts and commits it,
// retrying the whole transaction with the default Retry: see Retry.RunTx.
func RunTx(ctx context.Context, db Beginner, opts pgx.TxOptions, fn func(pgx.Tx) error) error {
	return Retry{}.RunTx(ctx, db, opts, fn)
}

// RunTx runs fn in a transaction begun on db with opts and commits it. When
// fn or the COMMIT fails with a serialization failure or a deadlock, the
// transaction was rolled back and RunTx runs a new one, up to r.Attempts
// in all (the shape of CockroachDB's crdbpgx.ExecuteTx). When the
// connection is lost before the COMMIT is sent (in BEGIN or in fn), the
// transaction cannot have committed, and RunTx runs it again once. When
// it is lost after the COMMIT was sent, the outcome is unknown: the
// error wraps ErrOutcomeUnknown and nothing is retried. Any other error
// of fn rolls the transaction back and is returned as is.
//
// fn may run several times: it must not commit or roll back tx, and must
// have no effect outside the transaction that it cannot repeat (reset
// what it collects at its start). Use SERIALIZABLE in opts to have
// PostgreSQL turn every anomaly into a retried serialization failure.
func (r Retry) RunTx(ctx context.Context, db Beginner, opts pgx.TxOptions, fn func(pgx.Tx) error) error {
	resent := false
	for n := 1; ; n++ {
		commitSent, err := r.runTx(ctx, db, opts, fn)
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil || IsCanceled(err) || IsTimeout(err):
			if commitSent && (connLostError(err) || unanswered(ctx, err)) {
				return &outcomeError{err: err}
			}
			return err
		case rolledBack(err):
			if n >= r.attempts() || !r.wait(ctx, n) {
				return err
			}
		case commitSent && !notSent(err) && connLostError(err):
			return &outcomeError{err: err}
		case notSent(err) || connLostError(err):
			if resent || n >= r.attempts() {
				return err
			}
			resent = true
		default:
			return err
		}
	}
}

// runTx runs one transaction; commitSent says whether the COMMIT was
// attempted.
func (r Retry) runTx(ctx context.Context, db Beginner, opts pgx.TxOptions, fn func(pgx.Tx) error) (commitSent bool, err error) {
	tx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return false, err
	}
	if err := fn(tx); err != nil {
		tx.Rollback(context.WithoutCancel(ctx)) // on a lost connection it only closes it
		return false, err
	}
	return true, tx.Commit(ctx)
}

// unanswered reports whether err ended a statement that was sent without
// PostgreSQL's answer because ctx ended: pgx then closes the connection,
// and the server may still finish, and commit, the statement.
func unanswered(ctx context.Context, err error) bool {
	return ctx.Err() != nil && !notSent(err) && pgCode(err) == ""
}
