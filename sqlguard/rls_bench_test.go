package sqlguard_test

import (
	"fmt"
	"testing"

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
