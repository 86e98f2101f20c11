package token

import (
	"cmp"
	"encoding/binary"
	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/internal/strictjson"
	"slices"
)

// permissions reads the default profile's array of {"group","role"} objects.
// With byRole it hands them over per role (d.out.held) instead.
func (d *claimsDecoder) permissions() error {
	s := &d.s
	has, err := s.OpenArray()
	if err != nil || !has {
		if err == nil && d.o.byRole {
			d.out.held = []capability.RoleGroups{}
		}
		return err
	}
	// The smallest element, {"group":0,"role":"a"}, and its comma take 23
	// bytes: one allocation of the right size, bounded by maxGrants.
	size := min(d.o.maxGrants, (len(s.Data)-s.Pos)/23+1)
	// The byRole scratch: the role index and the id of each permission, in
	// token order (see heldOfPairs); on the stack for a few grants.
	var permRoles []uint8
	var permInts []int64
	var permStrs []string
	var rolesBuf [16]uint8
	var intsBuf [16]int64
	switch {
	case !d.o.byRole:
		d.out.params.Grants = make([]capability.Grant, 0, size)
	case d.o.kind == capability.KindInt64:
		if size <= len(intsBuf) {
			permRoles, permInts = rolesBuf[:0], intsBuf[:0]
		} else {
			permRoles, permInts = make([]uint8, 0, size), make([]int64, 0, size)
		}
	default:
		permRoles, permStrs = make([]uint8, 0, size), make([]string, 0, size)
	}
	n := 0
	for has {
		if n >= d.o.maxGrants {
			return errTooMany
		}
		g, ok, err := d.fastGrantObject()
		if err != nil {
			return err
		}
		if !ok {
			if g, err = d.grantObject(false); err != nil {
				return err
			}
		}
		n++
		if !d.o.byRole {
			d.out.params.Grants = append(d.out.params.Grants, g)
		} else {
			r, err := d.roleIndex(g.Role)
			if err != nil {
				return err
			}
			permRoles = append(permRoles, r)
			if d.o.kind == capability.KindInt64 {
				n, _ := g.Group.Int64()
				permInts = append(permInts, n)
			} else {
				permStrs = append(permStrs, g.Group.Key())
			}
		}
		if has, err = s.More(']'); err != nil {
			return err
		}
	}
	if d.o.byRole {
		if d.o.kind == capability.KindInt64 {
			d.out.held = heldOfPairs(d.o.roles, permRoles, permInts, func(h *capability.RoleGroups, v []int64) { h.Int64s = v })
		} else {
			d.out.held = heldOfPairs(d.o.roles, permRoles, permStrs, func(h *capability.RoleGroups, v []string) { h.Keys = v })
		}
	}
	return nil
}

// heldOfPairs groups the ids vals by their role indexes roles (a stable
// counting sort into one new slice), then sorts each role's ids that are not
// strictly ascending already and merges their duplicates: the per-role lists
// of newFromHeld, in role index order, one per role held.
func heldOfPairs[T cmp.Ordered](hierarchy *capability.Roles, roles []uint8, vals []T, set func(*capability.RoleGroups, []T)) []capability.RoleGroups {
	nroles := hierarchy.Len()
	var count [capability.MaxRoles + 1]int
	for _, r := range roles {
		count[r+1]++
	}
	held := 0
	for r := 1; r <= nroles; r++ {
		if count[r] > 0 {
			held++
		}
		count[r] += count[r-1] // count[r]: the start of role r's ids
	}
	out := make([]T, len(vals))
	next := count
	for i, r := range roles {
		out[next[r]] = vals[i]
		next[r]++
	}
	hs := make([]capability.RoleGroups, 0, held)
	for r := 0; r < nroles; r++ {
		seg := out[count[r]:count[r+1]:count[r+1]]
		if len(seg) == 0 {
			continue
		}
		if !strictlyAscending(seg) {
			slices.Sort(seg)
			seg = slices.Compact(seg)
			seg = seg[:len(seg):len(seg)]
		}
		hs = append(hs, capability.RoleGroups{Role: hierarchy.Name(r)})
		set(&hs[len(hs)-1], seg)
	}
	return hs
}

func strictlyAscending[T cmp.Ordered](s []T) bool {
	for i := 1; i < len(s); i++ {
		if !(s[i-1] < s[i]) {
			return false
		}
	}
	return true
}

// roleChar marks the bytes of a valid role name.
var roleChar = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	t['_'], t['.'], t['-'] = true, true, true
	return t
}()

// fastGrantObject reads a permission written exactly as encodeClaims writes
// it, {"group":<id>,"role":"<name>"} without whitespace or escapes, which is
// every permission of a keyhole-issued token. ok is false, with s.Pos
// unchanged, for anything else; grantObject then reads it (and reports any
// error). The checks are the same; this is only the common case made cheap.
func (d *claimsDecoder) fastGrantObject() (g capability.Grant, ok bool, err error) {
	s := &d.s
	b := s.Data
	start := s.Pos
	// `{"group":` and `,"role":"`, compared 8 bytes and 1 byte at a time.
	const prefix8, middle8 = 0x3a2270756f726722, 0x223a22656c6f7222 // `"group":`, `"role":"` little-endian
	if len(b)-start < 9 || b[start] != '{' || binary.LittleEndian.Uint64(b[start+1:]) != prefix8 {
		return g, false, nil
	}
	i := start + 9
	// A positive int64 id of at most 18 digits cannot overflow: the common
	// case is parsed here, anything else by groupValue.
	if j := i; d.o.kind == capability.KindInt64 && j < len(b) && b[j] >= '1' && b[j] <= '9' {
		var v int64
		for j < len(b) && j-i < 18 && b[j] >= '0' && b[j] <= '9' {
			v = v*10 + int64(b[j]-'0')
			j++
		}
		if j < len(b) && b[j] == ',' {
			g.Group, s.Pos = capability.Int64Group(v), j
		}
	}
	if g.Group.Kind() == 0 {
		s.Pos = i
		if g.Group, err = d.groupValue(false); err != nil {
			s.Pos = start
			return capability.Grant{}, false, nil
		}
	}
	if len(b)-s.Pos < 9 || b[s.Pos] != ',' || binary.LittleEndian.Uint64(b[s.Pos+1:]) != middle8 {
		s.Pos = start
		return capability.Grant{}, false, nil
	}
	i = s.Pos + 9
	j := i
	for j < len(b) && roleChar[b[j]] {
		j++
	}
	if len(b)-j < 2 || b[j] != '"' || b[j+1] != '}' {
		s.Pos = start
		return capability.Grant{}, false, nil
	}
	var found bool
	if g.Role, found = d.lookupRole(b[i:j]); !found {
		return capability.Grant{}, false, errUnknownRole
	}
	s.Pos = j + 2
	return g, true, nil
}

// grantObject reads {"group": id, "role": "name"}: exactly these two
// members. intStrings allows a KindInt64 id as a canonical decimal string
// (claim mapping only).
func (d *claimsDecoder) grantObject(intStrings bool) (capability.Grant, error) {
	var g capability.Grant
	var seen uint8
	err := d.s.ObjectUnchecked(func(k []byte) error {
		var err error
		switch string(k) {
		case "group":
			if seen&1 != 0 {
				return strictjson.ErrDupKey
			}
			seen |= 1
			g.Group, err = d.groupValue(intStrings)
		case "role":
			if seen&2 != 0 {
				return strictjson.ErrDupKey
			}
			seen |= 2
			g.Role, err = d.roleValue()
		default:
			err = errUnknownMember
		}
		return err
	})
	if err != nil {
		return g, err
	}
	if seen != 3 {
		return g, errMissing
	}
	return g, nil
}

// groupValue reads a group id of the decoder's kind: a JSON integer for
// KindInt64 (or, when intStrings, a canonical decimal string), a string
// otherwise.
func (d *claimsDecoder) groupValue(intStrings bool) (capability.Group, error) {
	s := &d.s
	c := s.Peek()
	if d.o.kind == capability.KindInt64 && c != '"' {
		if c != '-' && (c < '0' || c > '9') {
			return capability.Group{}, errWrongType
		}
		n, err := s.Int64()
		if err != nil {
			return capability.Group{}, err
		}
		return capability.Int64Group(n), nil
	}
	if c != '"' || d.o.kind == capability.KindInt64 && !intStrings {
		return capability.Group{}, errWrongType
	}
	raw, err := s.Bytes()
	if err != nil {
		return capability.Group{}, err
	}
	return parseGroupBytes(d.o.kind, raw, false)
}

// parseGroupBytes parses a group id as ParseGroup does, without converting
// int64 and UUID ids to a string first. canonical additionally requires a
// UUID in lowercase (the compact profile's single form).
func parseGroupBytes(kind capability.GroupKind, b []byte, canonical bool) (capability.Group, error) {
	switch kind {
	case capability.KindUUID:
		var u [16]byte
		if len(b) != 36 {
			return capability.Group{}, errBadGroup
		}
		j := 0
		for i := 0; i < 36; {
			if i == 8 || i == 13 || i == 18 || i == 23 {
				if b[i] != '-' {
					return capability.Group{}, errBadGroup
				}
				i++
				continue
			}
			hi, ok1 := unhex(b[i], canonical)
			lo, ok2 := unhex(b[i+1], canonical)
			if !ok1 || !ok2 {
				return capability.Group{}, errBadGroup
			}
			u[j] = hi<<4 | lo
			j++
			i += 2
		}
		return capability.UUIDGroup(u), nil
	case capability.KindInt64:
		if len(b) == 0 || len(b) > 20 {
			return capability.Group{}, errBadGroup
		}
		s := strictjson.Scanner{Data: b}
		n, err := s.Int64()
		if err != nil || s.Pos != len(b) {
			return capability.Group{}, errBadGroup
		}
		return capability.Int64Group(n), nil
	}
	g, err := capability.ParseGroup(capability.KindText, string(b))
	if err != nil {
		return capability.Group{}, errBadGroup
	}
	return g, nil
}

func unhex(c byte, lowerOnly bool) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F' && !lowerOnly:
		return c - 'A' + 10, true
	}
	return 0, false
}

// roleValue reads a role name, which must be a declared role.
func (d *claimsDecoder) roleValue() (string, error) {
	raw, err := d.s.Bytes()
	if err != nil {
		return "", err
	}
	r, ok := d.lookupRole(raw)
	if !ok {
		return "", errUnknownRole
	}
	return r, nil
}

// lookupRole returns the declared role named b (the hierarchy's own string,
// so decoding allocates nothing per grant for the role).
func (d *claimsDecoder) lookupRole(b []byte) (string, bool) {
	if string(b) == d.lastRole && d.lastRole != "" {
		return d.lastRole, true
	}
	i, ok := d.findRole(b)
	if !ok {
		return "", false
	}
	d.lastRole, d.lastIdx = d.o.roles.Name(i), i
	return d.lastRole, true
}

// findRole returns the index of the declared role named b.
func (d *claimsDecoder) findRole(b []byte) (int, bool) {
	r := d.o.roles
	if n := r.Len(); n <= 8 {
		for i := range n {
			if string(b) == r.Name(i) {
				return i, true
			}
		}
		return 0, false
	}
	return r.Index(string(b))
}

// roleIndex returns the index in Roles.names of role, a name lookupRole
// returned: usually the last one, found without a search.
func (d *claimsDecoder) roleIndex(role string) (uint8, error) {
	if r := d.o.roles; d.lastIdx < r.Len() && r.Name(d.lastIdx) == role {
		return uint8(d.lastIdx), nil
	}
	i, ok := d.findRole([]byte(role))
	if !ok {
		return 0, errUnknownRole // not reached: role is a declared role
	}
	return uint8(i), nil
}
