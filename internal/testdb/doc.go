// Package testdb gives tests a real PostgreSQL database of their own, one
// call away, and gives the example program an embedded server.
//
//	db := testdb.New(t, schema)
//	db.Pool  // the unprivileged test role
//	db.Owner // the superuser that owns the database
//
// # Where the server comes from
//
// If the environment variable KEYHOLE_TEST_DATABASE is set, it is the libpq
// URL of a superuser on an existing server, and every database and role is
// created there, under names unique to the test process
// ("keyhole_<run>_<n>"). Otherwise the first New of a test binary starts a
// throwaway cluster from the machine's PostgreSQL binaries (initdb and
// postgres found on PATH, else under /usr/lib/postgresql/<highest>/bin):
// initdb into a new directory keyhole-testdb-* in /dev/shm when it is a
// tmpfs with room (cloning a database is ten times faster in memory than on
// disk; a cluster takes ~40 MB), else in the temporary directory; a server
// listening only on a unix socket in that directory (mode 0700, trust
// authentication: only its OS user and root can reach it), with fsync,
// synchronous_commit and full_page_writes off, autovacuum off,
// max_connections 300 and shared_buffers 32MB (each test binary has its own
// cluster, and go test runs several at once). PostgreSQL refuses to
// run as root: a root process runs initdb and postgres as the "postgres" OS
// user, which owns the directory.
//
// One server serves the whole test binary. It is a child of the test
// process, forked from an OS thread that lives as long as the process, with
// a parent-death signal (SIGINT, PostgreSQL's fast shutdown): when the test
// binary exits, panics or is killed, even with SIGKILL, the kernel stops the
// server. A TestMain that calls [Main] also removes the directory; without
// it the next start of a cluster removes directories whose test process and
// server are both gone.
//
// # Databases and roles
//
// The schema given to [New] is applied once per distinct text (by hash) to a
// template database, run as one script in the simple query protocol (it may
// hold several statements). Each New then clones the template with CREATE
// DATABASE ... TEMPLATE (serialized: PostgreSQL cannot clone a template
// that another session is using), ~15 ms on tmpfs. The database is dropped
// when the test ends, and kept, with its URLs logged, when the test failed. On the throwaway cluster a kept database lives as
// long as the test binary; set KEYHOLE_TEST_DATABASE to inspect it later.
//
// [DB.Pool] connects as a test role made per test process: LOGIN,
// NOSUPERUSER, NOBYPASSRLS, NOCREATEDB, NOCREATEROLE, owning nothing. After
// the schema is applied, testdb grants it USAGE on schema public, SELECT,
// INSERT, UPDATE and DELETE on all tables of public and USAGE, SELECT and
// UPDATE on all sequences of public, plus CONNECT and TEMPORARY on each
// database. It does not own the tables, so row-level security applies to it
// (a table's owner bypasses RLS unless the table forces it). Objects the
// test creates later through [DB.Owner] get no grant unless the test grants
// it. [DB.Owner] connects as the superuser that owns the database. Roles
// are cluster wide: a test that creates roles names them with [DB.Name] as
// prefix.
//
// Both pools use pgx's default query mode, the extended protocol with
// prepared, cached statements; never the simple protocol. (pgx itself sends
// an Exec without arguments as a simple query.) Pools are small (8 and 4
// connections): many parallel tests share one server.
//
// # How it fails
//
// When no server can be had (no binaries, or root without a "postgres" OS
// user, or a failed start), New skips the test with a message naming what
// to install (apt-get install postgresql) or which variable to set, except
// when the environment variable CI is true: then it fails the test, so a CI
// run never passes with the database tests skipped. A KEYHOLE_TEST_DATABASE
// that cannot be used (unreachable, not a superuser) fails the test: it was
// asked for. The first failure to start is kept: every later New reports it
// at once. A schema that does not apply fails every test that uses it.
//
// # What it trusts
//
// The PostgreSQL binaries found as above, the "postgres" OS account, the
// temporary directory (the cluster's directory is private to the server's
// account), and KEYHOLE_TEST_DATABASE's server, on which it creates and
// drops databases and roles named keyhole_<run>_*. A failed run, or a
// process that dies, leaves its role and templates on such a server.
//
// # Faults
//
// [NewServer] starts a throwaway cluster of one test's own, which the test
// may [Server.Stop], [Server.Start] and [Server.Restart] (fast shutdown:
// open sessions end with admin_shutdown, 57P01) without disturbing the
// other tests. [DB.Terminate] and [DB.TerminateAll] end sessions with
// pg_terminate_backend, waiting until they are gone. [DB.PgBouncer] puts a
// PgBouncer in transaction pooling mode in front of a database (Debian:
// apt-get install pgbouncer, /usr/sbin/pgbouncer), on a private unix
// socket, run as the server's OS account with a parent-death signal like
// the server, and stopped at t.Cleanup.
//
// [Start] is the entry for a program: an embedded server on a persistent
// data directory. Nothing in this package is meant for production.
package testdb
