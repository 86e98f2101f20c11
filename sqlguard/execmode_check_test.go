package sqlguard_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/internal/testdb"
	"github.com/keyhole-go/keyhole/sqlguard"
)

// someDB is a DB of a type CheckExecMode does not know.
type someDB struct{ sqlguard.DB }

// TestCheckExecMode: describe_exec is refused on every handle that can
// tell its mode (pool, connection, pool connection, transactions) and for
// a mode passed per call, and allowed on a DB declared direct; the other
// modes pass.
func TestCheckExecMode(t *testing.T) {
	db := testdb.New(t, "")
	ctx := context.Background()
	for _, mode := range []string{"cache_statement", "cache_describe", "describe_exec", "exec", "simple_protocol"} {
		want := mode == "describe_exec"
		cfg, err := pgxpool.ParseConfig(db.URL + "&default_query_exec_mode=" + mode)
		if err != nil {
			t.Fatal(err)
		}
		cfg.MaxConns = 2
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		pc, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ptx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range []struct {
			name string
			db   sqlguard.DB
		}{{"pool", pool}, {"conn", conn}, {"pool conn", pc}, {"pool tx", ptx}, {"conn tx", tx}} {
			err := sqlguard.CheckExecMode(h.db)
			if got := errors.Is(err, sqlguard.ErrUnsafeExecMode); got != want {
				t.Errorf("%s %s: got %v, want refused %v", mode, h.name, err, want)
			}
			if err := sqlguard.CheckExecMode(sqlguard.DirectConnection(h.db)); err != nil {
				t.Errorf("%s %s, direct: got %v", mode, h.name, err)
			}
			// A mode passed before the arguments wins, as in pgx.
			err = sqlguard.CheckExecMode(h.db, pgx.QueryExecModeDescribeExec, int64(1))
			if !errors.Is(err, sqlguard.ErrUnsafeExecMode) {
				t.Errorf("%s %s, describe_exec per call: got %v, want refused", mode, h.name, err)
			}
			err = sqlguard.CheckExecMode(h.db, pgx.QueryExecModeExec, int64(1))
			if err != nil {
				t.Errorf("%s %s, exec per call: got %v", mode, h.name, err)
			}
			// A mode that is an argument value, after the first non-option, is
			// no mode.
			err = sqlguard.CheckExecMode(pool, int64(1), pgx.QueryExecModeDescribeExec)
			if got := errors.Is(err, sqlguard.ErrUnsafeExecMode); got != want {
				t.Errorf("%s %s, mode as a value: got %v, want refused %v", mode, h.name, err, want)
			}
		}
		if err := sqlguard.CheckExecMode(someDB{pool}); err != nil {
			t.Errorf("%s: a DB of another type: got %v (it cannot be checked)", mode, err)
		}
		tx.Rollback(ctx)
		ptx.Rollback(ctx)
		pc.Release()
	}
}

// TestDescribeExecRefused: guarded statements on a describe_exec pool are
// refused before anything is sent (nothing is written), and run on the
// same pool declared direct.
func TestDescribeExecRefused(t *testing.T) {
	kind := capability.KindInt64
	db := testdb.New(t, forumSchema(kind))
	seedForum(t, db, kind)
	f := newForum(t, kind)
	c := forumCaps(t, kind)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, db.URL+"&default_query_exec_mode=describe_exec")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var id int64
	for _, tc := range []struct {
		what string
		run  func(sqlguard.DB) error
	}{
		{"insert", func(d sqlguard.DB) error { return f.createThread.Exec(ctx, d, c.bob, "refused?", grp(kind, 2)) }},
		{"insert returning", func(d sqlguard.DB) error {
			return f.createThread.QueryRow(ctx, d, c.bob, "refused?", grp(kind, 2)).Scan(&id)
		}},
		{"delete", func(d sqlguard.DB) error { return f.deleteThread.Exec(ctx, d, c.alice, int64(2)) }},
		{"list", func(d sqlguard.DB) error { return listsSome(ctx, d, f.listThreads, c.big, int64(0)) }},
		{"get", func(d sqlguard.DB) error {
			return f.getThread.QueryRow(ctx, d, c.alice, int64(1)).Scan(&id, new(string))
		}},
	} {
		if err := tc.run(pool); !errors.Is(err, sqlguard.ErrUnsafeExecMode) {
			t.Errorf("%s on describe_exec: got %v, want ErrUnsafeExecMode", tc.what, err)
		}
	}
	var n int
	if err := db.Owner.QueryRow(ctx, "select (select count(*) from threads where title = 'refused?') + (select count(*) from threads where id = 2) - 1").Scan(&n); err != nil || n != 0 {
		t.Fatalf("refused statements changed %d rows (%v)", n, err)
	}
	direct := sqlguard.DirectConnection(pool)
	if err := f.createThread.Exec(ctx, direct, c.bob, "direct", grp(kind, 2)); err != nil {
		t.Errorf("insert on a direct describe_exec pool: %v", err)
	}
	if err := f.getThread.QueryRow(ctx, direct, c.alice, int64(1)).Scan(&id, new(string)); err != nil || id != 1 {
		t.Errorf("get on a direct describe_exec pool: got %d, %v", id, err)
	}
}

// TestCheckExecModeAllocs: after the first call on a handle, the check
// reads its memo and allocates nothing.
func TestCheckExecModeAllocs(t *testing.T) {
	db := testdb.New(t, "")
	ctx := context.Background()
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	for _, h := range []sqlguard.DB{db.Pool, conn, conn.Conn()} {
		sqlguard.CheckExecMode(h)
		if n := testing.AllocsPerRun(100, func() { sqlguard.CheckExecMode(h) }); n != 0 {
			t.Errorf("%T: %v allocations per check, want 0", h, n)
		}
	}
}

// BenchmarkCheckExecMode: the check per guarded statement (memoized),
// against reading the configuration each time.
func BenchmarkCheckExecMode(b *testing.B) {
	db := testdb.New(b, "")
	b.Run("memo", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sqlguard.CheckExecMode(db.Pool)
		}
	})
	b.Run("config", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = db.Pool.Config().ConnConfig.DefaultQueryExecMode == pgx.QueryExecModeDescribeExec
		}
	})
}
