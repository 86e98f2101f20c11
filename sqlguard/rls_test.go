package sqlguard_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	sq "github.com/Masterminds/squirrel"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/sqlguard"
	"github.com/keyhole-go/keyhole/sqlguard/wall"
)

// Compile-time: WithCapability takes pgx's pools, connections and
// transactions.
var (
	_ wall.TxBeginner = (*pgxpool.Pool)(nil)
	_ wall.TxBeginner = (*pgxpool.Conn)(nil)
	_ wall.TxBeginner = (*pgx.Conn)(nil)
	_ wall.TxBeginner = pgx.Tx(nil)
)

// ids runs a query returning one bigint column.
func ids(t testing.TB, db sqlguard.DB, sql string, args ...any) []int64 {
	t.Helper()
	rows, err := db.Query(t.Context(), sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

func ownerIDs(t testing.TB, w *wallDB, sql string) []int64 {
	t.Helper()
	return ids(t, w.Owner, sql)
}

// TestSecondWallRawQueries runs raw statements without any guard inside
// WithCapability: they see and change only the rows of the capability's
// groups, and cannot write into a group it does not hold.
func TestSecondWallRawQueries(t *testing.T) {
	w := newWallDB(t, newWallForum(t).reg)
	ctx := t.Context()
	// member in group 1, moderator in group 2: threads 1, 2 are in group
	// 1; threads 3, 4 in group 2.
	c := wallCap(t, "carol", false, map[int64]string{1: "member", 2: "moderator"})

	err := wall.WithCapability(ctx, w.Pool, c, w.opts, func(tx pgx.Tx) error {
		if got, want := ids(t, tx, "select id from threads order by id"), []int64{1, 2, 3, 4}; !slices.Equal(got, want) {
			t.Errorf("select * from threads: got %v, want %v", got, want)
		}
		if got, want := ids(t, tx, "select id from posts order by id"), []int64{1, 2, 3, 4, 5, 6, 7, 8}; !slices.Equal(got, want) {
			t.Errorf("select * from posts: got %v, want %v", got, want)
		}
		if got, want := ids(t, tx, "select id from comments order by id"), []int64{1, 2, 3, 4, 5, 6, 7, 8}; !slices.Equal(got, want) {
			t.Errorf("select * from comments: got %v, want %v", got, want)
		}
		// Deletes: only the moderator's group 2.
		if got, want := ids(t, tx, "delete from threads returning id"), []int64{3, 4}; !slices.Equal(sorted(got), want) {
			t.Errorf("delete from threads: got %v, want %v", got, want)
		}
		// Updates: a member may rename in group 1, nobody may move a
		// thread out of group 1 (moving needs moderator in both groups).
		if got := ids(t, tx, "update threads set title = 'x' returning id"); !slices.Equal(sorted(got), []int64{1, 2}) {
			t.Errorf("update threads set title: got %v, want [1 2]", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ownerIDs(t, w, "select id from threads order by id"), []int64{1, 2, 5, 6, 7, 8}; !slices.Equal(got, want) {
		t.Errorf("after the raw delete the threads are %v, want %v", got, want)
	}

	refused := []struct{ name, sql string }{
		{"insert into a foreign group", "insert into threads (title, group_id, created_by) values ('t', 99, 'carol')"},
		{"insert into a member group with no group", "insert into threads (title, group_id, created_by) values ('t', null, 'carol')"},
		{"move a thread out of a member group", "update threads set group_id = 2 where id = 1"},
		{"move a thread into a foreign group", "update threads set group_id = 99 where id = 1"},
		{"post into a foreign thread", "insert into posts (content, thread_id, author) values ('p', 7, 'carol')"},
		{"comment on a foreign post", "insert into comments (body, post_id, author) values ('c', 15, 'carol')"},
		{"read a table no policy names", "select * from secrets"},
		{"set a column no policy sets", "update posts set author = 'mallory'"},
		{"delete where no delete policy", "delete from comments"},
		{"truncate", "truncate threads"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			err := wall.WithCapability(ctx, w.Pool, c, w.opts, func(tx pgx.Tx) error {
				_, err := tx.Exec(ctx, tc.sql)
				return err
			})
			if !sqlguard.IsInsufficientPrivilege(err) {
				t.Errorf("%s: got %v, want insufficient_privilege (42501)", tc.sql, err)
			}
		})
	}
	// Changes that find no row they may touch.
	for _, sql := range []string{
		"update threads set title = 'x' where group_id = 3",
		"delete from posts where thread_id = 7",
		"update posts set content = 'x' where thread_id = 7",
	} {
		err := wall.WithCapability(ctx, w.Pool, c, w.opts, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, sql)
			if err == nil && tag.RowsAffected() != 0 {
				t.Errorf("%s: changed %d rows, want 0", sql, tag.RowsAffected())
			}
			return err
		})
		if err != nil {
			t.Errorf("%s: %v", sql, err)
		}
	}
	if got := ownerIDs(t, w, "select count(*) from threads where title = 'x' and group_id <> 1"); got[0] != 0 {
		t.Errorf("%d threads outside group 1 renamed", got[0])
	}
}

func sorted(s []int64) []int64 { slices.Sort(s); return s }

// TestSecondWallForgotHelper checks that a connection that forgot
// WithCapability sees nothing and writes nothing: with the wall's role
// and no settings, and as the connection's own role.
func TestSecondWallForgotHelper(t *testing.T) {
	w := newWallDB(t, newWallForum(t).reg)
	ctx := t.Context()
	for _, setRole := range []bool{true, false} {
		t.Run(fmt.Sprintf("set role=%v", setRole), func(t *testing.T) {
			conn, err := w.Pool.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Release()
			tx, err := conn.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx)
			if setRole {
				if _, err := tx.Exec(ctx, "set local role "+pgx.Identifier{w.opts.AppRole()}.Sanitize()); err != nil {
					t.Fatal(err)
				}
			}
			for _, table := range []string{"threads", "posts", "comments"} {
				if got := ids(t, tx, "select count(*) from "+table); got[0] != 0 {
					t.Errorf("select from %s: %d rows, want 0", table, got[0])
				}
			}
			for _, sql := range []string{"delete from threads", "update threads set title = 'x'", "delete from posts", "update posts set content = 'x'"} {
				tag, err := tx.Exec(ctx, "savepoint s; "+sql)
				if err == nil && tag.RowsAffected() != 0 {
					t.Errorf("%s: changed %d rows, want 0", sql, tag.RowsAffected())
				}
				if err != nil && !sqlguard.IsInsufficientPrivilege(err) {
					t.Errorf("%s: %v", sql, err)
				}
				if _, err := tx.Exec(ctx, "rollback to savepoint s"); err != nil {
					t.Fatal(err)
				}
			}
			// Empty settings (set earlier in the session, then ended)
			// are the empty array too.
			if _, err := tx.Exec(ctx, "select set_config('keyhole.groups_member', '', true), set_config('keyhole.admin', '', true)"); err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(ctx, "insert into threads (title, group_id, created_by) values ('t', 1, 'x')"); !sqlguard.IsInsufficientPrivilege(err) {
				t.Errorf("insert without settings: got %v, want insufficient_privilege", err)
			}
		})
	}
	if got := ownerIDs(t, w, "select count(*) from threads where title = 'x'"); got[0] != 0 {
		t.Errorf("%d threads changed", got[0])
	}
}

// TestSecondWallGuardsStillDecide runs the guarded policies inside
// WithCapability: allowed calls work (RETURNING, parent locks, status
// rows), refused ones answer as without the wall.
func TestSecondWallGuardsStillDecide(t *testing.T) {
	f := newWallForum(t)
	w := newWallDB(t, f.reg)
	ctx := t.Context()
	c := wallCap(t, "bob", false, map[int64]string{1: "member", 2: "moderator", 3: "moderator"})
	run := func(name string, values ...any) error {
		return wall.WithCapability(ctx, w.Pool, c, w.opts, func(tx pgx.Tx) error {
			return f.ops[name].(*sqlguard.Write).Exec(ctx, tx, c, values...)
		})
	}
	g := capability.Int64Group
	for _, tc := range []struct {
		name   string
		values []any
		want   string
	}{
		{"threads.create", []any{"t", g(1)}, "ok"},
		{"threads.create", []any{"t", g(4)}, "denied"},
		{"posts.create", []any{"p", int64(1)}, "ok"},
		{"posts.create", []any{"p", int64(7)}, "notfound"},
		{"comments.create", []any{"c", int64(1)}, "ok"},
		{"comments.create", []any{"c", int64(15)}, "notfound"},
		{"threads.move", []any{int64(3), g(3)}, "ok"},
		{"threads.move", []any{int64(1), g(3)}, "denied"},
		{"threads.move", []any{int64(5), g(2)}, "ok"}, // thread 5 is in group 3
		{"threads.rename", []any{int64(1), "new"}, "ok"},
		{"posts.edit", []any{int64(1), "mine"}, "ok"}, // bob's post in group 1: the owner
		{"posts.edit", []any{int64(2), "not mine"}, "denied"},
		{"posts.move", []any{int64(7), int64(3)}, "ok"},
		{"posts.delete", []any{int64(13)}, "ok"}, // bob's post in group 4
		{"posts.delete", []any{int64(14)}, "notfound"},
		{"threads.upsert", []any{int64(4), "up", g(2)}, "ok"},
		{"threads.upsert", []any{int64(1), "up", g(2)}, "denied"},
		{"threads.delete", []any{int64(4)}, "ok"},
		{"threads.delete", []any{int64(2)}, "denied"},
		{"threads.delete", []any{int64(8)}, "notfound"},
	} {
		if got := outcome(run(tc.name, tc.values...)); got != tc.want {
			t.Errorf("%s%v: got %s, want %s", tc.name, tc.values, got, tc.want)
		}
	}
}

// TestSecondWallReadsSettingsOnce checks that the policies read the
// settings in InitPlans (once per statement): no scan's filter calls
// current_setting.
func TestSecondWallReadsSettingsOnce(t *testing.T) {
	w := newWallDB(t, newWallForum(t).reg)
	ctx := t.Context()
	c := wallCap(t, "bob", false, map[int64]string{1: "member"})
	for _, sql := range []string{
		"select * from threads",
		"select * from posts",
		"select * from comments",
		"update posts set content = 'x'",
		"delete from posts",
	} {
		err := wall.WithCapability(ctx, w.Pool, c, w.opts, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, "explain (verbose, costs off) "+sql)
			if err != nil {
				return err
			}
			plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return err
			}
			text := strings.Join(plan, "\n")
			if !strings.Contains(text, "InitPlan") {
				t.Errorf("%s: no InitPlan:\n%s", sql, text)
			}
			for _, line := range plan {
				if strings.Contains(line, "current_setting") && !strings.Contains(line, "Output:") {
					t.Errorf("%s: a setting read outside an InitPlan's output: %s\n%s", sql, line, text)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestWithCapabilityTransaction checks the helper's transaction: fn's
// error rolls back, a panic rolls back, the role and the settings end
// with the transaction, and values reach the settings as parameters.
func TestWithCapabilityTransaction(t *testing.T) {
	w := newWallDB(t, newWallForum(t).reg)
	ctx := t.Context()
	conn, err := w.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	// A subject that would break out of a concatenated string.
	c := wallCap(t, "o'brien'); drop table threads; --", true, map[int64]string{1: "member"})
	boom := errors.New("boom")
	err = wall.WithCapability(ctx, conn, c, w.opts, func(tx pgx.Tx) error {
		var role, groups, admin, subject string
		if err := tx.QueryRow(ctx, "select current_user, current_setting($1), current_setting($2), current_setting($3)",
			w.opts.GroupsSetting("member"), w.opts.AdminSetting(), w.opts.SubjectSetting()).Scan(&role, &groups, &admin, &subject); err != nil {
			return err
		}
		if role != w.opts.AppRole() || groups != ",1," || admin != "true" || subject != c.Subject() {
			t.Errorf("in the transaction: role %s, groups %s, admin %s, subject %q", role, groups, admin, subject)
		}
		if _, err := tx.Exec(ctx, "insert into threads (title, group_id, created_by) values ('rolled back', 1, $1)", c.Subject()); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want fn's error", err)
	}
	func() {
		defer func() { _ = recover() }()
		_ = wall.WithCapability(ctx, conn, c, w.opts, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "insert into threads (title, group_id, created_by) values ('rolled back', 1, $1)", c.Subject()); err != nil {
				return err
			}
			panic("fn panics")
		})
	}()
	if got := ownerIDs(t, w, "select count(*) from threads where title = 'rolled back'"); got[0] != 0 {
		t.Errorf("%d rows of failed transactions committed", got[0])
	}
	var role string
	var groups, admin *string
	if err := conn.QueryRow(ctx, "select current_user, nullif(current_setting($1, true), ''), nullif(current_setting($2, true), '')",
		w.opts.GroupsSetting("member"), w.opts.AdminSetting()).Scan(&role, &groups, &admin); err != nil {
		t.Fatal(err)
	}
	if role != w.testRole || groups != nil || admin != nil {
		t.Errorf("after the transaction: role %s, groups %v, admin %v; want %s and no settings", role, groups, admin, w.testRole)
	}
	// Commit.
	err = wall.WithCapability(ctx, conn, c, w.opts, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "insert into threads (title, group_id, created_by) values ('committed', 1, $1)", c.Subject())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := ownerIDs(t, w, "select count(*) from threads where title = 'committed'"); got[0] != 1 {
		t.Errorf("%d committed rows, want 1", got[0])
	}
	// A nil capability holds nothing.
	err = wall.WithCapability(ctx, conn, nil, w.opts, func(tx pgx.Tx) error {
		if got := ids(t, tx, "select count(*) from threads"); got[0] != 0 {
			t.Errorf("nil capability sees %d threads", got[0])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestSecondWallRefusesBadOptions(t *testing.T) {
	f := newWallForum(t)
	for _, o := range []wall.Options{
		{Prefix: "Bad"}, {Prefix: "a-b"}, {Settings: "x.y"}, {Grantees: []string{"app; drop"}},
		{Prefix: strings.Repeat("a", 60)},
	} {
		if _, err := wall.Script(f.reg, o); err == nil {
			t.Errorf("SecondWall(%+v) = nil error", o)
		}
	}
	reg := sqlguard.MustNewRegistry(wallRoles, capability.KindInt64)
	reg.MustUpdate(sqlguard.Policy{Name: "threads.rekey", Table: "threads", Key: []string{"id"}, Set: []string{"id"},
		GroupColumn: "group_id", Role: "member"})
	if _, err := wall.Script(reg, wall.Options{}); err == nil {
		t.Error("an update of its own key: nil error")
	}
}

// TestSecondWallRerun applies the wall twice, the second time for a
// narrower registry: privileges and policies follow.
func TestSecondWallRerun(t *testing.T) {
	f := newWallForum(t)
	w := newWallDB(t, f.reg)
	ctx := t.Context()
	reg := sqlguard.MustNewRegistry(wallRoles, capability.KindInt64)
	reg.MustList(sqlguard.Policy{Name: "threads.list", Table: "threads", GroupColumn: "group_id", Role: "member",
		Query: sq.Select("id")})
	reg.MustList(sqlguard.Policy{Name: "posts.list", Table: "posts", Parents: wallThread, GroupColumn: "group_id", Role: "member",
		Query: sq.Select("id")})
	reg.MustList(sqlguard.Policy{Name: "comments.list", Table: "comments", Parents: []sqlguard.Parent{{Column: "post_id", Table: "posts"}, {Column: "thread_id", Table: "threads"}},
		GroupColumn: "group_id", Role: "member", Query: sq.Select("id")})
	script, err := wall.Script(reg, w.opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Owner.Exec(ctx, script); err != nil {
		t.Fatal(err)
	}
	c := wallCap(t, "bob", true, map[int64]string{1: "moderator"})
	err = wall.WithCapability(ctx, w.Pool, c, w.opts, func(tx pgx.Tx) error {
		if got := ids(t, tx, "select id from threads order by id"); !slices.Equal(got, []int64{1, 2}) {
			t.Errorf("threads: got %v, want [1 2] (no admin override any more)", got)
		}
		_, err := tx.Exec(ctx, "delete from threads")
		return err
	})
	if !sqlguard.IsInsufficientPrivilege(err) {
		t.Errorf("delete after the narrower wall: got %v, want insufficient_privilege", err)
	}
}

// TestSecondWallGrants checks the privileges of the generated roles: each
// application role's PostgreSQL role holds what its policies use, the
// hierarchy is mirrored, and nothing reaches a table no policy names.
func TestSecondWallGrants(t *testing.T) {
	w := newWallDB(t, newWallForum(t).reg)
	ctx := t.Context()
	member, moderator, app := w.opts.RoleFor("member"), w.opts.RoleFor("moderator"), w.opts.AppRole()
	for _, tc := range []struct {
		role, table, column, priv string
		want                      bool
	}{
		{member, "threads", "", "SELECT", true},
		{member, "threads", "", "DELETE", false},
		{moderator, "threads", "", "DELETE", true},   // threads.delete
		{member, "threads", "title", "UPDATE", true}, // threads.rename
		{member, "threads", "group_id", "UPDATE", false},
		{moderator, "threads", "group_id", "UPDATE", true}, // threads.move
		{moderator, "threads", "title", "UPDATE", true},    // inherited from member
		{member, "posts", "content", "UPDATE", false},
		{moderator, "posts", "content", "UPDATE", true}, // posts.edit
		{member, "posts", "id", "UPDATE", true},         // comments.create locks the post
		{app, "posts", "author", "UPDATE", false},
		{app, "comments", "", "DELETE", false},
		{app, "secrets", "", "SELECT", false},
		{app, "threads", "id", "INSERT", true}, // threads.upsert
		{member, "threads", "id", "INSERT", false},
	} {
		var got bool
		var err error
		if tc.column == "" {
			err = w.Owner.QueryRow(ctx, "select has_table_privilege($1, $2, $3)", tc.role, tc.table, tc.priv).Scan(&got)
		} else {
			err = w.Owner.QueryRow(ctx, "select has_column_privilege($1, $2, $3, $4)", tc.role, tc.table, tc.column, tc.priv).Scan(&got)
		}
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("%s %s on %s(%s): got %v, want %v", tc.role, tc.priv, tc.table, tc.column, got, tc.want)
		}
	}
	c := wallCap(t, "bob", true, map[int64]string{1: "moderator"})
	err := wall.WithCapability(ctx, w.Pool, c, w.opts, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "select * from secrets")
		return err
	})
	if !sqlguard.IsInsufficientPrivilege(err) {
		t.Errorf("an admin's raw read of secrets: got %v, want insufficient_privilege", err)
	}
}
