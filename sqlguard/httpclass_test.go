package sqlguard_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/internal/testdb"
	"github.com/keyhole-go/keyhole/sqlguard"
)

// closedPortURL returns a libpq URL of a loopback port nothing listens on.
func closedPortURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "postgres://keyhole:secret@" + addr + "/keyhole?sslmode=disable&connect_timeout=5"
}

func pgErr(code string) error {
	return &pgconn.PgError{Severity: "ERROR", Code: code, Message: "internal message for " + code}
}

// TestSharedSentinels: sqlguard's refusals match capability's shared
// sentinels, which an HTTP layer maps without importing sqlguard, and keep
// matching their own.
func TestSharedSentinels(t *testing.T) {
	denied := fmt.Errorf("delete: %w", &sqlguard.DeniedError{Policy: "threads.delete", Need: "role moderator in group 7"})
	notFound := fmt.Errorf("thread 9: %w", sqlguard.ErrNotFound)
	tests := []struct {
		name   string
		err    error
		target error
		want   bool
	}{
		{"denied is ErrDenied", denied, sqlguard.ErrDenied, true},
		{"denied is forbidden", denied, capability.ErrForbidden, true},
		{"denied is not not-found", denied, capability.ErrNotFound, false},
		{"not found is ErrNotFound", notFound, sqlguard.ErrNotFound, true},
		{"not found is capability's", notFound, capability.ErrNotFound, true},
		{"not found is not forbidden", notFound, capability.ErrForbidden, false},
		{"not found is not denied", notFound, sqlguard.ErrDenied, false},
		{"capability's not found is not sqlguard's", capability.ErrNotFound, sqlguard.ErrNotFound, false},
		{"invalid input is neither", sqlguard.ErrInvalidInput, capability.ErrForbidden, false},
	}
	for _, tt := range tests {
		if got := errors.Is(tt.err, tt.target); got != tt.want {
			t.Errorf("%s: errors.Is(%v, %v) = %v, want %v", tt.name, tt.err, tt.target, got, tt.want)
		}
	}
	if got, want := sqlguard.ErrNotFound.Error(), "sqlguard: not found"; got != want {
		t.Errorf("ErrNotFound.Error() = %q, want %q", got, want)
	}
}

// TestClassify maps constructed errors; TestClassifyPostgres below maps
// the ones a real PostgreSQL returns.
func TestClassify(t *testing.T) {
	ctx := context.Background()
	// A real connection error: a pool on a closed loopback port.
	pool, err := pgxpool.New(ctx, closedPortURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	connErr := pool.Ping(ctx)
	if connErr == nil {
		t.Fatal("ping of a closed port succeeded")
	}
	// A real timeout: connecting with an expired context.
	expiredCtx, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel()
	_, timeoutErr := pgconn.Connect(expiredCtx, closedPortURL(t))

	denied := &sqlguard.DeniedError{Policy: "threads.delete", Need: "role moderator in group 7"}
	tests := []struct {
		name   string
		err    error
		status int // 0: not classified
		detail string
	}{
		{"nil", nil, 0, ""},
		{"other", errors.New("pq: relation \"secret_table\" does not exist"), 0, ""},
		{"denied", denied, 403, "needs role moderator in group 7"},
		{"denied wrapped", fmt.Errorf("delete thread: %w", denied), 403, "needs role moderator in group 7"},
		{"denied without need", &sqlguard.DeniedError{Policy: "x"}, 403, ""},
		{"denied sentinel", sqlguard.ErrDenied, 403, ""},
		{"not approved", fmt.Errorf("%w: threads.purge", sqlguard.ErrNotApproved), 403, ""},
		{"not found", fmt.Errorf("thread 9: %w", sqlguard.ErrNotFound), 404, ""},
		{"invalid input", fmt.Errorf("%w: group kind", sqlguard.ErrInvalidInput), 400, ""},
		{"misconfigured", fmt.Errorf("%w: role hierarchy", sqlguard.ErrMisconfigured), 500, ""},
		{"misconfigured before invalid input", errors.Join(sqlguard.ErrInvalidInput, sqlguard.ErrMisconfigured), 500, ""},
		{"unique violation", fmt.Errorf("sqlguard: insert: %w", pgErr("23505")), 409, ""},
		{"foreign key violation", pgErr("23503"), 409, ""},
		{"exclusion violation", pgErr("23P01"), 409, ""},
		{"insufficient privilege", pgErr("42501"), 403, ""},
		{"undefined table", pgErr("42P01"), 0, ""},
		{"capability's not found", capability.ErrNotFound, 0, ""},
		{"canceled by the client", context.Canceled, sqlguard.StatusClientClosedRequest, ""},
		{"canceled while a statement ran", fmt.Errorf("%w: %w", context.Canceled, pgErr("57014")), sqlguard.StatusClientClosedRequest, ""},
		{"deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), 503, ""},
		{"pgconn timeout", timeoutErr, 503, ""},
		{"connect error", connErr, 503, ""},
		{"connection exception 08006", pgErr("08006"), 503, ""},
		{"connection exception 08000", pgErr("08000"), 503, ""},
		{"too many connections 53300", pgErr("53300"), 503, ""},
		{"admin shutdown 57P01", pgErr("57P01"), 503, ""},
		{"crash shutdown 57P02", pgErr("57P02"), 503, ""},
		{"cannot connect now 57P03", pgErr("57P03"), 503, ""},
		{"statement timeout 57014", pgErr("57014"), 503, ""},
		{"serialization failure 40001", pgErr("40001"), 503, ""},
		{"deadlock 40P01", pgErr("40P01"), 503, ""},
		{"lock timeout 55P03", pgErr("55P03"), 503, ""},
		{"connection lost", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), 503, ""},
		{"outcome unknown", fmt.Errorf("x: %w", sqlguard.ErrOutcomeUnknown), 503, ""},
		{"unsafe exec mode", fmt.Errorf("x: %w", sqlguard.ErrUnsafeExecMode), 500, ""},
		{"check violation", pgErr("23514"), 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, detail, ok := sqlguard.Classify(tt.err)
			if ok != (tt.status != 0) || status != tt.status || detail != tt.detail {
				t.Errorf("Classify(%v) = %d, %q, %v; want %d, %q, %v", tt.err, status, detail, ok, tt.status, tt.detail, tt.status != 0)
			}
		})
	}
}

// TestClassifyPostgres classifies errors that a real PostgreSQL returns
// through pgx and through sqlguard's policies, not constructed ones.
func TestClassifyPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	db := testdb.New(t, `
		create table groups (id bigint primary key);
		create table threads (id bigint primary key, group_id bigint not null references groups(id), title text not null);
	`)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.Owner.Exec(ctx, `create table secrets (id int); insert into groups values (1), (2)`); err != nil {
		t.Fatal(err)
	}
	check := func(name string, err error, want int, wantDetail string) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: no error", name)
		}
		status, detail, ok := sqlguard.Classify(err)
		if !ok {
			status = 500 // the middleware's default
		}
		if status != want || detail != wantDetail {
			t.Errorf("%s: %v: got %d %q, want %d %q", name, err, status, detail, want, wantDetail)
		}
	}

	// sqlguard's own refusals, from a real statement.
	reg, err := sqlguard.NewRegistry(forumRoles, capability.KindInt64)
	if err != nil {
		t.Fatal(err)
	}
	del := reg.MustDelete(sqlguard.Policy{
		Name: "threads.delete", Table: "threads", Key: []string{"id"},
		GroupColumn: "group_id", Role: "moderator", ReadRole: "member",
	})
	if _, err := db.Pool.Exec(ctx, `insert into threads values (1, 1, 'a'), (2, 2, 'b')`); err != nil {
		t.Fatal(err)
	}
	member := newCap(t, capability.KindInt64, "alice", false, map[int64]string{1: "member"})
	check("denied", del.Exec(ctx, db.Pool, member, int64(1)), 403, "needs role moderator in group 1")
	check("not found: missing", del.Exec(ctx, db.Pool, member, int64(99)), 404, "")
	check("not found: unreadable", del.Exec(ctx, db.Pool, member, int64(2)), 404, "")
	check("invalid input", del.Exec(ctx, db.Pool, member), 400, "")

	// PostgreSQL's errors.
	_, err = db.Pool.Exec(ctx, `insert into threads values (1, 1, 'b')`)
	check("unique violation", err, 409, "")
	_, err = db.Pool.Exec(ctx, `insert into threads values (3, 99, 'c')`)
	check("foreign key violation", err, 409, "")
	_, err = db.Pool.Exec(ctx, `select * from secrets`)
	check("insufficient privilege", err, 403, "")

	// statement_timeout: 57014, the database timed out.
	tx, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `set local statement_timeout = '10ms'`); err != nil {
		t.Fatal(err)
	}
	_, err = tx.Exec(ctx, `select pg_sleep(5)`)
	check("statement timeout", err, 503, "")
	tx.Rollback(ctx)

	// The request's deadline expires during the query.
	short, cancelShort := context.WithTimeout(ctx, 20*time.Millisecond)
	_, err = db.Pool.Exec(short, `select pg_sleep(5)`)
	cancelShort()
	check("context deadline", err, 503, "")

	// The server terminates the connection: 57P01 admin_shutdown.
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	var pid int32
	if err := conn.QueryRow(ctx, `select pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Owner.Exec(ctx, `select pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(ctx, `select 1`)
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		check("admin shutdown "+pe.Code, err, 503, "")
	} else {
		// The termination notice can be lost; the connection is gone either way.
		status, _, _ := sqlguard.Classify(err)
		t.Logf("terminated connection: %v (status %d)", err, status)
	}
}
