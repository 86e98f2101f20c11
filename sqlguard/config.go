package sqlguard

import (
	"fmt"

	"github.com/keyhole-go/keyhole/capability"
)

// matches reports whether cp was built for the registry's role hierarchy
// and group kind. Hierarchies are compared by value (Roles.Equal): the side
// that verifies tokens and the side that runs policies usually build their
// own from the same declarations. The last hierarchy found equal is
// remembered by pointer (one atomic load per call when the token side
// keeps one *Roles, as it should; a side that builds one per token pays
// Roles.Equal, a few slice comparisons, and no memory grows). A mismatch is the server's misconfiguration, never the caller's
// bad input: the error names both sides.
func (r *Registry) matches(cp *capability.Capability) error {
	if k := cp.GroupKind(); k != r.kind {
		return fmt.Errorf("capability group kind %v; registry group kind %v", k, r.kind)
	}
	roles := cp.Roles()
	if roles == r.roles || r.lastRoles.Load() == roles {
		return nil
	}
	if !r.roles.Equal(roles) {
		return fmt.Errorf("capability roles %s; registry roles %s", rolesText(roles), rolesText(r.roles))
	}
	r.lastRoles.Store(roles)
	return nil
}

func rolesText(r *capability.Roles) string {
	if r == nil {
		return "none"
	}
	return r.String()
}
