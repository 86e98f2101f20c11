package sqlguard_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/sqlguard"
	"github.com/keyhole-go/keyhole/sqlguard/wall"
)

// wallConn opens one connection of the test role to w in the given pgx
// query exec mode, with sqlguard's types registered.
func wallConn(t testing.TB, w *wallDB, mode string) *pgx.Conn {
	t.Helper()
	ctx := t.Context()
	cfg, err := pgx.ParseConfig(w.URL + "&default_query_exec_mode=" + mode)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(t.Context()) })
	if err := sqlguard.RegisterTypes(ctx, conn); err != nil {
		t.Fatal(err)
	}
	return conn
}

// session is what the next statement on a connection sees of the role
// and the wall's settings: the login role and empty settings when nothing
// outlived the bound statement.
func session(t *testing.T, conn *pgx.Conn, o wall.Options) string {
	t.Helper()
	var user, admin, subject, member, moderator string
	err := conn.QueryRow(t.Context(), `select current_user::text,
		coalesce(current_setting($1, true), ''), coalesce(current_setting($2, true), ''),
		coalesce(current_setting($3, true), ''), coalesce(current_setting($4, true), '')`,
		o.AdminSetting(), o.SubjectSetting(), o.GroupsSetting("member"), o.GroupsSetting("moderator")).
		Scan(&user, &admin, &subject, &member, &moderator)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("user=%s admin=%q subject=%q member=%q moderator=%q", user, admin, subject, member, moderator)
}

func wallCount(t *testing.T, w *wallDB, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := w.Owner.QueryRow(t.Context(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBoundOneRoundTrip runs guarded and raw statements through
// wall.Wall.Bind on one connection in every pgx query exec mode and checks
// after each that the next statement on the connection sees neither the
// wall's role nor its settings, that the wall confines a raw statement,
// that a failed statement leaves nothing behind, and that a failed
// set_config statement keeps the statement from running.
//
// (One pgx.Conn stands for a transaction-mode pooler's server connection:
// what the next statement sees there is what another client would see.)
func TestBoundOneRoundTrip(t *testing.T) {
	f := newWallForum(t)
	w := newWallDB(t, f.reg)
	wl, err := wall.New(f.reg, w.opts)
	if err != nil {
		t.Fatal(err)
	}
	broken, err := wall.New(f.reg, wall.Options{Prefix: w.Name + "_missing_"})
	if err != nil {
		t.Fatal(err)
	}
	alice := wallCap(t, "alice", false, map[int64]string{1: "member", 2: "moderator"})
	clean := fmt.Sprintf("user=%s admin=\"\" subject=\"\" member=\"\" moderator=\"\"", w.testRole)
	createPost := f.ops["posts.create"].(*sqlguard.Write)
	createThread := f.ops["threads.create"].(*sqlguard.Write)
	listThreads := f.ops["threads.list"].(*sqlguard.List)
	getThread := f.ops["threads.get"].(*sqlguard.Get)
	for _, mode := range []string{"cache_statement", "cache_describe", "describe_exec", "exec", "simple_protocol"} {
		t.Run(mode, func(t *testing.T) {
			ctx := t.Context()
			conn := wallConn(t, w, mode)
			db := wl.Bind(conn, alice)
			check := func(what string) {
				t.Helper()
				if got := session(t, conn, w.opts); got != clean {
					t.Errorf("after %s: got %s, want %s", what, got, clean)
				}
			}
			before := wallCount(t, w, "select count(*) from posts")

			// Guarded writes: allowed in alice's groups, refused elsewhere.
			if err := createPost.Exec(ctx, db, alice, "p", int64(1)); err != nil {
				t.Errorf("create post in group 1: %v", err)
			}
			check("create post")
			var id int64
			if err := createThread.QueryRow(ctx, db, alice, "t", capability.Int64Group(2)).Scan(&id); err != nil || id == 0 {
				t.Errorf("create thread in group 2: id %d, %v", id, err)
			}
			check("create thread returning")
			var denied *sqlguard.DeniedError
			if err := createThread.Exec(ctx, db, alice, "t", capability.Int64Group(3)); !errors.As(err, &denied) {
				t.Errorf("create thread in group 3: got %v, want *DeniedError", err)
			}
			check("denied create")
			if got := wallCount(t, w, "select count(*) from posts"); got != before+1 {
				t.Errorf("posts: got %d, want %d", got, before+1)
			}

			// Reads.
			rows, err := listThreads.Query(ctx, db, alice)
			if err != nil {
				t.Fatal(err)
			}
			ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
			if err != nil {
				t.Fatal(err)
			}
			want := ownerIDs(t, w, "select id from threads where group_id in (1, 2) order by id")
			if fmt.Sprint(ids) != fmt.Sprint(want) {
				t.Errorf("list: got %v, want %v", ids, want)
			}
			check("list")
			if err := getThread.QueryRow(ctx, db, alice, int64(3)).Scan(&id); err != nil || id != 3 {
				t.Errorf("get 3: %d, %v", id, err)
			}
			if err := getThread.QueryRow(ctx, db, alice, int64(5)).Scan(&id); !errors.Is(err, sqlguard.ErrNotFound) {
				t.Errorf("get 5: got %v, want ErrNotFound", err)
			}
			check("get")

			// A raw statement that forgot its guard: the wall alone.
			var n int
			if err := db.QueryRow(ctx, "select count(*) from threads").Scan(&n); err != nil || n != len(want) {
				t.Errorf("raw count: got %d, %v, want %d (groups 1 and 2)", n, err, len(want))
			}
			if _, err := db.Exec(ctx, "insert into threads (title, group_id, created_by) values ('x', 3, 'alice')"); !sqlguard.IsInsufficientPrivilege(err) {
				t.Errorf("raw insert in group 3: got %v, want insufficient_privilege", err)
			}
			check("raw insert refused")
			if tag, err := db.Exec(ctx, "update threads set title = 'x' where group_id = 3"); err != nil || tag.RowsAffected() != 0 {
				t.Errorf("raw update of group 3: %v, %v: want no row", tag, err)
			}
			if _, err := db.Exec(ctx, "select * from secrets"); !sqlguard.IsInsufficientPrivilege(err) {
				t.Errorf("raw select of a table no policy names: got %v, want insufficient_privilege", err)
			}

			// The statement fails after set_config: nothing is kept.
			threads := wallCount(t, w, "select count(*) from threads")
			if _, err := db.Exec(ctx, "insert into threads (title, group_id, created_by) values ('x', 1, 'alice'), (NULL, 1, 'alice')"); err == nil {
				t.Error("insert of a NULL title: no error")
			}
			check("failed statement")
			if got := wallCount(t, w, "select count(*) from threads"); got != threads {
				t.Errorf("threads after a failed insert: got %d, want %d", got, threads)
			}

			// set_config fails (the role is missing): the statement does
			// not run, though the test role could run it on its own.
			bad := broken.Bind(conn, alice)
			if _, err := bad.Exec(ctx, "insert into secrets values (99, 'leak')"); err == nil {
				t.Error("bound to a missing role: no error")
			}
			if _, err := bad.Query(ctx, "select 1"); err == nil {
				t.Error("query bound to a missing role: no error")
			}
			check("failed set_config")
			if got := wallCount(t, w, "select count(*) from secrets where id = 99"); got != 0 {
				t.Errorf("the statement ran after a failed set_config: %d rows", got)
			}
			if _, err := conn.Exec(ctx, "insert into secrets values (99, 'own') "); err != nil {
				t.Fatalf("the test role inserts on its own: %v", err)
			}
			if _, err := conn.Exec(ctx, "delete from secrets where id = 99"); err != nil {
				t.Fatal(err)
			}

			// A nil capability holds nothing.
			none := wl.Bind(conn, nil)
			if err := none.QueryRow(ctx, "select count(*) from threads").Scan(&n); err != nil || n != 0 {
				t.Errorf("nil capability: %d rows, %v", n, err)
			}
			check("nil capability")
		})
	}
}

// TestBoundRefusesTransaction: inside a transaction the settings would
// outlive the statement, so Bound refuses before sending anything.
func TestBoundRefusesTransaction(t *testing.T) {
	f := newWallForum(t)
	w := newWallDB(t, f.reg)
	wl, err := wall.New(f.reg, w.opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	alice := wallCap(t, "alice", false, map[int64]string{1: "member"})
	conn := wallConn(t, w, "cache_statement")
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wl.Bind(tx, alice).Exec(ctx, "select 1"); !errors.Is(err, wall.ErrInTransaction) {
		t.Errorf("pgx.Tx: got %v, want ErrInTransaction", err)
	}
	if _, err := wl.Bind(conn, alice).Exec(ctx, "select 1"); !errors.Is(err, wall.ErrInTransaction) {
		t.Errorf("connection in a transaction: got %v, want ErrInTransaction", err)
	}
	if err := wl.Bind(conn, alice).QueryRow(ctx, "select 1").Scan(new(int)); !errors.Is(err, wall.ErrInTransaction) {
		t.Errorf("QueryRow in a transaction: got %v, want ErrInTransaction", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	pc, err := w.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Release()
	if _, err := pc.Exec(ctx, "begin"); err != nil {
		t.Fatal(err)
	}
	if _, err := wl.Bind(pc, alice).Exec(ctx, "select 1"); !errors.Is(err, wall.ErrInTransaction) {
		t.Errorf("pool connection in a transaction: got %v, want ErrInTransaction", err)
	}
	if _, err := pc.Exec(ctx, "rollback"); err != nil {
		t.Fatal(err)
	}
	// Allowed once idle: the deny cases above are not a broken path.
	var n int
	if err := wl.Bind(pc, alice).QueryRow(ctx, "select count(*) from threads").Scan(&n); err != nil || n != 2 {
		t.Errorf("idle pool connection: %d, %v, want 2", n, err)
	}
	if err := wl.Bind(w.Pool, alice).QueryRow(ctx, "select count(*) from threads").Scan(&n); err != nil || n != 2 {
		t.Errorf("pool: %d, %v, want 2", n, err)
	}
}

// TestWallKindMismatch: a capability whose group kind is not the wall's
// sees nothing through the wall. Its groups setting has the other kind's
// form (a text capability sets an array literal, "{"x,1,2,3,4,5,y"}",
// which holds ",1," and ",2,"): Bind refuses the capability, and
// WithCapability, which cannot tell, sets a value that the int8 wall reads
// as no group at all. The same member of the same groups as an int8
// capability sees its rows: the deny is not a broken path.
func TestWallKindMismatch(t *testing.T) {
	f := newWallForum(t)
	w := newWallDB(t, f.reg)
	wl, err := wall.New(f.reg, w.opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	text, err := capability.New(wallRoles, capability.KindText, capability.Params{Subject: "mallory",
		Expiry: time.Now().Add(time.Hour), Grants: []capability.Grant{{Group: capability.TextGroup("x,1,2,3,4,5,y"), Role: "moderator"}}})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := wl.Bind(w.Pool, text).QueryRow(ctx, "select count(*) from threads").Scan(&n); err == nil {
		t.Errorf("Bind with a text capability on an int8 wall: no error, %d threads", n)
	}
	err = wall.WithCapability(ctx, w.Pool, text, w.opts, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, "select count(*) from threads").Scan(&n)
	})
	if err != nil || n != 0 {
		t.Errorf("WithCapability with a text capability: %d threads (%v), want 0", n, err)
	}
	member := wallCap(t, "alice", false, map[int64]string{1: "moderator", 2: "moderator"})
	if err := wl.Bind(w.Pool, member).QueryRow(ctx, "select count(*) from threads").Scan(&n); err != nil || n != 4 {
		t.Errorf("int8 capability of groups 1 and 2: %d threads (%v), want 4", n, err)
	}
}

// TestBoundRetries: a guarded statement through wall.Bind runs in an
// implicit transaction of its own, so it is retried like one on a pool.
// The child insert waits at SERIALIZABLE for a concurrent update of its
// parent (barrier: pg_blocking_pids) and fails with a serialization
// failure when that commits: with the default Retry it answers nil and
// the post is written exactly once; with retries off, 40001 and nothing.
func TestBoundRetries(t *testing.T) {
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
			f := newWallForum(t)
			f.reg.SetRetry(sqlguard.Retry{Attempts: tc.attempts, Backoff: time.Millisecond})
			w := newWallDB(t, f.reg)
			wl, err := wall.New(f.reg, w.opts)
			if err != nil {
				t.Fatal(err)
			}
			alice := wallCap(t, "alice", false, map[int64]string{1: "member"})
			create := f.ops["posts.create"].(*sqlguard.Write)
			err = whileThreadUpdated(t, w.DB, isoPool(t, w.DB, "serializable", 2), 1, "title = 'renamed'",
				func(ctx context.Context, inserter *pgxpool.Conn) error {
					return create.Exec(ctx, wl.Bind(inserter, alice), alice, "exactly once", int64(1))
				})
			if got := outcome(err); got != tc.want {
				t.Errorf("Exec through Bind: got %s, want %s", got, tc.want)
			}
			if n := wallCount(t, w, "select count(*) from posts where content = 'exactly once'"); n != tc.posts {
				t.Errorf("%d posts written, want %d", n, tc.posts)
			}
		})
	}
}
