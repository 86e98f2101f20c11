package sqlguard

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/keyhole-go/keyhole/capability"
)

// The read side of a live session: a List that requires one carries the
// liveness probe above its whole query (decl.liveGate), so an ended
// session reads no row. A list that answers rows was live on its
// snapshot; one that answers none asks the liveness query why
// (compiled.refused) before the caller sees it.

// openLive reads the first row of a live list. Rows: the caller gets them
// from that first row on (firstRow). None: ErrSessionEnded when the
// session ended, or the closed, empty rows.
func (c *compiled) openLive(ctx context.Context, db DB, cp *capability.Capability, rows pgx.Rows) (pgx.Rows, error) {
	if rows.Next() {
		return &firstRow{Rows: rows}, nil
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, c.wrap(err)
	}
	if err := c.refused(ctx, db, cp, nil); err != nil {
		return nil, err
	}
	return rows, nil
}

// firstRow is rows whose first row was read by openLive: its first Next
// answers it again.
type firstRow struct {
	pgx.Rows
	started bool
}

// Close closes the rows: Next answers false from then on, the first row
// too.
func (r *firstRow) Close() {
	r.started = true
	r.Rows.Close()
}

// Next advances to the next row.
func (r *firstRow) Next() bool {
	if !r.started {
		r.started = true
		return true
	}
	return r.Rows.Next()
}
