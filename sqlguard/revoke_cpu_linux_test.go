//go:build linux

package sqlguard_test

import (
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/sqlguard"
)

// BenchmarkLiveSessionCPU splits what BenchmarkLiveSession measures into
// CPU time per call of the server backend (srv-µs) and of this process
// (cli-µs), one connection, serially, medians of 11 rounds: the insert
// and the 50-row list without the live-session condition (base), with it
// (session), and with the subject's cut-off too (cutoff):
//
//	go test ./sqlguard -run '^$' -bench BenchmarkLiveSessionCPU -benchtime 1000x
func BenchmarkLiveSessionCPU(b *testing.B) {
	db := liveBenchDB(b)
	ctx := b.Context()
	conn, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close(ctx) })
	if err := sqlguard.RegisterTypes(ctx, conn); err != nil {
		b.Fatal(err)
	}
	srv := backendCPU(b, conn)
	for _, n := range []int{3, 1000} {
		c := liveBenchCap(b, n)
		g := capability.Int64Group(1)
		var vs []cpuVariant
		for _, mode := range []string{"", "session", "cutoff"} {
			ins, list := livePolicies(b, mode)
			name := mode
			if name == "" {
				name = "base"
			}
			vs = append(vs,
				cpuVariant{"insert-" + name, srv, func() error { return ins.Exec(ctx, conn, c, "t", g) }},
				cpuVariant{"list-" + name, srv, func() error {
					rows, err := list.Query(ctx, conn, c)
					if err != nil {
						return err
					}
					rows.Close()
					return rows.Err()
				}})
		}
		b.Run(fmt.Sprintf("groups=%d", n), func(b *testing.B) { cpuRounds(b, vs) })
	}
}
