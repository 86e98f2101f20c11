package sqlguard_test

import (
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/internal/testdb"
	"github.com/keyhole-go/keyhole/sqlguard"
)

// TestDirectInsertMatch: a direct insert binds the capability's groups
// intersected with the inserted group as a scalar of the column's type,
// the group itself or NULL. A non-member's insert binds NULL, is denied and
// writes nothing; a member's binds the group and writes it; for every group
// column type (int8, uuid, text, with a text id that needs escaping in an
// array literal), the group passed as its Go value or as a
// capability.Group, with and without the admin override, and in every pgx
// query mode.
func TestDirectInsertMatch(t *testing.T) {
	for _, kind := range allKinds {
		t.Run(kind.String(), func(t *testing.T) {
			db := testdb.New(t, forumSchema(kind))
			seedForum(t, db, kind)
			f := newForum(t, kind)
			c := forumCaps(t, kind)
			ctx := t.Context()
			// With the admin override: ($2 = $4::int8 OR $5), NULL OR TRUE.
			adminCreate := f.reg.MustInsert(sqlguard.Policy{
				Name: "threads.create.admin", Table: "threads",
				Columns: []string{"title", "group_id"}, SubjectColumn: "created_by",
				GroupColumn: "group_id", Role: "member", AdminOverride: true,
			})
			// bob is a member of 2 and 13, not of 1.
			for _, tc := range []struct {
				n    int64
				held bool
			}{{1, false}, {2, true}, {13, true}} {
				for _, g := range []any{grp(kind, tc.n), groupArg(grp(kind, tc.n))} {
					_, args, err := f.createThread.Bind(c.bob, "t", g)
					if err != nil {
						t.Fatal(err)
					}
					// $2 the group as bound, $4 the intersection.
					switch {
					case !tc.held && args[3] != nil:
						t.Errorf("group %d (%T): intersection bound as %#v, want nil (NULL)", tc.n, g, args[3])
					case tc.held && args[3] != args[1]:
						t.Errorf("group %d (%T): intersection bound as %#v, want %#v", tc.n, g, args[3], args[1])
					}
				}
			}
			for _, mode := range []string{"cache_statement", "cache_describe", "describe_exec", "exec", "simple_protocol"} {
				cfg, err := pgx.ParseConfig(db.URL + "&default_query_exec_mode=" + mode)
				if err != nil {
					t.Fatal(err)
				}
				conn, err := pgx.ConnectConfig(ctx, cfg)
				if err != nil {
					t.Fatal(err)
				}
				tx, err := conn.Begin(ctx)
				if err != nil {
					t.Fatal(err)
				}
				// describe_exec runs only on a DB declared free of poolers.
				var gdb sqlguard.DB = tx
				if mode == "describe_exec" {
					gdb = sqlguard.DirectConnection(tx)
				}
				// count reads back, as text, the rows a title names.
				count := func(title string, g capability.Group) int {
					t.Helper()
					want := g.String()
					if s, ok := g.Text(); ok {
						want = s
					}
					var n int
					if err := tx.QueryRow(ctx, `select count(*) from threads where title = $1 and group_id::text = $2`, title, want).Scan(&n); err != nil {
						t.Fatal(err)
					}
					return n
				}
				for _, tc := range []struct {
					n    int64
					want string
				}{{1, "denied"}, {3, "denied"}, {2, "ok"}, {13, "ok"}} {
					for i, g := range []any{grp(kind, tc.n), groupArg(grp(kind, tc.n))} {
						title := mode + "/" + kind.String()
						var id int64
						err := f.createThread.QueryRow(ctx, gdb, c.bob, title, g).Scan(&id)
						if got := outcome(err); got != tc.want {
							t.Errorf("%s: bob inserts into group %d (%T): got %s, want %s (%v)", mode, tc.n, g, got, tc.want, err)
						}
						want := 0
						if tc.want == "ok" {
							want = i + 1
						}
						if got := count(title, grp(kind, tc.n)); got != want {
							t.Errorf("%s: group %d (%T): %d rows, want %d", mode, tc.n, g, got, want)
						}
					}
				}
				for _, tc := range []struct {
					who  string
					cp   *capability.Capability
					n    int64
					want string
				}{{"admin", c.admin, 1, "ok"}, {"bob", c.bob, 1, "denied"}, {"bob", c.bob, 2, "ok"}} {
					title := "override/" + mode + "/" + tc.who
					err := adminCreate.Exec(ctx, gdb, tc.cp, title, groupArg(grp(kind, tc.n)))
					if got := outcome(err); got != tc.want {
						t.Errorf("%s: %s inserts with the override into group %d: got %s, want %s (%v)", mode, tc.who, tc.n, got, tc.want, err)
					}
					want := 0
					if tc.want == "ok" {
						want = 1
					}
					if got := count(title, grp(kind, tc.n)); got != want {
						t.Errorf("%s: %s, group %d, with the override: %d rows, want %d", mode, tc.who, tc.n, got, want)
					}
				}
				// The empty and the nil capability hold nothing.
				for _, cp := range []*capability.Capability{c.empty, c.none} {
					if err := f.createThread.Exec(ctx, gdb, cp, "nobody", groupArg(grp(kind, 2))); outcome(err) != "denied" {
						t.Errorf("%s: insert with no groups: %v", mode, err)
					}
				}
				if n := count("nobody", grp(kind, 2)); n != 0 {
					t.Errorf("%s: insert with no groups wrote %d rows", mode, n)
				}
				if err := tx.Rollback(ctx); err != nil {
					t.Fatal(err)
				}
				if err := conn.Close(ctx); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
