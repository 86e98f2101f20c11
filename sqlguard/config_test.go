package sqlguard_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/internal/testdb"
	"github.com/keyhole-go/keyhole/sqlguard"
)

// capWith builds a capability on roles (not forumRoles), as an auth side
// that builds its own hierarchy does.
func capWith(t *testing.T, roles *capability.Roles, kind capability.GroupKind, roleAt map[int64]string) *capability.Capability {
	t.Helper()
	p := capability.Params{Subject: "alice", Expiry: time.Now().Add(time.Hour)}
	for n, role := range roleAt {
		p.Grants = append(p.Grants, capability.Grant{Group: grp(kind, n), Role: role})
	}
	c, err := capability.New(roles, kind, p)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestEqualRolesByValue: the auth side and the data side each build the
// same role chain; guarded calls compare the hierarchies by value, so they
// run (allowed and denied cases, decided by PostgreSQL), over and over
// (the cached positive answer).
func TestEqualRolesByValue(t *testing.T) {
	const kind = capability.KindInt64
	db := testdb.New(t, forumSchema(kind))
	f := newForum(t, kind)
	own, err := capability.Chain("member", "moderator", "admin")
	if err != nil {
		t.Fatal(err)
	}
	if own == forumRoles {
		t.Fatal("want a distinct *Roles")
	}
	member := capWith(t, own, kind, map[int64]string{1: "member"})
	mod := capWith(t, own, kind, map[int64]string{1: "moderator"})
	ctx := t.Context()
	for i := range 3 {
		var id int64
		if err := f.createThread.QueryRow(ctx, db.Pool, member, "hello", grp(kind, 1)).Scan(&id); err != nil {
			t.Fatalf("round %d: create in a member group: got %v, want nil", i, err)
		}
		if err := f.createThread.Exec(ctx, db.Pool, member, "hello", grp(kind, 2)); !errors.Is(err, sqlguard.ErrDenied) {
			t.Fatalf("round %d: create in another group: got %v, want ErrDenied", i, err)
		}
		if err := f.deleteThread.Exec(ctx, db.Pool, member, id); !errors.Is(err, sqlguard.ErrDenied) {
			t.Fatalf("round %d: member deletes: got %v, want ErrDenied", i, err)
		}
		if err := f.deleteThread.Exec(ctx, db.Pool, mod, id); err != nil {
			t.Fatalf("round %d: moderator deletes: got %v, want nil", i, err)
		}
	}
}

// TestMisconfiguredRoles: a capability whose hierarchy or group kind truly
// differs from the registry's is the server's misconfiguration: the error
// wraps ErrMisconfigured (never ErrInvalidInput) and names both sides.
// Nothing is sent: Bind answers the same.
func TestMisconfiguredRoles(t *testing.T) {
	const kind = capability.KindInt64
	f := newForum(t, kind)
	other, err := capability.Chain("member", "moderator")
	if err != nil {
		t.Fatal(err)
	}
	reordered, err := capability.NewRoles(
		capability.RoleSpec{Name: "member"},
		capability.RoleSpec{Name: "moderator", Includes: []string{"member"}},
		capability.RoleSpec{Name: "admin", Includes: []string{"member"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cap  *capability.Capability
		want []string
	}{
		{"shorter chain", capWith(t, other, kind, map[int64]string{1: "member"}),
			[]string{"capability roles member, moderator>member;", "registry roles member, moderator>member, admin>"}},
		{"other inclusions", capWith(t, reordered, kind, map[int64]string{1: "member"}),
			[]string{"capability roles", "registry roles"}},
		{"group kind", capWith(t, forumRoles, capability.KindText, map[int64]string{1: "member"}),
			[]string{"capability group kind", "registry group kind"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := f.createThread.Bind(tc.cap, "hello", grp(kind, 1))
			if !errors.Is(err, sqlguard.ErrMisconfigured) || errors.Is(err, sqlguard.ErrInvalidInput) {
				t.Fatalf("got %v, want ErrMisconfigured only", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %q, want it to name %q", err, w)
				}
			}
		})
	}
}
