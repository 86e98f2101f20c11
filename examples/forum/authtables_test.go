package main

import (
	"net/http"
	"testing"
)

// TestForgottenGuardAuthTables: a statement that forgot its guard, run
// through the wall with an ordinary member's capability, cannot touch the
// auth side's tables beyond the caller's own rows: it cannot un-revoke a
// logged-out session (the logged-out token stays refused), move anyone's
// cut-off, remove a membership, or read the user directory. The admin's
// capability can, as the admin's policies may.
func TestForgottenGuardAuthTables(t *testing.T) {
	f := newForum(t)
	ctx := t.Context()
	alice := f.token("alice")
	if status, body := f.do("POST", "/logout", alice, ""); status != http.StatusNoContent {
		t.Fatalf("logout: got %d %s", status, body)
	}
	dave, err := f.app.verifier.Verify(ctx, f.token("dave"))
	if err != nil {
		t.Fatal(err)
	}
	before := f.id("select count(*) from memberships")
	q := f.app.q(dave)
	for _, sql := range []string{
		"update sessions set revoked_at = null",
		"update users set valid_after = '-infinity'",
		"delete from memberships",
	} {
		tag, err := q.Exec(ctx, sql)
		if err == nil && tag.RowsAffected() != 0 {
			t.Errorf("dave, raw %q through the wall: %d rows changed", sql, tag.RowsAffected())
		}
	}
	if n := f.id("select count(*) from memberships"); n != before {
		t.Errorf("memberships: %d, want %d", n, before)
	}
	if status, _ := f.do("POST", "/api/groups/1/threads", alice, `{"title":"after logout"}`); status != http.StatusUnauthorized {
		t.Errorf("alice's logged-out token after dave's raw un-revoke: got %d, want 401", status)
	}
	var users int
	if err := q.QueryRow(ctx, "select count(*) from users").Scan(&users); err != nil || users != 1 {
		t.Errorf("dave reads %d users (%v), want only his own row", users, err)
	}
	var sessions int
	if err := q.QueryRow(ctx, "select count(*) from sessions where user_name <> 'dave'").Scan(&sessions); err != nil || sessions != 0 {
		t.Errorf("dave reads %d sessions of others (%v), want 0", sessions, err)
	}
	// The admin's capability reads the directory: the rules are not a
	// wall against everyone.
	carol, err := f.app.verifier.Verify(ctx, f.token("carol"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.app.q(carol).QueryRow(ctx, "select count(*) from users").Scan(&users); err != nil || users != len(demoUsers) {
		t.Errorf("carol reads %d users (%v), want %d", users, err, len(demoUsers))
	}
}
