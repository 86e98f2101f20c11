package capability

import (
	"fmt"
	"slices"
	"strings"
)

// GrantsWithin returns c's grants lowered to at most the approved roles: the
// intersection of what c holds with what an audience (a plugin, a downstream
// service) is approved for, through the hierarchy. For every role r and
// group g, the result holds r (or a role that includes it) in g exactly when
// c holds r in g and one of the approved roles includes r. A grant of a role
// that includes an approved role becomes that role; a grant below an approved
// role is kept; a grant of an unrelated role becomes the greatest roles below
// both, if any. Roles made redundant by a greater kept role in the same group
// are dropped. The result is sorted by group then role, like Grants.
//
// The admin flag is not a grant and is not reflected: a capability minted
// from the result should not carry it (the override would reach every group,
// past the approved roles).
//
// An approved role that c's hierarchy does not declare is an error matching
// ErrBadCapability; RoleNone approves nothing. A nil capability holds no
// grant. To apply the same approved roles to many capabilities, compile
// them once with NewApproval and use GrantsWithinApproval.
func (c *Capability) GrantsWithin(approved ...string) ([]Grant, error) {
	if c == nil {
		return nil, nil
	}
	a, err := NewApproval(c.roles, approved...)
	if err != nil {
		return nil, err
	}
	return c.grantsWithin(a), nil
}

// Approval is a set of approved roles compiled against a role hierarchy,
// once: for each declared role, the roles a grant of it keeps. Build it
// with NewApproval when the same roles are applied to many capabilities
// (a token exchange's audience); it is immutable and safe for concurrent
// use.
type Approval struct {
	roles    *Roles
	approved []string
	kept     [][]int // by role index: the indices of the maximal roles kept, an antichain
}

// NewApproval compiles approved against roles. An approved role that roles
// does not declare is an error matching ErrBadCapability; RoleNone approves
// nothing.
func NewApproval(roles *Roles, approved ...string) (*Approval, error) {
	if roles == nil {
		return nil, fmt.Errorf("%w: no role hierarchy", ErrBadCapability)
	}
	for _, a := range approved {
		if a != RoleNone && !roles.Known(a) {
			return nil, fmt.Errorf("%w: approved role %q is unknown", ErrBadCapability, a)
		}
	}
	ap := &Approval{roles: roles, approved: slices.Clone(approved), kept: make([][]int, len(roles.names))}
	for i, role := range roles.names {
		var held []string
		for _, a := range approved {
			if a == RoleNone {
				continue
			}
			for _, r := range roles.commonBelow(role, a) {
				held = addMaximal(roles, held, r)
			}
		}
		for _, r := range held {
			ap.kept[i] = append(ap.kept[i], roles.index[r])
		}
	}
	return ap, nil
}

// GrantsWithinApproval is GrantsWithin(a's approved roles...), with the
// work that depends only on the roles done once, in NewApproval. A
// capability of another hierarchy than a's is checked as GrantsWithin
// would.
func (c *Capability) GrantsWithinApproval(a *Approval) ([]Grant, error) {
	if c == nil {
		return nil, nil
	}
	if a == nil {
		return nil, fmt.Errorf("%w: nil Approval", ErrBadCapability)
	}
	if a.roles != c.roles {
		return c.GrantsWithin(a.approved...)
	}
	return c.grantsWithin(a), nil
}

// grantsWithin applies a, compiled for c's hierarchy.
func (c *Capability) grantsWithin(a *Approval) []Grant {
	grants := c.grantList()
	if len(grants) == 0 {
		return nil
	}
	incl, names := c.roles.incl, c.roles.names
	out := make([]Grant, 0, len(grants)) // usually no more than c holds
	var held []int                       // the roles kept in a group, maximal ones only
	for i := 0; i < len(grants); {
		// grants are sorted by group: take one group's grants at a time.
		j := i + 1
		for j < len(grants) && grants[j].Group == grants[i].Group {
			j++
		}
		g := grants[i].Group
		held = held[:0]
		for _, gr := range grants[i:j] {
			for _, r := range a.kept[c.roles.index[gr.Role]] {
				// addMaximal, on indices.
				if slices.ContainsFunc(held, func(h int) bool { return incl[h][r] }) {
					continue
				}
				held = slices.DeleteFunc(held, func(h int) bool { return incl[r][h] })
				held = append(held, r)
			}
		}
		slices.SortFunc(held, func(x, y int) int { return strings.Compare(names[x], names[y]) })
		for _, r := range held {
			out = append(out, Grant{Group: g, Role: names[r]})
		}
		i = j
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// addMaximal adds r to the antichain held, unless a held role includes it,
// and removes the held roles r includes.
func addMaximal(roles *Roles, held []string, r string) []string {
	for _, h := range held {
		if roles.Includes(h, r) {
			return held
		}
	}
	held = slices.DeleteFunc(held, func(h string) bool { return roles.Includes(r, h) })
	return append(held, r)
}
