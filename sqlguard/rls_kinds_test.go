package sqlguard_test

import (
	"errors"
	"slices"
	"testing"

	sq "github.com/Masterminds/squirrel"
	"github.com/jackc/pgx/v5"

	"github.com/keyhole-go/keyhole/internal/testdb"
	"github.com/keyhole-go/keyhole/sqlguard"
	"github.com/keyhole-go/keyhole/sqlguard/wall"
)

// TestSecondWallKinds runs the second wall on every kind of group id: the
// policies compare int8 and uuid ids as delimited text and text ids as an
// array (see wall's groupsExpr). Raw statements that forgot their guard,
// through wall.Wall.Bind and inside wall.WithCapability, read and write
// only in the capability's groups, among them group 13 (for text ids
// `g-"13",{x}\ NULL`: quotes, a comma, braces, a backslash and NULL), and
// never in another group, nor in a group whose text holds a held one's
// (1 in 13 for int8).
func TestSecondWallKinds(t *testing.T) {
	for _, kind := range allKinds {
		t.Run(kind.String(), func(t *testing.T) {
			ctx := t.Context()
			db := testdb.New(t, forumSchema(kind))
			seedForum(t, db, kind)
			reg := sqlguard.MustNewRegistry(forumRoles, kind)
			reg.MustInsert(sqlguard.Policy{Name: "threads.create", Table: "threads",
				Columns: []string{"title", "group_id"}, SubjectColumn: "created_by", GroupColumn: "group_id", Role: "member"})
			createPost := reg.MustInsert(sqlguard.Policy{Name: "posts.create", Table: "posts",
				Columns: []string{"content", "thread_id"}, SubjectColumn: "author", Parents: threadParent,
				GroupColumn: "group_id", Role: "member"})
			reg.MustList(sqlguard.Policy{Name: "threads.list", Table: "threads", GroupColumn: "group_id", Role: "member",
				Query: sq.Select("id")})
			var testRole string
			if err := db.Pool.QueryRow(ctx, "select current_user").Scan(&testRole); err != nil {
				t.Fatal(err)
			}
			opts := applyWall(t, db, reg, testRole)
			wl, err := wall.New(reg, opts)
			if err != nil {
				t.Fatal(err)
			}
			// Threads 1 and 5 are in group 1, 6 in group 13, 2 in 2, 3 in
			// 3, 4 in none.
			c := newCap(t, kind, "alice", false, map[int64]string{13: "member", 3: "moderator"})
			paths := map[string]func(fn func(db sqlguard.DB) error) error{
				"bound": func(fn func(db sqlguard.DB) error) error { return fn(wl.Bind(db.Pool, c)) },
				"withcap": func(fn func(db sqlguard.DB) error) error {
					return wall.WithCapability(ctx, db.Pool, c, opts, func(tx pgx.Tx) error { return fn(tx) })
				},
			}
			for _, name := range []string{"bound", "withcap"} {
				run := paths[name]
				var ids []int64
				if err := run(func(d sqlguard.DB) error {
					rows, err := d.Query(ctx, "select id from threads where id < 100 order by id")
					if err != nil {
						return err
					}
					ids, err = pgx.CollectRows(rows, pgx.RowTo[int64])
					return err
				}); err != nil {
					t.Fatal(err)
				}
				if want := []int64{3, 6}; !slices.Equal(ids, want) {
					t.Errorf("%s: raw select: got %v, want %v", name, ids, want)
				}
				for _, tc := range []struct {
					what string
					sql  string
					args []any
					ok   bool
				}{
					{"thread in 13", "insert into threads (title, created_by, group_id) values ('t', 'alice', $1)", []any{groupArg(grp(kind, 13))}, true},
					{"thread in 3", "insert into threads (title, created_by, group_id) values ('t', 'alice', $1)", []any{groupArg(grp(kind, 3))}, true},
					{"thread in 1", "insert into threads (title, created_by, group_id) values ('t', 'alice', $1)", []any{groupArg(grp(kind, 1))}, false},
					{"thread in 2", "insert into threads (title, created_by, group_id) values ('t', 'alice', $1)", []any{groupArg(grp(kind, 2))}, false},
					{"thread in no group", "insert into threads (title, created_by, group_id) values ('t', 'alice', NULL)", nil, false},
					{"post in thread 6", "insert into posts (content, author, thread_id) values ('p', 'alice', 6)", nil, true},
					{"post in thread 1", "insert into posts (content, author, thread_id) values ('p', 'alice', 1)", nil, false},
					{"post in thread 4", "insert into posts (content, author, thread_id) values ('p', 'alice', 4)", nil, false},
				} {
					err := run(func(d sqlguard.DB) error { _, err := d.Exec(ctx, tc.sql, tc.args...); return err })
					switch {
					case tc.ok && err != nil:
						t.Errorf("%s: %s: %v", name, tc.what, err)
					case !tc.ok && !sqlguard.IsInsufficientPrivilege(err):
						t.Errorf("%s: %s: got %v, want insufficient_privilege", name, tc.what, err)
					}
				}
				// Guarded, through the wall: the child insert compares its
				// parent's group as delimited text (int8, uuid) too.
				for thread, want := range map[int64]bool{6: true, 3: true, 1: false, 4: false} {
					err := run(func(d sqlguard.DB) error { return createPost.Exec(ctx, d, c, "p", thread) })
					var denied *sqlguard.DeniedError
					switch {
					case want && err != nil:
						t.Errorf("%s: guarded post in thread %d: %v", name, thread, err)
					case !want && !errors.As(err, &denied) && !errors.Is(err, sqlguard.ErrNotFound):
						t.Errorf("%s: guarded post in thread %d: got %v, want refused", name, thread, err)
					}
				}
			}
			var n int
			if err := db.Owner.QueryRow(ctx, "select count(*) from posts where thread_id in (1, 4) and author = 'alice'").Scan(&n); err != nil || n != 0 {
				t.Errorf("posts written in threads 1 and 4: %d, %v", n, err)
			}
		})
	}
}
