package sqlguard

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/keyhole-go/keyhole/capability"
)

// The compiler: what every statement kind shares. A declaration is
// validated (identifiers, roles, parents) into a decl, one of the
// compile_*.go files builds its SQL text once, and finish numbers the
// placeholders and fills in the policy's description. The guards
// themselves are in guard.go, the status CTE in status.go.

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
	live      frag      // the live-session condition, sql "" when not required
	liveness  *liveness // the registry's sessions, when live is required
	fresh     *fresh    // the fresh-membership condition, nil when not required
	reading   bool      // building a read-role guard: no fresh membership
	adminOnly bool      // Policy.AdminOnly: adminGuard instead of a group guard
}

// adminGuard is the guard of an AdminOnly policy: the admin flag, bound.
var adminGuard = frag{"(?)", []any{slot{kind: slotAdmin}}}

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
	if p.AdminOnly {
		if p.Unguarded != "" || p.Role != "" || p.ReadRole != "" || p.GroupColumn != "" || len(p.Parents) > 0 ||
			p.OwnerColumn != "" || p.AdminOverride || p.Lock != LockNone || p.FreshMembership {
			return fmt.Errorf("an AdminOnly policy takes no Unguarded, Role, ReadRole, GroupColumn, Parents, Lock, OwnerColumn, AdminOverride or FreshMembership")
		}
		if p.DistinguishDenied {
			return fmt.Errorf("DistinguishDenied needs a group guard")
		}
		d.adminOnly = true
		d.info.AdminOnly = true
		d.info.Lock = ""
		return d.declareRevocation()
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
		return d.declareRevocation()
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
	return d.declareRevocation()
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
	if d.adminOnly {
		// Not a declared condition: the lock records AdminOnly itself.
		d.conds = append([]frag{adminGuard}, d.conds...)
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
		g := groupGuard{col: d.col(d.p.GroupColumn), arrayType: d.arrayType, role: role, admin: admin, owner: ownerCol,
			fresh: d.freshFor(role)}
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
			role: role, admin: admin, fresh: d.freshFor(role)},
		conds: conds,
		lock:  lock,
	}
}

// freshFor is the fresh-membership condition of a guard for role: only
// for the policy's Role, never in a read-role guard (see readGuard and
// Policy.FreshMembership).
func (d *decl) freshFor(role string) *fresh {
	if d.fresh == nil || role != d.p.Role || d.reading {
		return nil
	}
	return d.fresh
}

// readGuard is rowGuardFor for the read role of a status: without the
// fresh-membership condition.
func (d *decl) readGuard(role string, admin, owner bool, lock Lock) rowGuard {
	d.reading = true
	defer func() { d.reading = false }()
	return d.rowGuardFor(role, admin, owner, lock)
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

// finish numbers the statement and fills in the policy's description.
func (d *decl) finish(c *compiled, f frag, sh shape, nret int) (*compiled, error) {
	sql, slots, err := number(f)
	if err != nil {
		return nil, err
	}
	c.text = statement{sql: sql, slots: slots}
	c.live = d.liveness
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
