package sqlguard_test

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/sqlguard"
	"github.com/keyhole-go/keyhole/sqlguard/wall"
)

var (
	wallSeedFlag  = flag.Uint64("wall.seed", 0, "seed of TestSecondWallDifferential (default: random)")
	wallCasesFlag = flag.Int("wall.cases", 2000, "number of cases of TestSecondWallDifferential")
)

// wallOp is one operation of the differential test: a policy of
// newWallForum and the raw, unguarded statement that does the same.
type wallOp struct {
	policy string
	raw    string
	vals   func(r *rand.Rand) []any                         // the policy's call values
	args   func(vals []any, c *capability.Capability) []any // the raw statement's arguments
}

func subjectArg(c *capability.Capability) any {
	if c.Subject() == "" {
		return nil
	}
	return c.Subject()
}

func gid(v any) int64 { n, _ := v.(capability.Group).Int64(); return n }

var wallOps = []wallOp{
	{"threads.create", "insert into threads (title, group_id, created_by) values ($1, $2, $3)",
		func(r *rand.Rand) []any { return []any{"t", capability.Int64Group(1 + r.Int64N(5))} },
		func(v []any, c *capability.Capability) []any { return []any{v[0], gid(v[1]), subjectArg(c)} }},
	{"threads.delete", "delete from threads where id = $1",
		func(r *rand.Rand) []any { return []any{1 + r.Int64N(9)} },
		func(v []any, c *capability.Capability) []any { return v }},
	{"threads.move", "update threads set group_id = $2 where id = $1",
		func(r *rand.Rand) []any { return []any{1 + r.Int64N(9), capability.Int64Group(1 + r.Int64N(5))} },
		func(v []any, c *capability.Capability) []any { return []any{v[0], gid(v[1])} }},
	{"threads.rename", "update threads set title = $2 where id = $1",
		func(r *rand.Rand) []any { return []any{1 + r.Int64N(9), "renamed"} },
		func(v []any, c *capability.Capability) []any { return v }},
	{"threads.upsert", "insert into threads (id, title, group_id, created_by) values ($1, $2, $3, $4) on conflict (id) do update set title = excluded.title, group_id = excluded.group_id",
		func(r *rand.Rand) []any {
			return []any{1 + r.Int64N(9), "upserted", capability.Int64Group(1 + r.Int64N(5))}
		},
		func(v []any, c *capability.Capability) []any { return []any{v[0], v[1], gid(v[2]), subjectArg(c)} }},
	{"posts.create", "insert into posts (content, thread_id, author) values ($1, $2, $3)",
		func(r *rand.Rand) []any { return []any{"p", 1 + r.Int64N(9)} },
		func(v []any, c *capability.Capability) []any { return []any{v[0], v[1], subjectArg(c)} }},
	{"posts.edit", "update posts set content = $2 where id = $1",
		func(r *rand.Rand) []any { return []any{1 + r.Int64N(17), "edited"} },
		func(v []any, c *capability.Capability) []any { return v }},
	{"posts.move", "update posts set thread_id = $2 where id = $1",
		func(r *rand.Rand) []any { return []any{1 + r.Int64N(17), 1 + r.Int64N(9)} },
		func(v []any, c *capability.Capability) []any { return v }},
	{"posts.delete", "delete from posts where id = $1",
		func(r *rand.Rand) []any { return []any{1 + r.Int64N(17)} },
		func(v []any, c *capability.Capability) []any { return v }},
	{"comments.create", "insert into comments (body, post_id, author) values ($1, $2, $3)",
		func(r *rand.Rand) []any { return []any{"c", 1 + r.Int64N(17)} },
		func(v []any, c *capability.Capability) []any { return []any{v[0], v[1], subjectArg(c)} }},
	{"threads.list", "select id from threads order by id",
		func(r *rand.Rand) []any { return nil },
		func(v []any, c *capability.Capability) []any { return nil }},
	{"posts.list", "select id from posts order by id",
		func(r *rand.Rand) []any { return nil },
		func(v []any, c *capability.Capability) []any { return nil }},
	{"comments.list", "select id from comments order by id",
		func(r *rand.Rand) []any { return nil },
		func(v []any, c *capability.Capability) []any { return nil }},
	{"threads.get", "select id from threads where id = $1",
		func(r *rand.Rand) []any { return []any{1 + r.Int64N(9)} },
		func(v []any, c *capability.Capability) []any { return v }},
}

// TestSecondWallDifferential runs random operations by random
// capabilities four ways and compares the answers: the guards alone (a
// database without the wall), the wall alone (the raw, unguarded
// statement inside WithCapability), both (the guarded statement inside
// WithCapability) and bound (both in one round trip: the guarded statement
// through wall.Wall.Bind, outside any transaction). Answers are "ok" or
// "refused" for writes (a write that changed no row is refused) and the
// ids read for reads. Every case starts from the same rows (each runs in a
// transaction that is rolled back; the rows a bound write committed are
// seeded again).
//
// Both together (in either mode) must always answer as the guards alone. The wall alone
// judges the change a statement makes, where a guard judges the
// statement: a raw "move" to the group (or parent) the row is already in
// changes only what another policy may change (nothing, or the title that
// threads.rename may set), and the wall allows it; a raw upsert of a new
// row is, to the wall, a threads.create that also chose the id (column
// privileges are the union of the table's policies). For those cases
// (otherPolicysChange) the wall alone must allow at least what the guards
// allow; for all others it must answer exactly as they do.
//
//	go test ./sqlguard -run TestSecondWallDifferential -wall.seed N -wall.cases M
func TestSecondWallDifferential(t *testing.T) {
	f := newWallForum(t)
	guards := newWallDB(t, nil)
	walled := newWallDB(t, f.reg)
	seed := *wallSeedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	cases := *wallCasesFlag
	if testing.Short() {
		cases = min(cases, 300)
	}
	t.Logf("seed %d (-wall.seed %d), %d cases", seed, seed, cases)
	r := rand.New(rand.NewPCG(seed, 0))
	ctx := t.Context()

	type mode struct {
		name string
		run  func(op wallOp, c *capability.Capability, vals []any) string
	}
	inTxOn := func(w *wallDB, fn func(tx pgx.Tx) string) string {
		tx, err := w.Pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		return fn(tx)
	}
	// writeErr is the error of the last guarded write: a write that the
	// wall refuses with 42501 (an upsert over a row it hides) aborts the
	// transaction, which must then roll back instead of committing.
	var writeErr error
	guarded := func(op wallOp, c *capability.Capability, vals []any, db sqlguard.DB) string {
		switch p := f.ops[op.policy].(type) {
		case *sqlguard.Write:
			writeErr = p.Exec(ctx, db, c, vals...)
			if writeErr != nil {
				return "refused"
			}
			return "ok"
		case *sqlguard.List:
			rows, err := p.Query(ctx, db, c, vals...)
			if err != nil {
				return "error: " + err.Error()
			}
			got, err := pgx.CollectRows(rows, pgx.RowTo[int64])
			if err != nil {
				return "error: " + err.Error()
			}
			return fmt.Sprint("ids:", got)
		case *sqlguard.Get:
			var id int64
			if err := p.QueryRow(ctx, db, c, vals...).Scan(&id); err != nil {
				return "ids:[]"
			}
			return fmt.Sprint("ids:", []int64{id})
		}
		panic(op.policy)
	}
	raw := func(op wallOp, c *capability.Capability, vals []any, tx pgx.Tx) (string, error) {
		args := op.args(vals, c)
		if op.raw[:6] == "select" {
			rows, err := tx.Query(ctx, op.raw, args...)
			if err != nil {
				return "", err
			}
			got, err := pgx.CollectRows(rows, pgx.RowTo[int64])
			if err != nil {
				return "", err
			}
			if got == nil {
				got = []int64{}
			}
			return fmt.Sprint("ids:", got), nil
		}
		tag, err := tx.Exec(ctx, op.raw, args...)
		if err != nil {
			return "", err
		}
		if tag.RowsAffected() == 0 {
			return "refused", nil
		}
		return "ok", nil
	}
	bound, err := wall.New(f.reg, walled.opts)
	if err != nil {
		t.Fatal(err)
	}
	modes := []mode{
		{"guards", func(op wallOp, c *capability.Capability, vals []any) string {
			return inTxOn(guards, func(tx pgx.Tx) string { return guarded(op, c, vals, tx) })
		}},
		{"wall", func(op wallOp, c *capability.Capability, vals []any) string {
			return inTxOn(walled, func(tx pgx.Tx) string {
				var got string
				err := wall.WithCapability(ctx, tx, c, walled.opts, func(tx pgx.Tx) error {
					var err error
					got, err = raw(op, c, vals, tx)
					return err
				})
				if err != nil {
					if sqlguard.IsInsufficientPrivilege(err) {
						return "refused"
					}
					return "error: " + err.Error()
				}
				return got
			})
		}},
		{"both", func(op wallOp, c *capability.Capability, vals []any) string {
			return inTxOn(walled, func(tx pgx.Tx) string {
				var got string
				writeErr = nil
				err := wall.WithCapability(ctx, tx, c, walled.opts, func(tx pgx.Tx) error {
					got = guarded(op, c, vals, tx)
					if sqlguard.IsInsufficientPrivilege(writeErr) {
						return writeErr
					}
					return nil
				})
				if err != nil {
					if sqlguard.IsInsufficientPrivilege(err) {
						return "refused"
					}
					return "error: " + err.Error()
				}
				return got
			})
		}},
		// bound: the guarded statement through wall.Wall.Bind, in one
		// round trip outside any transaction. A write commits: the rows
		// are seeded again after it.
		{"bound", func(op wallOp, c *capability.Capability, vals []any) string {
			got := guarded(op, c, vals, bound.Bind(walled.Pool, c))
			if _, write := f.ops[op.policy].(*sqlguard.Write); write && got == "ok" {
				if _, err := walled.Owner.Exec(ctx, "truncate threads, posts, comments;"+wallSeed); err != nil {
					t.Fatal(err)
				}
			}
			return got
		}},
	}
	failures, wider := 0, 0
	counts := map[string]int{}
	for i := range cases {
		roleAt := map[int64]string{}
		for g := int64(1); g <= 4; g++ {
			switch x := r.IntN(100); {
			case x < 35:
				roleAt[g] = "member"
			case x < 60:
				roleAt[g] = "moderator"
			}
		}
		subject := []string{"alice", "bob", "carol", ""}[r.IntN(4)]
		admin := r.IntN(10) == 0
		c := wallCap(t, subject, admin, roleAt)
		op := wallOps[r.IntN(len(wallOps))]
		vals := op.vals(r)
		var answers []string
		for _, m := range modes {
			answers = append(answers, m.run(op, c, vals))
		}
		counts[answers[0]]++
		wallOK := answers[1] == answers[0]
		if !wallOK && otherPolicysChange(op.policy, vals) && answers[0] == "refused" && answers[1] == "ok" {
			wallOK = true
			wider++
		}
		if !wallOK || answers[2] != answers[0] || answers[3] != answers[0] {
			failures++
			t.Errorf("case %d (seed %d): %s%v by %q admin=%v roles %v: guards %s, wall %s, both %s, bound %s",
				i, seed, op.policy, vals, subject, admin, roleAt, answers[0], answers[1], answers[2], answers[3])
			if failures >= 10 {
				t.Fatal("too many differences")
			}
		}
	}
	if counts["ok"] == 0 || counts["refused"] == 0 {
		t.Errorf("degenerate cases: %v", counts)
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	t.Logf("answers of the guards: ok %d, refused %d, %d distinct reads; the wall alone allowed %d changes another policy allows", counts["ok"], counts["refused"], len(keys)-2, wider)
}

// otherPolicysChange reports whether the change of a raw move or upsert of
// vals is one that another policy may make: it keeps an existing row (of
// wallSeed) in its group or parent, or it inserts a new thread.
func otherPolicysChange(policy string, vals []any) bool {
	switch policy {
	case "threads.move":
		id := vals[0].(int64)
		return id <= 8 && gid(vals[1]) == (id+1)/2
	case "threads.upsert":
		id := vals[0].(int64)
		return id > 8 || gid(vals[2]) == (id+1)/2
	case "posts.move":
		id := vals[0].(int64)
		return id <= 16 && vals[1].(int64) == (id+1)/2
	}
	return false
}
