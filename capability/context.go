package capability

import "context"

// ctxKey is unexported so that no other package can read or replace the
// capability stored in a context.
type ctxKey struct{}

// NewContext returns a copy of ctx that carries c.
func NewContext(ctx context.Context, c *Capability) context.Context {
	return context.WithValue(ctx, ctxKey{}, c)
}

// FromContext returns the capability stored in ctx by NewContext. ok is
// false when there is none (or it is nil); a handler must then treat the
// caller as holding nothing.
func FromContext(ctx context.Context) (c *Capability, ok bool) {
	c, _ = ctx.Value(ctxKey{}).(*Capability)
	return c, c != nil
}
