package sqlguardtest

import (
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyhole-go/keyhole/internal/testdb"
)

// DB is a fresh database of one test, cloned from a template that holds
// the test's schema. It is what keyhole's own tests run on.
type DB struct {
	// Pool connects as an unprivileged role, the way an application
	// should: not superuser, no BYPASSRLS, not the owner of the tables,
	// with SELECT, INSERT, UPDATE and DELETE on the schema's tables and
	// USAGE, SELECT and UPDATE on its sequences. Run policies through it.
	Pool *pgxpool.Pool
	// Owner connects as the database's owner, a superuser: seed rows,
	// inspect the outcome, create roles and row-level security policies.
	Owner *pgxpool.Pool
	// Name is the database's name, unique on the server. Roles are
	// cluster-wide: prefix the roles a test creates with Name.
	Name string
	// URL and OwnerURL are the libpq URLs of Pool and Owner.
	URL, OwnerURL string
}

// NewDB returns a database of its own for t with schema (SQL text, one or
// several statements) applied, dropped when t ends (kept, and its URLs
// logged, when t failed).
//
// The first call in a test binary starts a throwaway PostgreSQL cluster
// from the machine's server binaries (initdb and postgres on PATH, or under
// /usr/lib/postgresql/*/bin; as the postgres OS user when the test runs as
// root), listening on a unix socket only; the schema is applied once to a
// template database, and each call clones it (about 15 ms). Setting
// KEYHOLE_TEST_DATABASE to the libpq URL of a superuser uses that server
// instead. Without either, NewDB skips the test with what to install, or
// fails it when the environment variable CI is true.
func NewDB(t testing.TB, schema string) *DB {
	t.Helper()
	db := testdb.New(t, schema)
	return &DB{Pool: db.Pool, Owner: db.Owner, Name: db.Name, URL: db.URL, OwnerURL: db.OwnerURL}
}

// Main runs the tests of a test binary and then stops its throwaway
// cluster and removes its files. Call it from TestMain:
//
//	func TestMain(m *testing.M) { sqlguardtest.Main(m) }
//
// Without it the cluster still stops with the test binary (it gets a
// parent-death signal) and its directory is removed by the next start.
func Main(m *testing.M) { testdb.Main(m) }
