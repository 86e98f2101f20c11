package sqlguard_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	sq "github.com/Masterminds/squirrel"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/sqlguard"
	"github.com/keyhole-go/keyhole/sqlguard/approval"
)

var lockRoles = func() *capability.Roles {
	r, err := capability.Chain("member", "moderator", "admin")
	if err != nil {
		panic(err)
	}
	return r
}()

// lockBase is the approved declaration of posts.delete the lock tests
// change one field at a time.
func lockBase() sqlguard.Policy {
	return sqlguard.Policy{Name: "posts.delete", Table: "posts", Key: []string{"id"},
		Parents:     []sqlguard.Parent{{Column: "thread_id", Table: "threads"}},
		GroupColumn: "group_id", Role: "moderator", ReadRole: "member"}
}

func lockReg(t testing.TB, roles *capability.Roles, declare func(r *sqlguard.Registry)) *sqlguard.Registry {
	t.Helper()
	r := sqlguard.MustNewRegistry(roles, capability.KindInt64)
	declare(r)
	return r
}

// TestLockFileIgnoresSQLText: rewording a query, a condition, the returned
// columns or the order of declarations and of columns keeps the lock file;
// a permission change does not.
func TestLockFileIgnoresSQLText(t *testing.T) {
	a := lockReg(t, lockRoles, func(r *sqlguard.Registry) {
		r.MustDelete(lockBase())
		r.MustList(sqlguard.Policy{Name: "threads.list", Table: "threads", GroupColumn: "group_id", Role: "member",
			Query: sq.Select("id", "title").Where("id > ?", sqlguard.Arg).OrderBy("id DESC").Limit(50)})
		r.MustUpdate(sqlguard.Policy{Name: "threads.rename", Table: "threads", Key: []string{"id"}, Set: []string{"title", "edited_at"},
			GroupColumn: "group_id", Role: "moderator", Where: []sq.Sqlizer{sq.Expr("NOT threads.locked")}})
		r.MustGet(sqlguard.Policy{Name: "threads.get", Table: "threads", Alias: "t", Key: []string{"id"}, GroupColumn: "group_id", Role: "member",
			Where: []sq.Sqlizer{sq.Expr("t.created_by = ?", sqlguard.Subject)},
			Query: sq.Select("t.id", "g.name").Join("groups AS g ON g.id = t.group_id")})
	})
	b := lockReg(t, lockRoles, func(r *sqlguard.Registry) {
		r.MustUpdate(sqlguard.Policy{Name: "threads.rename", Table: "threads", Alias: "t", Key: []string{"id"}, Set: []string{"edited_at", "title"},
			GroupColumn: "group_id", Role: "moderator", Where: []sq.Sqlizer{sq.Expr("t.locked IS NOT TRUE AND ? <> ''", sqlguard.Arg)},
			Returning: []string{"id"}})
		r.MustList(sqlguard.Policy{Name: "threads.list", Table: "threads", Alias: "t", GroupColumn: "group_id", Role: "member",
			Query: sq.Select("t.id", "t.title", "t.created_at").OrderBy("t.id DESC").Limit(20)})
		p := lockBase()
		p.Returning = []string{"id"}
		r.MustDelete(p)
		r.MustGet(sqlguard.Policy{Name: "threads.get", Table: "threads", Alias: "t", Key: []string{"id"}, GroupColumn: "group_id", Role: "member",
			Where: []sq.Sqlizer{sq.Expr(`? = "t"."created_by" AND "t"."title" <> ')'`, sqlguard.Subject)},
			Query: sq.Select("t.title", "grp.name AS n").LeftJoin(`"groups" AS grp ON (grp.id = t.group_id)`)})
	})
	if lock := string(approval.File(a)); !strings.Contains(lock, "  conds=1  subj=1  joins=groups\n") {
		t.Errorf("threads.get: no subj=1 and joins=groups in\n%s", lock)
	}
	if got, want := string(approval.File(b)), string(approval.File(a)); got != want {
		t.Errorf("reworded policies changed the lock file:\n%s\nwant\n%s", got, want)
	}
	a1, b1 := a.Policies()[1].SQL, b.Policies()[1].SQL
	if a1 == b1 {
		t.Fatalf("the test's rewording did not change the SQL text: %s", a1)
	}
	c := lockReg(t, lockRoles, func(r *sqlguard.Registry) {
		p := lockBase()
		p.AdminOverride = true
		r.MustDelete(p)
	})
	if strings.Contains(string(approval.File(a)), string(approval.File(c)[strings.LastIndex(string(approval.File(c)), "posts.delete"):])) {
		t.Errorf("the admin override did not change the lock line")
	}
}

func TestLockFileRoundTrip(t *testing.T) {
	reg := newWallForum(t).reg
	reg.MustDelete(sqlguard.Policy{Name: "secrets.purge", Table: "secrets", Key: []string{"id"}, Unguarded: "a job purges\nold secrets"})
	a, err := approval.Parse(approval.File(reg))
	if err != nil {
		t.Fatal(err)
	}
	if d := a.Diff(reg); !d.Empty() {
		t.Errorf("diff of a registry with its own lock: %+v", d)
	}
	if got, want := len(a.Names()), len(reg.Policies()); got != want {
		t.Errorf("%d permissions, want %d", got, want)
	}
	if !strings.Contains(string(approval.File(reg)), "# secrets.purge is unguarded: a job purges old secrets\nsecrets.purge  delete  secrets  unguarded=yes\n") {
		t.Errorf("unguarded line:\n%s", approval.File(reg))
	}
	for _, p := range reg.Policies() {
		if err := a.Check(reg, p); err != nil {
			t.Errorf("Check(%s) = %v", p.Name, err)
		}
	}
}

// TestLockDiff changes one field of an approved policy at a time and
// checks the classification and the message.
func TestLockDiff(t *testing.T) {
	dag, err := capability.NewRoles(capability.RoleSpec{Name: "reader"}, capability.RoleSpec{Name: "writer"},
		capability.RoleSpec{Name: "owner", Includes: []string{"reader", "writer"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		roles  *capability.Roles
		before func(p *sqlguard.Policy)
		change func(p *sqlguard.Policy)
		kind   string // added, widened, narrowed, removed
		want   string
	}{
		{name: "lower role", change: func(p *sqlguard.Policy) { p.Role = "member" },
			kind: "widened", want: "posts.delete now allows role member; approved: moderator"},
		{name: "higher role", change: func(p *sqlguard.Policy) { p.Role = "admin" },
			kind: "narrowed", want: "posts.delete narrowed to role admin; approved: moderator"},
		{name: "unrelated role", roles: dag, before: func(p *sqlguard.Policy) { p.Role, p.ReadRole = "reader", "" },
			change: func(p *sqlguard.Policy) { p.Role = "writer" },
			kind:   "widened", want: "posts.delete now allows role writer; approved: reader"},
		{name: "admin override", change: func(p *sqlguard.Policy) { p.AdminOverride = true },
			kind: "widened", want: "posts.delete now allows the admin override; approved: no admin override"},
		{name: "no admin override", before: func(p *sqlguard.Policy) { p.AdminOverride = true },
			change: func(p *sqlguard.Policy) { p.AdminOverride = false },
			kind:   "narrowed", want: "posts.delete narrowed to no admin override; approved: admin override"},
		{name: "owner column", change: func(p *sqlguard.Policy) { p.OwnerColumn = "author" },
			kind: "widened", want: "posts.delete now allows the row's owner (column author); approved: none"},
		{name: "other owner column", before: func(p *sqlguard.Policy) { p.OwnerColumn = "author" },
			change: func(p *sqlguard.Policy) { p.OwnerColumn = "editor" },
			kind:   "widened", want: "posts.delete now allows the row's owner (column editor); approved: author"},
		{name: "no read role", change: func(p *sqlguard.Policy) { p.ReadRole = "" },
			kind: "narrowed", want: "posts.delete narrowed to no read role; approved: read role member"},
		{name: "parent chain", change: func(p *sqlguard.Policy) { p.Parents[0].Column = "topic_id" },
			kind: "widened", want: "posts.delete now allows group topic_id>threads.group_id; approved: thread_id>threads.group_id"},
		{name: "table", change: func(p *sqlguard.Policy) { p.Table = "comments" },
			kind: "widened", want: "posts.delete now allows table comments; approved: posts"},
		{name: "unguarded", change: func(p *sqlguard.Policy) {
			*p = sqlguard.Policy{Name: p.Name, Table: p.Table, Key: p.Key, Unguarded: "cleanup job"}
		}, kind: "widened", want: "posts.delete now allows running without group guard; approved: role moderator"},
		{name: "condition dropped", before: func(p *sqlguard.Policy) { p.Where = []sq.Sqlizer{sq.Expr("posts.author = ?", sqlguard.Subject)} },
			change: func(p *sqlguard.Policy) { p.Where = nil },
			kind:   "widened", want: "posts.delete now allows 0 extra conditions; approved: 1"},
		{name: "condition added", change: func(p *sqlguard.Policy) { p.Where = []sq.Sqlizer{sq.Expr("NOT posts.pinned")} },
			kind: "narrowed", want: "posts.delete narrowed to 1 extra conditions; approved: 0"},
		{name: "condition Subject to Arg", before: func(p *sqlguard.Policy) { p.Where = []sq.Sqlizer{sq.Expr("posts.author = ?", sqlguard.Subject)} },
			change: func(p *sqlguard.Policy) { p.Where = []sq.Sqlizer{sq.Expr("posts.author = ?", sqlguard.Arg)} },
			kind:   "widened", want: "posts.delete now allows 0 subject bindings in its conditions; approved: 1"},
		{name: "condition Arg to Subject", before: func(p *sqlguard.Policy) { p.Where = []sq.Sqlizer{sq.Expr("posts.author = ?", sqlguard.Arg)} },
			change: func(p *sqlguard.Policy) { p.Where = []sq.Sqlizer{sq.Expr("posts.author = ?", sqlguard.Subject)} },
			kind:   "narrowed", want: "posts.delete narrowed to 1 subject bindings in its conditions; approved: 0"},
		{name: "new policy", change: func(p *sqlguard.Policy) { p.Name = "posts.remove" },
			kind: "added", want: "posts.remove is a new permission (delete on posts, role moderator); not approved"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			roles := tc.roles
			if roles == nil {
				roles = lockRoles
			}
			p := lockBase()
			if tc.before != nil {
				tc.before(&p)
			}
			approved, err := approval.Parse(approval.File(lockReg(t, roles, func(r *sqlguard.Registry) { r.MustDelete(p) })))
			if err != nil {
				t.Fatal(err)
			}
			p.Parents = slices.Clone(p.Parents)
			tc.change(&p)
			reg := lockReg(t, roles, func(r *sqlguard.Registry) { r.MustDelete(p) })
			d := approved.Diff(reg)
			got := map[string][]string{}
			for k, list := range map[string][]approval.Change{"added": d.Added, "widened": d.Widened, "narrowed": d.Narrowed, "removed": d.Removed} {
				for _, c := range list {
					got[k] = append(got[k], c.String())
				}
			}
			if !slices.Contains(got[tc.kind], tc.want) {
				t.Errorf("got %v, want %s %q", got, tc.kind, tc.want)
			}
			if tc.kind == "narrowed" && d.NeedsApproval() {
				t.Errorf("a narrowing needs approval: %v", got)
			}
			if tc.kind == "added" && len(got["removed"]) != 1 {
				t.Errorf("renamed policy: got %v, want the old name removed", got)
			}
		})
	}
}

func TestParseLockFileErrors(t *testing.T) {
	for _, lock := range []string{
		"posts.delete  delete  posts  role=moderator",                                                // no group
		"posts.delete  delete  posts  role=moderator  group=group_id  admin=maybe",                   // bad yes/no
		"posts.delete  delete  posts  role=moderator  group=group_id  color=red",                     // unknown field
		"posts.delete  erase  posts  role=moderator  group=group_id",                                 // unknown kind
		"posts.delete  delete  Posts  role=moderator  group=group_id",                                // bad table
		"posts.delete  delete  posts  role=moderator  role=member  group=group_id",                   // field twice
		"posts.delete  delete  posts  unguarded=yes  role=member",                                    // unguarded with role
		"posts.delete  delete  posts  role=a  group=g\nposts.delete  delete  posts  role=a  group=g", // policy twice
		"posts.delete  delete  posts  role",                                                          // not key=value
		"posts.delete  delete  posts  role=a  group=g  subj=one",                                     // bad count
	} {
		if _, err := approval.Parse([]byte(lock)); !errors.Is(err, approval.ErrLockFile) {
			t.Errorf("ParseLockFile(%q) = %v, want ErrLockFile", lock, err)
		}
	}
}

// countingDB counts the statements sent through it.
type countingDB struct {
	sqlguard.DB
	n int
}

func (c *countingDB) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	c.n++
	return c.DB.Exec(ctx, sql, args...)
}

// TestApproveRefusesBeforeTheDatabase: a registry approved by a lock
// refuses a widened or new policy with a precise error, sending nothing to
// PostgreSQL (the row the statement would delete stays); approved and
// narrowed policies run.
func TestApproveRefusesBeforeTheDatabase(t *testing.T) {
	w := newWallDB(t, nil)
	ctx := t.Context()
	approvedReg := lockReg(t, wallRoles, func(r *sqlguard.Registry) {
		r.MustDelete(sqlguard.Policy{Name: "threads.delete", Table: "threads", Key: []string{"id"},
			GroupColumn: "group_id", Role: "moderator"})
		r.MustUpdate(sqlguard.Policy{Name: "threads.rename", Table: "threads", Key: []string{"id"}, Set: []string{"title"},
			GroupColumn: "group_id", Role: "member", AdminOverride: true})
	})
	approved, err := approval.Parse(approval.File(approvedReg))
	if err != nil {
		t.Fatal(err)
	}
	reg := sqlguard.MustNewRegistry(wallRoles, capability.KindInt64)
	del := reg.MustDelete(sqlguard.Policy{Name: "threads.delete", Table: "threads", Key: []string{"id"},
		GroupColumn: "group_id", Role: "member"}) // widened: member
	rename := reg.MustUpdate(sqlguard.Policy{Name: "threads.rename", Table: "threads", Key: []string{"id"}, Set: []string{"title"},
		GroupColumn: "group_id", Role: "member"}) // narrowed: no admin override
	if err := approval.Enforce(reg, approved); err != nil {
		t.Fatal(err)
	}
	// Declared after Approve: checked at declaration.
	create := reg.MustInsert(sqlguard.Policy{Name: "threads.create", Table: "threads", Columns: []string{"title", "group_id"},
		GroupColumn: "group_id", Role: "member"})

	c := wallCap(t, "alice", false, map[int64]string{1: "member"})
	db := &countingDB{DB: w.Pool}
	err = del.Exec(ctx, db, c, int64(1))
	if !errors.Is(err, sqlguard.ErrNotApproved) {
		t.Fatalf("widened delete: got %v, want ErrNotApproved", err)
	}
	if want := `policy "threads.delete" needs role member on threads; approved: moderator`; !strings.Contains(err.Error(), want) {
		t.Errorf("got %q, want it to contain %q", err, want)
	}
	var ae *approval.Error
	if !errors.As(err, &ae) || ae.Policy != "threads.delete" {
		t.Errorf("errors.As ApprovalError: %v", err)
	}
	err = create.Exec(ctx, db, c, "t", capability.Int64Group(1))
	if want := `policy "threads.create" is not in the approved lock (insert on threads, role member)`; !errors.Is(err, sqlguard.ErrNotApproved) || !strings.Contains(err.Error(), want) {
		t.Errorf("new policy: got %v, want ErrNotApproved and %q", err, want)
	}
	if db.n != 0 {
		t.Errorf("%d statements reached the database", db.n)
	}
	if got := ownerIDs(t, w, "select count(*) from threads where id = 1"); got[0] != 1 {
		t.Errorf("thread 1 was deleted by a refused policy")
	}
	if err := rename.Exec(ctx, w.Pool, c, int64(1), "renamed"); err != nil {
		t.Errorf("narrowed policy: %v", err)
	}
	// Approving the new lock (what -update and a review do) lifts it.
	approved, err = approval.Parse(approval.File(reg))
	if err != nil {
		t.Fatal(err)
	}
	if err := approval.Enforce(reg, approved); err != nil {
		t.Fatal(err)
	}
	if err := del.Exec(ctx, w.Pool, c, int64(1)); err != nil {
		t.Errorf("approved delete: %v", err)
	}
	if err := approval.Enforce(reg, nil); err == nil {
		t.Error("Approve(nil): nil error")
	}
}
