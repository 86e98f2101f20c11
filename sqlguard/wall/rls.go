package wall

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/sqlguard"
)

// wall is the second wall being generated.
type wall struct {
	r         *sqlguard.Registry
	o         Options
	arrayType string
	tables    map[string]*tableWall
	grants    map[string]map[string]*tableGrant // PostgreSQL role -> table -> privileges
}

type tableWall struct {
	name      string
	sel       predSet
	ins       predSet
	del       predSet
	updUsing  predSet
	updCheck  []string
	funcs     []string              // CREATE FUNCTION of the update checks
	updCols   map[string]bool       // columns any role may UPDATE
	updaters  []sqlguard.PolicyInfo // update and upsert policies, for WITH CHECK
	hasUpdate bool
}

type tableGrant struct {
	sel, del bool
	ins, upd map[string]bool
}

// Script returns the SQL script (several statements, to run once as
// the tables' owner or a superuser, e.g. in a migration) that creates the
// roles, GRANTs and row-level security policies of the second wall for
// the declared policies. Running it again brings an existing wall up to
// date (roles are created if missing, the tables' privileges of the
// wall's roles are revoked and granted again, policies are replaced).
//
// When the registry has an approval (approval.Enforce, SetApproval) that refuses a
// declared policy, Script fails with an error wrapping sqlguard.ErrNotApproved
// that names every refused policy: the wall never grants what the approved
// lock does not.
func Script(r *sqlguard.Registry, opts Options) (string, error) {
	if err := opts.validate(); err != nil {
		return "", err
	}
	if bad := r.Unapproved(); len(bad) > 0 {
		return "", fmt.Errorf("wall: %w: %s", sqlguard.ErrNotApproved, strings.Join(bad, "; "))
	}
	w := &wall{r: r, o: opts, arrayType: arrayTypes[r.GroupKind()], tables: map[string]*tableWall{}, grants: map[string]map[string]*tableGrant{}}
	pols := r.Policies()
	for _, role := range r.Roles().Names() {
		if n := len(opts.RoleFor(role)); n > 63 {
			return "", fmt.Errorf("wall: role name %s is %d bytes, PostgreSQL's limit is 63", opts.RoleFor(role), n)
		}
	}
	for _, p := range pols {
		if err := w.add(p); err != nil {
			return "", err
		}
	}
	n := 0
	for _, name := range w.tableNames() {
		t := w.tables[name]
		for _, p := range t.updaters {
			n++
			w.updateCheck(t, p, opts.prefix()+"chk_"+fmt.Sprint(n))
		}
	}
	return w.script(), nil
}

func appendUnique(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

func (w *wall) table(name string) *tableWall {
	t := w.tables[name]
	if t == nil {
		t = &tableWall{name: name, updCols: map[string]bool{}}
		w.tables[name] = t
	}
	return t
}

func (w *wall) grant(pgRole, table string) *tableGrant {
	m := w.grants[pgRole]
	if m == nil {
		m = map[string]*tableGrant{}
		w.grants[pgRole] = m
	}
	g := m[table]
	if g == nil {
		g = &tableGrant{ins: map[string]bool{}, upd: map[string]bool{}}
		m[table] = g
	}
	return g
}

// Setting readers: uncorrelated scalar subqueries, evaluated once per
// statement.
//
// Groups of kind int8 and uuid are set as text delimited by commas
// (sqlguard.GroupsList, ",1,2,3,") and compared with
//
//	strpos((SELECT CASE WHEN left(s, 1) = ',' THEN s ELSE ',' END FROM (SELECT COALESCE(NULLIF(current_setting('keyhole.groups_member', true), ''), ',') AS s) AS keyhole_setting), ',' || "t"."group_id"::int8::text || ',') > 0
//
// (the ids' text forms hold no comma and are canonical on both sides, so
// ",id," occurs exactly when id is one of the groups), and text ids as an
// array literal parsed once per reader:
//
//	"t"."group_id" = ANY((SELECT COALESCE(NULLIF(current_setting('keyhole.groups_member', true), ''), '{}')::text[])::text[])
//
// Why not an array for every kind: PostgreSQL parses each reader's array
// once per statement, but a statement holds several readers (a child
// insert's check on the parent, the parent's select policy inside that
// check, and the select policy on the parent the guard reads: three), and
// parsing 1,000 int8 costs about 45 µs each, as much as the whole plain
// insert (measured with EXPLAIN ANALYZE, BenchmarkWallInsert). The
// delimited text is not parsed: strpos scans it (about 5 kB for 1,000
// groups) once per row compared. The price: the comparison is not an index
// condition, so a raw statement that forgot its guard scans instead of
// using an index on the group column (a guarded one still has the
// guard's own comparison, which is).
//
// A delimited setting must start with a comma: any other value (the array
// literal that a capability of kind text sets, "{...}", or a value set by
// hand) reads as no group at all, so that a setting of the wrong form
// fails closed instead of being searched. And the column's text is its
// canonical text as the wall's kind ("col"::int8::text): a group column of
// another type fails at the first statement instead of being compared as
// text.
func (w *wall) groupsExpr(role string) string {
	if w.list() {
		return "(SELECT CASE WHEN left(s, 1) = ',' THEN s ELSE ',' END FROM (SELECT COALESCE(NULLIF(current_setting(" +
			lit(w.o.GroupsSetting(role)) + ", true), ''), ',') AS s) AS keyhole_setting)"
	}
	return "(SELECT COALESCE(NULLIF(current_setting(" + lit(w.o.GroupsSetting(role)) + ", true), ''), '{}')::" + w.arrayType + ")"
}

// list reports whether the groups are compared as delimited text.
func (w *wall) list() bool { return w.arrayType != "text[]" }

// inGroups is the comparison of the group column col (quoted, qualified)
// with the capability's groups for role.
func (w *wall) inGroups(col, role string) string {
	if w.list() {
		return "strpos(" + w.groupsExpr(role) + ", ',' || " + col + "::" + strings.TrimSuffix(w.arrayType, "[]") + "::text || ',') > 0"
	}
	// The outer cast is a no-op that makes the subquery an expression
	// (not ANY (subquery)); the parse of the array stays in the InitPlan.
	return col + " = ANY(" + w.groupsExpr(role) + "::" + w.arrayType + ")"
}

func (w *wall) adminExpr() string {
	return "(SELECT COALESCE(NULLIF(current_setting(" + lit(w.o.AdminSetting()) + ", true), '')::boolean, false))"
}

func (w *wall) subjectExpr() string {
	return "(SELECT NULLIF(current_setting(" + lit(w.o.SubjectSetting()) + ", true), ''))"
}

// groupPred is the group comparison of the row ref reached through hops
// (from ref's column hops[0].Column), for role, with the admin override.
func (w *wall) groupPred(ref string, hops []sqlguard.Parent, groupCol, role string, admin bool) string {
	return w.groupPredRoles(ref, hops, groupCol, []string{role}, admin)
}

// groupPredRoles compares the group with the groups of any of roles.
func (w *wall) groupPredRoles(ref string, hops []sqlguard.Parent, groupCol string, roles []string, admin bool) string {
	cmp := func(row string) string {
		var alt []string
		for _, role := range roles {
			alt = append(alt, w.inGroups(row+"."+q(groupCol), role))
		}
		if admin {
			alt = append(alt, w.adminExpr())
		}
		return "(" + strings.Join(alt, " OR ") + ")"
	}
	if len(hops) == 0 {
		return cmp(ref)
	}
	var b strings.Builder
	b.WriteString("EXISTS (SELECT 1 FROM ")
	alias := func(i int) string { return q(w.o.prefix() + "p" + fmt.Sprint(i+1)) }
	for i, h := range hops {
		if i > 0 {
			b.WriteString(" JOIN ")
		}
		b.WriteString(q(h.Table) + " AS " + alias(i))
		if i > 0 {
			b.WriteString(" ON " + alias(i) + "." + q(parentKey(h)) + " = " + alias(i-1) + "." + q(h.Column))
		}
	}
	b.WriteString(" WHERE " + alias(0) + "." + q(parentKey(hops[0])) + " = " + ref + "." + q(hops[0].Column))
	b.WriteString(" AND " + cmp(alias(len(hops)-1)) + ")")
	return b.String()
}

// predSet is the OR of the row predicates of one table and command,
// merged: one comparison (or one EXISTS) per parent chain holding the OR
// of its roles' groups, where a role's groups are dropped when a role it
// includes is already there (its groups are a superset).
type predSet struct {
	any      bool // TRUE: an unguarded policy
	chains   []*chainTerm
	owners   []string
	subjects []string // unguarded inserts with a SubjectColumn: col = subject
}

type chainTerm struct {
	key      string
	hops     []sqlguard.Parent
	groupCol string
	roles    []string
	admin    bool
	subject  string // inserts: the column that must hold the subject, or ""
}

func (s *predSet) empty() bool {
	return !s.any && len(s.chains) == 0 && len(s.owners) == 0 && len(s.subjects) == 0
}

func (s *predSet) addGroup(roles *capability.Roles, hops []sqlguard.Parent, groupCol, role string, admin bool) {
	s.addGroupSubject(roles, hops, groupCol, role, admin, "")
}

// addGroupSubject adds a group comparison that, when subject is set, also
// requires the row's column subject to hold the capability's subject (the
// insert policies with a SubjectColumn).
func (s *predSet) addGroupSubject(roles *capability.Roles, hops []sqlguard.Parent, groupCol, role string, admin bool, subject string) {
	key := sqlguard.PolicyInfo{Parents: hops, GroupColumn: groupCol}.GroupPath() + " subject=" + subject
	var t *chainTerm
	for _, c := range s.chains {
		if c.key == key {
			t = c
		}
	}
	if t == nil {
		t = &chainTerm{key: key, hops: hops, groupCol: groupCol, subject: subject}
		s.chains = append(s.chains, t)
	}
	t.admin = t.admin || admin
	for _, r := range t.roles {
		if roles.Includes(role, r) {
			return // r's groups include role's
		}
	}
	t.roles = slices.DeleteFunc(t.roles, func(r string) bool { return roles.Includes(r, role) })
	t.roles = append(t.roles, role)
}

func (s *predSet) addOwner(col string) {
	if !slices.Contains(s.owners, col) {
		s.owners = append(s.owners, col)
	}
}

// addRow adds the guard of an existing row of p for role.
func (s *predSet) addRow(roles *capability.Roles, p sqlguard.PolicyInfo, role string) {
	if p.Unguarded != "" {
		s.any = true
		return
	}
	s.addGroup(roles, p.Parents, p.GroupColumn, role, p.AdminOverride)
	if p.OwnerColumn != "" {
		s.addOwner(p.OwnerColumn)
	}
}

// render returns the predicate on the row ref.
func (w *wall) render(s *predSet, ref string) string {
	if s.any {
		return "TRUE"
	}
	var alt []string
	for _, c := range s.chains {
		g := w.groupPredRoles(ref, c.hops, c.groupCol, c.roles, c.admin)
		if c.subject != "" {
			g = "(" + g + " AND " + w.subjectPred(ref, c.subject) + ")"
		}
		alt = append(alt, g)
	}
	for _, o := range s.owners {
		alt = append(alt, ref+"."+q(o)+" = "+w.subjectExpr())
	}
	for _, col := range s.subjects {
		alt = append(alt, w.subjectPred(ref, col))
	}
	return or(alt)
}

// subjectPred requires the column col of the new row ref to hold the
// capability's subject, as the guarded insert binds it (NULL for an empty
// subject).
func (w *wall) subjectPred(ref, col string) string {
	return ref + "." + q(col) + " IS NOT DISTINCT FROM " + w.subjectExpr()
}

// rowPred is the guard of an existing row ref of p's table for role.
func (w *wall) rowPred(p sqlguard.PolicyInfo, ref, role string) string {
	if p.Unguarded != "" {
		return "TRUE"
	}
	s := w.groupPred(ref, p.Parents, p.GroupColumn, role, p.AdminOverride)
	if p.OwnerColumn != "" {
		s = "(" + s + " OR " + ref + "." + q(p.OwnerColumn) + " = " + w.subjectExpr() + ")"
	}
	return s
}

// movedColumn is the column whose change moves a row of p to another
// group: the group column, or the first parent's reference.
func movedColumn(p sqlguard.PolicyInfo) string {
	if len(p.Parents) > 0 {
		return p.Parents[0].Column
	}
	return p.GroupColumn
}

func (w *wall) add(p sqlguard.PolicyInfo) error {
	if p.AdminOnly {
		// No group and no role to grant to: the wall grants nothing, a
		// raw statement on the table is refused (see the package doc).
		return nil
	}
	roles := w.r.Roles()
	t := w.table(p.Table)
	pgRole := w.o.AppRole()
	if p.Unguarded == "" {
		pgRole = w.o.RoleFor(p.Role)
	}
	g := w.grant(pgRole, p.Table)
	g.sel = true
	t.sel.addRow(roles, p, p.Role)
	if p.ReadRole != "" {
		t.sel.addRow(roles, p, p.ReadRole)
	}
	// The parent rows the guard reads, and locks.
	for i, h := range p.Parents {
		pt := w.table(h.Table)
		pg := w.grant(pgRole, h.Table)
		pg.sel = true
		for _, role := range []string{p.Role, p.ReadRole} {
			if role != "" {
				pt.sel.addGroup(roles, p.Parents[i+1:], p.GroupColumn, role, p.AdminOverride)
			}
		}
		if p.Lock != "" {
			pg.upd[parentKey(h)] = true
			pt.updCols[parentKey(h)] = true
			pt.hasUpdate = true
			pt.updUsing.addGroup(roles, p.Parents[i+1:], p.GroupColumn, p.Role, p.AdminOverride)
		}
	}
	switch p.Kind {
	case sqlguard.KindInsert, sqlguard.KindInsertChild, sqlguard.KindUpsert:
		for _, c := range p.WrittenColumns() {
			g.ins[c] = true
		}
		switch {
		case p.Unguarded != "" && p.SubjectColumn != "":
			if !slices.Contains(t.ins.subjects, p.SubjectColumn) {
				t.ins.subjects = append(t.ins.subjects, p.SubjectColumn)
			}
		case p.Unguarded != "":
			t.ins.any = true
		default:
			t.ins.addGroupSubject(roles, p.Parents, p.GroupColumn, p.Role, p.AdminOverride, p.SubjectColumn)
		}
	case sqlguard.KindDelete:
		g.del = true
		t.del.addRow(roles, p, p.Role)
	}
	if p.Kind == sqlguard.KindUpdate || p.Kind == sqlguard.KindUpsert {
		for _, k := range p.Key {
			if slices.Contains(p.Set, k) {
				return fmt.Errorf("wall: %s sets its key column %s: the wall cannot pair its old and new rows", p.Name, k)
			}
		}
		for _, c := range p.Set {
			g.upd[c] = true
			t.updCols[c] = true
		}
		t.hasUpdate = true
		t.updUsing.addRow(roles, p, p.Role)
		t.updaters = append(t.updaters, p)
	}
	return nil
}

// updateCheck adds the WITH CHECK of one update policy p on t: the new
// row passes p's check when p moves it, and the old row (read back by Key)
// passed p's filter, with no updatable column outside p.Set changed.
//
// The old row is read by a STABLE SECURITY DEFINER function of the new
// row, fn: a policy whose expression reads its own table would recurse
// into its own policies (PostgreSQL refuses: infinite recursion detected
// in policy). STABLE, it sees the statement's snapshot: the old row.
func (w *wall) updateCheck(t *tableWall, p sqlguard.PolicyInfo, fn string) {
	ref := q(t.name)
	old := q(w.o.prefix() + "old")
	var b strings.Builder
	b.WriteString("SELECT EXISTS (SELECT 1 FROM " + ref + " AS " + old + " WHERE ")
	for i, k := range p.Key {
		if i > 0 {
			b.WriteString(" AND ")
		}
		b.WriteString(old + "." + q(k) + " = $1." + q(k))
	}
	b.WriteString(" AND " + w.rowPred(p, old, p.Role))
	cols := make([]string, 0, len(t.updCols))
	for c := range t.updCols {
		if !slices.Contains(p.Set, c) && !slices.Contains(p.Key, c) {
			cols = append(cols, c)
		}
	}
	sort.Strings(cols)
	for _, c := range cols {
		b.WriteString(" AND " + old + "." + q(c) + " IS NOT DISTINCT FROM $1." + q(c))
	}
	b.WriteString(")")
	roles := []string{q(w.o.AppRole())}
	for _, r := range w.r.Roles().Names() {
		roles = append(roles, q(w.o.RoleFor(r)))
	}
	t.funcs = append(t.funcs,
		"CREATE OR REPLACE FUNCTION "+q(fn)+"("+ref+") RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $keyhole$\n    "+
			b.String()+"\n$keyhole$;",
		"REVOKE ALL ON FUNCTION "+q(fn)+"("+ref+") FROM PUBLIC;",
		"GRANT EXECUTE ON FUNCTION "+q(fn)+"("+ref+") TO "+strings.Join(roles, ", ")+";")
	check := q(fn) + "(" + ref + ")"
	if p.Unguarded == "" && slices.Contains(p.Set, movedColumn(p)) {
		check = "(" + w.groupPred(ref, p.Parents, p.GroupColumn, p.Role, p.AdminOverride) + " AND " + check + ")"
	}
	t.updCheck = appendUnique(t.updCheck, check)
}

func (w *wall) tableNames() []string {
	names := make([]string, 0, len(w.tables))
	for n := range w.tables {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func or(preds []string) string {
	if len(preds) == 0 {
		return "FALSE"
	}
	return strings.Join(preds, "\n    OR ")
}

func (w *wall) script() string {
	o := w.o
	var b strings.Builder
	line := func(s ...string) {
		for _, x := range s {
			b.WriteString(x)
		}
		b.WriteString("\n")
	}
	line("-- keyhole second wall: roles, GRANTs and row-level security generated")
	line("-- from the sqlguard registry. Run as the tables' owner. Settings read:")
	line("-- ", o.AdminSetting(), ", ", o.SubjectSetting(), ", ", o.ns(), ".groups_<role>.")
	line()
	roles := w.r.Roles().Names()
	pgRoles := []string{o.AppRole()}
	for _, r := range roles {
		pgRoles = append(pgRoles, o.RoleFor(r))
	}
	line("-- Roles.")
	for _, pr := range pgRoles {
		line("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ", lit(pr), ") THEN CREATE ROLE ", q(pr), " NOLOGIN; END IF; END $$;")
	}
	for _, r := range roles {
		for _, s := range roles {
			if s != r && w.r.Roles().Includes(r, s) {
				line("GRANT ", q(o.RoleFor(s)), " TO ", q(o.RoleFor(r)), ";")
			}
		}
		line("GRANT ", q(o.RoleFor(r)), " TO ", q(o.AppRole()), ";")
	}
	for _, g := range o.Grantees {
		line("GRANT ", q(o.AppRole()), " TO ", q(g), ";")
	}
	names := w.tableNames()
	quotedRoles := make([]string, len(pgRoles))
	for i, pr := range pgRoles {
		quotedRoles[i] = q(pr)
	}
	line()
	line("-- Privileges: exactly what each role's policies use.")
	for _, n := range names {
		line("REVOKE ALL ON TABLE ", q(n), " FROM ", strings.Join(quotedRoles, ", "), ";")
	}
	for _, pr := range pgRoles {
		for _, n := range names {
			g := w.grants[pr][n]
			if g == nil {
				continue
			}
			if g.sel {
				line("GRANT SELECT ON TABLE ", q(n), " TO ", q(pr), ";")
			}
			if len(g.ins) > 0 {
				line("GRANT INSERT (", colList(g.ins), ") ON TABLE ", q(n), " TO ", q(pr), ";")
				// The sequences of the table's serial and identity columns.
				line("DO $$ DECLARE s regclass; BEGIN FOR s IN SELECT d.objid::regclass FROM pg_depend d JOIN pg_class c ON c.oid = d.objid",
					" WHERE d.classid = 'pg_class'::regclass AND d.refobjid = ", lit(q(n)), "::regclass AND d.deptype IN ('a', 'i') AND c.relkind = 'S'",
					" LOOP EXECUTE format('GRANT USAGE ON SEQUENCE %s TO %I', s, ", lit(pr), "); END LOOP; END $$;")
			}
			if len(g.upd) > 0 {
				line("GRANT UPDATE (", colList(g.upd), ") ON TABLE ", q(n), " TO ", q(pr), ";")
			}
			if g.del {
				line("GRANT DELETE ON TABLE ", q(n), " TO ", q(pr), ";")
			}
		}
	}
	line()
	line("-- Row-level security: the OR of the guards per table and command.")
	pn := func(s string) string { return q(o.prefix() + s) }
	for _, n := range names {
		t := w.tables[n]
		tn := q(n)
		line()
		line("ALTER TABLE ", tn, " ENABLE ROW LEVEL SECURITY;")
		if o.Force {
			line("ALTER TABLE ", tn, " FORCE ROW LEVEL SECURITY;")
		} else {
			line("ALTER TABLE ", tn, " NO FORCE ROW LEVEL SECURITY;")
		}
		for _, cmd := range []string{"select", "insert", "update", "delete"} {
			line("DROP POLICY IF EXISTS ", pn(cmd), " ON ", tn, ";")
		}
		line("CREATE POLICY ", pn("select"), " ON ", tn, " FOR SELECT USING (\n    ", w.render(&t.sel, tn), ");")
		if !t.ins.empty() {
			line("CREATE POLICY ", pn("insert"), " ON ", tn, " FOR INSERT WITH CHECK (\n    ", w.render(&t.ins, tn), ");")
		}
		for _, f := range t.funcs {
			line(f)
		}
		if t.hasUpdate {
			line("CREATE POLICY ", pn("update"), " ON ", tn, " FOR UPDATE USING (\n    ", w.render(&t.updUsing, tn), ")\n  WITH CHECK (\n    ", or(t.updCheck), ");")
		}
		if !t.del.empty() {
			line("CREATE POLICY ", pn("delete"), " ON ", tn, " FOR DELETE USING (\n    ", w.render(&t.del, tn), ");")
		}
	}
	return b.String()
}

func colList(m map[string]bool) string {
	cols := make([]string, 0, len(m))
	for c := range m {
		cols = append(cols, c)
	}
	sort.Strings(cols)
	for i, c := range cols {
		cols[i] = q(c)
	}
	return strings.Join(cols, ", ")
}
