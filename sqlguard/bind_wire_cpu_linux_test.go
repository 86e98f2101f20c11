//go:build linux

package sqlguard_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/internal/testdb"
	"github.com/keyhole-go/keyhole/sqlguard"
)

// BenchmarkChildArrayCPU runs BenchmarkChildArray's statements one after
// the other on one connection and reports the CPU time each costs the
// server backend (srv-µs/op, from /proc/<pid>/schedstat: the test server
// runs on this machine) and this process (cli-µs/op, getrusage). On a
// shared, loaded machine CPU time is steadier than wall time, and on a
// saturated one their sum is what bounds throughput.
//
//	go test ./sqlguard -run '^$' -bench BenchmarkChildArrayCPU -benchtime 2000x
func BenchmarkChildArrayCPU(b *testing.B) {
	ctx := b.Context()
	for _, kind := range []capability.GroupKind{capability.KindInt64, capability.KindUUID, capability.KindText} {
		db := testdb.New(b, forumSchema(kind))
		if _, err := db.Owner.Exec(ctx, "insert into threads (id, title, created_by, group_id) values (1, 't', 'seed', $1)", kindValue(kind, 1)); err != nil {
			b.Fatal(err)
		}
		conn, err := pgx.Connect(ctx, db.URL)
		if err != nil {
			b.Fatal(err)
		}
		if err := sqlguard.RegisterTypes(ctx, conn); err != nil {
			b.Fatal(err)
		}
		server := backendCPU(b, conn)
		client := func() time.Duration { return clientCPU(b) }
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
			sql, textArgs, err := post.Bind(c, "p", int64(1))
			if err != nil {
				b.Fatal(err)
			}
			for _, tc := range []struct {
				name string
				f    func() error
			}{
				{"plainchild", func() error {
					_, err := conn.Exec(ctx, "insert into posts (content, author, thread_id) values ($1, $2, $3)", "p", "alice", int64(1))
					return err
				}},
				{"child", func() error { return post.Exec(ctx, conn, c, "p", int64(1)) }},
				{"childtext", func() error { _, err := conn.Exec(ctx, sql, textArgs...); return err }},
			} {
				b.Run(fmt.Sprintf("%v/groups=%d/%s", kind, n, tc.name), func(b *testing.B) {
					if err := tc.f(); err != nil { // prepare outside the measurement
						b.Fatal(err)
					}
					s0, c0 := server(), client()
					for b.Loop() {
						if err := tc.f(); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64((server()-s0).Microseconds())/float64(b.N), "srv-µs/op")
					b.ReportMetric(float64((client()-c0).Microseconds())/float64(b.N), "cli-µs/op")
				})
			}
		}
		if err := conn.Close(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
