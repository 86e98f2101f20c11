package sqlguard_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	sq "github.com/Masterminds/squirrel"
	"github.com/jackc/pgx/v5"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/internal/testdb"
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

// TestAdminOnly: an admin-only policy runs for the admin flag alone,
// decided in the statement (a non-admin touches nothing and is answered
// not found); the lock writes admin=only, turning it into a group role is
// a widening, and the report lists it as reserved.
func TestAdminOnly(t *testing.T) {
	db := testdb.New(t, revokeSchema)
	seedRevoke(t, db)
	reg := sqlguard.MustNewRegistry(forumRoles, capability.KindInt64)
	reg.MustSessions(sqlguard.SessionTable{Table: "sessions", ID: "id", RevokedAt: "revoked_at", Subject: "subject", Required: true})
	remove := reg.MustDelete(sqlguard.Policy{Name: "memberships.remove", Table: "memberships",
		Key: []string{"user_name", "group_id"}, AdminOnly: true})
	list := reg.MustList(sqlguard.Policy{Name: "memberships.list", Table: "memberships", AdminOnly: true,
		Query: sq.Select("user_name").OrderBy("user_name")})
	ctx := t.Context()
	root := revokeCap(t, "root", "s-root", revokeIAT, true, nil)
	alice := revokeCap(t, "alice", "s-alice", revokeIAT, false, map[int64]string{1: "moderator"})
	rootOld := revokeCap(t, "root", "s-old", revokeIAT, true, nil)
	count := func() (n int) {
		if err := db.Owner.QueryRow(ctx, "select count(*) from memberships").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if got := revokeOutcome(remove.Exec(ctx, db.Pool, alice, "bob", int64(2))); got != "notfound" || count() != 3 {
		t.Errorf("non-admin remove: %s, %d rows left, want notfound and 3", got, count())
	}
	if got := revokeOutcome(remove.Exec(ctx, db.Pool, rootOld, "bob", int64(2))); got != "ended" || count() != 3 {
		t.Errorf("admin with an ended session: %s, %d rows left, want ended and 3", got, count())
	}
	if got := revokeOutcome(remove.Exec(ctx, db.Pool, root, "bob", int64(2))); got != "ok" || count() != 2 {
		t.Errorf("admin remove: %s, %d rows left, want ok and 2", got, count())
	}
	for who, want := range map[*capability.Capability]int{root: 2, alice: 0} {
		rows, err := list.Query(ctx, db.Pool, who)
		if err != nil {
			t.Fatal(err)
		}
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil || len(names) != want {
			t.Errorf("%s lists %v (%v), want %d rows", who.Subject(), names, err, want)
		}
	}
	file := string(approval.File(reg))
	if !strings.Contains(file, "memberships.remove  delete  memberships  admin=only  session=live\n") {
		t.Errorf("lock file:\n%s", file)
	}
	approved, err := approval.Parse([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	wider := sqlguard.MustNewRegistry(forumRoles, capability.KindInt64)
	wider.MustSessions(sqlguard.SessionTable{Table: "sessions", ID: "id", RevokedAt: "revoked_at", Subject: "subject", Required: true})
	wider.MustDelete(sqlguard.Policy{Name: "memberships.remove", Table: "memberships", Key: []string{"user_name", "group_id"},
		Role: "moderator", GroupColumn: "group_id", AdminOverride: true})
	if d := approved.Diff(wider); len(d.Widened) != 1 || !strings.Contains(d.Widened[0].String(), "now allows role moderator; approved: admin only") {
		t.Errorf("admin-only to a group role: %+v", d)
	}
	rep := approval.NewReport(reg)
	if len(rep.Reserved) != 2 || rep.Reserved[0].Bypass != approval.BypassAdminOnly {
		t.Errorf("reserved: %+v", rep.Reserved)
	}
	if _, err := reg.Delete(sqlguard.Policy{Name: "x", Table: "memberships", Key: []string{"user_name"}, AdminOnly: true, Role: "member"}); !errors.Is(err, sqlguard.ErrDeclaration) {
		t.Errorf("AdminOnly with a Role: %v", err)
	}
}
