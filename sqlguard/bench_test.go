package sqlguard_test

import (
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/internal/testdb"
	"github.com/keyhole-go/keyhole/sqlguard"
)

// benchCap holds member in n groups: 1 and n-1 others.
func benchCap(b testing.TB, n int) *capability.Capability {
	roles := map[int64]string{1: "member"}
	for g := int64(1001); len(roles) < n; g++ {
		roles[g] = "member"
	}
	return newCap(b, capability.KindInt64, "alice", false, roles)
}

// benchPolicies are the forum's inserts without RETURNING, like the plain
// insert they are compared with.
func benchPolicies(b testing.TB) (thread, post, postShare *sqlguard.Write) {
	reg := sqlguard.MustNewRegistry(forumRoles, capability.KindInt64)
	thread = reg.MustInsert(sqlguard.Policy{Name: "bench.threads.create", Table: "threads",
		Columns: []string{"title", "group_id"}, SubjectColumn: "created_by", GroupColumn: "group_id", Role: "member"})
	post = reg.MustInsert(sqlguard.Policy{Name: "bench.posts.create", Table: "posts",
		Columns: []string{"content", "thread_id"}, SubjectColumn: "author", Parents: threadParent,
		GroupColumn: "group_id", Role: "member"})
	postShare = reg.MustInsert(sqlguard.Policy{Name: "bench.posts.create.share", Table: "posts",
		Columns: []string{"content", "thread_id"}, SubjectColumn: "author", Parents: threadParent,
		GroupColumn: "group_id", Role: "member", Lock: sqlguard.LockShare})
	return thread, post, postShare
}

// BenchmarkInsert compares, in one run, an unguarded insert (plain), the
// guarded direct insert (guarded), and the child insert whose group comes
// from the parent (child; plainchild is its unguarded counterpart,
// childshare takes FOR SHARE on the parent), each with b.RunParallel over
// the test pool.
//
//	go test ./sqlguard -run '^$' -bench BenchmarkInsert -count 5
func BenchmarkInsert(b *testing.B) {
	db := testdb.New(b, forumSchema(capability.KindInt64))
	ctx := b.Context()
	if _, err := db.Owner.Exec(ctx, "insert into threads (id, title, created_by, group_id) values (1, 't', 'seed', 1); select setval('threads_id_seq', 100)"); err != nil {
		b.Fatal(err)
	}
	thread, post, postShare := benchPolicies(b)
	for _, n := range []int{3, 1000} {
		c := benchCap(b, n)
		g := capability.Int64Group(1)
		run := func(name string, f func() error) {
			b.Run(fmt.Sprintf("%s/groups=%d", name, n), func(b *testing.B) {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := f(); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
		run("plain", func() error {
			_, err := db.Pool.Exec(ctx, "insert into threads (title, created_by, group_id) values ($1, $2, $3)", "t", "alice", int64(1))
			return err
		})
		run("guarded", func() error { return thread.Exec(ctx, db.Pool, c, "t", g) })
		run("plainchild", func() error {
			_, err := db.Pool.Exec(ctx, "insert into posts (content, author, thread_id) values ($1, $2, $3)", "p", "alice", int64(1))
			return err
		})
		run("child", func() error { return post.Exec(ctx, db.Pool, c, "p", int64(1)) })
		run("childshare", func() error { return postShare.Exec(ctx, db.Pool, c, "p", int64(1)) })
	}
}

// BenchmarkBind measures the per-call work in Go: checking the call,
// choosing the text and binding the arguments (the text was built at
// declaration). Goal: under 1 µs and at most 3 allocations.
func BenchmarkBind(b *testing.B) {
	f := newForum(b, capability.KindInt64)
	thread, post, _ := benchPolicies(b)
	for _, n := range []int{3, 1000} {
		c := benchCap(b, n)
		g := capability.Int64Group(1)
		for _, tc := range []struct {
			name string
			bind func() (string, []any, error)
		}{
			{"insert", func() (string, []any, error) { return thread.Bind(c, "t", g) }},
			{"insert-int64", func() (string, []any, error) { return thread.Bind(c, "t", int64(1)) }},
			{"child", func() (string, []any, error) { return post.Bind(c, "p", int64(1)) }},
			{"delete", func() (string, []any, error) { return f.deleteThread.Bind(c, int64(1)) }},
			{"move", func() (string, []any, error) { return f.moveThread.Bind(c, int64(1), g) }},
			{"list", func() (string, []any, error) { return f.listThreads.Bind(c, int64(0)) }},
		} {
			b.Run(fmt.Sprintf("%s/groups=%d", tc.name, n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, _, err := tc.bind(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkArrayEncode compares what pgx does per call with a group array:
// encode a []int64 in binary, or copy a memoized encoding.
func BenchmarkArrayEncode(b *testing.B) {
	m := pgtype.NewMap()
	for _, n := range []int{3, 1000} {
		c := benchCap(b, n)
		ints := c.Groups("member").Int64s()
		_, args, err := func() (string, []any, error) {
			_, post, _ := benchPolicies(b)
			return post.Bind(c, "p", int64(1))
		}()
		if err != nil {
			b.Fatal(err)
		}
		text := args[3]
		buf := make([]byte, 0, 64<<10)
		b.Run(fmt.Sprintf("int64s-binary/groups=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Encode(pgtype.Int8ArrayOID, pgtype.BinaryFormatCode, ints, buf[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("memo-text/groups=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Encode(pgtype.Int8ArrayOID, pgtype.TextFormatCode, text, buf[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
