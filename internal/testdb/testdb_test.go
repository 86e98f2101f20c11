package testdb

import (
	"context"
	"errors"
	"flag"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

const notesSchema = `
create table notes (id bigserial primary key, body text not null);
create table secrets (id int primary key, visible bool not null);
insert into secrets values (1, true), (2, false), (3, false);
alter table secrets enable row level security;
create policy visible_only on secrets for select using (visible);
`

// mustServer returns the process's server, skipping like New does.
func mustServer(t *testing.T) *server {
	t.Helper()
	New(t, "") // skips or fails the test when there is no server
	s, err := getServer()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func dbExists(t *testing.T, s *server, name string) bool {
	t.Helper()
	var n int
	if err := s.admin.QueryRow(context.Background(), "select count(*) from pg_database where datname = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// TestParallelDatabasesAreSeparate: two tests running at the same time each
// insert a row, wait for the other's insert, and see only their own.
func TestParallelDatabasesAreSeparate(t *testing.T) {
	concurrent := true
	if f := flag.Lookup("test.parallel"); f != nil {
		if n, _ := strconv.Atoi(f.Value.String()); n < 2 {
			concurrent = false // the two tests would run one after the other
		}
	}
	var (
		inserted sync.WaitGroup
		mu       sync.Mutex
		names    = map[string]bool{}
	)
	inserted.Add(2)
	for _, body := range []string{"first", "second"} {
		t.Run(body, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := New(t, notesSchema)
			mu.Lock()
			if names[db.Name] {
				t.Errorf("database %s handed out twice", db.Name)
			}
			names[db.Name] = true
			mu.Unlock()
			_, err := db.Pool.Exec(ctx, "insert into notes (body) values ($1)", body)
			inserted.Done()
			if err != nil {
				t.Fatal(err)
			}
			if concurrent {
				inserted.Wait() // both rows are in by now, each in its own database
			}
			rows, err := db.Pool.Query(ctx, "select body from notes order by id")
			if err != nil {
				t.Fatal(err)
			}
			got, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0] != body {
				t.Errorf("got rows %q, want only %q", got, body)
			}
		})
	}
}

// TestDatabaseDroppedAfterTest: a passing test's database is gone after it.
func TestDatabaseDroppedAfterTest(t *testing.T) {
	s := mustServer(t)
	var name string
	t.Run("inner", func(t *testing.T) {
		db := New(t, notesSchema)
		name = db.Name
		if !dbExists(t, s, name) {
			t.Fatalf("database %s missing during the test", name)
		}
	})
	if dbExists(t, s, name) {
		t.Errorf("database %s still exists after its test passed", name)
	}
}

// TestRoleCannotBypassRLS: Pool's role is no superuser, has no BYPASSRLS,
// does not own the tables, and a row-level security policy hides rows from
// it that Owner sees.
func TestRoleCannotBypassRLS(t *testing.T) {
	ctx := context.Background()
	db := New(t, notesSchema)

	var super, bypass bool
	var tableOwner, me string
	err := db.Pool.QueryRow(ctx, `select r.rolsuper, r.rolbypassrls, t.tableowner, current_user
		from pg_roles r, pg_tables t
		where r.rolname = current_user and t.tablename = $1`, "secrets").Scan(&super, &bypass, &tableOwner, &me)
	if err != nil {
		t.Fatal(err)
	}
	if super || bypass {
		t.Errorf("test role %s: rolsuper %v, rolbypassrls %v, want both false", me, super, bypass)
	}
	if tableOwner == me {
		t.Errorf("test role %s owns the tables", me)
	}

	count := func(pool interface {
		QueryRow(context.Context, string, ...any) pgx.Row
	}) int {
		t.Helper()
		var n int
		if err := pool.QueryRow(ctx, "select count(*) from secrets where id > $1", 0).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if got := count(db.Pool); got != 1 {
		t.Errorf("Pool sees %d rows, want 1 (the policy hides 2)", got)
	}
	if got := count(db.Owner); got != 3 {
		t.Errorf("Owner sees %d rows, want 3", got)
	}

	// Turning row security off does not lift it: the query errors instead.
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "select set_config('row_security', 'off', false)"); err != nil {
		t.Fatal(err)
	}
	var n int
	err = conn.QueryRow(ctx, "select count(*) from secrets where id > $1", 0).Scan(&n)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
		t.Errorf("with row_security off: got %v (count %d), want insufficient_privilege", err, n)
	}
	// Nor can it become someone else.
	_, err = conn.Exec(ctx, "select set_config('role', 'postgres', false)")
	if err == nil {
		t.Errorf("test role could set role postgres")
	}
}

// TestPoolGrants: the test role reads and writes the schema's tables and
// sequences, but cannot drop them or change their policies.
func TestPoolGrants(t *testing.T) {
	ctx := context.Background()
	db := New(t, notesSchema)
	for _, q := range []string{
		"insert into notes (body) values ('a')",
		"update notes set body = 'b' where id > 0",
		"select nextval('notes_id_seq')",
		"delete from notes where body = 'b'",
		"create temporary table scratch (x int)",
	} {
		if _, err := db.Pool.Exec(ctx, q); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
	for _, q := range []string{
		"drop table notes",
		"alter table secrets disable row level security",
		"drop policy visible_only on secrets",
		"create role " + db.Name + "_x",
		"create database " + db.Name + "_x",
	} {
		_, err := db.Pool.Exec(ctx, q)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
			t.Errorf("%s: got %v, want insufficient_privilege", q, err)
		}
	}
}

// TestExtendedProtocol: both pools run queries with the extended protocol:
// pgx's statement cache mode, and a query with arguments leaves a prepared
// statement on its connection.
func TestExtendedProtocol(t *testing.T) {
	ctx := context.Background()
	db := New(t, "")
	for _, p := range []struct {
		name string
		cfg  pgx.QueryExecMode
		url  string
	}{
		{"Pool", db.Pool.Config().ConnConfig.DefaultQueryExecMode, db.URL},
		{"Owner", db.Owner.Config().ConnConfig.DefaultQueryExecMode, db.OwnerURL},
	} {
		if p.cfg != pgx.QueryExecModeCacheStatement {
			t.Errorf("%s: DefaultQueryExecMode = %v, want %v", p.name, p.cfg, pgx.QueryExecModeCacheStatement)
		}
		if strings.Contains(p.url, "default_query_exec_mode") {
			t.Errorf("%s URL sets a query mode: %s", p.name, p.url)
		}
	}
	for name, pool := range map[string]*pgxpool.Pool{"Pool": db.Pool, "Owner": db.Owner} {
		conn, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got int
		if err := conn.QueryRow(ctx, "select $1::int + 1", 41).Scan(&got); err != nil || got != 42 {
			t.Errorf("%s: got %d, %v", name, got, err)
		}
		var prepared int
		if err := conn.QueryRow(ctx, "select count(*) from pg_prepared_statements where statement = $1", "select $1::int + 1").Scan(&prepared); err != nil {
			t.Fatal(err)
		}
		if prepared != 1 {
			t.Errorf("%s: %d prepared statements for the query, want 1 (extended protocol)", name, prepared)
		}
		conn.Release()
	}
}

// TestBadSchema: a schema that does not apply is an error naming the
// statement's failure, remembered for every later use of the same text, and
// leaves no template behind.
func TestBadSchema(t *testing.T) {
	s := mustServer(t)
	ctx := context.Background()
	const bad = "create table ok (id int); create table broken (id no_such_type);"
	_, err := s.newDB(ctx, bad)
	if err == nil || !strings.Contains(err.Error(), "apply schema") || !strings.Contains(err.Error(), "no_such_type") {
		t.Fatalf("got %v, want an apply schema error naming no_such_type", err)
	}
	_, err2 := s.newDB(ctx, bad)
	if err2 == nil || err2.Error() != err.Error() {
		t.Errorf("second use: got %v, want the same error", err2)
	}
	name, _ := s.template(ctx, bad)
	if dbExists(t, s, name) {
		t.Errorf("template %s of a bad schema left behind", name)
	}
}
