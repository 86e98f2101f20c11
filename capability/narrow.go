package capability

import (
	"fmt"
	"slices"
	"time"
)

// Narrowing says how to derive a smaller capability with Narrow. The zero
// Narrowing keeps everything.
type Narrowing struct {
	// Groups, when non-nil, keeps only grants in these groups. An empty,
	// non-nil slice keeps no grant.
	Groups []Group
	// Role, when set, lowers every grant to at most this role: a grant of a
	// role that includes Role becomes Role; a grant below Role is kept; a
	// grant of an unrelated role becomes the greatest roles below both.
	// RoleNone keeps nothing.
	Role string
	// Expiry, when set and earlier than the parent's, shortens the lifetime.
	Expiry time.Time
	// Audience, when set, must be one of the parent's audiences and becomes
	// the only one.
	Audience string
	// DropAdmin removes the admin override. The override is also removed by
	// any narrowing of groups or role, since an admin flag would otherwise
	// reach every group the narrowing meant to exclude.
	DropAdmin bool
}

// Narrow derives a capability that holds at most what c holds. The result
// never has a grant, group, role, audience or lifetime that c does not have.
// Narrowing a nil capability returns nil.
func (c *Capability) Narrow(n Narrowing) (*Capability, error) {
	if c == nil {
		return nil, nil
	}
	if n.Role != "" && n.Role != RoleNone && !c.roles.Known(n.Role) {
		return nil, fmt.Errorf("%w: narrowing to unknown role %q", ErrBadCapability, n.Role)
	}
	p := Params{
		Subject:   c.subject,
		Issuer:    c.issuer,
		Audience:  c.audience,
		ID:        c.id,
		SessionID: c.sid,
		IssuedAt:  c.iat,
		Expiry:    c.exp,
		Admin:     c.admin && !n.DropAdmin && n.Groups == nil && n.Role == "",
		MaxGrants: c.nGrants * max(1, len(c.roles.names)),
	}
	if !n.Expiry.IsZero() && n.Expiry.Before(c.exp) {
		p.Expiry = n.Expiry
	}
	if n.Audience != "" {
		if !slices.Contains(c.audience, n.Audience) {
			return nil, fmt.Errorf("%w: audience %q is not one of the parent's", ErrBadCapability, n.Audience)
		}
		p.Audience = []string{n.Audience}
	}
	keep := map[Group]bool(nil)
	if n.Groups != nil {
		keep = make(map[Group]bool, len(n.Groups))
		for _, g := range n.Groups {
			keep[g] = true
		}
	}
	for _, g := range c.grantList() {
		if keep != nil && !keep[g.Group] {
			continue
		}
		switch {
		case n.Role == "":
			p.Grants = append(p.Grants, g)
		case n.Role == RoleNone:
		default:
			for _, r := range c.roles.commonBelow(g.Role, n.Role) {
				p.Grants = append(p.Grants, Grant{Group: g.Group, Role: r})
			}
		}
	}
	return New(c.roles, c.kind, p)
}
