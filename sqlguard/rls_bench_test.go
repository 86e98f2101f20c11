package sqlguard_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	sq "github.com/Masterminds/squirrel"
	"github.com/jackc/pgx/v5"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/sqlguard"
	"github.com/keyhole-go/keyhole/sqlguard/wall"
)

// BenchmarkInsertRLS measures the second wall on inserts, beside
// BenchmarkInsert's plain and guarded inserts (run both with -bench
// Insert):
//
//   - tx: the guarded insert in a transaction (begin, insert, commit) on a
//     database without the wall: the cost of the transaction alone;
//
//   - rls: the guarded insert inside WithCapability (begin, one
//     set_config statement, insert, commit) on a database with the wall:
//     what an application with the second wall runs;
//
//   - rls-raw: an unguarded insert inside WithCapability (the wall alone);
//
//   - rls-child: the guarded child insert (a post, FOR SHARE on its
//     thread) inside WithCapability.
//
//     go test ./sqlguard -run '^$' -bench 'Insert' -count 5
func BenchmarkInsertRLS(b *testing.B) {
	f := newWallForum(b)
	plain := newWallDB(b, nil)
	walled := newWallDB(b, f.reg)
	ctx := b.Context()
	thread := f.ops["threads.create"].(*sqlguard.Write)
	post := f.ops["posts.create"].(*sqlguard.Write)
	for _, n := range []int{3, 1000} {
		roleAt := map[int64]string{1: "member"}
		for g := int64(1001); len(roleAt) < n; g++ {
			roleAt[g] = "member"
		}
		c := wallCap(b, "alice", false, roleAt)
		g := capability.Int64Group(1)
		run := func(name string, fn func() error) {
			b.Run(fmt.Sprintf("%s/groups=%d", name, n), func(b *testing.B) {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := fn(); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
		run("tx", func() error {
			return pgx.BeginFunc(ctx, plain.Pool, func(tx pgx.Tx) error { return thread.Exec(ctx, tx, c, "t", g) })
		})
		run("rls", func() error {
			return wall.WithCapability(ctx, walled.Pool, c, walled.opts, func(tx pgx.Tx) error {
				return thread.Exec(ctx, tx, c, "t", g)
			})
		})
		run("rls-raw", func() error {
			return wall.WithCapability(ctx, walled.Pool, c, walled.opts, func(tx pgx.Tx) error {
				_, err := tx.Exec(ctx, "insert into threads (title, group_id, created_by) values ($1, $2, $3)", "t", int64(1), "alice")
				return err
			})
		})
		run("rls-child", func() error {
			return wall.WithCapability(ctx, walled.Pool, c, walled.opts, func(tx pgx.Tx) error {
				return post.Exec(ctx, tx, c, "p", int64(1))
			})
		})
	}
}

// benchWall is the wall forum with the benchmark's policies added: the
// inserts without RETURNING and without a lock (like the plain inserts
// they are compared with) and a page of threads.
type benchWall struct {
	*wallForum
	thread, post *sqlguard.Write
	page         *sqlguard.List
}

func newBenchWall(b *testing.B) *benchWall {
	f := newWallForum(b)
	return &benchWall{wallForum: f,
		thread: f.reg.MustInsert(sqlguard.Policy{Name: "bench.threads.create", Table: "threads",
			Columns: []string{"title", "group_id"}, SubjectColumn: "created_by", GroupColumn: "group_id", Role: "member"}),
		post: f.reg.MustInsert(sqlguard.Policy{Name: "bench.posts.create", Table: "posts",
			Columns: []string{"content", "thread_id"}, SubjectColumn: "author", Parents: wallThread,
			GroupColumn: "group_id", Role: "member"}),
		page: f.reg.MustList(sqlguard.Policy{Name: "bench.threads.page", Table: "threads", GroupColumn: "group_id", Role: "member",
			Query: sq.Select("id", "title").OrderBy("id").Limit(50)}),
	}
}

// benchGroupsCap holds member in groups 1..n.
func benchGroupsCap(b *testing.B, n int) *capability.Capability {
	roleAt := map[int64]string{}
	for g := int64(1); g <= int64(n); g++ {
		roleAt[g] = "member"
	}
	return wallCap(b, "alice", false, roleAt)
}

// variant is one way to run an operation, in an interleaved benchmark.
type variant struct {
	name string
	run  func() error
}

// interleaved runs every variant once per iteration, in turn, timing each
// call, so that the machine's load drifts over all of them alike; it
// reports each variant's median time in µs (<name>-µs) and, for each pair
// {variant, baseline} of ratios, the median time of the baseline divided
// by the variant's (<variant>÷<baseline>: 1 is as fast as the baseline,
// 0.5 twice as slow).
func interleaved(b *testing.B, vs []variant, ratios [][2]string) {
	times := make([][]time.Duration, len(vs))
	for iter := 0; b.Loop(); iter++ {
		// Each iteration starts at the next variant: no variant always
		// follows the same one.
		for k := range vs {
			i := (iter + k) % len(vs)
			v := vs[i]
			t0 := time.Now()
			if err := v.run(); err != nil {
				b.Fatalf("%s: %v", v.name, err)
			}
			times[i] = append(times[i], time.Since(t0))
		}
	}
	med := map[string]float64{}
	for i, v := range vs {
		slices.Sort(times[i])
		med[v.name] = float64(times[i][len(times[i])/2]) / 1e3
		b.ReportMetric(med[v.name], v.name+"-µs")
	}
	for _, r := range ratios {
		b.ReportMetric(med[r[1]]/med[r[0]], r[0]+"÷"+r[1])
	}
	b.ReportMetric(0, "ns/op")
}

// BenchmarkWallInsert compares, in one run, the ways to insert a thread
// (group 1) and a post (into thread 1, group 1) by a member of n groups:
//
//   - plain: the unguarded insert, no wall (one round trip);
//   - guarded: the guarded insert, no wall (one round trip);
//   - bound: the guarded insert under the wall through wall.Wall.Bind
//     (one round trip: set_config and the insert in one pipeline);
//   - withcap: the guarded insert inside wall.WithCapability (four round
//     trips: begin, set_config, insert, commit);
//   - rls-batch: hand-written RLS, the unguarded insert under the wall as
//     an application would pipeline it: BEGIN, set_config, insert, COMMIT
//     in one pgx batch (one round trip, four statements);
//   - rls-bound: the unguarded insert through wall.Wall.Bind (the wall
//     alone, one round trip, two statements).
//
// Every iteration runs every variant in turn (see interleaved), serially;
// the ratios are reported per -count round:
//
//	go test ./sqlguard -run '^$' -bench 'WallInsert' -count 7
func BenchmarkWallInsert(b *testing.B) {
	f := newBenchWall(b)
	plain := newWallDB(b, nil)
	walled := newWallDB(b, f.reg)
	wl, err := wall.New(f.reg, walled.opts)
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	o := walled.opts
	handSet := "select set_config('role', $1, true), set_config($2, $3, true), set_config($4, $5, true), set_config($6, $7, true), set_config($8, $9, true)"
	for _, n := range []int{3, 100, 1000} {
		c := benchGroupsCap(b, n)
		g := capability.Int64Group(1)
		db := wl.Bind(walled.Pool, c)
		hand := func(sql string, args ...any) error {
			batch := &pgx.Batch{}
			batch.Queue("begin")
			batch.Queue(handSet, o.AppRole(), o.AdminSetting(), "false", o.SubjectSetting(), "alice",
				o.GroupsSetting("member"), sqlguard.GroupsList(c, "member"), o.GroupsSetting("moderator"), "")
			batch.Queue(sql, args...)
			batch.Queue("commit")
			return walled.Pool.SendBatch(ctx, batch).Close()
		}
		const insThread = "insert into threads (title, created_by, group_id) values ($1, $2, $3)"
		const insPost = "insert into posts (content, author, thread_id) values ($1, $2, $3)"
		vs := []variant{
			{"thread-plain", func() error {
				_, err := plain.Pool.Exec(ctx, insThread, "t", "alice", int64(1))
				return err
			}},
			{"thread-guarded", func() error { return f.thread.Exec(ctx, plain.Pool, c, "t", g) }},
			{"thread-bound", func() error { return f.thread.Exec(ctx, db, c, "t", g) }},
			{"thread-withcap", func() error {
				return wall.WithCapability(ctx, walled.Pool, c, o, func(tx pgx.Tx) error { return f.thread.Exec(ctx, tx, c, "t", g) })
			}},
			{"thread-rls-batch", func() error { return hand(insThread, "t", "alice", int64(1)) }},
			{"thread-rls-bound", func() error {
				_, err := db.Exec(ctx, insThread, "t", "alice", int64(1))
				return err
			}},
			{"post-plain", func() error {
				_, err := plain.Pool.Exec(ctx, insPost, "p", "alice", int64(1))
				return err
			}},
			{"post-guarded", func() error { return f.post.Exec(ctx, plain.Pool, c, "p", int64(1)) }},
			{"post-bound", func() error { return f.post.Exec(ctx, db, c, "p", int64(1)) }},
			{"post-rls-batch", func() error { return hand(insPost, "p", "alice", int64(1)) }},
		}
		b.Run(fmt.Sprintf("groups=%d", n), func(b *testing.B) {
			interleaved(b, vs, [][2]string{
				{"thread-guarded", "thread-plain"}, {"thread-bound", "thread-plain"}, {"thread-withcap", "thread-plain"},
				{"thread-bound", "thread-rls-batch"}, {"thread-bound", "thread-withcap"}, {"thread-rls-bound", "thread-plain"},
				{"post-guarded", "post-plain"}, {"post-bound", "post-plain"}, {"post-bound", "post-rls-batch"},
			})
		})
	}
}

// BenchmarkWallList compares a page of 50 threads (10,000 threads in
// 1,000 groups, ten per group) read by a member of groups 1..n:
//
//   - hand: the hand-written list, no wall: where group_id = any($1)
//     with the groups as a []int64;
//
//   - guarded: the guarded list, no wall;
//
//   - bound: the guarded list under the wall through wall.Wall.Bind;
//
//   - withcap: the guarded list inside wall.WithCapability.
//
//     go test ./sqlguard -run '^$' -bench 'WallList' -count 7
func BenchmarkWallList(b *testing.B) {
	f := newBenchWall(b)
	plain := newWallDB(b, nil)
	walled := newWallDB(b, f.reg)
	ctx := b.Context()
	for _, d := range []*wallDB{plain, walled} {
		if _, err := d.Owner.Exec(ctx, "insert into threads (title, created_by, group_id) select 'thread ' || i, 'alice', i % 1000 + 1 from generate_series(1, 10000) i; analyze threads"); err != nil {
			b.Fatal(err)
		}
	}
	wl, err := wall.New(f.reg, walled.opts)
	if err != nil {
		b.Fatal(err)
	}
	read := func(rows pgx.Rows, err error) error {
		if err != nil {
			return err
		}
		type row struct {
			ID    int64
			Title string
		}
		got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
		if err == nil && len(got) == 0 {
			err = fmt.Errorf("no row")
		}
		return err
	}
	for _, n := range []int{3, 100, 1000} {
		c := benchGroupsCap(b, n)
		ints := c.Groups("member").Int64s()
		db := wl.Bind(walled.Pool, c)
		vs := []variant{
			{"list-hand", func() error {
				return read(plain.Pool.Query(ctx, "select id, title from threads where group_id = any($1) order by id limit 50", ints))
			}},
			{"list-guarded", func() error { return read(f.page.Query(ctx, plain.Pool, c)) }},
			{"list-bound", func() error { return read(f.page.Query(ctx, db, c)) }},
			{"list-withcap", func() error {
				return wall.WithCapability(ctx, walled.Pool, c, walled.opts, func(tx pgx.Tx) error { return read(f.page.Query(ctx, tx, c)) })
			}},
		}
		b.Run(fmt.Sprintf("groups=%d", n), func(b *testing.B) {
			interleaved(b, vs, [][2]string{{"list-guarded", "list-hand"}, {"list-bound", "list-hand"}, {"list-withcap", "list-hand"}})
		})
	}
}
