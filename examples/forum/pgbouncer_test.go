package main

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyhole-go/keyhole/internal/testdb"
)

// TestPolicyMatrixBehindPgBouncer runs the forum's whole permission matrix
// through PgBouncer in transaction pooling mode (two server sessions
// shared by the app's four connections), in each of pgx's extended-protocol
// exec modes:
//
//   - exec and cache_describe send each statement in one Sync: the matrix
//     passes exactly as on a direct connection;
//   - cache_statement prepares named statements, which the pooler does not
//     carry between server sessions: a request may fail (500, 42P05 or
//     26000, the mode that sqlguard's documentation says not to use behind
//     a pooler) but every answer that is not a failure is the matrix's,
//     and a failure changes nothing;
//   - describe_exec sends the describe and the execute in two Syncs, which
//     can reach different server sessions and run another client's
//     statement: sqlguard refuses every guarded statement in it (500), and
//     nothing changes.
//
// In no mode does any request run a statement other than its own: every
// allowed answer's effect, and nothing else, is in the database.
func TestPolicyMatrixBehindPgBouncer(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode pgx.QueryExecMode
		want matrixMode
	}{
		{"exec", pgx.QueryExecModeExec, matrixStrict},
		{"cache_describe", pgx.QueryExecModeCacheDescribe, matrixStrict},
		{"cache_statement", pgx.QueryExecModeCacheStatement, matrixMayFail},
		{"describe_exec", pgx.QueryExecModeDescribeExec, matrixRefused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newForumWith(t, forumOptions{pool: func(db *testdb.DB) *pgxpool.Pool {
				cfg, err := poolConfig(db.PgBouncer(t, 2), waits{statement: statementTimeout, lock: lockTimeout, maxConns: 4})
				if err != nil {
					t.Fatal(err)
				}
				// PgBouncer refuses startup parameters it does not know.
				delete(cfg.ConnConfig.RuntimeParams, "statement_timeout")
				delete(cfg.ConnConfig.RuntimeParams, "lock_timeout")
				cfg.ConnConfig.DefaultQueryExecMode = tc.mode
				pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(pool.Close)
				return pool
			}})
			runPolicyMatrix(t, f, tc.want)
		})
	}
}
