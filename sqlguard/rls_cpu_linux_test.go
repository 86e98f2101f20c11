//go:build linux

package sqlguard_test

import (
	"fmt"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/sqlguard"
	"github.com/keyhole-go/keyhole/sqlguard/wall"
)

// BenchmarkWallCPU splits the second wall's cost per statement into the
// CPU time of the server backend (srv-µs, from /proc/<pid>/schedstat: the
// test server runs on this machine) and of this process (cli-µs,
// getrusage), one connection per database, serially: on a shared machine
// CPU time is steadier than wall time. Each variant runs b.N times per
// round, the variants in turn, for 11 rounds; it reports the medians:
//
//   - sel1: "select 1", the round trip's floor (pgx sends an Exec
//     without arguments as a simple query: parsed and planned each time);
//   - plain, guarded: BenchmarkWallInsert's thread inserts, no wall;
//   - bound-sel1: "select 1" through wall.Wall.Bind (the set_config
//     statement's cost);
//   - bound-raw, bound-guarded: the plain and the guarded insert through
//     Bind;
//   - list-hand, list-bound: BenchmarkWallList's page, by hand without
//     the wall and guarded through Bind (10,000 threads, groups 1..n).
//
// Run it with a fixed count of iterations:
//
//	go test ./sqlguard -run '^$' -bench BenchmarkWallCPU -benchtime 200x
func BenchmarkWallCPU(b *testing.B) {
	f := newBenchWall(b)
	ctx := b.Context()
	type db struct {
		conn *pgx.Conn
		srv  func() time.Duration
		wall *wall.Wall
	}
	open := func(walled, threads bool) db {
		var d *wallDB
		if walled {
			d = newWallDB(b, f.reg)
		} else {
			d = newWallDB(b, nil)
		}
		if threads {
			if _, err := d.Owner.Exec(ctx, "insert into threads (title, created_by, group_id) select 'thread ' || i, 'alice', i % 1000 + 1 from generate_series(1, 10000) i; analyze threads"); err != nil {
				b.Fatal(err)
			}
		}
		conn, err := pgx.Connect(ctx, d.URL)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { conn.Close(ctx) })
		if err := sqlguard.RegisterTypes(ctx, conn); err != nil {
			b.Fatal(err)
		}
		out := db{conn: conn, srv: backendCPU(b, conn)}
		if walled {
			if out.wall, err = wall.New(f.reg, d.opts); err != nil {
				b.Fatal(err)
			}
		}
		return out
	}
	plain, walled := open(false, false), open(true, false)
	plainList, walledList := open(false, true), open(true, true)
	const insThread = "insert into threads (title, created_by, group_id) values ($1, $2, $3)"
	read := func(rows pgx.Rows, err error) error {
		if err != nil {
			return err
		}
		n := 0
		for rows.Next() {
			n++
		}
		rows.Close()
		if err == nil && n == 0 {
			return fmt.Errorf("no row")
		}
		return rows.Err()
	}
	for _, n := range []int{3, 1000} {
		c := benchGroupsCap(b, n)
		g := capability.Int64Group(1)
		bound, boundList := walled.wall.Bind(walled.conn, c), walledList.wall.Bind(walledList.conn, c)
		ints := c.Groups("member").Int64s()
		vs := []cpuVariant{
			{"sel1", plain.srv, func() error { _, err := plain.conn.Exec(ctx, "select 1"); return err }},
			{"plain", plain.srv, func() error { _, err := plain.conn.Exec(ctx, insThread, "t", "alice", int64(1)); return err }},
			{"guarded", plain.srv, func() error { return f.thread.Exec(ctx, plain.conn, c, "t", g) }},
			{"bound-sel1", walled.srv, func() error { _, err := bound.Exec(ctx, "select 1"); return err }},
			{"bound-raw", walled.srv, func() error { _, err := bound.Exec(ctx, insThread, "t", "alice", int64(1)); return err }},
			{"bound-guarded", walled.srv, func() error { return f.thread.Exec(ctx, bound, c, "t", g) }},
			{"list-hand", plainList.srv, func() error {
				return read(plainList.conn.Query(ctx, "select id, title from threads where group_id = any($1) order by id limit 50", ints))
			}},
			{"list-bound", walledList.srv, func() error { return read(f.page.Query(ctx, boundList, c)) }},
		}
		b.Run(fmt.Sprintf("groups=%d", n), func(b *testing.B) { cpuRounds(b, vs) })
	}
}

// cpuVariant is one statement of a CPU-time benchmark, with the server
// backend's CPU clock of the connection it runs on.
type cpuVariant struct {
	name string
	srv  func() time.Duration
	run  func() error
}

// backendCPU is the CPU clock of conn's server backend, from
// /proc/<pid>/schedstat (the test server runs on this machine).
func backendCPU(b *testing.B, conn *pgx.Conn) func() time.Duration {
	var pid int
	if err := conn.QueryRow(b.Context(), "select pg_backend_pid()").Scan(&pid); err != nil {
		b.Fatal(err)
	}
	return func() time.Duration {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/schedstat", pid))
		if err != nil {
			b.Skipf("server CPU time not readable (not a local server?): %v", err)
		}
		var ns int64
		if _, err := fmt.Sscan(string(raw), &ns); err != nil {
			b.Fatal(err)
		}
		return time.Duration(ns)
	}
}

// clientCPU is this process's CPU time, user and system.
func clientCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuRounds runs each variant once (to prepare it), then b.N times per
// round, the variants in turn, for 11 rounds, and reports the medians of
// the server's and this process's CPU time per call.
func cpuRounds(b *testing.B, vs []cpuVariant) {
	for _, v := range vs { // prepare outside the measurement
		if err := v.run(); err != nil {
			b.Fatalf("%s: %v", v.name, err)
		}
	}
	const rounds = 11
	srv, cli := make([][]float64, len(vs)), make([][]float64, len(vs))
	for r := range rounds {
		for k := range vs {
			i := (k + r) % len(vs)
			s0, c0 := vs[i].srv(), clientCPU(b)
			for range b.N {
				if err := vs[i].run(); err != nil {
					b.Fatalf("%s: %v", vs[i].name, err)
				}
			}
			srv[i] = append(srv[i], float64((vs[i].srv()-s0).Nanoseconds())/1e3/float64(b.N))
			cli[i] = append(cli[i], float64((clientCPU(b)-c0).Nanoseconds())/1e3/float64(b.N))
		}
	}
	for i, v := range vs {
		slices.Sort(srv[i])
		slices.Sort(cli[i])
		b.ReportMetric(srv[i][rounds/2], v.name+"-srv-µs")
		b.ReportMetric(cli[i][rounds/2], v.name+"-cli-µs")
	}
	b.ReportMetric(0, "ns/op")
}
