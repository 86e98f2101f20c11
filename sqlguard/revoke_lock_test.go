package sqlguard_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/keyhole-go/keyhole/sqlguard"
	"github.com/keyhole-go/keyhole/sqlguard/approval"
)

// revokeLockReg declares lockBase with the given revocation options on a
// registry that knows the sessions and memberships tables.
func revokeLockReg(t testing.TB, live, fresh bool) *sqlguard.Registry {
	t.Helper()
	return lockReg(t, lockRoles, func(r *sqlguard.Registry) {
		r.MustSessions(sqlguard.SessionTable{Table: "sessions", ID: "id", RevokedAt: "revoked_at"})
		r.MustMemberships(sqlguard.MembershipTable{Table: "memberships", Subject: "user_name", Group: "group_id", Role: "role"})
		p := lockBase()
		p.LiveSession, p.FreshMembership = live, fresh
		r.MustDelete(p)
	})
}

// TestLockRevocation: the lock records a required live session and fresh
// membership; dropping either is a widening that fails the lock check
// with a message that says what the policy no longer checks, adding
// either is a narrowing.
func TestLockRevocation(t *testing.T) {
	file := approval.File(revokeLockReg(t, true, true))
	if !strings.Contains(string(file), "posts.delete  delete  posts  role=moderator  read=member  group=thread_id>threads.group_id  admin=no  session=live  fresh=yes\n") {
		t.Fatalf("lock file:\n%s", file)
	}
	approved, err := approval.Parse(file)
	if err != nil {
		t.Fatal(err)
	}
	if d := approved.Diff(revokeLockReg(t, true, true)); !d.Empty() {
		t.Errorf("same declaration: diff %+v", d)
	}
	if plain := approval.File(revokeLockReg(t, false, false)); strings.Contains(string(plain), "session=") || strings.Contains(string(plain), "fresh=") {
		t.Errorf("a policy without the options writes them:\n%s", plain)
	}
	tests := []struct {
		name        string
		live, fresh bool
		want        string
	}{
		{"live session dropped", false, true, "posts.delete now allows running without the live-session check (a revoked or signed-out token keeps working until it expires); approved: live session required"},
		{"fresh membership dropped", true, false, "posts.delete now allows the token's grants without the fresh membership check (a removed member keeps writing until the token expires); approved: fresh membership required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := revokeLockReg(t, tc.live, tc.fresh)
			d := approved.Diff(reg)
			var got []string
			for _, c := range d.Widened {
				got = append(got, c.String())
			}
			if !slices.Contains(got, tc.want) || !d.NeedsApproval() {
				t.Errorf("widened %v, want %q", got, tc.want)
			}
			info, _ := reg.Policy("posts.delete")
			err := approved.Check(reg, info)
			var ae *approval.Error
			if !errors.As(err, &ae) || !errors.Is(err, sqlguard.ErrNotApproved) {
				t.Fatalf("Check: %v, want *approval.Error", err)
			}
			if !strings.Contains(err.Error(), "without the") {
				t.Errorf("Check's message %q does not say what is no longer checked", err)
			}
		})
	}
	// Adding them to a lock without them is a narrowing.
	plain, err := approval.Parse(approval.File(revokeLockReg(t, false, false)))
	if err != nil {
		t.Fatal(err)
	}
	d := plain.Diff(revokeLockReg(t, true, true))
	if d.NeedsApproval() || len(d.Narrowed) != 2 {
		t.Errorf("adding both: diff %+v, want two narrowings", d)
	}
}

// TestRevocationDeclarations: the options need their tables, the tables
// must come before the policies, and identifiers are validated.
func TestRevocationDeclarations(t *testing.T) {
	reg := func() *sqlguard.Registry { return lockReg(t, lockRoles, func(*sqlguard.Registry) {}) }
	p := lockBase()
	p.LiveSession = true
	if _, err := reg().Delete(p); !errors.Is(err, sqlguard.ErrDeclaration) {
		t.Errorf("LiveSession without Sessions: %v", err)
	}
	p = lockBase()
	p.FreshMembership = true
	if _, err := reg().Delete(p); !errors.Is(err, sqlguard.ErrDeclaration) {
		t.Errorf("FreshMembership without Memberships: %v", err)
	}
	late := reg()
	late.MustDelete(lockBase())
	if err := late.Sessions(sqlguard.SessionTable{Table: "sessions", ID: "id", RevokedAt: "revoked_at"}); !errors.Is(err, sqlguard.ErrDeclaration) {
		t.Errorf("Sessions after a policy: %v", err)
	}
	for _, st := range []sqlguard.SessionTable{
		{Table: "Sessions", ID: "id", RevokedAt: "r"},
		{Table: "s", ID: "id; drop", RevokedAt: "r"},
		{Table: "s", ID: "id"},
		{Table: "s", ID: "id", RevokedAt: "r", Subject: "a b"},
		{Table: "s", ID: "id", RevokedAt: "r", Subjects: &sqlguard.SubjectTable{Table: "u", Subject: "n"}},
	} {
		if err := reg().Sessions(st); !errors.Is(err, sqlguard.ErrDeclaration) {
			t.Errorf("Sessions(%+v): %v, want ErrDeclaration", st, err)
		}
	}
	if err := reg().Memberships(sqlguard.MembershipTable{Table: "m", Subject: "u", Group: "g"}); !errors.Is(err, sqlguard.ErrDeclaration) {
		t.Errorf("Memberships without Role: %v", err)
	}
	u := lockBase()
	u = sqlguard.Policy{Name: u.Name, Table: u.Table, Key: u.Key, Unguarded: "job", FreshMembership: true}
	r2 := reg()
	r2.MustMemberships(sqlguard.MembershipTable{Table: "m", Subject: "u", Group: "g", Role: "r"})
	if _, err := r2.Delete(u); !errors.Is(err, sqlguard.ErrDeclaration) {
		t.Errorf("FreshMembership on an unguarded policy: %v", err)
	}
}
