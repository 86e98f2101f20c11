package sqlguard

import (
	"fmt"
	"slices"
	"strconv"

	sq "github.com/Masterminds/squirrel"
	"github.com/jackc/pgx/v5"

	"github.com/keyhole-go/keyhole/capability"
)

// Insert declares an insert of one row. With GroupColumn among Columns it
// is a direct insert ("insert-child" otherwise, with Parents): the group is
// one of the inserted values, and the statement is
//
//	INSERT INTO t (a, g) SELECT $1, $2 WHERE ($2 = ANY($3::int8[]) OR $4)
//
// For a child insert the group comes from the parent chain, with Lock
// taken on the parents:
//
//	INSERT INTO posts (content, thread_id) SELECT $1, $2
//	WHERE EXISTS (SELECT 1 FROM threads AS p1 WHERE p1.id = $2
//	              AND (p1.group_id = ANY($3::int8[]) OR $4) FOR SHARE)
//
// Call values: Columns, then the conditions' Args.
func (r *Registry) Insert(p Policy) (*Write, error) {
	return as[Write](r.declare(p, KindInsert, func(d *decl) (*compiled, error) {
		if len(p.Parents) > 0 {
			d.info.Kind = KindInsertChild
		}
		return d.insert()
	}))
}

// Update declares an update of the rows selected by Key: the row's current
// group must allow Role (the filter), and when Set holds the group column
// (or the first parent's Column) the new group must allow it too (the
// check):
//
//	UPDATE threads SET group_id = $2 WHERE threads.id = $1
//	AND (threads.group_id = ANY($3::int8[]) OR $4) AND ($2 = ANY($5::int8[]) OR $4)
//
// Call values: Key, then Set, then the conditions' Args.
func (r *Registry) Update(p Policy) (*Write, error) {
	return as[Write](r.declare(p, KindUpdate, (*decl).updateOrDelete))
}

// Delete declares a delete of the rows selected by Key whose group allows
// Role. Call values: Key, then the conditions' Args.
func (r *Registry) Delete(p Policy) (*Write, error) {
	return as[Write](r.declare(p, KindDelete, (*decl).updateOrDelete))
}

// Upsert declares INSERT ... ON CONFLICT (Key) DO UPDATE SET (Set) with
// both sides guarded: the proposed row's group (one of Columns) must allow
// Role, and so must the existing row's group for the update. When the
// existing row's group does not allow it, the call answers *DeniedError.
// Call values: Columns, then the conditions' Args.
func (r *Registry) Upsert(p Policy) (*Write, error) {
	return as[Write](r.declare(p, KindUpsert, (*decl).upsert))
}

// List declares a guarded select of many rows: Query with the guard ANDed
// to its WHERE. Call values: the Args of Query and Where, in text order.
//
// With AdminOverride the policy holds two texts: the one for non-admin
// capabilities has no admin alternative at all (WHERE ... AND
// t.group_id = ANY($1::int8[])), so that a generic plan still uses the
// group index; the one for admin capabilities replaces the group
// comparison by the bound admin flag (WHERE ... AND ($1)).
func (r *Registry) List(p Policy) (*List, error) {
	return as[List](r.declare(p, KindSelectList, (*decl).read))
}

// Get declares a guarded select of one row by Key. A row the caller may
// not read answers ErrNotFound, like a missing one, unless
// DistinguishDenied is set. Call values: Key, then the Args of Query and
// Where in text order.
func (r *Registry) Get(p Policy) (*Get, error) {
	return as[Get](r.declare(p, KindSelectOne, (*decl).read))
}

// MustInsert is Insert for package-level declarations: it panics on error.
func (r *Registry) MustInsert(p Policy) *Write { return must(r.Insert(p)) }

// MustUpdate is Update for package-level declarations: it panics on error.
func (r *Registry) MustUpdate(p Policy) *Write { return must(r.Update(p)) }

// MustDelete is Delete for package-level declarations: it panics on error.
func (r *Registry) MustDelete(p Policy) *Write { return must(r.Delete(p)) }

// MustUpsert is Upsert for package-level declarations: it panics on error.
func (r *Registry) MustUpsert(p Policy) *Write { return must(r.Upsert(p)) }

// MustList is List for package-level declarations: it panics on error.
func (r *Registry) MustList(p Policy) *List { return must(r.List(p)) }

// MustGet is Get for package-level declarations: it panics on error.
func (r *Registry) MustGet(p Policy) *Get { return must(r.Get(p)) }

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// as wraps a declared policy in its executable type.
func as[T Write | List | Get](c *compiled, err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	return &T{c: c}, nil
}

// declare validates p as a policy of kind, builds its SQL with build and
// adds it to the registry.
func (r *Registry) declare(p Policy, kind Kind, build func(*decl) (*compiled, error)) (*compiled, error) {
	d, err := r.begin(p, kind)
	if err != nil {
		return nil, err
	}
	c, err := build(d)
	if err != nil {
		return nil, d.fail(err)
	}
	if err := r.add(c); err != nil {
		return nil, err
	}
	return c, nil
}

// decl is a policy being declared.
type decl struct {
	r         *Registry
	p         Policy
	info      PolicyInfo
	from      string // quoted "t" or "t" AS "a"
	ref       string // quoted name of the row: alias or table
	hops      []hop
	arrayType string
	bd        bindings
	conds     []frag // converted conditions (writes)
	guarded   bool
}

func (d *decl) fail(err error) error {
	return fmt.Errorf("%w: %s: %v", ErrDeclaration, d.p.Name, err)
}

// ident validates and quotes an identifier.
func ident(name string) (string, error) {
	if len(name) == 0 || len(name) > 63 {
		return "", fmt.Errorf("identifier %q must be 1..63 bytes", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == '_' || 'a' <= c && c <= 'z' || i > 0 && '0' <= c && c <= '9') {
			return "", fmt.Errorf("identifier %q must match ^[a-z_][a-z0-9_]*$", name)
		}
	}
	return pgx.Identifier{name}.Sanitize(), nil
}

func q(name string) string { return pgx.Identifier{name}.Sanitize() }

func validName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

var arrayTypes = map[capability.GroupKind]string{
	capability.KindInt64: "int8[]",
	capability.KindUUID:  "uuid[]",
	capability.KindText:  "text[]",
}

// elemTypes is the type of one group id, the arrays' element type.
var elemTypes = map[capability.GroupKind]string{
	capability.KindInt64: "int8",
	capability.KindUUID:  "uuid",
	capability.KindText:  "text",
}

func (d *decl) elemType() string { return elemTypes[d.r.kind] }

// begin validates what every kind shares.
func (r *Registry) begin(p Policy, kind Kind) (*decl, error) {
	d := &decl{r: r, p: p, arrayType: arrayTypes[r.kind]}
	if !validName(p.Name) {
		return nil, fmt.Errorf("%w: policy name %q must be 1..128 of [a-z0-9_.-]", ErrDeclaration, p.Name)
	}
	if err := d.common(kind); err != nil {
		return nil, d.fail(err)
	}
	return d, nil
}

func (d *decl) common(kind Kind) error {
	p := d.p
	r := d.r
	d.info = PolicyInfo{
		Name: p.Name, Kind: kind, Table: p.Table, Alias: p.Alias,
		Role: p.Role, ReadRole: p.ReadRole, GroupColumn: p.GroupColumn,
		Parents: slices.Clone(p.Parents), Lock: p.Lock.String(),
		OwnerColumn: p.OwnerColumn, SubjectColumn: p.SubjectColumn,
		AdminOverride: p.AdminOverride, Unguarded: p.Unguarded,
		Columns: slices.Clone(p.Columns), Key: slices.Clone(p.Key), Set: slices.Clone(p.Set),
		Returning: slices.Clone(p.Returning), DistinguishDenied: p.DistinguishDenied,
	}
	t, err := ident(p.Table)
	if err != nil {
		return fmt.Errorf("Table: %v", err)
	}
	d.from, d.ref = t, t
	if p.Alias != "" {
		a, err := ident(p.Alias)
		if err != nil {
			return fmt.Errorf("Alias: %v", err)
		}
		d.from, d.ref = t+" AS "+a, a
	}
	if p.Unguarded != "" {
		if p.Role != "" || p.ReadRole != "" || p.GroupColumn != "" || len(p.Parents) > 0 ||
			p.OwnerColumn != "" || p.AdminOverride || p.Lock != LockNone {
			return fmt.Errorf("an Unguarded policy takes no Role, ReadRole, GroupColumn, Parents, Lock, OwnerColumn or AdminOverride")
		}
		if p.DistinguishDenied {
			return fmt.Errorf("DistinguishDenied needs a guard")
		}
		d.info.Lock = ""
		return nil
	}
	d.guarded = true
	if p.Role == "" {
		return fmt.Errorf("Role is required (or Unguarded with a reason)")
	}
	if !r.roles.Known(p.Role) {
		return fmt.Errorf("unknown role %q", p.Role)
	}
	if p.ReadRole != "" {
		if !r.roles.Known(p.ReadRole) {
			return fmt.Errorf("unknown ReadRole %q", p.ReadRole)
		}
		if !r.roles.Includes(p.Role, p.ReadRole) {
			return fmt.Errorf("Role %q does not include ReadRole %q", p.Role, p.ReadRole)
		}
	}
	if _, err := ident(p.GroupColumn); err != nil {
		return fmt.Errorf("GroupColumn: %v", err)
	}
	if p.OwnerColumn != "" {
		if _, err := ident(p.OwnerColumn); err != nil {
			return fmt.Errorf("OwnerColumn: %v", err)
		}
	}
	if p.Lock > LockShare {
		return fmt.Errorf("unknown Lock %d", p.Lock)
	}
	if p.Lock != LockNone && len(p.Parents) == 0 {
		return fmt.Errorf("Lock needs Parents")
	}
	aliases := map[string]bool{d.ref: true}
	for i, h := range p.Parents {
		var x hop
		var err error
		x.raw = h
		if x.column, err = ident(h.Column); err != nil {
			return fmt.Errorf("Parents[%d].Column: %v", i, err)
		}
		if x.table, err = ident(h.Table); err != nil {
			return fmt.Errorf("Parents[%d].Table: %v", i, err)
		}
		key := h.Key
		if key == "" {
			key = "id"
			d.info.Parents[i].Key = key
		}
		if x.key, err = ident(key); err != nil {
			return fmt.Errorf("Parents[%d].Key: %v", i, err)
		}
		alias := h.Alias
		if alias == "" {
			alias = "p" + strconv.Itoa(i+1)
			d.info.Parents[i].Alias = alias
		}
		if x.alias, err = ident(alias); err != nil {
			return fmt.Errorf("Parents[%d].Alias: %v", i, err)
		}
		if aliases[x.alias] {
			return fmt.Errorf("Parents[%d]: alias %s used twice", i, x.alias)
		}
		aliases[x.alias] = true
		d.hops = append(d.hops, x)
	}
	return nil
}

// refuse reports fields that kind does not use.
func (d *decl) refuse(fields ...string) error {
	p := d.p
	for _, f := range fields {
		var set bool
		switch f {
		case "Columns":
			set = len(p.Columns) > 0
		case "SubjectColumn":
			set = p.SubjectColumn != ""
		case "Key":
			set = len(p.Key) > 0
		case "Set":
			set = len(p.Set) > 0
		case "Returning":
			set = len(p.Returning) > 0
		case "Query":
			_, _, err := p.Query.ToSql()
			set = err == nil
		case "DistinguishDenied":
			set = p.DistinguishDenied
		case "OwnerColumn":
			set = p.OwnerColumn != ""
		case "ReadRole":
			set = p.ReadRole != ""
		case "Parents":
			set = len(p.Parents) > 0
		case "Lock":
			set = p.Lock != LockNone
		case "Alias":
			set = p.Alias != ""
		}
		if set {
			return fmt.Errorf("%s is not used by %s", f, d.info.Kind)
		}
	}
	return nil
}

// columns validates and quotes a list of distinct columns.
func columns(field string, cols []string, required bool) ([]string, error) {
	if required && len(cols) == 0 {
		return nil, fmt.Errorf("%s is required", field)
	}
	out := make([]string, len(cols))
	seen := map[string]bool{}
	for i, c := range cols {
		qc, err := ident(c)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", field, err)
		}
		if seen[c] {
			return nil, fmt.Errorf("%s: %s twice", field, c)
		}
		seen[c] = true
		out[i] = qc
	}
	return out, nil
}

// writeConds converts Where for a write: each condition is rendered once
// and its Args take call values from d.bd.next on.
func (d *decl) writeConds() error {
	for i, c := range d.p.Where {
		if c == nil {
			return fmt.Errorf("Where[%d] is nil", i)
		}
		sql, args, err := c.ToSql()
		if err != nil {
			return fmt.Errorf("Where[%d]: %v", i, err)
		}
		if len(sql) == 0 || isBlank(sql) {
			return fmt.Errorf("Where[%d] renders empty", i)
		}
		if err := checkCondition(sql); err != nil {
			return fmt.Errorf("Where[%d] %q: %v", i, sql, err)
		}
		f := frag{"(" + sql + ")", d.bd.slots(args)}
		d.conds = append(d.conds, f)
		d.info.Conditions = append(d.info.Conditions, describe(sql, args))
		d.info.SubjectBindings += countSubjects(args)
	}
	return nil
}

func isBlank(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != ' ' && s[i] != '\t' && s[i] != '\n' {
			return false
		}
	}
	return true
}

func (d *decl) col(c string) string { return d.ref + "." + q(c) }

func (d *decl) lastAlias() string { return d.hops[len(d.hops)-1].alias }

// rowGuardFor is the guard on the existing row for role.
func (d *decl) rowGuardFor(role string, admin, owner bool, lock Lock) rowGuard {
	ownerCol := ""
	if owner && d.p.OwnerColumn != "" {
		ownerCol = d.col(d.p.OwnerColumn)
	}
	if len(d.hops) == 0 {
		g := groupGuard{col: d.col(d.p.GroupColumn), arrayType: d.arrayType, role: role, admin: admin, owner: ownerCol}
		return rowGuard{direct: &g}
	}
	pg := d.parentGuardFor(role, admin, frag{sql: d.col(d.hops[0].raw.Column)}, nil, lock)
	return rowGuard{parent: &pg, owner: ownerCol}
}

func (d *decl) parentGuardFor(role string, admin bool, ref frag, conds []frag, lock Lock) parentGuard {
	return parentGuard{
		hops: d.hops,
		ref:  ref,
		group: groupGuard{col: d.lastAlias() + "." + q(d.p.GroupColumn), arrayType: d.arrayType,
			role: role, admin: admin},
		conds: conds,
		lock:  lock,
	}
}

// groupText is the row's group as text: only ever evaluated for a row the
// caller may read.
func (d *decl) groupText() string {
	if len(d.hops) == 0 {
		return d.col(d.p.GroupColumn) + "::text"
	}
	from, key, last := chain(d.hops)
	return "(SELECT " + last + "." + q(d.p.GroupColumn) + "::text FROM " + from + " WHERE " + key + " = " + d.col(d.hops[0].raw.Column) + ")"
}

func coalesce(f frag) frag { return frag{"COALESCE(" + f.sql + ", FALSE)", f.args} }

func valueSlot(i int) frag { return frag{"?", []any{slot{kind: slotValue, i: i}}} }

func (d *decl) returning(b *buf, cols []string) {
	if len(cols) > 0 {
		b.s(" RETURNING ")
		for i, c := range cols {
			if i > 0 {
				b.s(", ")
			}
			b.s(c)
		}
	}
}

// status wraps a write in the CTE that reports its outcome in the same
// statement: done rows (status 0 and the returned columns), or one status
// row computed on the statement's snapshot when nothing was done.
//
//	WITH "sg_done" AS (<write> RETURNING ...)
//	SELECT 0, NULL::text, "sg_done".* FROM "sg_done"
//	UNION ALL
//	SELECT <status>, <group if readable>, NULL... FROM ... WHERE ... AND NOT EXISTS (SELECT 1 FROM "sg_done")
func statusStatement(write frag, ret []string, branchSelect frag, branchFrom frag) frag {
	var b buf
	b.s(`WITH "sg_done" AS (`).frag(write)
	if len(ret) == 0 {
		b.s(" RETURNING 1")
	} else {
		b.s(" RETURNING ")
		for i, c := range ret {
			if i > 0 {
				b.s(", ")
			}
			b.s(c)
		}
	}
	b.s(`) SELECT 0, NULL::text`)
	for _, c := range ret {
		b.s(`, "sg_done".`, c)
	}
	b.s(` FROM "sg_done" UNION ALL SELECT `).frag(branchSelect)
	for range ret {
		b.s(", NULL")
	}
	b.s(" ").frag(branchFrom)
	return b.done()
}

// Status codes of the status row.
const (
	statusDone        = 0
	statusNotFound    = 1 // the row is not readable by the caller
	statusDeniedRow   = 2 // readable, its group does not allow the role
	statusDeniedNew   = 3 // the new (or proposed) group does not allow the role
	statusDeniedCond  = 4 // group allowed; conditions (or a concurrent change) refused
	statusDeniedExist = 5 // upsert: the existing row is not readable
)

// insertColumns returns the quoted inserted columns: cols, then
// SubjectColumn when set.
func (d *decl) insertColumns(cols []string) ([]string, error) {
	p := d.p
	all := slices.Clone(cols)
	if p.SubjectColumn != "" {
		sc, err := ident(p.SubjectColumn)
		if err != nil {
			return nil, fmt.Errorf("SubjectColumn: %v", err)
		}
		if slices.Contains(p.Columns, p.SubjectColumn) {
			return nil, fmt.Errorf("SubjectColumn %s is also in Columns", p.SubjectColumn)
		}
		all = append(all, sc)
	}
	return all, nil
}

// insertSelect writes "INSERT INTO t (all) SELECT $values[, $subject]":
// the first n columns take the call's values, a last SubjectColumn the
// capability's subject.
func (d *decl) insertSelect(b *buf, all []string, n int) {
	b.s("INSERT INTO ", d.from, " (")
	for i, qc := range all {
		if i > 0 {
			b.s(", ")
		}
		b.s(qc)
	}
	b.s(") SELECT ")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.s(", ")
		}
		b.slot(slot{kind: slotValue, i: i})
	}
	if len(all) > n {
		b.s(", ").slot(slot{kind: slotSubject})
	}
}

func (d *decl) insert() (*compiled, error) {
	p := d.p
	if err := d.refuse("Key", "Set", "Query", "DistinguishDenied", "OwnerColumn", "Alias"); err != nil {
		return nil, err
	}
	cols, err := columns("Columns", p.Columns, true)
	if err != nil {
		return nil, err
	}
	c := &compiled{reg: d.r, directGroup: -1, checkGroup: -1}
	c.groupVals = make([]bool, len(cols))
	d.info.Values = slices.Clone(p.Columns)
	all, err := d.insertColumns(cols)
	if err != nil {
		return nil, err
	}
	ret, err := columns("Returning", p.Returning, false)
	if err != nil {
		return nil, err
	}
	d.bd.next = len(cols)
	if err := d.writeConds(); err != nil {
		return nil, err
	}
	var b buf
	d.insertSelect(&b, all, len(cols))
	var where []frag
	child := len(d.hops) > 0
	switch {
	case !d.guarded:
		where = d.conds
	case !child:
		if p.ReadRole != "" {
			return nil, fmt.Errorf("ReadRole is not used by a direct insert: the caller names the group, a refusal is always *DeniedError")
		}
		gi := slices.Index(p.Columns, p.GroupColumn)
		if gi < 0 {
			return nil, fmt.Errorf("GroupColumn %s is not in Columns (a child insert needs Parents)", p.GroupColumn)
		}
		c.groupVals[gi] = true
		c.directGroup = gi
		where = append([]frag{render(matchGuard{value: gi, elemType: d.elemType(), role: p.Role, admin: p.AdminOverride})}, d.conds...)
	default:
		ri := slices.Index(p.Columns, d.hops[0].raw.Column)
		if ri < 0 {
			return nil, fmt.Errorf("Parents[0].Column %s is not in Columns", d.hops[0].raw.Column)
		}
		where = []frag{render(d.parentGuardFor(p.Role, p.AdminOverride, valueSlot(ri), d.conds, p.Lock))}
	}
	for i, w := range where {
		if i == 0 {
			b.s(" WHERE ")
		} else {
			b.s(" AND ")
		}
		b.frag(w)
	}
	write := b.done()
	c.conds = len(d.conds) > 0
	if d.guarded && child && p.ReadRole != "" {
		ri := slices.Index(p.Columns, d.hops[0].raw.Column)
		from, key, last := chain(d.hops)
		read := render(groupGuard{col: last + "." + q(p.GroupColumn), arrayType: d.arrayType, role: p.ReadRole, admin: p.AdminOverride})
		wr := render(groupGuard{col: last + "." + q(p.GroupColumn), arrayType: d.arrayType, role: p.Role, admin: p.AdminOverride})
		var sel buf
		sel.s("CASE WHEN NOT ").frag(coalesce(read)).s(" THEN 1 WHEN NOT ").frag(coalesce(wr)).s(" THEN 2 ELSE 4 END, CASE WHEN ").
			frag(coalesce(read)).s(" THEN " + last + "." + q(p.GroupColumn) + "::text END")
		var fr buf
		fr.s("FROM ", from, " WHERE ", key, " = ").frag(valueSlot(ri)).s(` AND NOT EXISTS (SELECT 1 FROM "sg_done")`)
		return d.finish(c, statusStatement(write, ret, sel.done(), fr.done()), shapeStatus, len(ret))
	}
	d.returning(&b, ret)
	sh := shapeExec
	if len(ret) > 0 {
		sh = shapeRows
	}
	return d.finish(c, b.done(), sh, len(ret))
}

func (d *decl) updateOrDelete() (*compiled, error) {
	p := d.p
	update := d.info.Kind == KindUpdate
	refused := []string{"Columns", "SubjectColumn", "Query", "DistinguishDenied"}
	if !update {
		refused = append(refused, "Set")
	}
	if err := d.refuse(refused...); err != nil {
		return nil, err
	}
	keys, err := columns("Key", p.Key, true)
	if err != nil {
		return nil, err
	}
	var sets []string
	if update {
		if sets, err = columns("Set", p.Set, true); err != nil {
			return nil, err
		}
	}
	ret, err := columns("Returning", p.Returning, false)
	if err != nil {
		return nil, err
	}
	c := &compiled{reg: d.r, directGroup: -1, checkGroup: -1}
	n := len(keys) + len(sets)
	c.groupVals = make([]bool, n)
	d.info.Values = append(slices.Clone(p.Key), p.Set...)
	d.bd.next = n
	if err := d.writeConds(); err != nil {
		return nil, err
	}
	keyPred := func(b *buf) {
		for i, k := range keys {
			if i > 0 {
				b.s(" AND ")
			}
			b.s(d.ref, ".", k, " = ").slot(slot{kind: slotValue, i: i})
		}
	}
	var b buf
	if update {
		b.s("UPDATE ", d.from, " SET ")
		for i, s := range sets {
			if i > 0 {
				b.s(", ")
			}
			b.s(s, " = ").slot(slot{kind: slotValue, i: len(keys) + i})
		}
	} else {
		b.s("DELETE FROM ", d.from)
	}
	b.s(" WHERE ")
	keyPred(&b)
	var guard, check frag
	if d.guarded {
		guard = render(d.rowGuardFor(p.Role, p.AdminOverride, true, p.Lock))
		b.s(" AND ").frag(guard)
		if update {
			moved := p.GroupColumn
			if len(d.hops) > 0 {
				moved = d.hops[0].raw.Column
			}
			if si := slices.Index(p.Set, moved); si >= 0 {
				vi := len(keys) + si
				c.checkGroup = vi
				if len(d.hops) == 0 {
					c.groupVals[vi] = true
					check = render(matchGuard{value: vi, elemType: d.elemType(), role: p.Role, admin: p.AdminOverride})
				} else {
					check = render(d.parentGuardFor(p.Role, p.AdminOverride, valueSlot(vi), nil, p.Lock))
				}
				b.s(" AND ").frag(check)
			}
		}
	}
	for _, f := range d.conds {
		b.s(" AND ").frag(f)
	}
	write := b.done()
	c.conds = len(d.conds) > 0
	if d.guarded && p.ReadRole != "" {
		read := render(d.rowGuardFor(p.ReadRole, p.AdminOverride, true, LockNone))
		plain := render(d.rowGuardFor(p.Role, p.AdminOverride, true, LockNone))
		var sel buf
		sel.s("CASE WHEN NOT ").frag(coalesce(read)).s(" THEN 1 WHEN NOT ").frag(coalesce(plain)).s(" THEN 2")
		if check.sql != "" {
			chk := check
			if len(d.hops) > 0 {
				vi := c.checkGroup
				chk = render(d.parentGuardFor(p.Role, p.AdminOverride, valueSlot(vi), nil, LockNone))
			}
			sel.s(" WHEN NOT ").frag(coalesce(chk)).s(" THEN 3")
		}
		sel.s(" ELSE 4 END, CASE WHEN ").frag(coalesce(read)).s(" THEN ", d.groupText(), " END")
		var fr buf
		fr.s("FROM ", d.from, " WHERE ")
		keyPred(&fr)
		fr.s(` AND NOT EXISTS (SELECT 1 FROM "sg_done")`)
		return d.finish(c, statusStatement(write, ret, sel.done(), fr.done()), shapeStatus, len(ret))
	}
	d.returning(&b, ret)
	sh := shapeExec
	if len(ret) > 0 {
		sh = shapeRows
	}
	return d.finish(c, b.done(), sh, len(ret))
}

func (d *decl) upsert() (*compiled, error) {
	p := d.p
	if err := d.refuse("Query", "DistinguishDenied", "Parents", "Lock"); err != nil {
		return nil, err
	}
	cols, err := columns("Columns", p.Columns, true)
	if err != nil {
		return nil, err
	}
	keys, err := columns("Key", p.Key, true)
	if err != nil {
		return nil, err
	}
	sets, err := columns("Set", p.Set, true)
	if err != nil {
		return nil, err
	}
	for _, k := range p.Key {
		if !slices.Contains(p.Columns, k) {
			return nil, fmt.Errorf("Key %s is not in Columns", k)
		}
	}
	for _, s := range p.Set {
		if !slices.Contains(p.Columns, s) {
			return nil, fmt.Errorf("Set %s is not in Columns", s)
		}
	}
	ret, err := columns("Returning", p.Returning, false)
	if err != nil {
		return nil, err
	}
	c := &compiled{reg: d.r, directGroup: -1, checkGroup: -1}
	c.groupVals = make([]bool, len(cols))
	d.info.Values = slices.Clone(p.Columns)
	all, err := d.insertColumns(cols)
	if err != nil {
		return nil, err
	}
	d.bd.next = len(cols)
	if err := d.writeConds(); err != nil {
		return nil, err
	}
	c.conds = len(d.conds) > 0
	var ins frag
	gi := -1
	if d.guarded {
		gi = slices.Index(p.Columns, p.GroupColumn)
		if gi < 0 {
			return nil, fmt.Errorf("GroupColumn %s is not in Columns", p.GroupColumn)
		}
		c.groupVals[gi] = true
		c.directGroup = gi
		c.checkGroup = gi
		ins = render(matchGuard{value: gi, elemType: d.elemType(), role: p.Role, admin: p.AdminOverride})
	}
	var b buf
	d.insertSelect(&b, all, len(cols))
	first := true
	and := func() {
		if first {
			b.s(" WHERE ")
			first = false
		} else {
			b.s(" AND ")
		}
	}
	if d.guarded {
		and()
		b.frag(ins)
	}
	for _, f := range d.conds {
		and()
		b.frag(f)
	}
	b.s(" ON CONFLICT (")
	for i, k := range keys {
		if i > 0 {
			b.s(", ")
		}
		b.s(k)
	}
	b.s(") DO UPDATE SET ")
	for i, s := range sets {
		if i > 0 {
			b.s(", ")
		}
		b.s(s, " = EXCLUDED.", s)
	}
	if d.guarded {
		b.s(" WHERE ").frag(render(d.rowGuardFor(p.Role, p.AdminOverride, true, LockNone)))
	}
	write := b.done()
	if !d.guarded {
		d.returning(&b, ret)
		sh := shapeExec
		if len(ret) > 0 {
			sh = shapeRows
		}
		return d.finish(c, b.done(), sh, len(ret))
	}
	existing := func(b *buf, what frag) {
		b.s("(SELECT ").frag(what).s(" FROM ", d.from, " WHERE ")
		for i, k := range p.Key {
			if i > 0 {
				b.s(" AND ")
			}
			b.s(d.col(k), " = ").slot(slot{kind: slotValue, i: slices.Index(p.Columns, k)})
		}
		b.s(")")
	}
	read := frag{sql: "FALSE"}
	if p.ReadRole != "" {
		read = coalesce(render(d.rowGuardFor(p.ReadRole, p.AdminOverride, true, LockNone)))
	}
	var sel buf
	sel.s("CASE WHEN NOT ").frag(coalesce(ins))
	sel.s(" THEN 3")
	for _, f := range d.conds {
		sel.s(" WHEN NOT ").frag(coalesce(f)).s(" THEN 4")
	}
	sel.s(" WHEN COALESCE(")
	existing(&sel, read)
	sel.s(", FALSE) THEN 2 ELSE 5 END, ")
	var gt buf
	gt.s("CASE WHEN ").frag(read).s(" THEN ", d.groupText(), " END")
	existing(&sel, gt.done())
	fr := frag{sql: `WHERE NOT EXISTS (SELECT 1 FROM "sg_done")`}
	return d.finish(c, statusStatement(write, ret, sel.done(), fr), shapeStatus, len(ret))
}

// read declares List and Get.
func (d *decl) read() (*compiled, error) {
	p := d.p
	get := d.info.Kind == KindSelectOne
	refused := []string{"Columns", "SubjectColumn", "Set", "Returning", "Lock", "ReadRole"}
	if !get {
		refused = append(refused, "Key", "DistinguishDenied")
	}
	if err := d.refuse(refused...); err != nil {
		return nil, err
	}
	_, qargs, err := p.Query.ToSql()
	if err != nil {
		return nil, fmt.Errorf("Query: %v", err)
	}
	d.info.SubjectBindings += countSubjects(qargs)
	var keys []string
	if get {
		if keys, err = columns("Key", p.Key, true); err != nil {
			return nil, err
		}
	}
	for i, w := range p.Where {
		if w == nil {
			return nil, fmt.Errorf("Where[%d] is nil", i)
		}
		sql, args, err := w.ToSql()
		if err != nil {
			return nil, fmt.Errorf("Where[%d]: %v", i, err)
		}
		if isBlank(sql) {
			return nil, fmt.Errorf("Where[%d] renders empty", i)
		}
		if err := checkCondition(sql); err != nil {
			return nil, fmt.Errorf("Where[%d] %q: %v", i, sql, err)
		}
		d.info.Conditions = append(d.info.Conditions, describe(sql, args))
		d.info.SubjectBindings += countSubjects(args)
	}
	c := &compiled{reg: d.r, directGroup: -1, checkGroup: -1}
	d.info.Values = slices.Clone(p.Key)
	keyPred := func() frag {
		var b buf
		for i, k := range keys {
			if i > 0 {
				b.s(" AND ")
			}
			b.s(d.ref, ".", k, " = ").slot(slot{kind: slotValue, i: i})
		}
		return b.done()
	}
	// build renders the caller's query with guard; its Args take call
	// values after the keys, in text order.
	//
	// The guard, the key and the conditions filter a derived table that
	// takes the table's place in the caller's FROM:
	//
	//	SELECT ... FROM (SELECT * FROM "threads" WHERE <guard>) AS "threads" ... WHERE <caller's>
	//
	// so that no OR in the caller's WHERE (squirrel does not parenthesize
	// a string predicate) can reach rows around the guard. PostgreSQL pulls
	// the subquery up: the plan is the one of a plain WHERE.
	//
	// The rendered text is checked (checkQuery): the caller's query cannot
	// take rows from anywhere but the derived table, nor add a UNION.
	build := func(guard sq.Sqlizer) (frag, error) {
		var parts []sq.Sqlizer
		for _, w := range p.Where {
			sql, args, err := w.ToSql()
			if err != nil {
				return frag{}, fmt.Errorf("Where: %v", err)
			}
			parts = append(parts, frag{"(" + sql + ")", args})
		}
		if get {
			k := keyPred()
			parts = append(parts, frag{"(" + k.sql + ")", k.args})
		}
		if guard != nil {
			parts = append(parts, guard)
		}
		qb := p.Query.From(d.from)
		from := "FROM " + d.from
		if len(parts) > 0 {
			inner := sq.Select("*").From(d.from)
			for _, w := range parts {
				inner = inner.Where(w)
			}
			isql, _, err := inner.ToSql()
			if err != nil {
				return frag{}, fmt.Errorf("Where: %v", err)
			}
			from = "FROM (" + isql + ") AS " + d.ref
			qb = p.Query.FromSelect(inner, d.ref)
		}
		sql, args, err := qb.PlaceholderFormat(sq.Question).ToSql()
		if err != nil {
			return frag{}, fmt.Errorf("Query: %v", err)
		}
		joins, err := checkQuery(sql, from)
		if err != nil {
			return frag{}, fmt.Errorf("Query %q: %v", sql, err)
		}
		d.info.Joins = joins
		bd := &d.bd
		bd.next = len(keys)
		return frag{sql, bd.slots(args)}, nil
	}
	var guard sq.Sqlizer
	if d.guarded {
		// A list's main text never carries the admin alternative: see List.
		guard = d.rowGuardFor(p.Role, get && p.AdminOverride, true, LockNone)
	}
	main, err := build(guard)
	if err != nil {
		return nil, err
	}
	nvalues := d.bd.next
	for i := len(keys); i < nvalues; i++ {
		d.info.Values = append(d.info.Values, "arg "+strconv.Itoa(i-len(keys)+1))
	}
	sh := shapeList
	if get {
		sh = shapeGet
		if p.DistinguishDenied {
			sh = shapeGetDistinguish
			var b buf
			b.s(`SELECT "sg_s"."sg_found", "sg_r".* FROM (SELECT EXISTS (SELECT 1 FROM `, d.from, " WHERE ").frag(keyPred()).
				s(`) AS "sg_found") AS "sg_s" LEFT JOIN (SELECT TRUE AS "sg_ok", "sg_q".* FROM (`).frag(main).
				s(`) AS "sg_q") AS "sg_r" ON TRUE`)
			main = b.done()
		}
	}
	if !get && d.guarded && p.AdminOverride {
		admin, err := build(frag{"(?)", []any{slot{kind: slotAdmin}}})
		if err != nil {
			return nil, err
		}
		if d.bd.next != nvalues {
			return nil, fmt.Errorf("internal: admin text binds %d values, not %d", d.bd.next, nvalues)
		}
		sql, slots, err := number(admin)
		if err != nil {
			return nil, err
		}
		c.adminText = &statement{sql: sql, slots: slots}
	}
	c.groupVals = make([]bool, nvalues)
	return d.finish(c, main, sh, 0)
}

// finish numbers the statement and fills in the policy's description.
func (d *decl) finish(c *compiled, f frag, sh shape, nret int) (*compiled, error) {
	sql, slots, err := number(f)
	if err != nil {
		return nil, err
	}
	c.text = statement{sql: sql, slots: slots}
	c.shape = sh
	c.nret = nret
	c.consts = d.bd.consts
	c.nvalues = len(c.groupVals)
	for _, s := range slots {
		if s.kind == slotValue && s.i >= c.nvalues {
			c.nvalues = s.i + 1
		}
	}
	if c.nvalues > len(c.groupVals) {
		c.groupVals = append(c.groupVals, make([]bool, c.nvalues-len(c.groupVals))...)
	}
	for i := len(d.info.Values); i < c.nvalues; i++ {
		d.info.Values = append(d.info.Values, "arg "+strconv.Itoa(i+1))
	}
	d.info.SQL = sql
	d.info.Params = paramInfos(c.text, c.consts)
	if c.adminText != nil {
		d.info.AdminSQL = c.adminText.sql
		d.info.AdminParams = paramInfos(*c.adminText, c.consts)
	}
	c.info = d.info
	return c, nil
}
