package testdb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DB is a fresh, empty database of its own, cloned from a template.
type DB struct {
	// Pool connects as the unprivileged test role: not superuser, no
	// BYPASSRLS, not the owner of the tables; it has SELECT, INSERT, UPDATE
	// and DELETE on all tables and USAGE, SELECT and UPDATE on all sequences
	// of schema public that the schema created (granted by testdb after the
	// schema is applied; objects created later get no grant).
	Pool *pgxpool.Pool
	// Owner connects as the database owner, a superuser: schema setup,
	// CREATE ROLE, RLS policies, EXPLAIN with settings.
	Owner *pgxpool.Pool
	// Name is the database name, unique on the server. Roles are cluster
	// wide: name the roles a test creates with Name as prefix.
	Name string
	// URL is the libpq URL of Pool (the test role).
	URL string
	// OwnerURL is the libpq URL of Owner.
	OwnerURL string

	role string // the test role (Pool's user)
}

// Pool sizes: many parallel tests share one server.
const (
	poolMaxConns  = 8
	ownerMaxConns = 4
)

// New returns a fresh database with schema (SQL text; may be several
// statements; may be empty) applied. The schema is applied once per
// distinct schema text to a template database; each call clones the
// template (CREATE DATABASE ... TEMPLATE ...). The database is dropped at
// t.Cleanup, and kept (its URLs logged) if the test failed.
//
// When no server can be had, New skips the test, or fails it when the
// environment variable CI is true.
func New(t testing.TB, schema string) *DB {
	t.Helper()
	s, err := getServer()
	if err != nil {
		var u *unavailableError
		if errors.As(err, &u) && !inCI() {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	return newDB(t, s, schema)
}

// newDB is New on server s.
func newDB(t testing.TB, s *server, schema string) *DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := s.newDB(ctx, schema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		t.Helper() // report at the test's call of New
		s.cleanup(t, db)
	})
	return db
}

func (s *server) newDB(ctx context.Context, schema string) (*DB, error) {
	tmpl, err := s.template(ctx, schema)
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("keyhole_%s_%d", s.run, s.seq.Add(1))
	if err := s.clone(ctx, name, tmpl); err != nil {
		return nil, fmt.Errorf("testdb: create database: %w", err)
	}
	db, err := s.open(ctx, name)
	if err != nil {
		s.drop(ctx, name)
		return nil, err
	}
	return db, nil
}

// open connects the pools of database name.
func (s *server) open(ctx context.Context, name string) (*DB, error) {
	_, err := s.admin.Exec(ctx, "grant connect, temporary on database "+
		pgx.Identifier{name}.Sanitize()+" to "+pgx.Identifier{s.role}.Sanitize())
	if err != nil {
		return nil, fmt.Errorf("testdb: grant connect: %w", err)
	}
	db := &DB{Name: name, role: s.role}
	if db.URL, err = withDB(s.adminURL, name, s.role, s.rolePassword); err != nil {
		return nil, err
	}
	if db.OwnerURL, err = withDB(s.adminURL, name, "", ""); err != nil {
		return nil, err
	}
	if db.Pool, err = newPool(ctx, db.URL, poolMaxConns, true); err != nil {
		return nil, err
	}
	// Owner connects on first use: many tests never need it.
	if db.Owner, err = newPool(ctx, db.OwnerURL, ownerMaxConns, false); err != nil {
		db.Pool.Close()
		return nil, err
	}
	return db, nil
}

// newPool opens a pool on url with pgx's default query mode (extended
// protocol, statements prepared and cached), checked with a ping if asked.
func newPool(ctx context.Context, url string, maxConns int32, ping bool) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("testdb: %w", err)
	}
	cfg.MaxConns = maxConns
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeCacheStatement
	if options.ConfigurePool != nil {
		options.ConfigurePool(cfg)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("testdb: %w", err)
	}
	if !ping {
		return pool, nil
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("testdb: connect to %s: %w", cfg.ConnConfig.Database, err)
	}
	return pool, nil
}

// cleanup closes db's pools and drops it, or keeps it if t failed.
func (s *server) cleanup(t testing.TB, db *DB) {
	t.Helper()
	closed := make(chan struct{})
	go func() {
		db.Pool.Close()
		db.Owner.Close()
		close(closed)
	}()
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	select {
	case <-closed:
	case <-timer.C:
		t.Errorf("testdb: database %s: a pool connection was not released within 10s (rows not closed? tx not ended?)", db.Name)
	}
	if t.Failed() {
		where := ""
		if s.cluster != nil {
			where = " (it lives as long as the test binary's throwaway server; set " + envDatabase + " to keep it longer)"
		}
		t.Logf("testdb: kept database %s of failed test%s\n\tURL:      %s\n\tOwnerURL: %s", db.Name, where, db.URL, db.OwnerURL)
		return
	}
	if s.cluster != nil && !s.cluster.running() {
		return // a stopped Server: the database goes with its cluster
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s.waitNoSessions(ctx, db.Name)
	if err := s.drop(ctx, db.Name); err != nil {
		t.Errorf("testdb: drop database %s: %v", db.Name, err)
	}
}

// Main runs the tests of m and then releases the server: a throwaway cluster
// is shut down and its directory removed; on a KEYHOLE_TEST_DATABASE server
// the templates and the test role are dropped when every test passed. Call
// it from TestMain:
//
//	func TestMain(m *testing.M) { testdb.Main(m) }
//
// Without it, the throwaway server still dies with the test binary (it gets
// a parent-death signal), and its directory is removed by the next start.
func Main(m *testing.M) { MainWith(m, Options{}) }

// Options configure the pools that New opens for every test of a binary.
type Options struct {
	// ConfigurePool, if set, is called on the configuration of every pool
	// (Pool and Owner) before it is opened: a test binary whose code needs
	// its connections set up registers that here, e.g.
	// sqlguard.ConfigurePool.
	ConfigurePool func(*pgxpool.Config)
}

// options are MainWith's, set once before the tests run.
var options Options

// MainWith is Main with pools configured by o:
//
//	func TestMain(m *testing.M) {
//		testdb.MainWith(m, testdb.Options{ConfigurePool: sqlguard.ConfigurePool})
//	}
func MainWith(m *testing.M, o Options) {
	options = o
	code := m.Run()
	if err := shutdown(code == 0); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// shutdown releases the process's server, if one was started.
func shutdown(clean bool) error {
	global.mu.Lock()
	defer global.mu.Unlock()
	srv := global.srv
	global.srv, global.err, global.done = nil, errors.New("testdb: server already shut down"), true
	if srv == nil {
		return nil
	}
	return srv.close(clean)
}

// inCI reports whether the environment variable CI is true.
func inCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}
