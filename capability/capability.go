package capability

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// MaxGrantsDefault is the default bound on the number of grants one
// capability may hold.
const MaxGrantsDefault = 1000

// ErrBadCapability is returned when a capability cannot be built from the
// given parameters.
var ErrBadCapability = errors.New("capability: invalid capability")

// Grant gives a role in one group.
type Grant struct {
	Group Group
	Role  string
}

func (g Grant) String() string { return "role " + g.Role + " in group " + g.Group.String() }

// Params are the parts of a capability. They are copied by New.
type Params struct {
	Subject  string
	Issuer   string
	Audience []string
	ID       string // the token id (jti)
	IssuedAt time.Time
	Expiry   time.Time
	Grants   []Grant
	Admin    bool
	// MaxGrants bounds len(Grants); 0 means MaxGrantsDefault.
	MaxGrants int
}

// Capability is what a verified token allows: a subject's grants, its admin
// flag, and the token's issuer, audience, id and lifetime.
//
// A Capability is immutable and safe for concurrent use. A nil *Capability is
// valid and holds nothing: it is never admin, it has no groups for any role,
// and every accessor returns the no-privilege answer.
type Capability struct {
	subject  string
	issuer   string
	audience []string
	id       string
	iat      time.Time
	exp      time.Time
	grants   []Grant
	admin    bool
	roles    *Roles
	kind     GroupKind
	byRole   map[string]*GroupSet // role -> groups where a held role includes it
	empty    *GroupSet
}

// New builds a capability for the role hierarchy roles and group ids of the
// given kind. It rejects grants of unknown or reserved roles, of groups of
// another kind or of the zero Group, more grants than the bound, and a zero
// expiry. Duplicate grants are merged. The groups per role are computed here,
// once, not per query.
func New(roles *Roles, kind GroupKind, p Params) (*Capability, error) {
	if roles == nil {
		return nil, fmt.Errorf("%w: no role hierarchy", ErrBadCapability)
	}
	if !kind.Valid() {
		return nil, fmt.Errorf("%w: unknown group kind %v", ErrBadCapability, kind)
	}
	max := p.MaxGrants
	if max <= 0 {
		max = MaxGrantsDefault
	}
	if len(p.Grants) > max {
		return nil, fmt.Errorf("%w: %d grants, at most %d", ErrBadCapability, len(p.Grants), max)
	}
	if p.Expiry.IsZero() {
		return nil, fmt.Errorf("%w: no expiry", ErrBadCapability)
	}
	grants := make([]Grant, 0, len(p.Grants))
	for _, g := range p.Grants {
		if g.Group.kind != kind {
			return nil, fmt.Errorf("%w: group %s is %v, want %v", ErrBadCapability, g.Group, g.Group.kind, kind)
		}
		if g.Role == RoleNone {
			continue // holds nothing
		}
		if !roles.Known(g.Role) {
			return nil, fmt.Errorf("%w: unknown role %q", ErrBadCapability, g.Role)
		}
		grants = append(grants, g)
	}
	slices.SortFunc(grants, func(a, b Grant) int {
		if c := compareGroups(a.Group, b.Group); c != 0 {
			return c
		}
		return strings.Compare(a.Role, b.Role)
	})
	grants = slices.Compact(grants)
	c := &Capability{
		subject:  p.Subject,
		issuer:   p.Issuer,
		audience: slices.Clone(p.Audience),
		id:       p.ID,
		iat:      p.IssuedAt,
		exp:      p.Expiry,
		grants:   grants,
		admin:    p.Admin,
		roles:    roles,
		kind:     kind,
		byRole:   make(map[string]*GroupSet, len(roles.names)),
		empty:    newGroupSet(kind, nil),
	}
	var buf []Group
	for _, role := range roles.names {
		buf = buf[:0]
		for _, g := range grants {
			if roles.Includes(g.Role, role) {
				buf = append(buf, g.Group)
			}
		}
		c.byRole[role] = newGroupSet(kind, buf)
	}
	return c, nil
}

// Subject returns the token's subject ("" for nil).
func (c *Capability) Subject() string {
	if c == nil {
		return ""
	}
	return c.subject
}

// Issuer returns the token's issuer.
func (c *Capability) Issuer() string {
	if c == nil {
		return ""
	}
	return c.issuer
}

// Audience returns a copy of the token's audiences.
func (c *Capability) Audience() []string {
	if c == nil {
		return nil
	}
	return slices.Clone(c.audience)
}

// ID returns the token id (jti).
func (c *Capability) ID() string {
	if c == nil {
		return ""
	}
	return c.id
}

// IssuedAt returns when the token was issued.
func (c *Capability) IssuedAt() time.Time {
	if c == nil {
		return time.Time{}
	}
	return c.iat
}

// Expiry returns when the capability stops being valid.
func (c *Capability) Expiry() time.Time {
	if c == nil {
		return time.Time{}
	}
	return c.exp
}

// Expired reports whether the capability is expired at now. A nil capability
// is always expired.
func (c *Capability) Expired(now time.Time) bool {
	return c == nil || !now.Before(c.exp)
}

// Admin reports whether the capability carries the admin override.
func (c *Capability) Admin() bool { return c != nil && c.admin }

// Roles returns the hierarchy the capability was built for (nil for nil).
func (c *Capability) Roles() *Roles {
	if c == nil {
		return nil
	}
	return c.roles
}

// GroupKind returns the kind of the capability's group ids.
func (c *Capability) GroupKind() GroupKind {
	if c == nil {
		return 0
	}
	return c.kind
}

// Grants returns a copy of the grants, sorted by group then role.
func (c *Capability) Grants() []Grant {
	if c == nil {
		return nil
	}
	return slices.Clone(c.grants)
}

// Groups returns the groups in which the capability holds role, or a role
// that includes it. It never returns nil: for a nil capability, an unknown
// role or "none", the set is empty. The admin flag is not reflected here: the
// override is a separate decision (see Admin).
func (c *Capability) Groups(role string) *GroupSet {
	if c == nil {
		return &GroupSet{}
	}
	if s, ok := c.byRole[role]; ok {
		return s
	}
	return c.empty
}

// Has reports whether the capability holds role (or one that includes it) in
// group g. It does not consider the admin flag.
func (c *Capability) Has(role string, g Group) bool {
	return c.Groups(role).Contains(g)
}

// Params returns a copy of the capability's parts, for example to mint a
// token for a narrowed capability. For nil it returns the zero Params.
func (c *Capability) Params() Params {
	if c == nil {
		return Params{}
	}
	return Params{
		Subject:  c.subject,
		Issuer:   c.issuer,
		Audience: slices.Clone(c.audience),
		ID:       c.id,
		IssuedAt: c.iat,
		Expiry:   c.exp,
		Grants:   slices.Clone(c.grants),
		Admin:    c.admin,
	}
}
