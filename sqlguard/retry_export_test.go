package sqlguard

import "context"

// The statement retries are not wired into Exec and friends yet; the
// tests reach them through these.

// RetryWrite runs fn, one write statement on db, retrying it as r says.
func (r Retry) RetryWrite(ctx context.Context, db DB, fn func() error) error {
	return r.statement(ctx, db, false, fn)
}

// RetryRead runs fn, one read on db, retrying it as r says.
func (r Retry) RetryRead(ctx context.Context, db DB, fn func() error) error {
	return r.statement(ctx, db, true, fn)
}
