package sqlguard_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyhole-go/keyhole/internal/testdb"
	"github.com/keyhole-go/keyhole/sqlguard"
)

// fastRetry keeps the tests' waits between runs short.
var fastRetry = sqlguard.Retry{Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}

// isoPool opens a pool of the test role whose statements run at isolation
// level iso (default_transaction_isolation), with at most max connections.
func isoPool(t *testing.T, db *testdb.DB, iso string, max int32) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = max
	if iso != "" {
		cfg.ConnConfig.RuntimeParams["default_transaction_isolation"] = iso
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// TestRetryWriteSerializationFailure: a guarded child insert running on
// its own at SERIALIZABLE waits for the row lock of a concurrent update of
// its parent (barrier: pg_blocking_pids), fails with a serialization
// failure when that commits, and is run again: the post is written
// exactly once, and acknowledged.
func TestRetryWriteSerializationFailure(t *testing.T) {
	db, f, c := raceSetup(t)
	f.reg.SetRetry(sqlguard.Retry{Attempts: 1}) // the retries counted here are RetryWrite's
	ctx := context.Background()
	serial := isoPool(t, db, "serializable", 2)
	inserter, pid := conn(t, serial)
	updater, _ := conn(t, db.Owner)
	tx, err := updater.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "update threads set title = 'renamed' where id = 2"); err != nil {
		t.Fatal(err)
	}
	runs := 0
	var first error
	done := make(chan error, 1)
	go func() {
		done <- fastRetry.RetryWrite(ctx, inserter, func() error {
			runs++
			err := f.createPost.Exec(ctx, inserter, c.alice, "exactly once", int64(2))
			if runs == 1 {
				first = err
			}
			return err
		})
	}()
	waitBlocked(t, db, pid, done)
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("retried write: %v", err)
	}
	if runs != 2 || outcome(first) != "pg:40001" {
		t.Errorf("got %d runs, the first ending in %v; want 2, the first a serialization failure", runs, first)
	}
	if n := count(t, db, "select count(*) from posts where content = 'exactly once'"); n != 1 {
		t.Errorf("%d posts written, want exactly 1", n)
	}
}

// TestRetryNotInsideTx: the same serialization failure inside the
// caller's transaction is the caller's: one run, the error returned.
func TestRetryNotInsideTx(t *testing.T) {
	db, f, c := raceSetup(t)
	ctx := context.Background()
	a, _ := conn(t, db.Pool)
	for _, tc := range []struct {
		name string
		db   func(pgx.Tx) sqlguard.DB
	}{
		{"pgx.Tx", func(tx pgx.Tx) sqlguard.DB { return tx }},
		{"connection in a transaction", func(pgx.Tx) sqlguard.DB { return a }},
		{"direct connection in a transaction", func(pgx.Tx) sqlguard.DB { return sqlguard.DirectConnection(a) }},
	} {
		tx, err := a.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, "select 1 from threads where id = 2"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Owner.Exec(ctx, "update threads set locked = not locked where id = 2"); err != nil {
			t.Fatal(err)
		}
		runs := 0
		err = fastRetry.RetryWrite(ctx, tc.db(tx), func() error {
			runs++
			return f.moveThread.Exec(ctx, tx, c.alice, int64(2), int64(2))
		})
		if runs != 1 || outcome(err) != "pg:40001" {
			t.Errorf("%s: got %d runs and %v, want 1 run and the serialization failure", tc.name, runs, err)
		}
		tx.Rollback(ctx)
	}
}

// TestRetryBounded: a write that keeps failing with a serialization
// failure runs Attempts times; one never sent runs twice.
func TestRetryBounded(t *testing.T) {
	db, f, c := raceSetup(t)
	ctx := context.Background()
	// Every insert of a thread fails with a serialization failure (a trigger).
	_, err := db.Owner.Exec(ctx, `
create function fail_serialization() returns trigger language plpgsql as $$
begin raise exception 'forced' using errcode = 'serialization_failure'; end $$;
create trigger threads_fail before insert on threads for each row execute function fail_serialization();`)
	if err != nil {
		t.Fatal(err)
	}
	runs := 0
	err = sqlguard.Retry{Attempts: 3, Backoff: time.Millisecond}.RetryWrite(ctx, db.Pool, func() error {
		runs++
		return f.createThread.Exec(ctx, db.Pool, c.bob, "never", grp(f.kind, 2))
	})
	if runs != 3 || !sqlguard.IsRetryable(err) {
		t.Errorf("got %d runs and %v, want 3 runs and a retryable error", runs, err)
	}
	closed, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	closed.Close(ctx)
	runs = 0
	err = fastRetry.RetryWrite(ctx, closed, func() error {
		runs++
		return f.createPost.Exec(ctx, closed, c.alice, "never", int64(2))
	})
	if runs != 2 || err == nil {
		t.Errorf("closed connection: got %d runs and %v, want 2 runs and an error", runs, err)
	}
	if n := count(t, db, "select (select count(*) from threads where title = 'never') + (select count(*) from posts where content = 'never')"); n != 0 {
		t.Errorf("%d rows written by failed writes", n)
	}
}

// TestRetryLostConnection: a read whose session is terminated mid-statement
// is run again once and answers; a write is not run again, its error wraps
// ErrOutcomeUnknown, and (the session was killed before COMMIT) nothing was
// written.
func TestRetryLostConnection(t *testing.T) {
	db, f, c := raceSetup(t)
	ctx := context.Background()
	pool := isoPool(t, db, "", 2)
	sleeping := func(sql string) func() error {
		return func() error {
			c, err := pool.Acquire(ctx)
			if err != nil {
				return err
			}
			defer c.Release()
			done := make(chan error, 1)
			go func() {
				_, err := c.Exec(ctx, sql)
				done <- err
			}()
			waitSleeping(t, db, c.Conn().PgConn().PID())
			if err := db.Terminate(ctx, c.Conn().PgConn().PID()); err != nil {
				t.Error(err)
			}
			return <-done
		}
	}
	runs := 0
	var title string
	err := fastRetry.RetryRead(ctx, pool, func() error {
		runs++
		if runs == 1 {
			return sleeping("select pg_sleep(10)")()
		}
		var id int64
		return f.getThread.QueryRow(ctx, pool, c.alice, int64(1)).Scan(&id, &title)
	})
	if err != nil || runs != 2 || title != "thread 1" {
		t.Errorf("read: got %d runs, %q, %v; want 2 runs and thread 1", runs, title, err)
	}

	runs = 0
	err = fastRetry.RetryWrite(ctx, pool, func() error {
		runs++
		return sleeping("insert into posts (content, thread_id) select 'lost', 2 from pg_sleep(10)")()
	})
	if runs != 1 || !errors.Is(err, sqlguard.ErrOutcomeUnknown) || sqlguard.IsRetryable(err) {
		t.Errorf("write: got %d runs and %v, want 1 run and ErrOutcomeUnknown, not retryable", runs, err)
	}
	if n := count(t, db, "select count(*) from posts where content = 'lost'"); n != 0 {
		t.Errorf("%d rows written by the killed write", n)
	}
}

// TestExecRetries: Exec retries a guarded statement that runs on its own
// by itself. The child insert of TestRetryWriteSerializationFailure, at
// SERIALIZABLE, waits for a concurrent update of its parent and fails with
// a serialization failure when that commits: with the registry's default
// Retry, Exec answers nil and the post is written exactly once; with
// retries off (Attempts 1) the same schedule answers 40001 and writes
// nothing.
func TestExecRetries(t *testing.T) {
	for _, tc := range []struct {
		name     string
		attempts int
		want     string
		posts    int
	}{
		{"default", 0, "ok", 1},
		{"off", 1, "pg:40001", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, f, c := raceSetup(t)
			f.reg.SetRetry(sqlguard.Retry{Attempts: tc.attempts, Backoff: time.Millisecond})
			err := whileThreadUpdated(t, db, isoPool(t, db, "serializable", 2), 2, "title = 'renamed'",
				func(ctx context.Context, inserter *pgxpool.Conn) error {
					return f.createPost.Exec(ctx, inserter, c.alice, "exactly once", int64(2))
				})
			if got := outcome(err); got != tc.want {
				t.Errorf("Exec: got %s, want %s", got, tc.want)
			}
			if n := count(t, db, "select count(*) from posts where content = 'exactly once'"); n != tc.posts {
				t.Errorf("%d posts written, want %d", n, tc.posts)
			}
		})
	}
}
