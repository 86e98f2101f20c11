package sqlguard_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	sq "github.com/Masterminds/squirrel"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/internal/testdb"
	"github.com/keyhole-go/keyhole/sqlguard"
)

// liveBenchDB is the revocation schema with realistic table sizes: 100,000
// sessions, 10,000 subjects, 2,000 threads in groups 1..5, and the live
// session s-alice of alice.
func liveBenchDB(tb testing.TB) *testdb.DB {
	tb.Helper()
	db := testdb.New(tb, revokeSchema)
	for _, s := range []string{
		`insert into sessions (id, subject, revoked_at) select 's-' || i, 'u' || (i % 10000), case when i % 3 = 0 then now() end from generate_series(1, 100000) i`,
		`insert into sessions (id, subject) values ('s-alice', 'alice')`,
		`insert into subjects (name, valid_after) select 'u' || i, '2026-01-01' from generate_series(0, 9999) i`,
		`insert into subjects (name, valid_after) values ('alice', '2026-01-01')`,
		`insert into threads (title, created_by, group_id) select 't', 'seed', 1 + i % 5 from generate_series(1, 2000) i`,
		`analyze sessions; analyze subjects; analyze threads`,
	} {
		if _, err := db.Owner.Exec(tb.Context(), s); err != nil {
			tb.Fatal(err)
		}
	}
	return db
}

// livePolicies declares the same insert and list on a registry without
// sessions (live ""), on one that requires a live session ("session"),
// and on one that adds the subject's cut-off ("cutoff").
func livePolicies(tb testing.TB, live string) (*sqlguard.Write, *sqlguard.List) {
	tb.Helper()
	reg := sqlguard.MustNewRegistry(forumRoles, capability.KindInt64)
	switch live {
	case "session":
		reg.MustSessions(sqlguard.SessionTable{Table: "sessions", ID: "id", RevokedAt: "revoked_at", Subject: "subject", Required: true})
	case "cutoff":
		reg.MustSessions(sqlguard.SessionTable{Table: "sessions", ID: "id", RevokedAt: "revoked_at", Subject: "subject", Required: true,
			Subjects: &sqlguard.SubjectTable{Table: "subjects", Subject: "name", ValidAfter: "valid_after"}})
	}
	ins := reg.MustInsert(sqlguard.Policy{Name: "threads.create", Table: "threads",
		Columns: []string{"title", "group_id"}, SubjectColumn: "created_by", GroupColumn: "group_id", Role: "member"})
	list := reg.MustList(sqlguard.Policy{Name: "threads.list", Table: "threads", GroupColumn: "group_id", Role: "member",
		Query: sq.Select("id", "title").OrderBy("id DESC").Limit(50)})
	return ins, list
}

// liveBenchCap holds member in n groups (1..5 among them) with alice's
// live session.
func liveBenchCap(tb testing.TB, n int) *capability.Capability {
	roles := map[int64]string{}
	for g := int64(1); g <= 5; g++ {
		roles[g] = "member"
	}
	for g := int64(1001); len(roles) < n; g++ {
		roles[g] = "member"
	}
	if n < 5 {
		roles = map[int64]string{1: "member", 2: "member", 3: "member"}
	}
	return revokeCap(tb, "alice", "s-alice", revokeIAT, false, roles)
}

// interleaved runs ops of base and of live in alternating rounds (the
// order swapped every round), each round b.N calls on 4 concurrent
// clients, and reports the median throughput of each and the median of
// the per-round ratios live/base: one run, the same machine state for
// both sides of each ratio (the machine is shared: a pair of adjacent
// rounds sees the same load, a whole run does not).
func pairedRounds(b *testing.B, base, live func() error) {
	const rounds, clients = 21, 4
	run := func(f func() error) float64 {
		var wg sync.WaitGroup
		var mu sync.Mutex
		var ferr error
		next := make(chan struct{}, b.N)
		for range b.N {
			next <- struct{}{}
		}
		close(next)
		start := time.Now()
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range next {
					if err := f(); err != nil {
						mu.Lock()
						ferr = err
						mu.Unlock()
						return
					}
				}
			}()
		}
		wg.Wait()
		if ferr != nil {
			b.Fatal(ferr)
		}
		return float64(b.N) / time.Since(start).Seconds()
	}
	var bs, ls, ratios []float64
	for r := range rounds {
		var x, y float64
		if r%2 == 0 {
			x = run(base)
			y = run(live)
		} else {
			y = run(live)
			x = run(base)
		}
		bs, ls, ratios = append(bs, x), append(ls, y), append(ratios, y/x)
	}
	median := func(v []float64) float64 { slices.Sort(v); return v[len(v)/2] }
	b.ReportMetric(median(bs), "base-ops/s")
	b.ReportMetric(median(ls), "live-ops/s")
	b.ReportMetric(median(ratios), "live/base")
	b.ReportMetric(0, "ns/op") // the rounds, not b.N, are the measure
}

// BenchmarkLiveSession measures what the live-session condition costs a
// guarded insert and a guarded list of 50 rows, at 3 and 1,000 groups,
// against the same policies without it, in interleaved rounds of one run
// (medians): "session" is the session row alone (one primary-key probe),
// "cutoff" adds the subject's cut-off (a second probe, in the same
// subquery):
//
//	go test ./sqlguard -run '^$' -bench BenchmarkLiveSession -benchtime 1000x
func BenchmarkLiveSession(b *testing.B) {
	db := liveBenchDB(b)
	ctx := b.Context()
	plainIns, plainList := livePolicies(b, "")
	for _, mode := range []string{"session", "cutoff"} {
		liveIns, liveList := livePolicies(b, mode)
		for _, n := range []int{3, 1000} {
			c := liveBenchCap(b, n)
			g := capability.Int64Group(1)
			b.Run(fmt.Sprintf("insert/%s/groups=%d", mode, n), func(b *testing.B) {
				pairedRounds(b,
					func() error { return plainIns.Exec(ctx, db.Pool, c, "t", g) },
					func() error { return liveIns.Exec(ctx, db.Pool, c, "t", g) })
			})
			list := func(l *sqlguard.List) func() error {
				return func() error {
					rows, err := l.Query(ctx, db.Pool, c)
					if err != nil {
						return err
					}
					n := 0
					for rows.Next() {
						n++
					}
					rows.Close()
					if err := rows.Err(); err != nil {
						return err
					}
					if n != 50 {
						return fmt.Errorf("listed %d rows, want 50", n)
					}
					return nil
				}
			}
			b.Run(fmt.Sprintf("list/%s/groups=%d", mode, n), func(b *testing.B) {
				pairedRounds(b, list(plainList), list(liveList))
			})
		}
	}
}

// TestExplainLiveSession shows the plan of the live-session condition
// under a generic plan, over 100,000 sessions and 10,000 subjects: one
// primary-key probe of each table, in the insert and in the list, never
// a scan of either table.
func TestExplainLiveSession(t *testing.T) {
	db := liveBenchDB(t)
	ctx := t.Context()
	ins, list := livePolicies(t, "cutoff")
	c := liveBenchCap(t, 1000)
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "set plan_cache_mode = force_generic_plan"); err != nil {
		t.Fatal(err)
	}
	explain := func(name, sql string, args []any) string { return explainPrepared(t, conn, name, sql, args) }
	for _, tc := range []struct {
		name      string
		sql       string
		args      []any
		wantLoops string // the probes run once
	}{
		{"insert", "", nil, ""},
		{"list", "", nil, ""},
	} {
		var err error
		if tc.name == "insert" {
			tc.sql, tc.args, err = ins.Bind(c, "t", capability.Int64Group(1))
		} else {
			tc.sql, tc.args, err = list.Bind(c)
		}
		if err != nil {
			t.Fatal(err)
		}
		plan := explain("live_"+tc.name, tc.sql, tc.args)
		t.Logf("%s, generic plan:\n%s", tc.name, plan)
		for _, want := range []string{"Index Only Scan using sessions_pkey on sessions sg_sess", "Index Scan using subjects_pkey on subjects sg_subj"} {
			if !strings.Contains(plan, want) && !strings.Contains(plan, strings.Replace(want, "Index Only Scan", "Index Scan", 1)) &&
				!strings.Contains(plan, strings.Replace(want, "Index Scan", "Index Only Scan", 1)) {
				t.Errorf("%s: the plan has no %q", tc.name, want)
			}
		}
		if strings.Contains(plan, "Seq Scan on sessions") || strings.Contains(plan, "Seq Scan on subjects") {
			t.Errorf("%s: the plan scans a whole table", tc.name)
		}
		for _, table := range []string{"on sessions sg_sess", "on subjects sg_subj"} {
			ran := 0
			for _, line := range strings.Split(plan, "\n") {
				if strings.Contains(line, table) && strings.Contains(line, "(actual rows=1 loops=1)") {
					ran++
				}
			}
			if ran != 1 {
				t.Errorf("%s: the probe %q ran %d times, want once", tc.name, table, ran)
			}
		}
	}
}
