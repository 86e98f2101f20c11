package sqlguard_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/internal/testdb"
	"github.com/keyhole-go/keyhole/sqlguard"
)

// sentDB records the text of every statement sent through it to a real
// PostgreSQL, and can make the one text fail instead of sending it.
type sentDB struct {
	sqlguard.DB
	sent []string
	fail string // a statement text answered with errInjected, not sent
}

var errInjected = errors.New("injected: connection lost")

func (d *sentDB) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	d.sent = append(d.sent, sql)
	if sql == d.fail {
		return pgconn.CommandTag{}, errInjected
	}
	return d.DB.Exec(ctx, sql, args...)
}

func (d *sentDB) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	d.sent = append(d.sent, sql)
	if sql == d.fail {
		return nil, errInjected
	}
	return d.DB.Query(ctx, sql, args...)
}

func (d *sentDB) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	d.sent = append(d.sent, sql)
	if sql == d.fail {
		return errRow{}
	}
	return d.DB.QueryRow(ctx, sql, args...)
}

type errRow struct{}

func (errRow) Scan(...any) error { return errInjected }

// TestLiveRefusalPath: a call that requires a live session and succeeds
// sends its one guarded statement; one that did nothing (refused, not
// found, an empty list) sends the registry's liveness query after it, to
// tell an ended session from its other refusals; a capability without a
// session id is answered ended without it. When that query fails, the
// call fails with its error: never an allow, never a guess at the reason.
func TestLiveRefusalPath(t *testing.T) {
	t.Parallel()
	db := testdb.New(t, revokeSchema)
	seedRevoke(t, db)
	f := newRevokeForum(t)
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
		{"no session id", create(nosid, 1), "ended", false},
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
		if tc.name == "no session id" {
			wantSent = 1 // the statement runs, refuses; no query asks why
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
		} else if got := fmt.Sprint(revokeOutcome(err)); got != tc.want && !(tc.want == "ok" && got == "ok") {
			t.Errorf("%s, liveness query failing: got %s (%v), want %s", tc.name, got, err, tc.want)
		}
	}
}
