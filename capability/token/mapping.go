package token

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/internal/strictjson"
	"slices"
	"strings"
	"unicode/utf8"
)

// ErrBadMapping is returned when a ClaimMapping cannot be used.
var ErrBadMapping = errors.New("token: invalid claim mapping")

// maxRolesPath bounds the length of ClaimMapping.RolesPath.
const maxRolesPath = 8

// ClaimMapping reads grants from the claim shapes of other identity
// providers instead of keyhole's own profiles. With a mapping, a token's
// "permissions", "grants" and "admin" claims are not read at all (they are
// ignored like any unknown claim): grants and the admin override come only
// from the claims named here, so an identity provider's own claim of the
// same name can never be mistaken for a keyhole grant.
//
// Both sources may be used at once; their grants are added up, and their
// total is bounded like any token's. A mapped claim that is absent grants
// nothing; one that is present with a wrong shape rejects the token. Unknown
// roles, group ids that are not canonical for the kind, and wrong JSON types
// are rejected, never coerced.
//
// A mapping is validated once, when the Verifier is built.
type ClaimMapping struct {
	// GroupsClaim names a top-level claim holding a flat array of group ids,
	// each granted DefaultRole: for example Okta's or Azure AD's "groups".
	// The ids are JSON strings in the form ParseGroup accepts; for KindInt64
	// they may also be JSON integers (a decimal string must be canonical:
	// no sign, no leading zero).
	GroupsClaim string
	// DefaultRole is the role granted in every group of GroupsClaim. It is
	// required with GroupsClaim and must be a declared role.
	DefaultRole string

	// RolesPath is the path of object members to an array of grant entries,
	// for example ["realm_access", "roles"] or
	// ["resource_access", "forum", "roles"] (Keycloak). Each entry is one of:
	//   - a string "<role>:<group>", split at the first ':' (role names
	//     cannot contain one), e.g. "moderator:7" or
	//     "member:0b8e6a6c-3f1c-4d8e-9a51-2f1f0c3f8a10";
	//   - an object {"group": <id>, "role": "<role>"} with exactly these two
	//     members, the group as in GroupsClaim;
	//   - the string AdminRole, which sets the admin override.
	// The role must be declared. Any other string is rejected, unless
	// IgnoreOtherRoles is set.
	RolesPath []string
	// AdminRole, when set, is the RolesPath entry that grants the admin
	// override, e.g. "forum-admin". It must not contain ':'.
	AdminRole string
	// IgnoreOtherRoles skips RolesPath entries without ':' that are not
	// AdminRole (identity providers add their own, e.g. Keycloak's
	// "offline_access") instead of rejecting the token. Entries with ':'
	// are always checked: an unknown role there still rejects the token.
	IgnoreOtherRoles bool
}

// reservedClaim reports whether name is a registered claim keyhole decodes
// itself, which a mapping may not redirect.
func reservedClaim(name string) bool {
	switch name {
	case "sub", "iss", "aud", "jti", "sid", "iat", "exp", "nbf":
		return true
	}
	return false
}

func validClaimName(name string) bool {
	return name != "" && len(name) <= 256 && utf8.ValidString(name) && strings.IndexByte(name, 0) < 0
}

// validate checks m once, for the hierarchy and group kind of a verifier. A
// nil mapping is valid: it selects keyhole's own profiles.
func (m *ClaimMapping) validate(roles *capability.Roles, kind capability.GroupKind) error {
	if m == nil {
		return nil
	}
	if roles == nil {
		return fmt.Errorf("%w: no role hierarchy", ErrBadMapping)
	}
	if !kind.Valid() {
		return fmt.Errorf("%w: unknown group kind %v", ErrBadMapping, kind)
	}
	if m.GroupsClaim == "" && len(m.RolesPath) == 0 {
		return fmt.Errorf("%w: neither GroupsClaim nor RolesPath is set", ErrBadMapping)
	}
	if m.GroupsClaim != "" {
		if !validClaimName(m.GroupsClaim) || reservedClaim(m.GroupsClaim) {
			return fmt.Errorf("%w: GroupsClaim %q is not a usable claim name", ErrBadMapping, m.GroupsClaim)
		}
		if !roles.Known(m.DefaultRole) {
			return fmt.Errorf("%w: DefaultRole %q is not a declared role", ErrBadMapping, m.DefaultRole)
		}
	} else if m.DefaultRole != "" {
		return fmt.Errorf("%w: DefaultRole is set without GroupsClaim", ErrBadMapping)
	}
	if len(m.RolesPath) > maxRolesPath {
		return fmt.Errorf("%w: RolesPath is longer than %d", ErrBadMapping, maxRolesPath)
	}
	for _, p := range m.RolesPath {
		if !validClaimName(p) {
			return fmt.Errorf("%w: RolesPath element %q is not a usable claim name", ErrBadMapping, p)
		}
	}
	if len(m.RolesPath) > 0 {
		if reservedClaim(m.RolesPath[0]) {
			return fmt.Errorf("%w: RolesPath starts at registered claim %q", ErrBadMapping, m.RolesPath[0])
		}
		if m.RolesPath[0] == m.GroupsClaim {
			return fmt.Errorf("%w: GroupsClaim and RolesPath read the same claim %q", ErrBadMapping, m.GroupsClaim)
		}
	} else {
		if m.AdminRole != "" {
			return fmt.Errorf("%w: AdminRole is set without RolesPath", ErrBadMapping)
		}
		if m.IgnoreOtherRoles {
			return fmt.Errorf("%w: IgnoreOtherRoles is set without RolesPath", ErrBadMapping)
		}
	}
	if m.AdminRole != "" && (!validClaimName(m.AdminRole) || strings.IndexByte(m.AdminRole, ':') >= 0) {
		return fmt.Errorf("%w: AdminRole %q must be a non-empty string without ':'", ErrBadMapping, m.AdminRole)
	}
	return nil
}

// clone returns a deep copy of m (nil for nil), for a verifier to keep, so
// that a caller changing its ClaimMapping (or the RolesPath slice) after
// validation cannot change what the verifier reads.
func (m *ClaimMapping) clone() *ClaimMapping {
	if m == nil {
		return nil
	}
	c := *m
	c.RolesPath = slices.Clone(m.RolesPath)
	return &c
}

// mappedGroups reads GroupsClaim: an array of group ids, each granted the
// default role.
func (d *claimsDecoder) mappedGroups() error {
	i, ok := d.findRole([]byte(d.o.mapping.DefaultRole))
	if !ok {
		return errUnknownRole // validate prevents this
	}
	role := d.o.roles.Name(i) // the hierarchy's own string
	if d.s.Peek() != '[' {
		return errWrongType
	}
	return d.s.Array(func() error {
		if len(d.out.params.Grants) >= d.o.maxGrants {
			return errTooMany
		}
		g, err := d.groupValue(true)
		if err != nil {
			return err
		}
		d.out.params.Grants = append(d.out.params.Grants, capability.Grant{Group: g, Role: role})
		return nil
	})
}

// mappedRoles walks the rest of RolesPath from the value at s.Pos, whose
// container is at depth.
func (d *claimsDecoder) mappedRoles(path []string, depth int) error {
	if len(path) == 0 {
		return d.roleEntries()
	}
	s := &d.s
	if depth+1 > s.MaxDepth {
		return strictjson.ErrDepth
	}
	if s.Peek() != '{' {
		return errWrongType
	}
	return s.Object(func(k []byte) error {
		if string(k) == path[0] {
			return d.mappedRoles(path[1:], depth+1)
		}
		return s.SkipValue(depth + 1)
	})
}

// roleEntries reads the array at the end of RolesPath.
func (d *claimsDecoder) roleEntries() error {
	s := &d.s
	if s.Peek() != '[' {
		return errWrongType
	}
	return s.Array(d.roleEntry)
}

// roleEntry reads one entry of the array at the end of RolesPath.
func (d *claimsDecoder) roleEntry() error {
	s := &d.s
	m := d.o.mapping
	switch s.Peek() {
	case '"':
		raw, err := s.Bytes()
		if err != nil {
			return err
		}
		if m.AdminRole != "" && string(raw) == m.AdminRole {
			d.out.params.Admin = true
			return nil
		}
		i := bytes.IndexByte(raw, ':')
		if i < 0 {
			if m.IgnoreOtherRoles {
				return nil
			}
			return errUnknownRole
		}
		role, ok := d.lookupRole(raw[:i])
		if !ok {
			return errUnknownRole
		}
		g, err := parseGroupBytes(d.o.kind, raw[i+1:], false)
		if err != nil {
			return err
		}
		if len(d.out.params.Grants) >= d.o.maxGrants {
			return errTooMany
		}
		d.out.params.Grants = append(d.out.params.Grants, capability.Grant{Group: g, Role: role})
		return nil
	case '{':
		if len(d.out.params.Grants) >= d.o.maxGrants {
			return errTooMany
		}
		g, err := d.grantObject(true)
		if err != nil {
			return err
		}
		d.out.params.Grants = append(d.out.params.Grants, g)
		return nil
	}
	return errWrongType
}
