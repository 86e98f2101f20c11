package sqlguard_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyhole-go/keyhole/internal/testdb"
	"github.com/keyhole-go/keyhole/sqlguard"
)

// class names the error classes err falls in ("" for nil, "other" for
// none), joined with "+" when several (which the classes forbid).
func class(err error) string {
	if err == nil {
		return ""
	}
	var got []string
	for _, c := range []struct {
		name string
		is   func(error) bool
	}{
		{"retryable", sqlguard.IsRetryable},
		{"conflict", sqlguard.IsConflict},
		{"timeout", sqlguard.IsTimeout},
		{"canceled", sqlguard.IsCanceled},
	} {
		if c.is(err) {
			got = append(got, c.name)
		}
	}
	if len(got) == 0 {
		return "other"
	}
	return strings.Join(got, "+")
}

// waitSleeping returns once backend pid is inside pg_sleep (polled with a
// deadline: a barrier on the server's own state, not a sleep).
func waitSleeping(t *testing.T, db *testdb.DB, pid uint32) {
	t.Helper()
	ctx := context.Background()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		var n int
		err := db.Owner.QueryRow(ctx, "select count(*) from pg_stat_activity where pid = $1 and wait_event = 'PgSleep'", int32(pid)).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
	}
	t.Fatal("the statement never reached pg_sleep")
}

// TestErrorClasses produces each error for real and checks its class,
// also through a guarded statement's wrapping where one can produce it.
func TestErrorClasses(t *testing.T) {
	db, f, c := raceSetup(t)
	ctx := context.Background()
	if _, err := db.Owner.Exec(ctx, "create unique index threads_title_key on threads (title)"); err != nil {
		t.Fatal(err)
	}
	check := func(what string, err error, want string) {
		t.Helper()
		if got := class(err); got != want {
			t.Errorf("%s: got class %q, want %q (err: %v)", what, got, want, err)
		}
	}

	// unique_violation through a guarded insert; the constraint's name is
	// there for the application.
	err := f.createThread.Exec(ctx, db.Pool, c.alice, "thread 1", int64(1))
	check("unique violation", err, "conflict")
	if got := sqlguard.ConstraintName(err); got != "threads_title_key" {
		t.Errorf("ConstraintName: got %q, want threads_title_key", got)
	}
	if !sqlguard.IsUniqueViolation(err) {
		t.Errorf("IsUniqueViolation: got false for %v", err)
	}

	// foreign_key_violation.
	_, err = db.Pool.Exec(ctx, "insert into posts (content, thread_id) values ('x', 999)")
	check("foreign key violation", err, "conflict")
	if got := sqlguard.ConstraintName(err); got != "posts_thread_id_fkey" {
		t.Errorf("ConstraintName: got %q, want posts_thread_id_fkey", got)
	}
	check("no error", nil, "")
	if got := sqlguard.ConstraintName(errors.New("x")); got != "" {
		t.Errorf("ConstraintName of a non-PostgreSQL error: got %q", got)
	}

	// serialization_failure: a REPEATABLE READ transaction updates a row
	// that another one changed after its snapshot.
	a, _ := conn(t, db.Pool)
	tx, err := a.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "select 1 from threads where id = 2"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, "update threads set title = 'moved on' where id = 2"); err != nil {
		t.Fatal(err)
	}
	err = f.moveThread.Exec(ctx, tx, c.alice, int64(2), int64(2))
	check("serialization failure", err, "retryable")
	tx.Rollback(ctx)

	// deadlock_detected: two transactions each wait for the other's row.
	// deadlock_timeout is lowered (a superuser setting) to keep it short.
	deadlock := func() error {
		o1, pid1 := conn(t, db.Owner)
		o2, _ := conn(t, db.Owner)
		t1, err := o1.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer t1.Rollback(ctx)
		t2, err := o2.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer t2.Rollback(ctx)
		for _, q := range []struct {
			tx  pgx.Tx
			sql string
		}{
			{t1, "set local deadlock_timeout = '50ms'"}, {t2, "set local deadlock_timeout = '50ms'"},
			{t1, "update threads set locked = not locked where id = 1"}, {t2, "update threads set title = 'd3' where id = 3"},
		} {
			if _, err := q.tx.Exec(ctx, q.sql); err != nil {
				t.Fatal(err)
			}
		}
		done := make(chan error, 1)
		go func() {
			_, err := t1.Exec(ctx, "update threads set locked = not locked where id = 3")
			done <- err
		}()
		waitBlocked(t, db, pid1, done)
		_, err2 := t2.Exec(ctx, "update threads set locked = not locked where id = 1")
		err1 := <-done
		if (err1 == nil) == (err2 == nil) {
			t.Fatalf("deadlock: got %v and %v, want exactly one error", err1, err2)
		}
		return errors.Join(err1, err2)
	}
	check("deadlock", deadlock(), "retryable")

	// lock_not_available: lock_timeout while another transaction holds the
	// row lock.
	holder, _ := conn(t, db.Owner)
	htx, err := holder.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := htx.Exec(ctx, "select 1 from threads where id = 2 for update"); err != nil {
		t.Fatal(err)
	}
	err = pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "set local lock_timeout = '50ms'"); err != nil {
			return err
		}
		return f.moveThread.Exec(ctx, tx, c.alice, int64(2), int64(2))
	})
	check("lock timeout", err, "retryable")
	htx.Rollback(ctx)

	// query_canceled by statement_timeout.
	err = pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "set local statement_timeout = '50ms'"); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "select pg_sleep(10)")
		return err
	})
	check("statement timeout", err, "timeout")

	// The context's deadline.
	dctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err = db.Pool.Exec(dctx, "select pg_sleep(10)")
	cancel()
	check("context deadline", err, "timeout")

	// The caller's context canceled mid-statement.
	sleeper, pid := conn(t, db.Pool)
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := sleeper.Exec(cctx, "select pg_sleep(10)")
		done <- err
	}()
	waitSleeping(t, db, pid)
	cancel()
	check("context canceled", <-done, "canceled")

	// pg_terminate_backend mid-statement: admin_shutdown, then a closed
	// connection.
	victim, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer victim.Close(ctx)
	go func() {
		_, err := victim.Exec(ctx, "select pg_sleep(10)")
		done <- err
	}()
	waitSleeping(t, db, victim.PgConn().PID())
	if err := db.Terminate(ctx, victim.PgConn().PID()); err != nil {
		t.Fatal(err)
	}
	check("terminated mid-statement", <-done, "retryable")
	_, err = victim.Exec(ctx, "select 1")
	check("closed connection", err, "retryable")

	// A terminated idle session: the next statement finds it gone.
	idle, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close(ctx)
	if err := db.Terminate(ctx, idle.PgConn().PID()); err != nil {
		t.Fatal(err)
	}
	_, err = idle.Exec(ctx, "select $1::int", 1)
	check("terminated idle session", err, "retryable")

	// A failed connection attempt, and a refused one (not retryable).
	_, err = pgx.Connect(ctx, "postgres://nobody@/nodb?host=/nonexistent-keyhole-socket-dir&connect_timeout=5")
	check("connect to no server", err, "retryable")
	bad, _ := pgxpool.ParseConfig(db.URL)
	_, err = pgx.Connect(ctx, fmt.Sprintf("postgres://%s@/no_such_db?host=%s", bad.ConnConfig.User, bad.ConnConfig.Host))
	check("connect to a missing database", err, "other")

	// Outcome unknown is never retryable, whatever it wraps.
	check("outcome unknown", fmt.Errorf("x: %w", errors.Join(sqlguard.ErrOutcomeUnknown, err)), "other")
}
