package middleware_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/keyhole-go/keyhole/internal/testdb"
	"github.com/keyhole-go/keyhole/middleware"
)

// TestWriteErrorPostgres maps errors that a real PostgreSQL returns
// through pgx, not constructed ones.
func TestWriteErrorPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	db := testdb.New(t, `
		create table groups (id bigint primary key);
		create table threads (id bigint primary key, group_id bigint not null references groups(id), title text not null);
	`)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.Owner.Exec(ctx, `create table secrets (id int); insert into groups values (1)`); err != nil {
		t.Fatal(err)
	}
	status := func(err error) int {
		w := httptest.NewRecorder()
		middleware.WriteError(w, httptest.NewRequest("GET", "/", nil), err)
		return w.Code
	}
	check := func(name string, err error, want int) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: no error", name)
		}
		if got := status(err); got != want {
			t.Errorf("%s: %v: got %d, want %d", name, err, got, want)
		}
	}

	_, err := db.Pool.Exec(ctx, `insert into threads values (1, 1, 'a')`)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Pool.Exec(ctx, `insert into threads values (1, 1, 'b')`)
	check("unique violation", err, 409)
	_, err = db.Pool.Exec(ctx, `insert into threads values (2, 99, 'c')`)
	check("foreign key violation", err, 500)
	_, err = db.Pool.Exec(ctx, `select * from secrets`)
	check("insufficient privilege", err, 403)

	// statement_timeout: 57014, the database timed out.
	tx, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `set local statement_timeout = '10ms'`); err != nil {
		t.Fatal(err)
	}
	_, err = tx.Exec(ctx, `select pg_sleep(5)`)
	check("statement timeout", err, 503)
	tx.Rollback(ctx)

	// The request's deadline expires during the query.
	short, cancelShort := context.WithTimeout(ctx, 20*time.Millisecond)
	_, err = db.Pool.Exec(short, `select pg_sleep(5)`)
	cancelShort()
	check("context deadline", err, 503)

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
		check("admin shutdown "+pe.Code, err, 503)
	} else {
		// The termination notice can be lost; the connection is gone either way.
		t.Logf("terminated connection: %v (status %d)", err, status(err))
	}
}
