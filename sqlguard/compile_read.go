package sqlguard

import (
	"fmt"
	"slices"
	"strconv"

	sq "github.com/Masterminds/squirrel"
)

// The compiler of List and Get: the caller's query over a derived table
// that holds the guard.

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
	var condJoins []string
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
		// The relations a condition reads (EXISTS (SELECT ... FROM x))
		// are the read's joins too.
		rels, err := checkQuery(`SELECT * FROM "sg_where" WHERE (`+sql+")", `FROM "sg_where"`)
		if err != nil {
			return nil, fmt.Errorf("Where[%d] %q: %v", i, sql, err)
		}
		condJoins = append(condJoins, rels...)
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
		joins = append(joins, condJoins...)
		slices.Sort(joins)
		d.info.Joins = slices.Compact(joins)
		bd := &d.bd
		bd.next = len(keys)
		return frag{sql, bd.slots(args)}, nil
	}
	var guard sq.Sqlizer
	if d.adminOnly {
		guard = adminGuard
	}
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
	main = d.liveGate(main)
	if !get && d.guarded && p.AdminOverride {
		admin, err := build(frag{"(?)", []any{slot{kind: slotAdmin}}})
		if err != nil {
			return nil, err
		}
		admin = d.liveGate(admin)
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

// liveGate puts the live-session condition of a read that requires one
// above the caller's whole query:
//
//	SELECT "sg_m".* FROM (<read>) AS "sg_m" WHERE <live>
//
// PostgreSQL runs the uncorrelated EXISTS once, as a one-time filter on
// top of the plan, before it runs the read: an ended session gets no row
// from any shape of query (an aggregate over no row still answers one, a
// row a gate inside the derived table would not stop), and then the
// refusal path tells it ErrSessionEnded (see compiled.refused). The
// qual holds a subquery, so PostgreSQL does not push it into the read;
// the read's order is kept (a scan of one subquery, no join). Reads that
// do not require a live session are returned as they are.
func (d *decl) liveGate(read frag) frag {
	if d.live.sql == "" {
		return read
	}
	var b buf
	b.s(`SELECT "sg_m".* FROM (`).frag(read).s(`) AS "sg_m" WHERE `).frag(d.live)
	return b.done()
}
