package main

import (
	"testing"
	"time"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/sqlguard"
)

// TestForgottenGuard: the forum runs behind the second wall, so a raw
// statement that forgot its guard, sent through the app's pool the way
// the app sends its statements (a.q: the capability bound, one round
// trip), reads and changes only the caller's groups; sent on the pool
// without a capability it reads and changes nothing.
func TestForgottenGuard(t *testing.T) {
	f := newForum(t)
	ctx := t.Context()
	capOf := func(user string) *capability.Capability {
		t.Helper()
		admin, grants, err := f.app.grantsOf(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		c, err := capability.New(forumRoles, capability.KindInt64, capability.Params{Subject: user, Admin: admin,
			Grants: grants, Expiry: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tc := range []struct {
		user   string
		groups []int64 // the user's groups
	}{
		{"alice", []int64{1}},
		{"dave", []int64{2}},
	} {
		c := capOf(tc.user)
		db := f.app.q(c)
		var all, mine, got int
		f.db.Owner.QueryRow(ctx, "select count(*), count(*) filter (where group_id = any($1)) from threads", tc.groups).Scan(&all, &mine)
		if mine == 0 || mine == all {
			t.Fatalf("seed: %d of %d threads in %s's groups: want some in and some out", mine, all, tc.user)
		}
		if err := db.QueryRow(ctx, "select count(*) from threads").Scan(&got); err != nil || got != mine {
			t.Errorf("%s: raw select: %d threads, %v; want the %d of its groups", tc.user, got, err, mine)
		}
		before := f.fingerprint()
		content := "raw by " + tc.user
		tag, err := db.Exec(ctx, "update posts set content = $1", content)
		if err != nil {
			t.Fatalf("%s: raw update: %v", tc.user, err)
		}
		var changed, outside int
		f.db.Owner.QueryRow(ctx, `select count(*), count(*) filter (where t.group_id <> all($2))
			from posts p join threads t on t.id = p.thread_id where p.content = $1`, content, tc.groups).Scan(&changed, &outside)
		if tag.RowsAffected() == 0 || int64(changed) != tag.RowsAffected() || outside != 0 {
			t.Errorf("%s: raw update of every post changed %d rows, %d outside its groups", tc.user, tag.RowsAffected(), outside)
		}
		if f.fingerprint() == before {
			t.Errorf("%s: the raw update changed nothing", tc.user)
		}
	}

	// On the pool without a capability: nothing (the test's login role
	// reads no row under the wall's policies; the program's forum_app has
	// no privilege on the forum's tables at all).
	var n int
	if err := f.app.db.QueryRow(ctx, "select count(*) from threads").Scan(&n); err == nil && n != 0 {
		t.Errorf("raw select without a capability: %d threads", n)
	} else if err != nil && !sqlguard.IsInsufficientPrivilege(err) {
		t.Errorf("raw select without a capability: %v", err)
	}
	before := f.fingerprint()
	if tag, err := f.app.db.Exec(ctx, "update posts set content = 'no capability'"); err == nil && tag.RowsAffected() != 0 {
		t.Errorf("raw update without a capability changed %d rows", tag.RowsAffected())
	} else if err != nil && !sqlguard.IsInsufficientPrivilege(err) {
		t.Errorf("raw update without a capability: %v", err)
	}
	if f.fingerprint() != before {
		t.Error("a raw update without a capability changed the database")
	}
}
