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

// The races run two connections with explicit transactions. Their barrier
// is PostgreSQL's own: a statement is known to wait for the other
// transaction when pg_blocking_pids names it (polled with a deadline; no
// sleeping).

// conn takes a dedicated connection and its backend pid.
func conn(t *testing.T, pool *pgxpool.Pool) (*pgxpool.Conn, uint32) {
	t.Helper()
	c, err := pool.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Release)
	return c, c.Conn().PgConn().PID()
}

// whileThreadUpdated runs write on a connection of pool while another
// transaction (the owner's) holds "update threads set <set> where id =
// <thread>", commits that update once write waits for it (barrier:
// pg_blocking_pids, see waitBlocked), and returns write's error.
func whileThreadUpdated(t *testing.T, db *testdb.DB, pool *pgxpool.Pool, thread int64, set string,
	write func(ctx context.Context, c *pgxpool.Conn) error) error {
	t.Helper()
	ctx := t.Context()
	writer, pid := conn(t, pool)
	updater, _ := conn(t, db.Owner)
	tx, err := updater.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "update threads set "+set+" where id = $1", thread); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- write(ctx, writer) }()
	waitBlocked(t, db, pid, done)
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return <-done
}

// waitBlocked returns once backend pid waits for a lock held by another
// transaction. It fails the test if done (the waiting statement's result)
// arrives first, or after a deadline.
func waitBlocked(t *testing.T, db *testdb.DB, pid uint32, done <-chan error) {
	t.Helper()
	ctx := t.Context()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("the statement finished without waiting (err: %v)", err)
		default:
		}
		var n int
		if err := db.Owner.QueryRow(ctx, "select cardinality(pg_blocking_pids($1))", int32(pid)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
	}
	t.Fatal("the statement never waited for the lock")
}

func raceSetup(t *testing.T) (*testdb.DB, *forum, caps) {
	kind := capability.KindInt64
	db := testdb.New(t, forumSchema(kind))
	seedForum(t, db, kind)
	return db, newForum(t, kind), forumCaps(t, kind)
}

func threadGroup(t *testing.T, db *testdb.DB, id int64) int64 {
	t.Helper()
	var g int64
	if err := db.Owner.QueryRow(t.Context(), "select group_id from threads where id = $1", id).Scan(&g); err != nil {
		t.Fatal(err)
	}
	return g
}

// TestRaceMoveDuringUpdate: thread 2 is moved from group 2 to group 3 (by
// a transaction still open) while alice, moderator in 2 only, runs a
// guarded update on it. The update waits for the row, re-checks its guard
// on the moved row, and touches nothing.
func TestRaceMoveDuringUpdate(t *testing.T) {
	db, f, c := raceSetup(t)
	ctx := t.Context()
	mover, _ := conn(t, db.Owner)
	updater, pid := conn(t, db.Pool)

	tx, err := mover.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "update threads set group_id = 3 where id = 2"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		// "Move" thread 2 into group 2, where alice is moderator: were the
		// guard checked on the old row, the thread would come back.
		done <- f.moveThread.Exec(ctx, updater, c.alice, int64(2), int64(2))
	}()
	waitBlocked(t, db, pid, done)
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	err = <-done
	if !errors.Is(err, sqlguard.ErrDenied) && !errors.Is(err, sqlguard.ErrNotFound) {
		t.Fatalf("guarded update of a moved row: got %v, want denied or not found", err)
	}
	if g := threadGroup(t, db, 2); g != 3 {
		t.Errorf("thread 2 is in group %d, want 3: the guarded update touched it", g)
	}
}

// TestRaceMoveDuringChildInsert: with LockShare, a post inserted into a
// thread that is being moved to a group the author may not post in either
// waits for the move and then fails, or lands before the move; never
// after it, in the new group.
func TestRaceMoveDuringChildInsert(t *testing.T) {
	t.Run("move first", func(t *testing.T) {
		db, f, c := raceSetup(t)
		ctx := t.Context()
		mover, _ := conn(t, db.Owner)
		inserter, pid := conn(t, db.Pool)
		tx, err := mover.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		if _, err := tx.Exec(ctx, "update threads set group_id = 3 where id = 2"); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- f.createPost.Exec(ctx, inserter, c.alice, "racing", int64(2)) }()
		waitBlocked(t, db, pid, done)
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if err := <-done; !errors.Is(err, sqlguard.ErrNotFound) {
			t.Fatalf("insert into a thread moved meanwhile: got %v, want not found", err)
		}
		var n int
		if err := db.Owner.QueryRow(ctx, "select count(*) from posts where content = 'racing'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%d posts landed in the moved thread", n)
		}
	})
	t.Run("insert first", func(t *testing.T) {
		db, f, c := raceSetup(t)
		ctx := t.Context()
		inserter, _ := conn(t, db.Pool)
		mover, pid := conn(t, db.Owner)
		tx, err := inserter.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		if err := f.createPost.Exec(ctx, tx, c.alice, "racing", int64(2)); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := mover.Exec(ctx, "update threads set group_id = 3 where id = 2")
			done <- err
		}()
		// The move waits for the insert's transaction: it cannot slip in
		// between the guard's read and the commit.
		waitBlocked(t, db, pid, done)
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.Owner.QueryRow(ctx, "select count(*) from posts where content = 'racing'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("%d posts, want the one that landed before the move", n)
		}
	})
	t.Run("key share does not serialize a move", func(t *testing.T) {
		// Documents why LockShare is the lock against moves: FOR KEY SHARE
		// (like the foreign key's own check) does not conflict with an
		// update of a non-key column.
		db, _, c := raceSetup(t)
		ctx := t.Context()
		reg := sqlguard.MustNewRegistry(forumRoles, capability.KindInt64)
		keyShare := reg.MustInsert(sqlguard.Policy{Name: "posts.create.keyshare", Table: "posts",
			Columns: []string{"content", "thread_id"}, Parents: threadParent, GroupColumn: "group_id",
			Role: "member", Lock: sqlguard.LockKeyShare})
		mover, _ := conn(t, db.Owner)
		inserter, _ := conn(t, db.Pool)
		tx, err := mover.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		if _, err := tx.Exec(ctx, "update threads set group_id = 3 where id = 2"); err != nil {
			t.Fatal(err)
		}
		// Does not wait: the insert lands, and the commit of the move then
		// puts it into group 3.
		if err := keyShare.Exec(ctx, inserter, c.alice, "racing", int64(2)); err != nil {
			t.Fatalf("insert with FOR KEY SHARE: %v", err)
		}
	})
}

var _ pgx.Tx
