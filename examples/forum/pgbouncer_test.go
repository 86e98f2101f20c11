package main

import (
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
//   - describe_exec sends a statement's describe and its execute in two
//     Syncs, which can reach different server sessions and run another
//     client's statement: on the plain path sqlguard refuses every guarded
//     statement in it (500), and nothing changes. Behind the second wall
//     (the forum's default), every statement goes as a pgx batch, whose
//     describe_exec mode describes first and then sends the statement's
//     own text again with its execute, in the batch's one Sync: it cannot
//     run another's statement, and the matrix passes.
//
// In no mode does any request run a statement other than its own: every
// allowed answer's effect, and nothing else, is in the database.
func TestPolicyMatrixBehindPgBouncer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mode   pgx.QueryExecMode
		noWall bool
		want   matrixMode
	}{
		{"exec", pgx.QueryExecModeExec, false, matrixStrict},
		{"exec/no-wall", pgx.QueryExecModeExec, true, matrixStrict},
		{"cache_describe", pgx.QueryExecModeCacheDescribe, false, matrixStrict},
		{"cache_describe/no-wall", pgx.QueryExecModeCacheDescribe, true, matrixStrict},
		{"cache_statement", pgx.QueryExecModeCacheStatement, false, matrixMayFail},
		{"cache_statement/no-wall", pgx.QueryExecModeCacheStatement, true, matrixMayFail},
		{"describe_exec", pgx.QueryExecModeDescribeExec, false, matrixStrict},
		{"describe_exec/no-wall", pgx.QueryExecModeDescribeExec, true, matrixRefused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newForumWith(t, forumOptions{noWall: tc.noWall, pool: func(db *testdb.DB) *pgxpool.Pool {
				return testPool(t, db.PgBouncer(t, 2), waits{statement: statementTimeout, lock: lockTimeout, maxConns: 4},
					func(cfg *pgxpool.Config) {
						// PgBouncer refuses startup parameters it does not know.
						delete(cfg.ConnConfig.RuntimeParams, "statement_timeout")
						delete(cfg.ConnConfig.RuntimeParams, "lock_timeout")
						cfg.ConnConfig.DefaultQueryExecMode = tc.mode
					})
			}})
			runPolicyMatrix(t, f, tc.want)
		})
	}
}
