package sqlguard

import (
	"fmt"
	"slices"
)

// The compiler of Upsert: both sides guarded, the proposed row's group and
// the existing row's.

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
		ins = render(matchGuard{value: gi, elemType: d.elemType(), role: p.Role, admin: p.AdminOverride, fresh: d.fresh})
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
	if d.live.sql != "" {
		and()
		b.frag(d.live)
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
		read = coalesce(render(d.readGuard(p.ReadRole, p.AdminOverride, true, LockNone)))
	}
	var sel buf
	sel.s("CASE WHEN NOT ").frag(coalesce(ins))
	sel.s(thenStatus(statusDeniedNew))
	for _, f := range d.conds {
		sel.s(" WHEN NOT ").frag(coalesce(f)).s(thenStatus(statusDeniedCond))
	}
	sel.s(" WHEN COALESCE(")
	existing(&sel, read)
	sel.s(", FALSE)" + thenStatus(statusDeniedRow) + elseStatus(statusDeniedExist) + ", ")
	var gt buf
	gt.s("CASE WHEN ").frag(read).s(" THEN ", d.groupText(), " END")
	existing(&sel, gt.done())
	fr := frag{sql: `WHERE NOT EXISTS (SELECT 1 FROM "sg_done")`}
	return d.finish(c, statusStatement(write, ret, sel.done(), fr, d.live), shapeStatus, len(ret))
}
