package sqlguard

import (
	"fmt"
	"slices"
)

// The compiler of Insert: a direct insert (the group among the inserted
// values, bound as its intersection with the capability's groups) and a
// child insert (the group from the parent chain).

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
		where = append([]frag{render(matchGuard{value: gi, elemType: d.elemType(), role: p.Role, admin: p.AdminOverride, fresh: d.fresh})}, d.conds...)
	default:
		ri := slices.Index(p.Columns, d.hops[0].raw.Column)
		if ri < 0 {
			return nil, fmt.Errorf("Parents[0].Column %s is not in Columns", d.hops[0].raw.Column)
		}
		// One parent row, found by the call's value: its group is
		// compared with the groups' delimited text (see listable).
		pg := d.parentGuardFor(p.Role, p.AdminOverride, valueSlot(ri), d.conds, p.Lock)
		pg.group.list = true
		where = []frag{render(pg)}
	}
	if d.live.sql != "" {
		where = append(where, d.live)
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
		read := render(groupGuard{col: last + "." + q(p.GroupColumn), arrayType: d.arrayType, role: p.ReadRole, admin: p.AdminOverride, list: true})
		wr := render(groupGuard{col: last + "." + q(p.GroupColumn), arrayType: d.arrayType, role: p.Role, admin: p.AdminOverride, list: true, fresh: d.fresh})
		var sel buf
		sel.s("CASE WHEN NOT ").frag(coalesce(read)).s(thenStatus(statusNotFound) + " WHEN NOT ").frag(coalesce(wr)).
			s(thenStatus(statusDeniedRow) + elseStatus(statusDeniedCond) + ", CASE WHEN ").
			frag(coalesce(read)).s(" THEN " + last + "." + q(p.GroupColumn) + "::text END")
		var fr buf
		fr.s("FROM ", from, " WHERE ", key, " = ").frag(valueSlot(ri)).s(` AND NOT EXISTS (SELECT 1 FROM "sg_done")`)
		return d.finish(c, statusStatement(write, ret, sel.done(), fr.done(), d.live), shapeStatus, len(ret))
	}
	d.returning(&b, ret)
	sh := shapeExec
	if len(ret) > 0 {
		sh = shapeRows
	}
	return d.finish(c, b.done(), sh, len(ret))
}
