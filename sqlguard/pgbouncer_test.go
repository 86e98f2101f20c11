package sqlguard_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/internal/testdb"
	"github.com/keyhole-go/keyhole/sqlguard"
)

// bouncerClients connects n clients through PgBouncer at u in mode.
func bouncerClients(t *testing.T, u, mode string, n int) []*pgx.Conn {
	t.Helper()
	ctx := context.Background()
	var cs []*pgx.Conn
	for range n {
		c, err := pgx.Connect(ctx, u+"&default_query_exec_mode="+mode)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(ctx) })
		cs = append(cs, c)
	}
	return cs
}

// count returns the number of rows a query (as the owner) counts.
func count(t *testing.T, db *testdb.DB, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := db.Owner.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPgBouncerExecModes runs guarded statements from two clients through
// PgBouncer in transaction pooling mode, both served by one server session
// (pool size 1), in each pgx query mode: exec and cache_describe (and the
// simple protocol, which keyhole never selects itself) give
// every answer right and write exactly what they acknowledge;
// cache_statement fails with 42P05 "prepared statement already exists"
// (the second client prepares the name the first one left in the shared
// session) and writes nothing; describe_exec is refused before anything
// is sent.
func TestPgBouncerExecModes(t *testing.T) {
	kind := capability.KindInt64
	db := testdb.New(t, forumSchema(kind))
	seedForum(t, db, kind)
	f := newForum(t, kind)
	c := forumCaps(t, kind)
	u := db.PgBouncer(t, 1)
	ctx := context.Background()

	for _, mode := range []string{"exec", "cache_describe", "simple_protocol"} {
		t.Run(mode, func(t *testing.T) {
			cs := bouncerClients(t, u, mode, 2)
			a, b := cs[0], cs[1]
			title := "via bouncer " + mode
			var id, got int64
			for _, tc := range []struct {
				what string
				err  error
				want string
			}{
				{"create thread (a)", f.createThread.QueryRow(ctx, a, c.bob, title, grp(kind, 2)).Scan(&id), "ok"},
				{"create thread elsewhere (b)", f.createThread.Exec(ctx, b, c.bob, title, grp(kind, 1)), "denied"},
				{"create post (b)", f.createPost.Exec(ctx, b, c.alice, title, id), "ok"},
				{"get (a)", f.getThread.QueryRow(ctx, a, c.alice, id).Scan(&got, new(string)), "ok"},
				{"list (b)", listsSome(ctx, b, f.listThreads, c.alice, int64(0)), "ok"},
				{"delete other group (a)", f.deleteThread.Exec(ctx, a, c.carol, id), "notfound"},
				{"in a transaction (b)", pgx.BeginFunc(ctx, b, func(tx pgx.Tx) error {
					return f.editPost.Exec(ctx, tx, c.alice, int64(12), title)
				}), "ok"},
			} {
				if o := outcome(tc.err); o != tc.want {
					t.Errorf("%s: got %s, want %s (%v)", tc.what, o, tc.want, tc.err)
				}
			}
			if got != id {
				t.Errorf("get: got thread %d, want %d", got, id)
			}
			if n := count(t, db, "select count(*) from threads where title = $1 and group_id = 2", title); n != 1 {
				t.Errorf("%d threads written, want the 1 acknowledged", n)
			}
			if n := count(t, db, "select count(*) from posts where content = $1", title); n != 2 {
				t.Errorf("%d posts with the title, want 2 (created, edited)", n)
			}
		})
	}

	t.Run("cache_statement", func(t *testing.T) {
		cs := bouncerClients(t, u, "cache_statement", 2)
		title := "via bouncer cache_statement"
		err := f.createThread.Exec(ctx, cs[0], c.bob, title, grp(kind, 2))
		if err != nil {
			t.Fatalf("first client: %v", err)
		}
		err = f.createThread.Exec(ctx, cs[1], c.bob, title, grp(kind, 2))
		if o := outcome(err); o != "pg:42P05" {
			t.Fatalf("second client: got %s, want pg:42P05 (%v)", o, err)
		}
		if sqlguard.IsRetryable(err) || sqlguard.IsConflict(err) {
			t.Errorf("42P05 classified as retryable or conflict: it is a configuration error")
		}
		if n := count(t, db, "select count(*) from threads where title = $1", title); n != 1 {
			t.Errorf("%d threads written, want the 1 acknowledged", n)
		}
	})

	t.Run("describe_exec", func(t *testing.T) {
		cs := bouncerClients(t, u, "describe_exec", 2)
		before := count(t, db, "select count(*) from threads") + count(t, db, "select count(*) from posts")
		for i, cl := range cs {
			if err := f.deleteThread.Exec(ctx, cl, c.alice, int64(2)); !errors.Is(err, sqlguard.ErrUnsafeExecMode) {
				t.Errorf("client %d: delete: got %v, want ErrUnsafeExecMode", i, err)
			}
			if err := f.createPost.Exec(ctx, cl, c.alice, "x", int64(2)); !errors.Is(err, sqlguard.ErrUnsafeExecMode) {
				t.Errorf("client %d: insert: got %v, want ErrUnsafeExecMode", i, err)
			}
		}
		after := count(t, db, "select count(*) from threads") + count(t, db, "select count(*) from posts")
		if after != before {
			t.Errorf("refused statements changed the row count from %d to %d", before, after)
		}
	})
}

// TestPgBouncerDescribeExecHazard shows why describe_exec is refused:
// behind a transaction pooler, the two halves of a statement in that mode
// (describe, then execute, each closed by its own Sync) reach the server
// session wherever it is free, and the execute runs the unnamed statement
// that another client parsed there in between, with this client's
// arguments. Done here with pgconn, step by step, as pgx does it.
func TestPgBouncerDescribeExecHazard(t *testing.T) {
	kind := capability.KindInt64
	db := testdb.New(t, forumSchema(kind))
	seedForum(t, db, kind)
	u := db.PgBouncer(t, 1)
	ctx := context.Background()
	var cs [2]*pgconn.PgConn
	for i := range cs {
		c, err := pgconn.Connect(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		cs[i] = c
	}
	// Client 0 describes "delete a post" (Parse, Describe, Sync).
	if _, err := cs[0].Prepare(ctx, "", "delete from posts where id = $1", nil); err != nil {
		t.Fatal(err)
	}
	// Client 1 describes "delete a thread" in the same server session.
	if _, err := cs[1].Prepare(ctx, "", "delete from threads where id = $1", nil); err != nil {
		t.Fatal(err)
	}
	// Client 0 executes its unnamed statement (Bind, Execute, Sync) with
	// id 1, meant for a post (there is none with that id) ... and runs
	// client 1's statement: thread 1 is deleted, its posts with it.
	res := cs[0].ExecPrepared(ctx, "", [][]byte{[]byte("1")}, nil, nil).Read()
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if n := count(t, db, "select count(*) from threads where id = 1"); n != 0 {
		t.Fatal("thread 1 is still there: the pooler kept the statement's halves together")
	}
	t.Logf("client 0 described %q, executed %q: thread 1 is gone", "delete from posts where id = $1", res.CommandTag)
}
