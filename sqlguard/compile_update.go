package sqlguard

import (
	"slices"
)

// The compiler of Update and Delete: the rows selected by Key whose group
// allows Role, and for an update that moves the row, the new group too.

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
					check = render(matchGuard{value: vi, elemType: d.elemType(), role: p.Role, admin: p.AdminOverride, fresh: d.fresh})
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
	if d.live.sql != "" {
		b.s(" AND ").frag(d.live)
	}
	write := b.done()
	c.conds = len(d.conds) > 0
	if d.guarded && p.ReadRole != "" {
		read := render(d.readGuard(p.ReadRole, p.AdminOverride, true, LockNone))
		plain := render(d.rowGuardFor(p.Role, p.AdminOverride, true, LockNone))
		var sel buf
		sel.s("CASE WHEN NOT ").frag(coalesce(read)).s(thenStatus(statusNotFound) + " WHEN NOT ").
			frag(coalesce(plain)).s(thenStatus(statusDeniedRow))
		if check.sql != "" {
			chk := check
			if len(d.hops) > 0 {
				vi := c.checkGroup
				chk = render(d.parentGuardFor(p.Role, p.AdminOverride, valueSlot(vi), nil, LockNone))
			}
			sel.s(" WHEN NOT ").frag(coalesce(chk)).s(thenStatus(statusDeniedNew))
		}
		sel.s(elseStatus(statusDeniedCond)+", CASE WHEN ").frag(coalesce(read)).s(" THEN ", d.groupText(), " END")
		var fr buf
		fr.s("FROM ", d.from, " WHERE ")
		keyPred(&fr)
		fr.s(` AND NOT EXISTS (SELECT 1 FROM "sg_done")`)
		return d.finish(c, statusStatement(write, ret, sel.done(), fr.done(), d.live), shapeStatus, len(ret))
	}
	d.returning(&b, ret)
	sh := shapeExec
	if len(ret) > 0 {
		sh = shapeRows
	}
	return d.finish(c, b.done(), sh, len(ret))
}
