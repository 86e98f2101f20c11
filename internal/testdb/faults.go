package testdb

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// Server is a throwaway PostgreSQL cluster of one test's own, for fault
// tests: the test may stop, start and restart it without disturbing the
// other tests of the binary, which share the binary's server. Starting
// one costs about half a second (initdb and a server start).
type Server struct {
	s *server

	mu  sync.Mutex
	dbs []*DB // made by New: their pools are reset by Start
}

// NewServer starts a throwaway cluster for t (from the PostgreSQL binaries,
// even when KEYHOLE_TEST_DATABASE is set: a shared server cannot be
// restarted), shut down and removed at t.Cleanup. Without binaries it skips
// t, or fails it when CI is true, like New.
func NewServer(t testing.TB) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := newClusterServer(ctx)
	if err != nil {
		var u *unavailableError
		if errors.As(err, &u) && !inCI() {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.close(false); err != nil {
			t.Errorf("testdb: %v", err)
		}
	})
	return &Server{s: s}
}

// newClusterServer starts a throwaway cluster and sets it up.
func newClusterServer(ctx context.Context) (*server, error) {
	s := &server{templates: map[string]*template{}}
	c, err := startCluster(ctx)
	if err != nil {
		var u *unavailableError
		if !errors.As(err, &u) {
			err = &unavailableError{"could not start a throwaway cluster: " + err.Error()}
		}
		return nil, err
	}
	s.cluster, s.adminURL = c, c.url
	if err := s.setup(ctx); err != nil {
		s.close(false)
		return nil, err
	}
	return s, nil
}

// New returns a fresh database on the server, like the package's New:
// dropped at t.Cleanup (unless the test failed, or the server is stopped
// then).
func (s *Server) New(t testing.TB, schema string) *DB {
	t.Helper()
	db := newDB(t, s.s, schema)
	s.mu.Lock()
	s.dbs = append(s.dbs, db)
	s.mu.Unlock()
	return db
}

// Stop shuts the server down (fast shutdown: every open session ends with
// admin_shutdown, SQLSTATE 57P01, and a statement in flight is rolled back)
// and waits for it to exit. Until Start, connection attempts fail.
func (s *Server) Stop() error {
	return s.s.cluster.stopServer()
}

// Start starts the stopped server again on the same data and socket, and
// waits until it accepts connections. It resets the Pool and Owner of
// every database made by s.New (their idle connections are closed and
// new ones opened on demand); connections in use, and those of other
// pools, are broken: pgx answers an error on each (for a statement on an
// idle one, an error saying it was never sent) and a pool then discards it.
func (s *Server) Start(ctx context.Context) error {
	if err := s.s.cluster.startServer(ctx); err != nil {
		return err
	}
	s.s.admin.Reset() // testdb's own pool
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, db := range s.dbs {
		db.Pool.Reset()
		db.Owner.Reset()
	}
	return nil
}

// Restart stops and starts the server.
func (s *Server) Restart(ctx context.Context) error {
	if err := s.Stop(); err != nil {
		return err
	}
	return s.Start(ctx)
}

// Terminate ends the session of backend pid with pg_terminate_backend, as
// the owner (a superuser), and waits (up to five seconds) until it has
// exited. Its client then finds the connection closed (after a FATAL
// admin_shutdown, SQLSTATE 57P01, if it was reading); a transaction the
// session had open is rolled back.
func (db *DB) Terminate(ctx context.Context, pid uint32) error {
	var ok bool
	if err := db.Owner.QueryRow(ctx, "select pg_terminate_backend($1, 5000)", int32(pid)).Scan(&ok); err != nil {
		return fmt.Errorf("testdb: terminate backend %d: %w", pid, err)
	}
	if !ok {
		return fmt.Errorf("testdb: terminate backend %d: no such session, or it did not exit", pid)
	}
	return nil
}

// TerminateAll ends every session of the test role (Pool's role) on the
// database, waiting for each to exit, and returns how many there were.
func (db *DB) TerminateAll(ctx context.Context) (int, error) {
	var n int
	// OFFSET 0 keeps the filter inside: the planner would otherwise be
	// free to call pg_terminate_backend on rows the filter rejects.
	err := db.Owner.QueryRow(ctx, `select count(*) from (
		select pid from pg_stat_activity
		where datname = current_database() and usename = $1 and pid <> pg_backend_pid()
		offset 0) s
		where pg_terminate_backend(s.pid, 5000)`, db.role).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("testdb: terminate sessions: %w", err)
	}
	return n, nil
}
