package sqlguard

import (
	"context"
	"strconv"
)

// A write that cannot tell from its row count alone why it touched no row
// (a policy with ReadRole, and every guarded upsert) is wrapped in a CTE
// that reports its outcome in the same statement, on the same snapshot:
// statusStatement builds it at declaration (the compilers supply the
// CASE that computes the code, with thenStatus), queryWrite reads it on
// execution and denial turns a code into the error. The codes are only
// ever written and read here.

// statusStatement wraps a write in the CTE that reports its outcome in the same
// statement: done rows (status 0 and the returned columns), or one status
// row computed on the statement's snapshot when nothing was done.
//
//	WITH "sg_done" AS (<write> RETURNING ...)
//	SELECT 0, NULL::text, "sg_done".* FROM "sg_done"
//	UNION ALL
//	SELECT <status>, <group if readable>, NULL... FROM ... WHERE ... AND NOT EXISTS (SELECT 1 FROM "sg_done")
//
// branchFrom ends with its WHERE conditions. A live-session condition
// (live.sql not empty) is in the write's WHERE and is added to the
// branch's, so that an ended session reads no row in either; it is not
// reported here: a write that did nothing asks the registry's liveness
// query before it answers (see compiled.refused).
func statusStatement(write frag, ret []string, branchSelect, branchFrom, live frag) frag {
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
	b.s(`) SELECT ` + strconv.Itoa(statusDone) + `, NULL::text`)
	for _, c := range ret {
		b.s(`, "sg_done".`, c)
	}
	b.s(` FROM "sg_done"`)
	b.s(` UNION ALL SELECT `).frag(branchSelect)
	for range ret {
		b.s(", NULL")
	}
	b.s(" ").frag(branchFrom)
	if live.sql != "" {
		b.s(" AND ").frag(live)
	}
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

// thenStatus is " THEN <code>" of the CASE that computes a status code.
func thenStatus(code int) string { return " THEN " + strconv.Itoa(code) }

// elseStatus is " ELSE <code> END".
func elseStatus(code int) string { return " ELSE " + strconv.Itoa(code) + " END" }

// queryWrite runs a write that returns rows. dest nil: Exec, rows are
// drained; otherwise the first done row is scanned into dest.
func (c *compiled) queryWrite(ctx context.Context, db DB, st *statement, args, values, dest []any) error {
	rows, err := db.Query(ctx, st.sql, args...)
	if err != nil {
		return c.wrap(err)
	}
	defer rows.Close()
	var (
		status int32
		group  *string
		n      int
		fail   error
		d      []any
	)
	for rows.Next() {
		if c.shape == shapeStatus {
			if d == nil {
				d = make([]any, 2+c.nret)
			}
			clear(d)
			d[0], d[1] = &status, &group
			if err := rows.Scan(d...); err != nil {
				return c.wrap(err)
			}
			if status != statusDone {
				if fail == nil {
					fail = c.denial(status, group, values)
				}
				continue
			}
		}
		n++
		if n == 1 && len(dest) > 0 {
			if c.shape == shapeStatus {
				d[0], d[1] = nil, nil
				copy(d[2:], dest)
				err = rows.Scan(d...)
			} else {
				err = rows.Scan(dest...)
			}
			if err != nil {
				return c.wrap(err)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return c.wrap(err)
	}
	if n > 0 {
		return nil
	}
	if fail == nil {
		fail = c.failure(values)
	}
	return &refusal{fail}
}

// denial maps a status row to the error. group is set only for a row the
// caller may read.
func (c *compiled) denial(status int32, group *string, values []any) error {
	switch status {
	case statusDeniedRow:
		need := "role " + c.info.Role
		if group != nil {
			need += " in group " + *group
		} else {
			need += " in the row's group"
		}
		if c.info.OwnerColumn != "" {
			need += " (or being the row's " + c.info.OwnerColumn + ")"
		}
		return &DeniedError{Policy: c.info.Name, Need: need}
	case statusDeniedNew:
		if c.checkGroup >= 0 && c.groupVals[c.checkGroup] {
			return c.deniedIn(values[c.checkGroup])
		}
		return &DeniedError{Policy: c.info.Name, Need: "role " + c.info.Role + " in the new parent's group"}
	case statusDeniedCond:
		if c.conds {
			return &DeniedError{Policy: c.info.Name, Need: "the policy's conditions on the row"}
		}
		return &DeniedError{Policy: c.info.Name, Need: "role " + c.info.Role + " in the row's current group"}
	case statusDeniedExist:
		return &DeniedError{Policy: c.info.Name, Need: "role " + c.info.Role + " in the existing row's group"}
	}
	return c.notFound()
}
