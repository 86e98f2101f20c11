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

// registered reports TypesRegistered for a connection of pool.
func registered(t *testing.T, pool *pgxpool.Pool) bool {
	t.Helper()
	var ok bool
	if err := pool.AcquireFunc(t.Context(), func(c *pgxpool.Conn) error {
		ok = sqlguard.TypesRegistered(c.Conn())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return ok
}

// TestConfigurePool: ConfigurePool sets up every connection of a pool
// after the AfterConnect it had; a pool without it is visibly on the
// slower path (TypesRegistered false) and still decides the same.
func TestConfigurePool(t *testing.T) {
	const kind = capability.KindInt64
	db := testdb.New(t, forumSchema(kind))
	ctx := t.Context()
	if !registered(t, db.Pool) {
		t.Error("testdb pool (TestMain's ConfigurePool): TypesRegistered false")
	}

	var before int
	cfg, err := pgxpool.ParseConfig(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.AfterConnect = func(_ context.Context, conn *pgx.Conn) error {
		before++
		if sqlguard.TypesRegistered(conn) {
			t.Error("registered before the pool's own AfterConnect")
		}
		return nil
	}
	sqlguard.ConfigurePool(cfg)
	chained, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer chained.Close()
	if !registered(t, chained) || before == 0 {
		t.Errorf("chained: TypesRegistered %v, earlier AfterConnect ran %d times", registered(t, chained), before)
	}

	cfg, err = pgxpool.ParseConfig(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	refuse := errors.New("refused")
	cfg.AfterConnect = func(context.Context, *pgx.Conn) error { return refuse }
	sqlguard.ConfigurePool(cfg)
	failing, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer failing.Close()
	if err := failing.Ping(ctx); !errors.Is(err, refuse) {
		t.Errorf("earlier AfterConnect failing: got %v, want its error", err)
	}

	plain, err := pgxpool.New(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if registered(t, plain) {
		t.Error("a pool without ConfigurePool: TypesRegistered true")
	}
	seedForum(t, db, kind)
	f := newForum(t, kind)
	c := forumCaps(t, kind)
	for _, pool := range []*pgxpool.Pool{plain, db.Pool} {
		inTx(t, pool, func(tx pgx.Tx) {
			if err := f.createPost.Exec(ctx, tx, c.bob, "p", int64(2)); outcome(err) != "ok" {
				t.Errorf("bob posts: got %v, want ok", err)
			}
			if err := f.announce.Exec(ctx, tx, c.alice, "a", int64(1)); outcome(err) != "denied" {
				t.Errorf("alice announces: got %v, want denied", err)
			}
			if err := listsSome(ctx, tx, f.listThreads, c.big, int64(0)); err != nil {
				t.Errorf("list: %v", err)
			}
		})
	}
}
