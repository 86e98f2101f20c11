package sqlguard

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/keyhole-go/keyhole/capability"
)

// DB is what a policy executes on: *pgxpool.Pool, *pgx.Conn and pgx.Tx
// satisfy it.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Write is a declared insert, update, delete or upsert.
type Write struct{ c *compiled }

// List is a declared select of many rows.
type List struct{ c *compiled }

// Get is a declared select of one row by key.
type Get struct{ c *compiled }

// Info describes the policy.
func (p *Write) Info() PolicyInfo { return p.c.info.clone() }

// Info describes the policy.
func (p *List) Info() PolicyInfo { return p.c.info.clone() }

// Info describes the policy.
func (p *Get) Info() PolicyInfo { return p.c.info.clone() }

// Bind returns the SQL text and the arguments that a call with capability
// c and values would execute, without executing it. (A call of a policy
// that requires a live session and does nothing runs one query more, the
// registry's liveness query: PolicyInfo.LiveSQL.)
func (p *Write) Bind(c *capability.Capability, values ...any) (string, []any, error) {
	return p.c.bindText(c, values)
}

// Bind returns the SQL text and the arguments that a call would execute.
func (p *List) Bind(c *capability.Capability, values ...any) (string, []any, error) {
	return p.c.bindText(c, values)
}

// Bind returns the SQL text and the arguments that a call would execute.
func (p *Get) Bind(c *capability.Capability, values ...any) (string, []any, error) {
	return p.c.bindText(c, values)
}

func (c *compiled) bindText(cp *capability.Capability, values []any) (string, []any, error) {
	st, args, err := c.bindPlain(cp, values)
	if err != nil {
		return "", nil, err
	}
	return st.sql, args, nil
}

// Exec runs the write for capability c with the call's values. It returns
// nil when at least one row was written; otherwise *DeniedError (the row
// exists and the caller may read it, or the caller named the group) or an
// error wrapping ErrNotFound, decided by the statement itself (or, for a
// policy that requires a live session, ErrSessionEnded: a write that did
// nothing asks the registry's liveness query why, after the retries
// below). Errors of
// PostgreSQL are wrapped: IsUniqueViolation and friends, or errors.As
// with *pgconn.PgError, see them.
//
// Outside a caller's transaction the statement is all-or-nothing and is
// retried as the registry's Retry says (SetRetry): after a serialization
// failure or a deadlock, and once when it was never sent. A write whose
// connection was lost after it was sent is not retried: its error wraps
// ErrOutcomeUnknown. Inside a transaction (db is a pgx.Tx, or a connection
// in one) nothing is retried: see RunTx.
func (p *Write) Exec(ctx context.Context, db DB, c *capability.Capability, values ...any) error {
	return p.c.writeRetried(ctx, db, c, values, nil)
}

// writeRetried runs a write under the registry's retries, then, for a
// write that did nothing, the refusal path (compiled.refused) outside
// them: the liveness query is a read, and a write retried or declared
// of unknown outcome is the guarded statement alone.
func (c *compiled) writeRetried(ctx context.Context, db DB, cp *capability.Capability, values, dest []any) error {
	err := c.reg.retry().statement(ctx, db, false, func() error {
		return c.execWrite(ctx, db, cp, values, dest)
	})
	if isRefusal(err) {
		return c.refused(ctx, db, cp, err.(*refusal).err)
	}
	return err
}

// refusal is the error of a write that did nothing, before the refusal
// path has asked why (writeRetried unwraps it; it never reaches a caller).
type refusal struct{ err error }

func (r *refusal) Error() string { return r.err.Error() }
func (r *refusal) Unwrap() error { return r.err }

// isRefusal reports whether err is a write's answer that it did nothing:
// never retried, never of unknown outcome.
func isRefusal(err error) bool {
	_, ok := err.(*refusal)
	return ok
}

// execWrite runs a write for Exec (dest nil) and Row.Scan. The number of
// destinations is checked before anything is sent: a write that ran
// (and, outside a transaction, committed) must not answer an error.
func (c *compiled) execWrite(ctx context.Context, db DB, cp *capability.Capability, values, dest []any) error {
	st, args, err := c.bind(cp, values)
	if err == nil {
		err = c.checkMode(db, args)
	}
	if err != nil {
		return err
	}
	if len(dest) > 0 && len(dest) != c.nret {
		return &policyError{policy: c.info.Name, err: ErrInvalidInput,
			cause: fmt.Errorf("%d scan destinations for %d returned columns", len(dest), c.nret)}
	}
	if c.shape == shapeExec {
		tag, err := db.Exec(ctx, st.sql, args...)
		if err != nil {
			return c.wrap(err)
		}
		if tag.RowsAffected() == 0 {
			return &refusal{c.failure(values)}
		}
		return nil
	}
	return c.queryWrite(ctx, db, st, args, values, dest)
}

// QueryRow runs the write when Scan is called and scans the first row of
// its RETURNING columns into Scan's destinations. Scan returns the errors
// Exec would.
func (p *Write) QueryRow(ctx context.Context, db DB, c *capability.Capability, values ...any) Row {
	return Row{ctx: ctx, db: db, cap: c, values: values, write: p.c}
}

// Query runs the list for capability c. Rows the caller may not read are
// not returned. Outside a caller's transaction, a query that could not be
// sent, or whose connection was lost before its first answer, is retried
// once (a read has no effect to repeat); errors met while reading the
// rows are the caller's, through rows.Err.
func (p *List) Query(ctx context.Context, db DB, c *capability.Capability, values ...any) (pgx.Rows, error) {
	st, args, err := p.c.bind(c, values)
	if err == nil {
		err = p.c.checkMode(db, args)
	}
	if err != nil {
		return nil, err
	}
	var rows pgx.Rows
	err = p.c.reg.retry().statement(ctx, db, true, func() error {
		var err error
		rows, err = db.Query(ctx, st.sql, args...)
		return err
	})
	if err != nil {
		return nil, p.c.wrap(err)
	}
	if p.c.live != nil {
		return p.c.openLive(ctx, db, c, rows)
	}
	return rows, nil
}

// QueryRow selects the row when Scan is called. Scan answers an error
// wrapping ErrNotFound for a missing row and for a row the caller may not
// read (a *DeniedError for the latter when the policy sets
// DistinguishDenied).
func (p *Get) QueryRow(ctx context.Context, db DB, c *capability.Capability, values ...any) Row {
	return Row{ctx: ctx, db: db, cap: c, values: values, get: p.c}
}

// Row is the deferred result of Write.QueryRow and Get.QueryRow: the
// statement runs in Scan.
type Row struct {
	ctx    context.Context
	db     DB
	cap    *capability.Capability
	values []any
	write  *compiled
	get    *compiled
}

// Scan runs the statement and scans the first row into dest (dest may be
// empty, or hold nil to skip a column). For a write, a dest that is not
// empty must hold one destination per Returning column: any other count
// is an error wrapping ErrInvalidInput, answered before the statement is
// sent.
func (r Row) Scan(dest ...any) error {
	switch {
	case r.write != nil:
		return r.write.writeRetried(r.ctx, r.db, r.cap, r.values, dest)
	case r.get != nil:
		return r.get.reg.retry().statement(r.ctx, r.db, true, func() error {
			return r.get.queryGet(r.ctx, r.db, r.cap, r.values, dest)
		})
	}
	return errors.New("sqlguard: Scan of a zero Row")
}

func (c *compiled) queryGet(ctx context.Context, db DB, cp *capability.Capability, values, dest []any) error {
	st, args, err := c.bind(cp, values)
	if err == nil {
		err = c.checkMode(db, args)
	}
	if err != nil {
		return err
	}
	rows, err := db.Query(ctx, st.sql, args...)
	if err != nil {
		return c.wrap(err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return c.wrap(err)
		}
		return c.refused(ctx, db, cp, c.notFound())
	}
	if c.shape == shapeGetDistinguish {
		var found bool
		var ok *bool
		d := make([]any, 2+len(dest))
		d[0], d[1] = &found, &ok
		if err := rows.Scan(d...); err != nil {
			return c.wrap(err)
		}
		if ok == nil {
			rows.Close()
			if found {
				return c.refused(ctx, db, cp, &DeniedError{Policy: c.info.Name, Need: "role " + c.info.Role + " in the row's group"})
			}
			return c.refused(ctx, db, cp, c.notFound())
		}
		d[0], d[1] = nil, nil
		copy(d[2:], dest)
		dest = d
	}
	if err := rows.Scan(dest...); err != nil {
		return c.wrap(err)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return c.wrap(err)
	}
	return nil
}

// failure is the error of a write that touched no row and reports no
// status: a direct insert names the group the caller gave; anything else
// is not found.
func (c *compiled) failure(values []any) error {
	if c.directGroup >= 0 {
		return c.deniedIn(values[c.directGroup])
	}
	return c.notFound()
}

func (c *compiled) deniedIn(v any) error {
	need := "role " + c.info.Role
	if _, g, err := c.reg.groupValue(v); err == nil {
		need += " in group " + g.String()
	}
	if c.conds {
		need += " (and the policy's conditions)"
	}
	return &DeniedError{Policy: c.info.Name, Need: need}
}

// policyError wraps an error with the policy's name, and an optional
// cause: "sqlguard: threads.create: invalid input: 2 values, want 3".
type policyError struct {
	policy string
	err    error
	cause  error
}

func (e *policyError) Error() string {
	msg := strings.TrimPrefix(e.err.Error(), "sqlguard: ")
	if e.cause != nil {
		msg += ": " + e.cause.Error()
	}
	return "sqlguard: " + e.policy + ": " + msg
}

func (e *policyError) Unwrap() []error {
	if e.cause != nil {
		return []error{e.err, e.cause}
	}
	return []error{e.err}
}

func (c *compiled) notFound() error { return &policyError{policy: c.info.Name, err: ErrNotFound} }

func (c *compiled) wrap(err error) error { return &policyError{policy: c.info.Name, err: err} }
