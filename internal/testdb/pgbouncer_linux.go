//go:build linux

package testdb

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// bouncerPrefix is the name prefix of PgBouncer directories.
const bouncerPrefix = "keyhole-pgbouncer-"

// bouncerPort names PgBouncer's socket (.s.PGSQL.6432) in its private
// directory; nothing listens on TCP.
const bouncerPort = 6432

// findPgBouncer looks for pgbouncer on PATH, then in /usr/sbin (Debian's
// package installs it there, outside an ordinary user's PATH).
func findPgBouncer() (string, error) {
	if p, err := exec.LookPath("pgbouncer"); err == nil {
		return p, nil
	}
	if fi, err := os.Stat("/usr/sbin/pgbouncer"); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
		return "/usr/sbin/pgbouncer", nil
	}
	return "", &unavailableError{"pgbouncer not found on PATH nor in /usr/sbin (Debian/Ubuntu: apt-get install pgbouncer)"}
}

// PgBouncer starts a PgBouncer in transaction pooling mode in front of db
// and returns the libpq URL of the test role (Pool's) through it. PgBouncer
// keeps at most poolSize server connections to db (poolSize 1 makes every
// client share one server session, transaction by transaction) and any
// number of clients. It listens only on a unix socket in a private
// directory and trusts the test role; it runs as the server's OS account
// (PgBouncer, like PostgreSQL, refuses to run as root), gets SIGTERM
// (immediate shutdown) when the test binary dies, and is stopped at
// t.Cleanup, before the database is dropped. Without a pgbouncer binary it
// skips t, or fails it when CI is true.
//
// Transaction pooling hands a client's next transaction, or next
// statement outside one, to whichever server session is free: session
// state (prepared statements, SET, advisory locks) does not follow the
// client. Debian's PgBouncer 1.18 does not track prepared statements
// (1.21 and later can).
func (db *DB) PgBouncer(t testing.TB, poolSize int) string {
	t.Helper()
	if poolSize < 1 {
		t.Fatalf("testdb: PgBouncer pool size %d, want at least 1", poolSize)
	}
	u, stop, err := startPgBouncer(db, poolSize)
	if err != nil {
		var ua *unavailableError
		if errors.As(err, &ua) && !inCI() {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("%v", err)
		}
	})
	return u
}

func startPgBouncer(db *DB, poolSize int) (string, func() error, error) {
	bin, err := findPgBouncer()
	if err != nil {
		return "", nil, err
	}
	o, err := serverOwner()
	if err != nil {
		return "", nil, err
	}
	cfg, err := pgconn.ParseConfig(db.URL)
	if err != nil {
		return "", nil, fmt.Errorf("testdb: %w", err)
	}
	var dir string
	for _, base := range clusterBases() {
		if dir, err = os.MkdirTemp(base, bouncerPrefix); err == nil {
			break
		}
	}
	if err != nil {
		return "", nil, fmt.Errorf("testdb: %w", err)
	}
	fail := func(err error) (string, func() error, error) {
		os.RemoveAll(dir)
		return "", nil, err
	}
	auth := filepath.Join(dir, "userlist.txt")
	ini := filepath.Join(dir, "pgbouncer.ini")
	conf := fmt.Sprintf(`[databases]
%s = host=%s port=%d dbname=%s

[pgbouncer]
unix_socket_dir = %s
unix_socket_mode = 0700
listen_port = %d
auth_type = trust
auth_file = %s
pool_mode = transaction
default_pool_size = %d
max_db_connections = %d
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = 200
ignore_startup_parameters = extra_float_digits
log_connections = 0
log_disconnections = 0
stats_period = 3600
`, iniValue(db.Name), iniValue(cfg.Host), cfg.Port, iniValue(db.Name), dir, bouncerPort, auth, poolSize, poolSize)
	users := fmt.Sprintf("%s %s\n", userlistQuote(cfg.User), userlistQuote(cfg.Password))
	owner := filepath.Join(dir, ownerFile)
	for _, f := range []struct{ name, text string }{{ini, conf}, {auth, users}, {owner, strconv.Itoa(os.Getpid()) + "\n"}} {
		if err := os.WriteFile(f.name, []byte(f.text), 0o600); err != nil {
			return fail(fmt.Errorf("testdb: %w", err))
		}
		if err := o.chown(f.name); err != nil {
			return fail(fmt.Errorf("testdb: %w", err))
		}
	}
	if err := o.chown(dir); err != nil {
		return fail(fmt.Errorf("testdb: %w", err))
	}

	cmd := exec.Command(bin, ini)
	cmd.Env = childEnv()
	cmd.Dir = dir
	log := &tailBuffer{max: 16 << 10}
	cmd.Stdout, cmd.Stderr = log, log
	if err := spawn(cmd, o, syscall.SIGTERM); err != nil {
		return fail(fmt.Errorf("testdb: start pgbouncer in %s%s: %w", dir, o.hint(), err))
	}
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	stop := func() error {
		var err error
		select {
		case <-exited: // on its own: report why
			err = waitErr
			if err == nil {
				err = errors.New("exited")
			}
		default:
			// Immediate shutdown; PgBouncer then exits with status 1.
			cmd.Process.Signal(syscall.SIGTERM)
			<-exited
		}
		os.RemoveAll(dir)
		if err != nil {
			return serverError("pgbouncer", err, log)
		}
		return nil
	}
	q := url.Values{"host": {dir}, "port": {strconv.Itoa(bouncerPort)}, "sslmode": {"disable"}}
	u := (&url.URL{Scheme: "postgres", User: url.User(cfg.User), Path: "/" + db.Name, RawQuery: q.Encode()}).String()
	if err := waitBouncer(u, exited, log); err != nil {
		stop()
		return "", nil, err
	}
	return u, stop, nil
}

// waitBouncer waits until PgBouncer at u lets the test role in (it opens
// a server connection to do so), PgBouncer exits, or a minute passes.
func waitBouncer(u string, exited <-chan struct{}, log *tailBuffer) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	delay := 2 * time.Millisecond
	for {
		conn, err := pgconn.Connect(ctx, u)
		if err == nil {
			_, err = conn.Exec(ctx, "select 1").ReadAll()
			conn.Close(ctx)
			if err == nil {
				return nil
			}
		}
		t := time.NewTimer(delay)
		select {
		case <-exited:
			t.Stop()
			return serverError("pgbouncer exited during start-up", err, log)
		case <-ctx.Done():
			t.Stop()
			return serverError("pgbouncer not ready", errors.Join(ctx.Err(), err), log)
		case <-t.C:
		}
		delay = min(2*delay, 100*time.Millisecond)
	}
}

// iniValue refuses nothing but keeps a value on its line: test names,
// directories and hosts hold no newline.
func iniValue(v string) string { return strings.NewReplacer("\n", "", "\r", "").Replace(v) }

// userlistQuote quotes v for PgBouncer's auth_file ("" doubles a quote).
func userlistQuote(v string) string { return `"` + strings.ReplaceAll(v, `"`, `""`) + `"` }
