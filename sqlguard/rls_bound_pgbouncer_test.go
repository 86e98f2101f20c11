package sqlguard_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/keyhole-go/keyhole/sqlguard"
	"github.com/keyhole-go/keyhole/sqlguard/wall"
)

// TestBoundPgBouncer: behind a transaction-mode pooler with one server
// connection, two clients share one server session; what one runs
// through wall.Wall.Bind (a guarded insert, a guarded list, a failing
// raw insert) leaves the other neither the role nor the settings, in the
// exec modes used behind PgBouncer (Debian's 1.18 does not track
// prepared statements, so cache_statement is not among them).
func TestBoundPgBouncer(t *testing.T) {
	f := newWallForum(t)
	w := newWallDB(t, f.reg)
	wl, _ := wall.New(f.reg, w.opts)
	u := w.PgBouncer(t, 1)
	alice := wallCap(t, "alice", false, map[int64]string{1: "member", 2: "moderator"})
	clean := fmt.Sprintf("user=%s admin=\"\" subject=\"\" member=\"\" moderator=\"\"", w.testRole)
	createPost := f.ops["posts.create"].(*sqlguard.Write)
	listThreads := f.ops["threads.list"].(*sqlguard.List)
	for _, mode := range []string{"exec", "cache_describe", "describe_exec"} {
		t.Run(mode, func(t *testing.T) {
			ctx := t.Context()
			sep := "?"
			if strings.Contains(u, "?") {
				sep = "&"
			}
			open := func() *pgx.Conn {
				conn, err := pgx.Connect(ctx, u+sep+"default_query_exec_mode="+mode)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { conn.Close(ctx) })
				if err := sqlguard.RegisterTypes(ctx, conn); err != nil {
					t.Fatal(err)
				}
				return conn
			}
			a, b := open(), open()
			var pa, pb int
			a.QueryRow(ctx, "select pg_backend_pid()").Scan(&pa)
			b.QueryRow(ctx, "select pg_backend_pid()").Scan(&pb)
			t.Logf("backend pids: a %d, b %d", pa, pb)
			if pa != pb {
				t.Fatalf("not one server session")
			}
			db := wl.Bind(a, alice)
			for i := 0; i < 3; i++ {
				if err := createPost.Exec(ctx, db, alice, "p", int64(1)); err != nil {
					t.Fatal(err)
				}
				if got := session(t, b, w.opts); got != clean {
					t.Errorf("after bound insert, other client sees %s", got)
				}
				rows, err := listThreads.Query(ctx, db, alice)
				if err != nil {
					t.Fatal(err)
				}
				ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
				if err != nil || len(ids) != 4 {
					t.Errorf("list: %v %v", ids, err)
				}
				if got := session(t, b, w.opts); got != clean {
					t.Errorf("after bound list, other client sees %s", got)
				}
				if _, err := db.Exec(ctx, "insert into threads (title, group_id, created_by) values (NULL, 1, 'alice')"); err == nil {
					t.Error("no error")
				}
				if got := session(t, b, w.opts); got != clean {
					t.Errorf("after failed statement, other client sees %s", got)
				}
				var n int
				if err := b.QueryRow(ctx, "select count(*) from threads").Scan(&n); err != nil || n != 0 {
					t.Errorf("other client without the wall reads %d threads, %v", n, err)
				}
			}
		})
	}
}
