package testdb

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestServerRestart: a row committed before a restart is there after it; a
// session open across the stop ends with admin_shutdown (57P01); while the
// server is stopped connecting fails; after Start the pool connects anew.
func TestServerRestart(t *testing.T) {
	srv := NewServer(t)
	db := srv.New(t, notesSchema)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, "insert into notes (body) values ('before')"); err != nil {
		t.Fatal(err)
	}
	c, err := db.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	_, err = c.Exec(ctx, "select 1")
	c.Release()
	if err == nil {
		t.Fatal("a session survived the stop")
	}
	var ce *pgconn.ConnectError
	if _, err := pgx.Connect(ctx, db.URL); !errors.As(err, &ce) {
		t.Fatalf("connect to a stopped server: got %v, want a *pgconn.ConnectError", err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	// The pool's other idle connections may be broken: pgx discards each
	// after its first error.
	for range poolMaxConns + 1 {
		if err = db.Pool.QueryRow(ctx, "select count(*) from notes where body = 'before'").Scan(&n); err == nil {
			break
		}
	}
	if err != nil || n != 1 {
		t.Fatalf("after restart: got %d rows, err %v; want 1", n, err)
	}
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestTerminate: Terminate ends one session and TerminateAll every
// session of the test role; the owner's session survives.
func TestTerminate(t *testing.T) {
	db := New(t, notesSchema)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := db.Terminate(ctx, conn.PgConn().PID()); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "select 1"); err == nil {
		t.Fatal("the terminated session still answers")
	}
	if err := db.Terminate(ctx, conn.PgConn().PID()); err == nil {
		t.Fatal("terminated a session that is gone")
	}
	if err := db.Pool.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	n, err := db.TerminateAll(ctx)
	if err != nil || n < 1 {
		t.Fatalf("TerminateAll: got %d, %v; want at least 1 session", n, err)
	}
	if err := db.Owner.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestPgBouncer: through a PgBouncer with one server connection, two
// clients share one backend, and session state does not follow a client
// from one transaction to the next.
func TestPgBouncer(t *testing.T) {
	db := New(t, notesSchema)
	u := db.PgBouncer(t, 1)
	ctx := context.Background()
	var pids [2]int32
	for i := range pids {
		conn, err := pgx.Connect(ctx, u+"&default_query_exec_mode=exec")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if err := conn.QueryRow(ctx, "select pg_backend_pid()").Scan(&pids[i]); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "insert into notes (body) values ($1)", "through"); err != nil {
			t.Fatal(err)
		}
	}
	if pids[0] != pids[1] {
		t.Errorf("got backends %v, want one shared backend", pids)
	}
	var n int
	if err := db.Pool.QueryRow(ctx, "select count(*) from notes where body = 'through'").Scan(&n); err != nil || n != 2 {
		t.Fatalf("got %d rows (%v), want 2", n, err)
	}
}
