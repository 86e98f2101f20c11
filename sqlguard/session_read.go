package sqlguard

import (
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The read side of a live session: a List or Get that requires one leads
// its rows with two columns (see liveRead), which these helpers check and
// hide from the caller.

// liveLead is the number of leading columns of a live read.
const liveLead = 2

// openLive checks the first row of a live read. It returns the rows to
// hand to the caller, which hide the two leading columns and start with
// that first row, or ErrSessionEnded (rows closed).
func (c *compiled) openLive(rows pgx.Rows) (pgx.Rows, error) {
	if !rows.Next() {
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, c.wrap(err)
		}
		// The statement always answers one row at least: fail closed.
		return nil, c.sessionEnded()
	}
	var live bool
	var row *bool
	d := make([]any, len(rows.FieldDescriptions()))
	d[0], d[1] = &live, &row
	if err := rows.Scan(d...); err != nil {
		rows.Close()
		return nil, c.wrap(err)
	}
	if !live {
		rows.Close()
		return nil, c.sessionEnded()
	}
	return &liveRows{Rows: rows, pending: row != nil}, nil
}

// liveRows hides the leading columns of a live read; its first row was
// read by openLive (pending: a real row, not the empty answer's).
type liveRows struct {
	pgx.Rows
	pending bool
	started bool
}

// Next advances to the next row.
func (r *liveRows) Next() bool {
	if !r.started {
		r.started = true
		return r.pending
	}
	if !r.pending {
		return false
	}
	return r.Rows.Next()
}

// Scan scans the current row's columns after the leading two.
func (r *liveRows) Scan(dest ...any) error {
	if len(dest) == 0 {
		return r.Rows.Scan(make([]any, len(r.Rows.FieldDescriptions()))...)
	}
	d := make([]any, liveLead+len(dest))
	copy(d[liveLead:], dest)
	return r.Rows.Scan(d...)
}

// FieldDescriptions describes the caller's columns.
func (r *liveRows) FieldDescriptions() []pgconn.FieldDescription {
	fd := r.Rows.FieldDescriptions()
	if len(fd) < liveLead {
		return nil
	}
	return fd[liveLead:]
}

// Values returns the current row's values, without the leading two.
func (r *liveRows) Values() ([]any, error) {
	v, err := r.Rows.Values()
	if err != nil || len(v) < liveLead {
		return nil, err
	}
	return v[liveLead:], nil
}

// RawValues returns the current row's raw values, without the leading two.
func (r *liveRows) RawValues() [][]byte {
	v := r.Rows.RawValues()
	if len(v) < liveLead {
		return nil
	}
	return v[liveLead:]
}
