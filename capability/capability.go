package capability

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
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

// CompareGrants orders grants by group (see CompareGroups), then role name:
// the order of Capability.Grants, for slices.SortFunc.
func CompareGrants(a, b Grant) int {
	if c := CompareGroups(a.Group, b.Group); c != 0 {
		return c
	}
	return strings.Compare(a.Role, b.Role)
}

// Params are the parts of a capability. They are copied by New.
type Params struct {
	Subject  string
	Issuer   string
	Audience []string
	ID       string // the token id (jti)
	// SessionID is the session the token belongs to (the "sid" claim),
	// "" for none. A store of sessions can end it before the token
	// expires: see ErrRevoked.
	SessionID string
	IssuedAt  time.Time
	Expiry    time.Time
	Grants    []Grant
	// ByRole holds the grants grouped by role instead of Grants, the form
	// in which token decoders read them (see RoleGroups). Set at most one
	// of Grants and ByRole.
	ByRole []RoleGroups
	Admin  bool
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
	sid      string
	iat      time.Time
	exp      time.Time
	admin    bool
	roles    *Roles
	kind     GroupKind
	// byRole[i] holds the groups where a held role includes roles.names[i].
	byRole []*GroupSet
	empty  *GroupSet
	// nGrants is the number of grants, duplicates merged.
	nGrants int

	// The grants, sorted by group then role: set by New, or built on first
	// use by grantList from held (see newFromHeld), once.
	grantsOnce sync.Once
	grants     []Grant
	held       []heldGroups
}

// New builds a capability for the role hierarchy roles and group ids of the
// given kind. It rejects grants of unknown or reserved roles, of groups of
// another kind or of the zero Group, of text ids ParseGroup would refuse
// (empty, over MaxTextGroupLen bytes, not UTF-8, with NUL), more grants than
// the bound, and a zero expiry. Duplicate grants are merged. The groups per
// role are computed here, once, not per query.
//
// The grants come from p.Grants, or from p.ByRole when it is not nil (both
// set is an error): the capability is the same either way.
func New(roles *Roles, kind GroupKind, p Params) (*Capability, error) {
	if p.ByRole != nil {
		return newByRole(roles, kind, p)
	}
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
	known := ""
	for _, g := range p.Grants {
		if g.Group.kind != kind {
			return nil, fmt.Errorf("%w: group %s is %v, want %v", ErrBadCapability, g.Group, g.Group.kind, kind)
		}
		if kind == KindText && !validText(g.Group.s) {
			return nil, fmt.Errorf("%w: text group id must be 1..%d bytes of UTF-8 without NUL", ErrBadCapability, MaxTextGroupLen)
		}
		if g.Role == RoleNone {
			continue // holds nothing
		}
		if g.Role != known { // grants of one role tend to come in runs
			if !roles.Known(g.Role) {
				return nil, fmt.Errorf("%w: unknown role %q", ErrBadCapability, g.Role)
			}
			known = g.Role
		}
		grants = append(grants, g)
	}
	// Grants usually arrive sorted (the issuer writes them so): checking
	// is linear, and then no sort is needed.
	if !slices.IsSortedFunc(grants, CompareGrants) {
		slices.SortFunc(grants, CompareGrants)
	}
	grants = slices.Compact(grants)
	c := newShell(roles, kind, p)
	c.grants = grants
	c.nGrants = len(grants)
	// The role index of each grant, one map lookup per run of equal roles,
	// instead of two lookups per grant and role in roles.Includes.
	idx := make([]uint8, len(grants))
	last, li := "", 0
	for i, g := range grants {
		if g.Role != last {
			last, li = g.Role, roles.index[g.Role]
		}
		idx[i] = uint8(li)
	}
	// grants are sorted by group, so each role's groups come out sorted, and
	// a group held in two roles that include the role comes out twice in a
	// row: the sets need neither a sort nor a second copy.
	for j := range roles.names {
		n := 0
		for i := range grants {
			if roles.incl[idx[i]][j] {
				n++
			}
		}
		if n == 0 {
			c.byRole[j] = c.empty
			continue
		}
		s := &GroupSet{kind: kind}
		switch kind {
		case KindInt64:
			s.ints = make([]int64, 0, n)
		case KindUUID:
			s.uuids = make([][16]byte, 0, n)
		case KindText:
			s.texts = make([]string, 0, n)
		}
		var prev Group
		for i, g := range grants {
			if !roles.incl[idx[i]][j] || (i > 0 && g.Group == prev) {
				continue
			}
			prev = g.Group
			switch kind {
			case KindInt64:
				s.ints = append(s.ints, g.Group.n)
			case KindUUID:
				u, _ := g.Group.UUID()
				s.uuids = append(s.uuids, u)
			case KindText:
				s.texts = append(s.texts, g.Group.s)
			}
		}
		c.byRole[j] = s
	}
	return c, nil
}

// newShell returns a capability with p's parts other than the grants; the
// caller fills byRole (one set per role of roles.names) and the grants.
func newShell(roles *Roles, kind GroupKind, p Params) *Capability {
	return &Capability{
		subject:  p.Subject,
		issuer:   p.Issuer,
		audience: slices.Clone(p.Audience),
		id:       p.ID,
		sid:      p.SessionID,
		iat:      p.IssuedAt,
		exp:      p.Expiry,
		admin:    p.Admin,
		roles:    roles,
		kind:     kind,
		byRole:   make([]*GroupSet, len(roles.names)),
		empty:    &GroupSet{kind: kind},
	}
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

// SessionID returns the session the token belongs to (the "sid" claim), ""
// for none and for nil. A capability without a session is refused wherever
// a live session is required. There is no fallback to the token id (jti):
// a jti names one token, a session outlives the tokens minted for it
// (refreshed, exchanged), and a store keyed by jti would need a row per
// token.
func (c *Capability) SessionID() string {
	if c == nil {
		return ""
	}
	return c.sid
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
	return slices.Clone(c.grantList())
}

// Groups returns the groups in which the capability holds role, or a role
// that includes it. It never returns nil: for a nil capability, an unknown
// role or "none", the set is empty. The admin flag is not reflected here: the
// override is a separate decision (see Admin).
func (c *Capability) Groups(role string) *GroupSet {
	if c == nil || c.roles == nil || c.empty == nil { // nil, or a zero Capability
		return &GroupSet{}
	}
	if i, ok := c.roles.index[role]; ok && i < len(c.byRole) {
		return c.byRole[i]
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
		Subject:   c.subject,
		Issuer:    c.issuer,
		Audience:  slices.Clone(c.audience),
		ID:        c.id,
		SessionID: c.sid,
		IssuedAt:  c.iat,
		Expiry:    c.exp,
		Grants:    slices.Clone(c.grantList()),
		Admin:     c.admin,
	}
}
