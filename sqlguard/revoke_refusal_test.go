package sqlguard_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	sq "github.com/Masterminds/squirrel"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/internal/testdb"
	"github.com/keyhole-go/keyhole/sqlguard"
)

// sentDB records the text of every statement sent through it to a real
// pool, and can make the one text fail instead of sending it. Each
// statement runs on its own (a pool's): the registry's retries apply.
type sentDB struct {
	sqlguard.DB
	sent    []string
	fail    string // a statement text answered with failErr, not sent
	failErr error  // errInjected when nil
}

var errInjected = errors.New("injected: connection lost")

func (d *sentDB) SingleStatements() bool { return true }

func (d *sentDB) err() error {
	if d.failErr != nil {
		return d.failErr
	}
	return errInjected
}

func (d *sentDB) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	d.sent = append(d.sent, sql)
	if sql == d.fail {
		return pgconn.CommandTag{}, d.err()
	}
	return d.DB.Exec(ctx, sql, args...)
}

func (d *sentDB) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	d.sent = append(d.sent, sql)
	if sql == d.fail {
		return nil, d.err()
	}
	return d.DB.Query(ctx, sql, args...)
}

func (d *sentDB) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	d.sent = append(d.sent, sql)
	if sql == d.fail {
		return errRow{d.err()}
	}
	return d.DB.QueryRow(ctx, sql, args...)
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// TestLiveRefusalPath: a call that requires a live session and succeeds
// sends its one guarded statement; one that did nothing (refused, not
// found, an empty list) sends the registry's liveness query after it, to
// tell an ended session from its other refusals; a capability without a
// session id is answered ended without it. When that query fails, the
// call fails with its error: never an allow, never a guess at the reason.
func TestLiveRefusalPath(t *testing.T) {
	db, f := newRevokeDB(t)
	ctx := t.Context()
	live := f.list.Info().LiveSQL
	if live == "" || live != f.create.Info().LiveSQL || live != f.peek.Info().LiveSQL {
		t.Fatalf("LiveSQL: %q, not one query for the registry", live)
	}
	roles := map[int64]string{1: "moderator", 2: "member"}
	alice := revokeCap(t, "alice", "s-alice", revokeIAT, false, roles)
	ended := revokeCap(t, "alice", "s-old", revokeIAT, false, roles)
	nosid := revokeCap(t, "alice", "", revokeIAT, false, roles)
	lonely := revokeCap(t, "alice", "s-alice", revokeIAT, false, map[int64]string{9: "member"}) // no threads in 9

	list := func(c *capability.Capability) func(db sqlguard.DB) error {
		return func(db sqlguard.DB) error {
			rows, err := f.list.Query(ctx, db, c)
			if err != nil {
				return err
			}
			ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
			if err == nil && len(ids) == 0 {
				return errors.New("empty")
			}
			return err
		}
	}
	get := func(g *sqlguard.Get, c *capability.Capability, id int64) func(db sqlguard.DB) error {
		return func(db sqlguard.DB) error {
			var got int64
			var title string
			return g.QueryRow(ctx, db, c, id).Scan(&got, &title)
		}
	}
	create := func(c *capability.Capability, g int64) func(db sqlguard.DB) error {
		return func(db sqlguard.DB) error { return f.createPlain.Exec(ctx, db, c, "t", g) }
	}
	rename := func(c *capability.Capability, id int64) func(db sqlguard.DB) error {
		return func(db sqlguard.DB) error {
			var got int64
			return f.rename.QueryRow(ctx, db, c, id, "r").Scan(&got)
		}
	}
	del := func(c *capability.Capability, id int64) func(db sqlguard.DB) error {
		return func(db sqlguard.DB) error { return f.del.Exec(ctx, db, c, id) }
	}
	for _, tc := range []struct {
		name     string
		call     func(db sqlguard.DB) error
		want     string
		liveness bool // the liveness query follows the statement
	}{
		{"allowed list", list(alice), "ok", false},
		{"empty list", list(lonely), "empty", true},
		{"ended list", list(ended), "ended", true},
		{"allowed get", get(f.get, alice, 1), "ok", false},
		{"get not found", get(f.get, alice, 404), "notfound", true},
		{"peek denied", get(f.peek, revokeCap(t, "alice", "s-alice", revokeIAT, false, map[int64]string{2: "member"}), 1), "denied", true},
		{"ended peek of a row", get(f.peek, ended, 1), "ended", true},
		{"ended peek of no row", get(f.peek, ended, 404), "ended", true},
		{"allowed create", create(alice, 1), "ok", false},
		{"denied create", create(alice, 3), "denied", true},
		{"ended create", create(ended, 1), "ended", true},
		{"allowed rename", rename(alice, 2), "ok", false},
		{"rename not found", rename(alice, 404), "notfound", true},
		{"denied delete (status)", del(alice, 2), "denied", true},
		{"ended delete (status)", del(ended, 1), "ended", true},
		{"no session id", create(nosid, 1), "ended", false}, // refused; no query asks why
	} {
		d := &sentDB{DB: db.Pool}
		err := tc.call(d)
		got := revokeOutcome(err)
		if err != nil && err.Error() == "empty" {
			got = "empty"
		}
		if got != tc.want {
			t.Errorf("%s: got %s (%v), want %s", tc.name, got, err, tc.want)
		}
		wantSent := 1
		if tc.liveness {
			wantSent = 2
		}
		if len(d.sent) != wantSent || slices.Contains(d.sent[:1], live) || (tc.liveness && d.sent[1] != live) {
			t.Errorf("%s: sent %d statements %.80q, want %d (liveness query after: %v)", tc.name, len(d.sent), d.sent, wantSent, tc.liveness)
		}

		// The same call with the liveness query failing: a call that
		// needed it fails with its error, one that did not is unchanged.
		d = &sentDB{DB: db.Pool, fail: live}
		err = tc.call(d)
		if tc.liveness {
			if !errors.Is(err, errInjected) || errors.Is(err, sqlguard.ErrDenied) || errors.Is(err, sqlguard.ErrNotFound) || errors.Is(err, sqlguard.ErrSessionEnded) {
				t.Errorf("%s, liveness query failing: %v, want the injected error alone", tc.name, err)
			}
		} else if got := revokeOutcome(err); got != tc.want {
			t.Errorf("%s, liveness query failing: got %s (%v), want %s", tc.name, got, err, tc.want)
		}
	}
}

// TestLiveReadShapes: the live-session condition gates a read's whole
// query, not only its table: a query that answers a row over no row of
// the table (an aggregate) or groups them still answers ErrSessionEnded
// to an ended session, and the true answer to a live one.
func TestLiveReadShapes(t *testing.T) {
	db, f := newRevokeDB(t)
	ctx := t.Context()
	count := f.reg.MustList(sqlguard.Policy{Name: "threads.count", Table: "threads", GroupColumn: "group_id", Role: "member",
		Query: sq.Select("count(*)")})
	perGroup := f.reg.MustList(sqlguard.Policy{Name: "threads.per-group", Table: "threads", GroupColumn: "group_id", Role: "member",
		Query: sq.Select("group_id", "count(*)").GroupBy("group_id").OrderBy("group_id")})
	withPosts := f.reg.MustList(sqlguard.Policy{Name: "threads.with-posts", Table: "threads", GroupColumn: "group_id", Role: "member",
		Query: sq.Select("threads.id", "count(p.id)").LeftJoin("posts AS p ON p.thread_id = threads.id").GroupBy("threads.id").OrderBy("threads.id")})
	countGet := f.reg.MustGet(sqlguard.Policy{Name: "threads.count-one", Table: "threads", Alias: "t", Key: []string{"id"},
		GroupColumn: "group_id", Role: "member", Query: sq.Select("count(*)")})
	roles := map[int64]string{1: "moderator", 2: "member"}
	live := revokeCap(t, "alice", "s-alice", revokeIAT, false, roles)
	lonely := revokeCap(t, "alice", "s-alice", revokeIAT, false, map[int64]string{9: "member"})
	list := func(l *sqlguard.List, c *capability.Capability) (string, error) {
		rows, err := l.Query(ctx, db.Pool, c)
		if err != nil {
			return "", err
		}
		got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([]any, error) { return r.Values() })
		return fmt.Sprint(got), err
	}
	get := func(c *capability.Capability, id int64) (string, error) {
		var n int64
		err := countGet.QueryRow(ctx, db.Pool, c, id).Scan(&n)
		return fmt.Sprint(n), err
	}
	for _, tc := range []struct {
		name string
		call func(c *capability.Capability) (string, error)
		live string // the answer to a live session
	}{
		{"count", func(c *capability.Capability) (string, error) { return list(count, c) }, "[[2]]"},
		{"count, no group", func(c *capability.Capability) (string, error) {
			if c == live {
				c = lonely
			}
			return list(count, c)
		}, "[[0]]"},
		{"per group", func(c *capability.Capability) (string, error) { return list(perGroup, c) }, "[[1 1] [2 1]]"},
		{"left join", func(c *capability.Capability) (string, error) { return list(withPosts, c) }, "[[1 1] [2 0]]"},
		{"get count", func(c *capability.Capability) (string, error) { return get(c, 1) }, "1"},
		{"get count of no row", func(c *capability.Capability) (string, error) { return get(c, 404) }, "0"},
	} {
		if got, err := tc.call(live); err != nil || got != tc.live {
			t.Errorf("%s, live session: %s, %v; want %s", tc.name, got, err, tc.live)
		}
		for _, sid := range []string{"s-old", ""} {
			c := revokeCap(t, "alice", sid, revokeIAT, false, roles)
			if got, err := tc.call(c); !errors.Is(err, sqlguard.ErrSessionEnded) {
				t.Errorf("%s, session %q ended: %s, %v; want ErrSessionEnded", tc.name, sid, got, err)
			}
		}
	}
}

// TestLiveRefusalOneConnection: on one connection and inside a
// transaction, the statement's rows are closed before the liveness query
// runs, and a live list's first row is neither lost nor repeated; Next
// after Close answers false, as pgx's rows do.
func TestLiveRefusalOneConnection(t *testing.T) {
	db, f := newRevokeDB(t)
	ctx := t.Context()
	roles := map[int64]string{1: "moderator", 2: "member"}
	alice := revokeCap(t, "alice", "s-alice", revokeIAT, false, roles)
	ended := revokeCap(t, "alice", "s-old", revokeIAT, false, roles)
	lonely := revokeCap(t, "alice", "s-alice", revokeIAT, false, map[int64]string{9: "member"})
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	tx, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	for name, d := range map[string]sqlguard.DB{"conn": conn.Conn(), "tx": tx} {
		check := func(what string, err error, want string) {
			t.Helper()
			if got := revokeOutcome(err); got != want {
				t.Errorf("%s %s: %s (%v), want %s", name, what, got, err, want)
			}
		}
		var id int64
		var title string
		check("ended get", f.get.QueryRow(ctx, d, ended, int64(1)).Scan(&id, &title), "ended")
		check("get", f.get.QueryRow(ctx, d, alice, int64(1)).Scan(&id, &title), "ok")
		check("ended peek", f.peek.QueryRow(ctx, d, ended, int64(1)).Scan(&id, &title), "ended")
		check("denied peek", f.peek.QueryRow(ctx, d, revokeCap(t, "alice", "s-alice", revokeIAT, false, map[int64]string{2: "member"}), int64(1)).Scan(&id, &title), "denied")
		check("ended delete (status)", f.del.Exec(ctx, d, ended, int64(1)), "ended")
		check("denied delete (status)", f.del.Exec(ctx, d, alice, int64(2)), "denied")
		check("ended rename", f.rename.QueryRow(ctx, d, ended, int64(1), "x").Scan(&id), "ended")
		check("ended create", f.createPlain.Exec(ctx, d, ended, "t", int64(1)), "ended")
		_, err := f.list.Query(ctx, d, ended)
		check("ended list", err, "ended")
		rows, err := f.list.Query(ctx, d, lonely)
		if err != nil || rows.Next() {
			t.Errorf("%s empty list: %v", name, err)
		}
		rows, err = f.list.Query(ctx, d, alice)
		if err != nil {
			t.Fatal(err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil || fmt.Sprint(ids) != "[2 1]" {
			t.Errorf("%s list: %v %v, want [2 1]", name, ids, err)
		}
		rows, err = f.list.Query(ctx, d, alice)
		if err != nil {
			t.Fatal(err)
		}
		rows.Close()
		if rows.Next() {
			t.Errorf("%s: Next after Close answered true", name)
		}
	}
}

// TestLiveRefusalNotRetried: the liveness query runs after the write's
// retries, not inside them. A write that wrote nothing is never reported
// ErrOutcomeUnknown because the liveness query after it lost its
// connection, and a liveness query that could not be sent does not send
// the write again.
func TestLiveRefusalNotRetried(t *testing.T) {
	db, f := newRevokeDB(t)
	ctx := t.Context()
	ended := revokeCap(t, "alice", "s-old", revokeIAT, false, map[int64]string{1: "moderator", 2: "member"})
	live := f.createPlain.Info().LiveSQL
	lost := &pgconn.PgError{Severity: "FATAL", Code: "57P01", Message: "terminating connection due to administrator command"}
	for _, failErr := range []error{lost, notSentError{}} {
		d := &sentDB{DB: db.Pool, fail: live, failErr: failErr}
		err := f.createPlain.Exec(ctx, d, ended, "t", int64(1))
		if !errors.Is(err, failErr) || errors.Is(err, sqlguard.ErrOutcomeUnknown) || errors.Is(err, sqlguard.ErrSessionEnded) {
			t.Errorf("liveness query failing with %v: %v, want that error alone", failErr, err)
		}
		if len(d.sent) != 2 || d.sent[1] != live {
			t.Errorf("liveness query failing with %v: sent %d statements, want the write once and the query", failErr, len(d.sent))
		}
	}
	// The same write on the same DB, the liveness query answering: the
	// write was refused, not retried.
	d := &sentDB{DB: db.Pool}
	if err := f.createPlain.Exec(ctx, d, ended, "t", int64(1)); !errors.Is(err, sqlguard.ErrSessionEnded) || len(d.sent) != 2 {
		t.Errorf("ended session: %v after %d statements, want ErrSessionEnded after 2", err, len(d.sent))
	}
}

// notSentError is an error pgx marks safe to retry: the statement was
// never sent.
type notSentError struct{}

func (notSentError) Error() string     { return "injected: not sent" }
func (notSentError) SafeToRetry() bool { return true }

// cancelAfterDB ends the call's context as soon as a statement answered.
type cancelAfterDB struct {
	sqlguard.DB
	cancel context.CancelFunc
}

func (d *cancelAfterDB) SingleStatements() bool { return true }

func (d *cancelAfterDB) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	tag, err := d.DB.Exec(ctx, sql, args...)
	d.cancel()
	return tag, err
}

// TestRefusalAnsweredNotUnknown: a write PostgreSQL answered with "nothing
// written" is a refusal even when the caller's context ends right after
// the answer: never ErrOutcomeUnknown. Without a live session it is the
// denial; with one, the liveness query meets the ended context.
func TestRefusalAnsweredNotUnknown(t *testing.T) {
	db, f := newRevokeDB(t)
	plain := sqlguard.MustNewRegistry(forumRoles, capability.KindInt64).MustInsert(sqlguard.Policy{
		Name: "threads.create", Table: "threads", Columns: []string{"title", "group_id"}, GroupColumn: "group_id", Role: "member"})
	alice := revokeCap(t, "alice", "s-alice", revokeIAT, false, map[int64]string{1: "moderator", 2: "member"})
	for name, w := range map[string]*sqlguard.Write{"no live session": plain, "live session": f.createPlain} {
		ctx, cancel := context.WithCancel(t.Context())
		err := w.Exec(ctx, &cancelAfterDB{DB: db.Pool, cancel: cancel}, alice, "t", int64(3)) // no role in group 3
		cancel()
		if errors.Is(err, sqlguard.ErrOutcomeUnknown) || errors.Is(err, sqlguard.ErrSessionEnded) {
			t.Errorf("%s: %v, a refusal PostgreSQL answered", name, err)
		}
		if name == "no live session" && !errors.Is(err, sqlguard.ErrDenied) {
			t.Errorf("%s: %v, want ErrDenied", name, err)
		}
		if name == "live session" && !errors.Is(err, context.Canceled) {
			t.Errorf("%s: %v, want the liveness query's context.Canceled", name, err)
		}
	}
}

// newRevokeDB runs t in parallel on a database of the seeded revocation
// schema, with the registry that requires a live session everywhere.
func newRevokeDB(t *testing.T) (*testdb.DB, *revokeForum) {
	t.Helper()
	t.Parallel()
	db := testdb.New(t, revokeSchema)
	seedRevoke(t, db)
	return db, newRevokeForum(t)
}
