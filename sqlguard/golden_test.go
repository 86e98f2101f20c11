package sqlguard_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/internal/testdb"
	"github.com/keyhole-go/keyhole/sqlguard"
)

var update = flag.Bool("update", false, "rewrite the golden SQL files in testdata/")

// goldenText renders a policy's statement(s) and parameters.
func goldenText(p sqlguard.PolicyInfo) string {
	var b strings.Builder
	fmt.Fprintf(&b, "-- %s (%s) on %s\n", p.Name, p.Kind, p.Table)
	params := func(ps []sqlguard.ParamInfo) {
		for _, x := range ps {
			fmt.Fprintf(&b, "-- $%d: %s", x.N, x.Source)
			switch x.Source {
			case "value":
				fmt.Fprintf(&b, " %d (%s)", x.Value, p.Values[x.Value])
			case "group-match":
				fmt.Fprintf(&b, " %s ∩ value %d (%s)", x.Role, x.Value, p.Values[x.Value])
			case "groups", "groups-list":
				fmt.Fprintf(&b, " %s", x.Role)
			case "constant":
				fmt.Fprintf(&b, " %s", x.Constant)
			}
			b.WriteString("\n")
		}
	}
	params(p.Params)
	b.WriteString(p.SQL + ";\n")
	if p.AdminSQL != "" {
		b.WriteString("\n-- for admin capabilities:\n")
		params(p.AdminParams)
		b.WriteString(p.AdminSQL + ";\n")
	}
	return b.String()
}

// TestGolden compares each policy's SQL with testdata/<policy>.sql
// (rewritten with -update), and runs every one of them against
// PostgreSQL: equal text does not prove that access is enforced.
func TestGolden(t *testing.T) {
	kind := capability.KindInt64
	f := newForum(t, kind)
	for _, p := range f.reg.Policies() {
		path := filepath.Join("testdata", p.Name+".sql")
		got := goldenText(p)
		if *update {
			if err := os.MkdirAll("testdata", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./sqlguard -run Golden -update)", err)
		}
		if got != string(want) {
			t.Errorf("%s changed:\ngot:\n%s\nwant:\n%s\n(run go test ./sqlguard -run Golden -update if intended)", path, got, want)
		}
	}

	// Run each statement: allowed once, refused once.
	db := testdb.New(t, forumSchema(kind))
	seedForum(t, db, kind)
	c := forumCaps(t, kind)
	ctx := t.Context()
	G := func(n int64) capability.Group { return grp(kind, n) }
	var id int64
	var title string
	// Each policy: a call it allows, and a call it refuses with exactly
	// the outcome want, which must leave every table as it was.
	type run struct {
		allowed, refused func(tx pgx.Tx) error
		want             string // outcome of the refused call: denied or notfound
	}
	runs := map[string]run{
		"threads.create": {
			allowed: func(tx pgx.Tx) error { return f.createThread.QueryRow(ctx, tx, c.alice, "t", G(1)).Scan(&id) },
			refused: func(tx pgx.Tx) error { return f.createThread.QueryRow(ctx, tx, c.alice, "t", G(3)).Scan(&id) },
			want:    "denied",
		},
		"posts.create": {
			allowed: func(tx pgx.Tx) error { return f.createPost.QueryRow(ctx, tx, c.alice, "p", int64(1)).Scan(&id) },
			refused: func(tx pgx.Tx) error { return f.createPost.QueryRow(ctx, tx, c.alice, "p", int64(3)).Scan(&id) },
			want:    "notfound",
		},
		"posts.announce": {
			allowed: func(tx pgx.Tx) error { return f.announce.Exec(ctx, tx, c.alice, "a", int64(2)) },
			refused: func(tx pgx.Tx) error { return f.announce.Exec(ctx, tx, c.alice, "a", int64(1)) },
			want:    "denied",
		},
		"comments.create": {
			allowed: func(tx pgx.Tx) error { return f.createComment.Exec(ctx, tx, c.bob, "c", int64(13)) },
			refused: func(tx pgx.Tx) error { return f.createComment.Exec(ctx, tx, c.bob, "c", int64(11)) },
			want:    "notfound",
		},
		"threads.delete": {
			allowed: func(tx pgx.Tx) error { return f.deleteThread.Exec(ctx, tx, c.alice, int64(2)) },
			refused: func(tx pgx.Tx) error { return f.deleteThread.Exec(ctx, tx, c.alice, int64(1)) },
			want:    "denied",
		},
		"threads.move": {
			allowed: func(tx pgx.Tx) error {
				var g int64
				return f.moveThread.QueryRow(ctx, tx, c.admin, int64(3), G(1)).Scan(&id, &g)
			},
			refused: func(tx pgx.Tx) error { return f.moveThread.Exec(ctx, tx, c.alice, int64(1), G(2)) },
			want:    "denied",
		},
		"posts.edit": {
			allowed: func(tx pgx.Tx) error { return f.editPost.Exec(ctx, tx, c.bob, int64(11), "x") },
			refused: func(tx pgx.Tx) error { return f.editPost.Exec(ctx, tx, c.bob, int64(13), "x") },
			want:    "denied",
		},
		"posts.move": {
			allowed: func(tx pgx.Tx) error { return f.movePost.Exec(ctx, tx, c.alice, int64(13), int64(2)) },
			refused: func(tx pgx.Tx) error { return f.movePost.Exec(ctx, tx, c.alice, int64(13), int64(1)) },
			want:    "denied",
		},
		"threads.rename": {
			allowed: func(tx pgx.Tx) error { return f.renameThread.Exec(ctx, tx, c.alice, int64(2), "x", "x") },
			refused: func(tx pgx.Tx) error { return f.renameThread.Exec(ctx, tx, c.alice, int64(5), "x", "x") },
			want:    "notfound",
		},
		"threads.upsert": {
			allowed: func(tx pgx.Tx) error { return f.upsertThread.QueryRow(ctx, tx, c.alice, int64(2), "u", G(2)).Scan(&id) },
			refused: func(tx pgx.Tx) error { return f.upsertThread.QueryRow(ctx, tx, c.alice, int64(1), "u", G(2)).Scan(&id) },
			want:    "denied",
		},
		"threads.get": {
			allowed: func(tx pgx.Tx) error { return f.getThread.QueryRow(ctx, tx, c.alice, int64(1)).Scan(&id, &title) },
			refused: func(tx pgx.Tx) error { return f.getThread.QueryRow(ctx, tx, c.alice, int64(3)).Scan(&id, &title) },
			want:    "notfound",
		},
		"threads.peek": {
			allowed: func(tx pgx.Tx) error { return f.peekThread.QueryRow(ctx, tx, c.alice, int64(1)).Scan(&id, &title) },
			refused: func(tx pgx.Tx) error { return f.peekThread.QueryRow(ctx, tx, c.alice, int64(3)).Scan(&id, &title) },
			want:    "denied",
		},
		"threads.list": {
			allowed: func(tx pgx.Tx) error { return listsSome(ctx, tx, f.listThreads, c.alice, 1) },
			refused: func(tx pgx.Tx) error { return listsSome(ctx, tx, f.listThreads, c.empty, 0) },
			want:    "notfound",
		},
		"threads.list.two": {
			allowed: func(tx pgx.Tx) error { return listsSome(ctx, tx, f.listTwo, c.alice, int64(1), int64(3)) },
			refused: func(tx pgx.Tx) error { return listsSome(ctx, tx, f.listTwo, c.alice, int64(3), int64(4)) },
			want:    "notfound",
		},
		"posts.list": {
			allowed: func(tx pgx.Tx) error { return listsSome(ctx, tx, f.listPosts, c.bob) },
			refused: func(tx pgx.Tx) error { return listsSome(ctx, tx, f.listPosts, c.none) },
			want:    "notfound",
		},
	}
	for _, p := range f.reg.Policies() {
		run, ok := runs[p.Name]
		if !ok {
			t.Errorf("golden policy %s is never run", p.Name)
			continue
		}
		inTx(t, db.Pool, func(tx pgx.Tx) {
			if err := run.allowed(tx); err != nil {
				t.Errorf("%s: allowed call: %v", p.Name, err)
			}
			before := tableContents(t, tx)
			err := run.refused(tx)
			if got := outcome(err); got != run.want {
				t.Errorf("%s: refused call: got %s (%v), want %s", p.Name, got, err, run.want)
			}
			if after := tableContents(t, tx); after != before {
				t.Errorf("%s: the refused call changed the tables:\n%s\nwas\n%s", p.Name, after, before)
			}
		})
	}
}

// tableContents renders every row of the forum's tables, as seen by tx.
func tableContents(t testing.TB, tx pgx.Tx) string {
	t.Helper()
	var s string
	err := tx.QueryRow(t.Context(), `select
		coalesce((select string_agg(x::text, ';' order by x.id) from threads x), '') || ' | ' ||
		coalesce((select string_agg(x::text, ';' order by x.id) from posts x), '') || ' | ' ||
		coalesce((select string_agg(x::text, ';' order by x.id) from comments x), '')`).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// listsSome returns nil if the list returns rows, ErrNotFound otherwise.
func listsSome(ctx context.Context, db sqlguard.DB, l *sqlguard.List, c *capability.Capability, values ...any) error {
	rows, err := l.Query(ctx, db, c, values...)
	if err != nil {
		return err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return sqlguard.ErrNotFound
	}
	return nil
}
