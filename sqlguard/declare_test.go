package sqlguard_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"unsafe"

	sq "github.com/Masterminds/squirrel"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/sqlguard"
)

func TestDeclarationErrors(t *testing.T) {
	base := sqlguard.Policy{Name: "threads.create", Table: "threads", Columns: []string{"title", "group_id"},
		GroupColumn: "group_id", Role: "member"}
	with := func(f func(p *sqlguard.Policy)) sqlguard.Policy {
		p := base
		p.Columns = append([]string(nil), base.Columns...)
		f(&p)
		return p
	}
	for _, tc := range []struct {
		name string
		p    sqlguard.Policy
		want string
	}{
		{"no name", with(func(p *sqlguard.Policy) { p.Name = "" }), "policy name"},
		{"bad name", with(func(p *sqlguard.Policy) { p.Name = "Threads Create" }), "policy name"},
		{"uppercase table", with(func(p *sqlguard.Policy) { p.Table = "Threads" }), "Table"},
		{"injected table", with(func(p *sqlguard.Policy) { p.Table = `threads"; drop table x; --` }), "Table"},
		{"long column", with(func(p *sqlguard.Policy) { p.Columns[0] = strings.Repeat("a", 64) }), "1..63"},
		{"digit first", with(func(p *sqlguard.Policy) { p.Columns[0] = "1title" }), "must match"},
		{"duplicate column", with(func(p *sqlguard.Policy) { p.Columns = []string{"group_id", "group_id"} }), "twice"},
		{"unknown role", with(func(p *sqlguard.Policy) { p.Role = "owner" }), "unknown role"},
		{"no role", with(func(p *sqlguard.Policy) { p.Role = "" }), "Role is required"},
		{"group not inserted", with(func(p *sqlguard.Policy) { p.Columns = []string{"title"} }), "not in Columns"},
		{"key on insert", with(func(p *sqlguard.Policy) { p.Key = []string{"id"} }), "Key is not used by insert"},
		{"owner on insert", with(func(p *sqlguard.Policy) { p.OwnerColumn = "author" }), "OwnerColumn is not used"},
		{"read role on direct insert", with(func(p *sqlguard.Policy) { p.ReadRole = "member" }), "ReadRole is not used"},
		{"lock without parents", with(func(p *sqlguard.Policy) { p.Lock = sqlguard.LockShare }), "Lock needs Parents"},
		{"unguarded without reason and role", with(func(p *sqlguard.Policy) { p.Unguarded = "public" }), "takes no Role"},
		{"empty condition", with(func(p *sqlguard.Policy) { p.Where = []sq.Sqlizer{sq.Expr("")} }), "renders empty"},
		{"nil condition", with(func(p *sqlguard.Policy) { p.Where = []sq.Sqlizer{nil} }), "is nil"},
		{"subject column inserted twice", with(func(p *sqlguard.Policy) { p.SubjectColumn = "title" }), "also in Columns"},
	} {
		reg := sqlguard.MustNewRegistry(forumRoles, capability.KindInt64)
		_, err := reg.Insert(tc.p)
		if err == nil || !errors.Is(err, sqlguard.ErrDeclaration) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an ErrDeclaration mentioning %q", tc.name, err, tc.want)
		}
		if len(reg.Policies()) != 0 {
			t.Errorf("%s: a refused policy was registered", tc.name)
		}
	}

	reg := sqlguard.MustNewRegistry(forumRoles, capability.KindInt64)
	reg.MustInsert(base)
	if _, err := reg.Insert(base); err == nil || !strings.Contains(err.Error(), "declared twice") {
		t.Errorf("duplicate name: got %v", err)
	}
	if _, err := reg.Delete(sqlguard.Policy{Name: "d", Table: "threads", Key: []string{"id"}, GroupColumn: "group_id",
		Role: "member", ReadRole: "moderator"}); err == nil || !strings.Contains(err.Error(), "does not include") {
		t.Errorf("ReadRole above Role: got %v", err)
	}
	if _, err := reg.List(sqlguard.Policy{Name: "l", Table: "threads", GroupColumn: "group_id", Role: "member"}); err == nil ||
		!strings.Contains(err.Error(), "Query") {
		t.Errorf("list without query: got %v", err)
	}
	if _, err := reg.Upsert(sqlguard.Policy{Name: "u", Table: "threads", Columns: []string{"id", "group_id"}, Key: []string{"id"},
		Set: []string{"title"}, GroupColumn: "group_id", Role: "member"}); err == nil || !strings.Contains(err.Error(), "Set title is not in Columns") {
		t.Errorf("upsert setting a column it does not insert: got %v", err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("MustInsert of a duplicate did not panic")
			}
		}()
		reg.MustInsert(base)
	}()
	if _, err := sqlguard.NewRegistry(nil, capability.KindInt64); err == nil {
		t.Error("registry without roles")
	}
	if _, err := sqlguard.NewRegistry(forumRoles, 0); err == nil {
		t.Error("registry without kind")
	}
}

// TestGuardsNeverEmpty: every guarded statement compares the group column
// with a bound array, or (a group given as a call value) with a bound
// scalar of the column's type, or (int8 and uuid ids of one parent row)
// searches it in the groups' bound delimited text; no statement holds a
// tautology.
func TestGuardsNeverEmpty(t *testing.T) {
	for _, kind := range allKinds {
		f := newForum(t, kind)
		elem := map[capability.GroupKind]string{capability.KindInt64: "int8", capability.KindUUID: "uuid", capability.KindText: "text"}[kind]
		array := regexp.MustCompile(`= ANY\(\$[0-9]+::` + elem + `\[\]\)`)
		match := regexp.MustCompile(`\(\$[0-9]+ = \$[0-9]+::` + elem + `( OR \$[0-9]+)?\)`)
		// int8 and uuid ids of one parent row: the delimited text.
		list := regexp.MustCompile(`strpos\(\$[0-9]+::text, ',' \|\| "[a-z0-9_]+"\."group_id"::(int8|uuid)::text \|\| ','\) > 0`)
		for _, p := range f.reg.Policies() {
			if !array.MatchString(p.SQL) && !match.MatchString(p.SQL) && (kind == capability.KindText || !list.MatchString(p.SQL)) {
				t.Errorf("%s: no typed group comparison in %s", p.Name, p.SQL)
			}
			for _, bad := range []string{"1=1", "1 = 1", "TRUE)", " OR TRUE"} {
				if strings.Contains(p.SQL, bad) || strings.Contains(p.AdminSQL, bad) {
					t.Errorf("%s: %q in %s", p.Name, bad, p.SQL)
				}
			}
			if p.AdminOverride {
				found := false
				for _, x := range append(p.Params, p.AdminParams...) {
					found = found || x.Source == "admin"
				}
				if !found {
					t.Errorf("%s: admin override without an admin parameter", p.Name)
				}
			} else {
				for _, x := range p.Params {
					if x.Source == "admin" {
						t.Errorf("%s: admin parameter without the override", p.Name)
					}
				}
			}
		}
	}
}

func TestUnguarded(t *testing.T) {
	reg := sqlguard.MustNewRegistry(forumRoles, capability.KindInt64)
	w := reg.MustInsert(sqlguard.Policy{Name: "audit.log", Table: "audit", Columns: []string{"what"}, SubjectColumn: "who",
		Unguarded: "every caller may append to the audit log"})
	info := w.Info()
	if info.Unguarded == "" || info.Role != "" {
		t.Errorf("info: %+v", info)
	}
	sql, args, err := w.Bind(nil, "x")
	if err != nil {
		t.Fatal(err)
	}
	if want := `INSERT INTO "audit" ("what", "who") SELECT $1, $2`; sql != want {
		t.Errorf("got %s, want %s", sql, want)
	}
	if len(args) != 2 || args[1] != nil {
		t.Errorf("args %v: the nil capability's subject must bind NULL", args)
	}
}

// noDB fails the test when a policy touches it.
type noDB struct{ t *testing.T }

func (d noDB) Exec(context.Context, string, ...any) (pgconn.CommandTag, error) {
	d.t.Error("Exec reached the database")
	return pgconn.CommandTag{}, errors.New("no database")
}

func (d noDB) Query(context.Context, string, ...any) (pgx.Rows, error) {
	d.t.Error("Query reached the database")
	return nil, errors.New("no database")
}

func (d noDB) QueryRow(context.Context, string, ...any) pgx.Row {
	d.t.Error("QueryRow reached the database")
	return nil
}

func TestApproval(t *testing.T) {
	f := newForum(t, capability.KindInt64)
	alice := forumCaps(t, capability.KindInt64).alice
	ctx := t.Context()
	approved := map[string]bool{"threads.create": true}
	var seen []string
	f.reg.SetApproval(func(p sqlguard.PolicyInfo) error {
		seen = append(seen, p.Name)
		if !approved[p.Name] {
			return errors.New("not in sqlguard.lock")
		}
		return nil
	})
	if len(seen) != len(f.reg.Policies()) {
		t.Errorf("approval saw %d policies, want %d", len(seen), len(f.reg.Policies()))
	}
	db := noDB{t}
	for name, err := range map[string]error{
		"delete": f.deleteThread.Exec(ctx, db, alice, int64(1)),
		"list":   func() error { _, err := f.listThreads.Query(ctx, db, alice, int64(0)); return err }(),
		"get":    f.getThread.QueryRow(ctx, db, alice, int64(1)).Scan(),
		"upsert": f.upsertThread.QueryRow(ctx, db, alice, int64(1), "x", int64(1)).Scan(),
	} {
		if !errors.Is(err, sqlguard.ErrNotApproved) || !strings.Contains(err.Error(), "sqlguard.lock") {
			t.Errorf("%s: got %v, want ErrNotApproved", name, err)
		}
	}
	if _, _, err := f.createThread.Bind(alice, "t", int64(1)); err != nil {
		t.Errorf("approved policy: %v", err)
	}
	// Declared later: checked at declaration.
	late := f.reg.MustDelete(sqlguard.Policy{Name: "late.delete", Table: "threads", Key: []string{"id"}, GroupColumn: "group_id", Role: "moderator"})
	if err := late.Exec(ctx, db, alice, int64(1)); !errors.Is(err, sqlguard.ErrNotApproved) {
		t.Errorf("late policy: got %v, want ErrNotApproved", err)
	}
	f.reg.SetApproval(nil)
	if _, _, err := late.Bind(alice, int64(1)); err != nil {
		t.Errorf("after SetApproval(nil): %v", err)
	}
}

func TestPolicyInfo(t *testing.T) {
	f := newForum(t, capability.KindInt64)
	p, ok := f.reg.Policy("comments.create")
	if !ok {
		t.Fatal("comments.create not found")
	}
	if p.Kind != sqlguard.KindInsertChild || p.Table != "comments" || p.Role != "member" || p.ReadRole != "member" ||
		p.Lock != "FOR KEY SHARE" || len(p.Parents) != 2 || p.Parents[1].Table != "threads" || p.Parents[1].Key != "id" ||
		p.Parents[1].Alias != "p2" || p.SubjectColumn != "author" || p.AdminOverride {
		t.Errorf("comments.create: %+v", p)
	}
	p.Parents[0].Table = "changed"
	if again, _ := f.reg.Policy("comments.create"); again.Parents[0].Table != "posts" {
		t.Error("PolicyInfo shares its slices with the registry")
	}
	r, _ := f.reg.Policy("threads.rename")
	if len(r.Conditions) != 2 || r.Conditions[1] != "? <> ''" || len(r.Values) != 3 {
		t.Errorf("threads.rename: conditions %q, values %q", r.Conditions, r.Values)
	}
	kinds := map[sqlguard.Kind]bool{}
	for _, p := range f.reg.Policies() {
		kinds[p.Kind] = true
	}
	for _, k := range []sqlguard.Kind{sqlguard.KindInsert, sqlguard.KindInsertChild, sqlguard.KindUpdate, sqlguard.KindDelete,
		sqlguard.KindSelectList, sqlguard.KindSelectOne, sqlguard.KindUpsert} {
		if !kinds[k] {
			t.Errorf("no %s policy in the forum", k)
		}
	}
}

// TestBindArrays: group arrays are typed text never NULL; the capability's
// array is encoded once and reused; a group given by the call binds only
// its intersection with the capability's groups.
func TestBindArrays(t *testing.T) {
	kind := capability.KindInt64
	f := newForum(t, kind)
	c := forumCaps(t, kind)
	for _, tc := range []struct {
		name string
		cap  *capability.Capability
		want string
	}{
		{"nil", c.none, "{}"},
		{"empty", c.empty, "{}"},
		{"one", c.carol, "{3}"},
		{"two", c.alice, "{1,2}"},
	} {
		_, args, err := f.deleteThread.Bind(tc.cap, int64(1))
		if err != nil {
			t.Fatal(err)
		}
		// $4: groups for member (the ReadRole).
		if args[3] != tc.want {
			t.Errorf("%s: member groups bound as %#v, want %q", tc.name, args[3], tc.want)
		}
		for i, a := range args {
			if a == nil {
				t.Errorf("%s: argument %d is NULL", tc.name, i+1)
			}
		}
	}
	_, a1, _ := f.listThreads.Bind(c.big, int64(0))
	_, a2, _ := f.listThreads.Bind(c.big, int64(0))
	s1, s2 := a1[0].(string), a2[0].(string)
	if strings.Count(s1, ",") != 999 || !strings.HasPrefix(s1, "{1,1001,1002,") {
		t.Errorf("1,000 groups bound as %.40q...", s1)
	}
	if unsafe.StringData(s1) != unsafe.StringData(s2) {
		t.Error("the capability's array was encoded twice")
	}
	_, args, _ := f.createThread.Bind(c.big, "t", capability.Int64Group(1500))
	if args[3] != int64(1500) {
		t.Errorf("direct insert binds %#v, want the intersection, int64(1500)", args[3])
	}
	_, args, _ = f.createThread.Bind(c.big, "t", int64(7))
	if args[3] != nil || args[1] != int64(7) {
		t.Errorf("direct insert into a foreign group binds %#v, %#v", args[1], args[3])
	}
	if _, _, err := f.createThread.Bind(c.big, "t", "7"); !errors.Is(err, sqlguard.ErrInvalidInput) {
		t.Errorf("text group id for an int64 registry: %v", err)
	}
}
