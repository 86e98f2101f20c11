package sqlguard_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/internal/testdb"
	"github.com/keyhole-go/keyhole/sqlguard"
)

// The fault suite: real servers, real faults. Every case checks the
// answer and the rows: nothing written that was not acknowledged (or
// reported as ErrOutcomeUnknown), nothing acknowledged that was not
// written. The barriers are the server's own state (pg_blocking_pids,
// pg_stat_activity), polled with a deadline; the only waits are for
// timeouts of 50 to 200 ms to fire.

// waitGone returns once backend pid has exited.
func waitGone(t *testing.T, db *testdb.DB, pid uint32) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		if count(t, db, "select count(*) from pg_stat_activity where pid = $1", int32(pid)) == 0 {
			return
		}
	}
	t.Fatalf("backend %d never exited", pid)
}

// TestRunTxSerializationFailure: two SERIALIZABLE transactions each read
// the posts of thread 2 and add one (write skew). The second to commit
// fails with a serialization failure; RunTx runs it again, and both posts
// are there once each.
func TestRunTxSerializationFailure(t *testing.T) {
	db, f, c := raceSetup(t)
	ctx := context.Background()
	opts := pgx.TxOptions{IsoLevel: pgx.Serializable}
	read := func(tx pgx.Tx) error {
		var n int
		return tx.QueryRow(ctx, "select count(*) from posts where thread_id = 2").Scan(&n)
	}
	t1, t2 := make(chan struct{}), make(chan error, 1)
	runs2 := 0
	go func() {
		t2 <- fastRetry.RunTx(ctx, db.Pool, opts, func(tx pgx.Tx) error {
			runs2++
			if err := read(tx); err != nil {
				return err
			}
			if runs2 == 1 {
				t1 <- struct{}{} // T2 has read; let T1 read, write, commit
				<-t1
			}
			return f.createPost.Exec(ctx, tx, c.alice, "second", int64(2))
		})
	}()
	runs1 := 0
	err := sqlguard.RunTx(ctx, db.Pool, opts, func(tx pgx.Tx) error {
		runs1++
		if runs1 == 1 {
			<-t1
		}
		if err := read(tx); err != nil {
			return err
		}
		return f.createPost.Exec(ctx, tx, c.alice, "first", int64(2))
	})
	if err != nil {
		t.Fatal(err)
	}
	t1 <- struct{}{}
	if err := <-t2; err != nil {
		t.Fatalf("second transaction: %v", err)
	}
	if runs1 != 1 || runs2 != 2 {
		t.Errorf("got %d and %d runs, want 1 and 2", runs1, runs2)
	}
	if n := count(t, db, "select count(*) from posts where content in ('first', 'second')"); n != 2 {
		t.Errorf("%d posts, want the 2 acknowledged", n)
	}
}

// TestRunTxDeadlock: two transactions take two row locks in opposite
// orders; PostgreSQL kills one (deadlock_detected), RunTx runs it again,
// and each transaction's increments are applied exactly once.
func TestRunTxDeadlock(t *testing.T) {
	db := testdb.New(t, `create table counters (id int primary key, n int not null);
insert into counters values (1, 0), (2, 0);`)
	ctx := context.Background()
	// deadlock_timeout is a superuser setting: the transactions run as the
	// owner, with a short one.
	locked := [2]chan struct{}{make(chan struct{}), make(chan struct{})}
	var pids [2]uint32
	txFn := func(i int, runs *int) func(pgx.Tx) error {
		first, second := i+1, 2-i
		return func(tx pgx.Tx) error {
			*runs++
			if _, err := tx.Exec(ctx, "set local deadlock_timeout = '50ms'"); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, "update counters set n = n + 1 where id = $1", first); err != nil {
				return err
			}
			if *runs == 1 {
				pids[i] = tx.Conn().PgConn().PID()
				close(locked[i])
				<-locked[1-i] // both hold their first lock
				if i == 1 {
					waitBlocked(t, db, pids[0], nil) // the second lock is taken in order
				}
			}
			_, err := tx.Exec(ctx, "update counters set n = n + 1 where id = $1", second)
			return err
		}
	}
	var runs [2]int
	done := make(chan error, 1)
	retry := fastRetry
	retry.Attempts = 10
	go func() { done <- retry.RunTx(ctx, db.Owner, pgx.TxOptions{}, txFn(0, &runs[0])) }()
	err1 := retry.RunTx(ctx, db.Owner, pgx.TxOptions{}, txFn(1, &runs[1]))
	err0 := <-done
	if err0 != nil || err1 != nil {
		t.Fatalf("got %v and %v, want both committed", err0, err1)
	}
	// The victim's next run may take its first lock before the survivor
	// wakes up and deadlock again: bounded by Attempts.
	if runs[0]+runs[1] < 3 {
		t.Errorf("got %v runs, want one of them run again", runs)
	}
	if n := count(t, db, "select sum(n) from counters where n = 2"); n != 4 {
		t.Errorf("counters sum to %d, want 2 each: each transaction applied once", n)
	}
}

// TestRunTxTerminated: a transaction whose session is terminated before
// its COMMIT, idle or mid-statement, is rolled back by the server; RunTx
// runs it again once, and its write is there exactly once.
func TestRunTxTerminated(t *testing.T) {
	db, f, c := raceSetup(t)
	ctx := context.Background()
	for _, mid := range []bool{false, true} {
		runs := 0
		title := map[bool]string{false: "before commit", true: "mid-statement"}[mid]
		err := fastRetry.RunTx(ctx, db.Pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
			runs++
			if err := f.createThread.Exec(ctx, tx, c.bob, title, grp(f.kind, 2)); err != nil {
				return err
			}
			if runs > 1 {
				return nil
			}
			pid := tx.Conn().PgConn().PID()
			if !mid {
				return db.Terminate(ctx, pid) // then COMMIT finds the session gone
			}
			done := make(chan error, 1)
			go func() {
				_, err := tx.Exec(ctx, "select pg_sleep(10)")
				done <- err
			}()
			waitSleeping(t, db, pid)
			if err := db.Terminate(ctx, pid); err != nil {
				t.Error(err)
			}
			return <-done
		})
		if err != nil || runs != 2 {
			t.Errorf("%s: got %d runs and %v, want 2 runs and a commit", title, runs, err)
		}
		if n := count(t, db, "select count(*) from threads where title = $1", title); n != 1 {
			t.Errorf("%s: %d threads written, want exactly 1", title, n)
		}
	}
}

// TestFaultRestart: the test's own server restarted between requests and
// during one, and down for one.
func TestFaultRestart(t *testing.T) {
	srv := testdb.NewServer(t)
	kind := capability.KindInt64
	db := srv.New(t, forumSchema(kind))
	seedForum(t, db, kind)
	f := newForum(t, kind)
	c := forumCaps(t, kind)
	ctx := context.Background()
	pool := isoPool(t, db, "", 2)
	var id int64
	get := func() error {
		return fastRetry.RetryRead(ctx, pool, func() error {
			return f.getThread.QueryRow(ctx, pool, c.alice, int64(1)).Scan(&id, new(string))
		})
	}
	if err := get(); err != nil {
		t.Fatal(err)
	}

	// Between requests: the pool's connection is stale; the statement on
	// it is never sent, and runs again on a new one.
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if err := get(); err != nil || id != 1 {
		t.Errorf("read after a restart: got %d, %v", id, err)
	}
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	runs := 0
	err := fastRetry.RetryWrite(ctx, pool, func() error {
		runs++
		return f.createThread.Exec(ctx, pool, c.bob, "after restart", grp(kind, 2))
	})
	if err != nil {
		t.Errorf("write after a restart (%d runs): %v", runs, err)
	}
	if n := count(t, db, "select count(*) from threads where title = 'after restart'"); n != 1 {
		t.Errorf("write after a restart: %d rows, want exactly 1", n)
	}

	// During a transaction: the stop ends it (admin_shutdown) before its
	// COMMIT; RunTx runs it again once the server is back.
	runs = 0
	err = fastRetry.RunTx(ctx, pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		runs++
		if err := f.createThread.Exec(ctx, tx, c.bob, "across restart", grp(kind, 2)); err != nil {
			return err
		}
		if runs > 1 {
			return nil
		}
		done := make(chan error, 1)
		go func() {
			_, err := tx.Exec(ctx, "select pg_sleep(10)")
			done <- err
		}()
		waitSleeping(t, db, tx.Conn().PgConn().PID())
		if err := srv.Restart(ctx); err != nil {
			t.Error(err)
		}
		err := <-done
		if !sqlguard.IsRetryable(err) {
			t.Errorf("statement cut by the shutdown: got %v, want retryable", err)
		}
		return err
	})
	if err != nil || runs != 2 {
		t.Errorf("transaction across a restart: got %d runs and %v, want 2 runs and a commit", runs, err)
	}
	if n := count(t, db, "select count(*) from threads where title = 'across restart'"); n != 1 {
		t.Errorf("transaction across a restart: %d rows, want exactly 1", n)
	}

	// During a write on its own: the shutdown cuts it; its outcome is
	// unknown to the client, and (it had not committed) nothing is there.
	err = fastRetry.RetryWrite(ctx, pool, func() error {
		c, err := pool.Acquire(ctx)
		if err != nil {
			return err
		}
		defer c.Release()
		done := make(chan error, 1)
		go func() {
			_, err := c.Exec(ctx, "insert into threads (title, group_id) select 'cut', 2 from pg_sleep(10)")
			done <- err
		}()
		waitSleeping(t, db, c.Conn().PgConn().PID())
		if err := srv.Restart(ctx); err != nil {
			t.Error(err)
		}
		return <-done
	})
	if !errors.Is(err, sqlguard.ErrOutcomeUnknown) {
		t.Errorf("write cut by a shutdown: got %v, want ErrOutcomeUnknown", err)
	}
	if n := count(t, db, "select count(*) from threads where title = 'cut'"); n != 0 {
		t.Errorf("write cut by a shutdown: %d rows written", n)
	}

	// While the server is down: the connection attempt fails, retryable
	// for the client; nothing is written.
	pool.Reset()
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	err = fastRetry.RetryWrite(ctx, pool, func() error {
		return f.createThread.Exec(ctx, pool, c.bob, "while down", grp(kind, 2))
	})
	if !sqlguard.IsRetryable(err) {
		t.Errorf("write while the server is down: got %v, want retryable", err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, "select count(*) from threads where title = 'while down'"); n != 0 {
		t.Errorf("write while the server was down: %d rows written", n)
	}
}

// TestFaultTimeouts: a guarded update waits for a row lock held by another
// transaction. lock_timeout: lock_not_available, retryable for the client,
// not retried here, nothing written. statement_timeout: a timeout, nothing
// written. The context's deadline alone: a timeout whose outcome is
// unknown, and rightly so: pgx hangs up at once and sends a cancel request
// on the side; the server keeps waiting until that request lands, and
// commits the update if the lock is freed first. With
// client_connection_check_interval the server also notices by itself
// that the client is gone (here, before the lock is freed): nothing
// written.
func TestFaultTimeouts(t *testing.T) {
	db, f, c := raceSetup(t)
	ctx := context.Background()
	holder, _ := conn(t, db.Owner)
	hold := func() pgx.Tx { // locks post 12 (thread 2, group 2: alice moderates it)
		tx, err := holder.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, "select 1 from posts where id = 12 for update"); err != nil {
			t.Fatal(err)
		}
		return tx
	}
	edit := func(ctx context.Context, db sqlguard.DB, content string) error {
		return f.editPost.Exec(ctx, db, c.alice, int64(12), content)
	}
	written := func(content string) int {
		return count(t, db, "select count(*) from posts where id = 12 and content = $1", content)
	}

	for _, tc := range []struct {
		setting, want string
	}{{"lock_timeout", "retryable"}, {"statement_timeout", "timeout"}} {
		htx := hold()
		runs := 0
		err := fastRetry.RetryWrite(ctx, db.Pool, func() error {
			runs++
			return pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, "select set_config($1, '100ms', true)", tc.setting); err != nil {
					return err
				}
				return edit(ctx, tx, tc.setting)
			})
		})
		htx.Rollback(ctx)
		if got := class(err); got != tc.want || runs != 1 {
			t.Errorf("%s: got %s after %d runs (%v), want %s after 1", tc.setting, got, runs, err, tc.want)
		}
		if n := written(tc.setting); n != 0 {
			t.Errorf("%s: the timed out update was written", tc.setting)
		}
	}

	for _, interval := range []string{"", "50ms"} {
		cfg, err := pgxpool.ParseConfig(db.URL)
		if err != nil {
			t.Fatal(err)
		}
		if interval != "" {
			cfg.ConnConfig.RuntimeParams["client_connection_check_interval"] = interval
		}
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close) // after conn's release
		editor, pid := conn(t, pool)
		content := "deadline, check interval " + interval
		htx := hold()
		dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		err = fastRetry.RetryWrite(dctx, editor, func() error { return edit(dctx, editor, content) })
		cancel()
		if !sqlguard.IsTimeout(err) || !errors.Is(err, sqlguard.ErrOutcomeUnknown) {
			t.Errorf("interval %q: got %v, want a timeout with ErrOutcomeUnknown", interval, err)
		}
		if interval != "" {
			// The server notices the client left (and pgx's cancel
			// request, sent as it hangs up, may stop it first).
			waitGone(t, db, pid)
		}
		htx.Rollback(ctx)
		waitGone(t, db, pid) // it has finished, whatever it did
		n := written(content)
		switch {
		case interval != "" && n != 0:
			t.Errorf("interval %q: %d rows written after the client's error", interval, n)
		case n > 1:
			t.Errorf("interval %q: %d rows written", interval, n)
		case interval == "":
			// pgx's cancel request races with the lock's release: either
			// may win, which is why the outcome is reported unknown.
			t.Logf("without client_connection_check_interval: %d row(s) written after the client's timeout", n)
		}
	}
}

// TestFaultFKRace: a post is inserted into thread 2 while another
// transaction deletes the thread (the insert's snapshot still sees it).
// Whatever the policy's parent lock, the insert answers a conflict (the
// foreign key's own check, 23503) or not found (the guard's lock waited
// and found the thread gone), never an unclassified error, and no post is
// left behind.
func TestFaultFKRace(t *testing.T) {
	db, _, c := raceSetup(t)
	ctx := context.Background()
	deleter, _ := conn(t, db.Owner)
	inserter, pid := conn(t, db.Pool)
	for i, lock := range []sqlguard.Lock{sqlguard.LockNone, sqlguard.LockKeyShare, sqlguard.LockShare} {
		reg := sqlguard.MustNewRegistry(forumRoles, capability.KindInt64)
		insert := reg.MustInsert(sqlguard.Policy{Name: "posts.create.race", Table: "posts",
			Columns: []string{"content", "thread_id"}, Parents: threadParent, GroupColumn: "group_id",
			Role: "member", Lock: lock})
		if i > 0 {
			if _, err := db.Owner.Exec(ctx, "insert into threads (id, title, group_id) values (2, 'thread 2', 2)"); err != nil {
				t.Fatal(err)
			}
		}
		tx, err := deleter.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, "delete from threads where id = 2"); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- insert.Exec(ctx, inserter, c.alice, "fk race", int64(2)) }()
		waitBlocked(t, db, pid, done)
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		err = <-done
		if !sqlguard.IsConflict(err) && !errors.Is(err, sqlguard.ErrNotFound) {
			t.Errorf("lock %v: got %v (class %s), want a conflict or not found", lock, err, class(err))
		}
		if lock == sqlguard.LockNone && !sqlguard.IsConflict(err) {
			t.Errorf("no lock: got %v, want the foreign key's conflict", err)
		}
		if n := count(t, db, "select count(*) from posts where content = 'fk race'"); n != 0 {
			t.Errorf("lock %v: %d posts left behind", lock, n)
		}
	}
}
