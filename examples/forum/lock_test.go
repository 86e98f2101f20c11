package main

import (
	"context"
	"flag"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/internal/testdb"
	"github.com/keyhole-go/keyhole/sqlguard"
	"github.com/keyhole-go/keyhole/sqlguard/approval"
	"github.com/keyhole-go/keyhole/sqlguard/sqlguardtest"
	"github.com/keyhole-go/keyhole/sqlguard/wall"
)

var update = flag.Bool("update", false, "rewrite keyhole.lock from the declared policies (review the diff: it is the approval)")

// TestLock is the forum's approval test: a new or widened permission fails
// until keyhole.lock is rewritten with -update and the diff reviewed.
//
//	go test ./examples/forum -run TestLock -update
func TestLock(t *testing.T) {
	reg, _ := newPolicies()
	sqlguardtest.CheckLock(t, reg, "keyhole.lock", *update)
	checkPluginLock(t, "plugins.lock", forumPlugins, *update)
}

// TestApproveLock: the embedded lock approves every declared policy, so
// approving it at start refuses nothing.
func TestApproveLock(t *testing.T) {
	if *update {
		t.Skip("-update: the embedded lock is the one before the rewrite")
	}
	reg, _ := newPolicies()
	a, err := approval.Parse(approvedLock)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range reg.Policies() {
		if err := a.Check(reg, p); err != nil {
			t.Errorf("%s: %v", p.Name, err)
		}
	}
	if err := approveLock(reg); err != nil {
		t.Fatal(err)
	}
}

// TestSecondWall applies the second wall generated from the forum's
// policies to the forum's schema, and checks that a raw query inside
// wall.WithCapability sees only the capability's groups while the
// guarded policies still work.
func TestSecondWall(t *testing.T) {
	ctx := context.Background()
	db := testdb.New(t, schema)
	_, p := newPolicies()
	opts := *applyWall(t, db) // the forum's wall and its grants on the auth side's tables
	if _, err := db.Owner.Exec(ctx, `
		insert into groups (id, name) values (1, 'one'), (2, 'two');
		insert into users (name, display) values ('ann', 'Ann');
		insert into memberships (user_name, group_id, role) values ('ann', 1, 'member');
		insert into sessions (id, user_name) values ('s-ann', 'ann');
		insert into threads (group_id, title, created_by) values (1, 'a', 'ann'), (2, 'b', 'bob')`); err != nil {
		t.Fatal(err)
	}
	c, err := capability.New(forumRoles, capability.KindInt64, capability.Params{Subject: "ann", SessionID: "s-ann",
		IssuedAt: time.Now().Truncate(time.Second), Expiry: time.Now().Add(time.Hour),
		Grants: []capability.Grant{{Group: capability.Int64Group(1), Role: roleMember}}})
	if err != nil {
		t.Fatal(err)
	}
	err = wall.WithCapability(ctx, db.Pool, c, opts, func(tx pgx.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, "select count(*) from threads").Scan(&n); err != nil {
			return err
		}
		if n != 1 {
			t.Errorf("a member of group 1 reads %d threads raw, want 1", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = wall.WithCapability(ctx, db.Pool, c, opts, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "insert into threads (group_id, title, created_by) values (2, 'x', 'ann')")
		return err
	})
	if !sqlguard.IsInsufficientPrivilege(err) {
		t.Errorf("raw insert into group 2: got %v, want insufficient_privilege", err)
	}
	err = wall.WithCapability(ctx, db.Pool, c, opts, func(tx pgx.Tx) error {
		var id int64
		var at time.Time
		return p.threadCreate.QueryRow(ctx, tx, c, capability.Int64Group(1), "guarded").Scan(&id, &at)
	})
	if err != nil {
		t.Errorf("guarded create behind the wall: %v", err)
	}
}
