package capability

import (
	"fmt"
	"slices"
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
// grant.
func (c *Capability) GrantsWithin(approved ...string) ([]Grant, error) {
	if c == nil {
		return nil, nil
	}
	for _, a := range approved {
		if a != RoleNone && !c.roles.Known(a) {
			return nil, fmt.Errorf("%w: approved role %q is unknown", ErrBadCapability, a)
		}
	}
	var out []Grant
	grants := c.grantList()
	for i := 0; i < len(grants); {
		// grants are sorted by group: take one group's grants at a time.
		j := i + 1
		for j < len(grants) && grants[j].Group == grants[i].Group {
			j++
		}
		g := grants[i].Group
		var held []string // the roles kept in g, maximal ones only
		for _, gr := range grants[i:j] {
			for _, a := range approved {
				if a == RoleNone {
					continue
				}
				for _, r := range c.roles.commonBelow(gr.Role, a) {
					held = addMaximal(c.roles, held, r)
				}
			}
		}
		slices.Sort(held)
		for _, r := range held {
			out = append(out, Grant{Group: g, Role: r})
		}
		i = j
	}
	return out, nil
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
