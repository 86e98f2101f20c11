package sqlguard_test

import (
	"fmt"
	"testing"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/internal/testdb"
	"github.com/keyhole-go/keyhole/sqlguard"
)

// BenchmarkChildArray compares, for each group kind, in one run, the child
// insert whose group comes from the parent row (so the capability's whole
// array is bound) with the array sent as sqlguard sends it (child: binary,
// copied from the memoized *wireArray) and as its memoized text (childtext:
// what Bind returns, parsed by array_in), against the unguarded insert
// (plainchild), each with b.RunParallel over the test pool. Ratios are
// plainchild ns/op ÷ child ns/op; take medians of interleaved rounds:
//
//	go test -c -o /tmp/sg.test ./sqlguard && cd sqlguard
//	for i in $(seq 20); do /tmp/sg.test -test.run '^$' -test.bench 'BenchmarkChildArray' -test.benchtime 250ms; done
func BenchmarkChildArray(b *testing.B) {
	ctx := b.Context()
	for _, kind := range []capability.GroupKind{capability.KindInt64, capability.KindUUID, capability.KindText} {
		db := testdb.New(b, forumSchema(kind))
		if _, err := db.Owner.Exec(ctx, "insert into threads (id, title, created_by, group_id) values (1, 't', 'seed', $1)", kindValue(kind, 1)); err != nil {
			b.Fatal(err)
		}
		reg := sqlguard.MustNewRegistry(forumRoles, kind)
		post := reg.MustInsert(sqlguard.Policy{Name: "bench.posts.create", Table: "posts",
			Columns: []string{"content", "thread_id"}, SubjectColumn: "author", Parents: threadParent,
			GroupColumn: "group_id", Role: "member"})
		for _, n := range []int{3, 1000} {
			roles := map[int64]string{1: "member"}
			for g := int64(1001); len(roles) < n; g++ {
				roles[g] = "member"
			}
			c := newCap(b, kind, "alice", false, roles)
			run := func(name string, f func() error) {
				b.Run(fmt.Sprintf("%v/groups=%d/%s", kind, n, name), func(b *testing.B) {
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
			run("plainchild", func() error {
				_, err := db.Pool.Exec(ctx, "insert into posts (content, author, thread_id) values ($1, $2, $3)", "p", "alice", int64(1))
				return err
			})
			run("child", func() error { return post.Exec(ctx, db.Pool, c, "p", int64(1)) })
			run("childtext", func() error {
				sql, args, err := post.Bind(c, "p", int64(1)) // the arrays as text
				if err != nil {
					return err
				}
				_, err = db.Pool.Exec(ctx, sql, args...)
				return err
			})
		}
	}
}

// kindValue is grp(kind, n) as a value pgx binds to the group column.
func kindValue(kind capability.GroupKind, n int64) any {
	g := grp(kind, n)
	if kind == capability.KindInt64 {
		v, _ := g.Int64()
		return v
	}
	return g.String()
}
