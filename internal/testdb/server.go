package testdb

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// envDatabase names the environment variable holding the libpq URL of a
// superuser on an existing server, used instead of a throwaway cluster.
const envDatabase = "KEYHOLE_TEST_DATABASE"

// server is where the test databases of this process live.
type server struct {
	adminURL string        // superuser, maintenance database
	admin    *pgxpool.Pool // on adminURL
	cluster  *cluster      // nil when the server is KEYHOLE_TEST_DATABASE's

	run          string // random id of this process: prefix of every name it creates
	role         string // the unprivileged test role
	rolePassword string
	version      int // server_version_num

	cloneMu sync.Mutex // serializes CREATE DATABASE ... TEMPLATE
	seq     atomic.Uint64

	mu        sync.Mutex
	templates map[string]*template // by schema hash
}

// template is a template database with one schema applied.
type template struct {
	once sync.Once
	name string
	err  error
}

// The one server of this process, started on first use. Its error is kept:
// every later New reports the same failure at once.
var global struct {
	mu   sync.Mutex
	done bool
	srv  *server
	err  error
}

func getServer() (*server, error) {
	global.mu.Lock()
	defer global.mu.Unlock()
	if !global.done {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		global.srv, global.err = newServer(ctx)
		cancel()
		global.done = true
	}
	return global.srv, global.err
}

func newServer(ctx context.Context) (*server, error) {
	s := &server{templates: map[string]*template{}}
	if u := os.Getenv(envDatabase); u != "" {
		s.adminURL = u
	} else {
		c, err := startCluster(ctx)
		if err != nil {
			var u *unavailableError
			if !errors.As(err, &u) {
				err = &unavailableError{"could not start a throwaway cluster: " + err.Error()}
			}
			return nil, err
		}
		s.cluster, s.adminURL = c, c.url
	}
	if err := s.setup(ctx); err != nil {
		s.close(false)
		if s.cluster == nil {
			return nil, fmt.Errorf("%w (server from %s)", err, envDatabase)
		}
		return nil, err
	}
	return s, nil
}

func (s *server) setup(ctx context.Context) error {
	cfg, err := pgxpool.ParseConfig(s.adminURL)
	if err != nil {
		return fmt.Errorf("testdb: %w", err)
	}
	cfg.MaxConns = 4
	if s.admin, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return fmt.Errorf("testdb: %w", err)
	}
	var super bool
	err = s.admin.QueryRow(ctx,
		"select current_setting('server_version_num')::int, rolsuper from pg_roles where rolname = current_user",
	).Scan(&s.version, &super)
	if err != nil {
		return fmt.Errorf("testdb: connect: %w", err)
	}
	if !super {
		return errors.New("testdb: the server URL must name a superuser")
	}
	s.run = randomHex(4)
	s.rolePassword = randomHex(16)
	s.role = "keyhole_" + s.run + "_app"
	_, err = s.admin.Exec(ctx, fmt.Sprintf(
		"create role %s login nosuperuser nobypassrls nocreatedb nocreaterole noreplication password '%s'",
		pgx.Identifier{s.role}.Sanitize(), s.rolePassword))
	if err != nil {
		return fmt.Errorf("testdb: create test role: %w", err)
	}
	return nil
}

// template returns the name of the template database with schema applied,
// creating it on first use.
func (s *server) template(ctx context.Context, schema string) (string, error) {
	sum := sha256.Sum256([]byte(schema))
	key := hex.EncodeToString(sum[:])
	s.mu.Lock()
	tp := s.templates[key]
	if tp == nil {
		tp = &template{name: "keyhole_" + s.run + "_t" + key[:12]}
		s.templates[key] = tp
	}
	s.mu.Unlock()
	tp.once.Do(func() { tp.err = s.createTemplate(ctx, tp.name, schema) })
	return tp.name, tp.err
}

func (s *server) createTemplate(ctx context.Context, name, schema string) error {
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := s.admin.Exec(ctx, "create database "+ident+" template template0"); err != nil {
		return fmt.Errorf("testdb: create template: %w", err)
	}
	url, err := withDB(s.adminURL, name, "", "")
	if err != nil {
		return err
	}
	conn, err := pgconn.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("testdb: connect to template: %w", err)
	}
	// The schema is a script of several statements: the simple query
	// protocol runs it as one implicit transaction.
	_, err = conn.Exec(ctx, schema).ReadAll()
	if err != nil {
		err = fmt.Errorf("testdb: apply schema: %w", err)
	} else {
		role := pgx.Identifier{s.role}.Sanitize()
		_, err = conn.Exec(ctx, "grant usage on schema public to "+role+";"+
			"grant select, insert, update, delete on all tables in schema public to "+role+";"+
			"grant usage, select, update on all sequences in schema public to "+role).ReadAll()
		if err != nil {
			err = fmt.Errorf("testdb: grant to test role: %w", err)
		}
	}
	// A template with a session open cannot be cloned.
	if cerr := conn.Close(ctx); err == nil && cerr != nil {
		err = fmt.Errorf("testdb: %w", cerr)
	}
	s.waitNoSessions(ctx, name)
	if err != nil {
		s.drop(ctx, name)
	}
	return err
}

// clone creates database name from template tmpl.
func (s *server) clone(ctx context.Context, name, tmpl string) error {
	q := "create database " + pgx.Identifier{name}.Sanitize() + " template " + pgx.Identifier{tmpl}.Sanitize()
	if s.version >= 150000 {
		q += " strategy file_copy"
	}
	s.cloneMu.Lock()
	defer s.cloneMu.Unlock()
	for attempt := 0; ; attempt++ {
		_, err := s.admin.Exec(ctx, q)
		var pgErr *pgconn.PgError
		if err == nil || attempt == 5 || !errors.As(err, &pgErr) || pgErr.Code != "55006" { // object_in_use
			return err
		}
		t := time.NewTimer(time.Duration(attempt+1) * 50 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// waitNoSessions waits, for up to two seconds, until no session is left on
// database name. CREATE DATABASE ... TEMPLATE and DROP DATABASE find the
// sessions of connections closed a moment ago still exiting, and then
// sleep in steps of 100 ms; a few cheap looks at pg_stat_activity are
// faster.
func (s *server) waitNoSessions(ctx context.Context, name string) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	delay := 500 * time.Microsecond
	for {
		var n int
		err := s.admin.QueryRow(ctx, "select count(*) from pg_stat_activity where datname = $1", name).Scan(&n)
		if err != nil || n == 0 {
			return
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(2*delay, 20*time.Millisecond)
	}
}

// drop drops database name, ending its sessions.
func (s *server) drop(ctx context.Context, name string) error {
	q := "drop database if exists " + pgx.Identifier{name}.Sanitize()
	if s.version >= 130000 {
		q += " with (force)"
	}
	_, err := s.admin.Exec(ctx, q)
	return err
}

// close releases the server. With clean, the templates and the test role
// are dropped from a KEYHOLE_TEST_DATABASE server (databases kept by failed
// tests would keep the role alive, so a failed run leaves both behind).
func (s *server) close(clean bool) error {
	var errs []error
	if s.admin != nil {
		if clean && s.cluster == nil && s.run != "" {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			s.mu.Lock()
			for _, tp := range s.templates {
				errs = append(errs, s.drop(ctx, tp.name))
			}
			s.mu.Unlock()
			_, err := s.admin.Exec(ctx, "drop role if exists "+pgx.Identifier{s.role}.Sanitize())
			errs = append(errs, err)
			cancel()
		}
		s.admin.Close()
	}
	if s.cluster != nil {
		errs = append(errs, s.cluster.stop())
	}
	return errors.Join(errs...)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
