package sqlguard_test

import (
	"fmt"
	"testing"

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

func runParallel(b *testing.B, name string, fn func() error) {
	b.Run(name, func(b *testing.B) {
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
// Each -count round runs every variant: compare medians of one run,
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
				o.GroupsSetting("member"), sqlguard.GroupsText(c, "member"), o.GroupsSetting("moderator"), "{}")
			batch.Queue(sql, args...)
			batch.Queue("commit")
			return walled.Pool.SendBatch(ctx, batch).Close()
		}
		const insThread = "insert into threads (title, created_by, group_id) values ($1, $2, $3)"
		const insPost = "insert into posts (content, author, thread_id) values ($1, $2, $3)"
		at := fmt.Sprintf("/groups=%d", n)
		runParallel(b, "thread-plain"+at, func() error {
			_, err := plain.Pool.Exec(ctx, insThread, "t", "alice", int64(1))
			return err
		})
		runParallel(b, "thread-guarded"+at, func() error { return f.thread.Exec(ctx, plain.Pool, c, "t", g) })
		runParallel(b, "thread-bound"+at, func() error { return f.thread.Exec(ctx, db, c, "t", g) })
		runParallel(b, "thread-withcap"+at, func() error {
			return wall.WithCapability(ctx, walled.Pool, c, o, func(tx pgx.Tx) error { return f.thread.Exec(ctx, tx, c, "t", g) })
		})
		runParallel(b, "thread-rls-batch"+at, func() error { return hand(insThread, "t", "alice", int64(1)) })
		runParallel(b, "thread-rls-bound"+at, func() error {
			_, err := db.Exec(ctx, insThread, "t", "alice", int64(1))
			return err
		})
		runParallel(b, "post-plain"+at, func() error {
			_, err := plain.Pool.Exec(ctx, insPost, "p", "alice", int64(1))
			return err
		})
		runParallel(b, "post-guarded"+at, func() error { return f.post.Exec(ctx, plain.Pool, c, "p", int64(1)) })
		runParallel(b, "post-bound"+at, func() error { return f.post.Exec(ctx, db, c, "p", int64(1)) })
		runParallel(b, "post-rls-batch"+at, func() error { return hand(insPost, "p", "alice", int64(1)) })
	}
}

// BenchmarkWallList compares a page of 50 threads (10,000 threads in
// 1,000 groups, ten per group) read by a member of groups 1..n:
//
//   - hand: the hand-written list, no wall: where group_id = any($1)
//     with the groups as a []int64;
//   - guarded: the guarded list, no wall;
//   - bound: the guarded list under the wall through wall.Wall.Bind;
//   - withcap: the guarded list inside wall.WithCapability.
//
//	go test ./sqlguard -run '^$' -bench 'WallList' -count 7
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
		at := fmt.Sprintf("/groups=%d", n)
		runParallel(b, "list-hand"+at, func() error {
			return read(plain.Pool.Query(ctx, "select id, title from threads where group_id = any($1) order by id limit 50", ints))
		})
		runParallel(b, "list-guarded"+at, func() error { return read(f.page.Query(ctx, plain.Pool, c)) })
		runParallel(b, "list-bound"+at, func() error { return read(f.page.Query(ctx, db, c)) })
		runParallel(b, "list-withcap"+at, func() error {
			return wall.WithCapability(ctx, walled.Pool, c, walled.opts, func(tx pgx.Tx) error { return read(f.page.Query(ctx, tx, c)) })
		})
	}
}
