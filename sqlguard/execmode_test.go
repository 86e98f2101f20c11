package sqlguard_test

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/keyhole-go/keyhole/internal/testdb"
	"github.com/keyhole-go/keyhole/sqlguard"
)

// TestQueryExecModes runs one statement of each shape in every pgx query
// mode, the simple protocol included (describe_exec on a DB declared
// direct with sqlguard.DirectConnection): where the
// mode knows the parameter types the arrays go as memoized binary, and
// otherwise as text cast in the statement, so every mode gets the same
// answers; and so does a connection that was not set up with
// sqlguard.RegisterTypes (the text form in every mode).
func TestQueryExecModes(t *testing.T) {
	for _, kind := range allKinds {
		db := testdb.New(t, forumSchema(kind))
		seedForum(t, db, kind)
		f := newForum(t, kind)
		c := forumCaps(t, kind)
		ctx := t.Context()
		for _, m := range []string{"cache_statement", "cache_describe", "describe_exec", "exec", "simple_protocol",
			"cache_statement unregistered", "exec unregistered"} {
			mode, unregistered := strings.CutSuffix(m, " unregistered")
			cfg, err := pgx.ParseConfig(db.URL + "&default_query_exec_mode=" + mode)
			if err != nil {
				t.Fatal(err)
			}
			conn, err := pgx.ConnectConfig(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if !unregistered {
				if err := sqlguard.RegisterTypes(ctx, conn); err != nil {
					t.Fatal(err)
				}
			}
			if got := sqlguard.TypesRegistered(conn); got == unregistered {
				t.Errorf("%v %s: TypesRegistered %v", kind, m, got)
			}
			tx, err := conn.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// describe_exec is refused unless the DB is declared direct
			// (TestDescribeExecRefused): here it is, no pooler is on the way.
			var db sqlguard.DB = tx
			if mode == "describe_exec" {
				db = sqlguard.DirectConnection(tx)
			}
			var id int64
			for _, tc := range []struct {
				what string
				err  error
				want string
			}{
				{"create thread", f.createThread.QueryRow(ctx, db, c.bob, "t", grp(kind, 13)).Scan(&id), "ok"},
				{"create thread elsewhere", f.createThread.Exec(ctx, db, c.bob, "t", grp(kind, 1)), "denied"},
				{"create post", f.createPost.QueryRow(ctx, db, c.alice, "p", int64(1)).Scan(&id), "ok"},
				{"announce", f.announce.Exec(ctx, db, c.alice, "a", int64(1)), "denied"},
				{"delete", f.deleteThread.Exec(ctx, db, c.alice, int64(3)), "notfound"},
				{"edit own", f.editPost.Exec(ctx, db, c.bob, int64(11), "x"), "ok"},
				{"peek", f.peekThread.QueryRow(ctx, db, c.alice, int64(3)).Scan(&id, new(string)), "denied"},
				{"upsert", f.upsertThread.Exec(ctx, db, c.alice, int64(600), "u", grp(kind, 2)), "ok"},
				{"list", listsSome(ctx, db, f.listThreads, c.big, int64(0)), "ok"},
			} {
				if got := outcome(tc.err); got != tc.want {
					t.Errorf("%v %s: %s: got %s, want %s (%v)", kind, m, tc.what, got, tc.want, tc.err)
				}
			}
			if err := tx.Rollback(ctx); err != nil {
				t.Fatal(err)
			}
			if err := conn.Close(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
}
