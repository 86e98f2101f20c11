package token

import (
	"bytes"
	"encoding/base64"
	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/internal/rice"
	"github.com/keyhole-go/keyhole/internal/strictjson"
	"slices"
)

// The compact profile: "grants": {"<role>": <ids>, ...}, role names in
// ascending byte order, each with a non-empty, strictly ascending set of
// group ids. For KindInt64 the ids are one base64url string of a Rice-coded
// bit stream; for KindUUID and KindText they are an array of strings. The
// exact format, and why each rule exists, is in the package documentation
// (doc.go, "Compact profile"); this file is its only implementation.

const (
	errOrder     claimsError = "not in strictly ascending order"
	errEmptyList claimsError = "empty group list"
)

// appendCompactGrants appends the compact "grants" object for grants.
// Grants of RoleNone are skipped; duplicates are merged.
func appendCompactGrants(b []byte, grants []capability.Grant, kind capability.GroupKind) []byte {
	byRole := make(map[string][]capability.Group)
	for _, g := range grants {
		if g.Role != capability.RoleNone {
			byRole[g.Role] = append(byRole[g.Role], g.Group)
		}
	}
	roles := make([]string, 0, len(byRole))
	for r := range byRole {
		roles = append(roles, r)
	}
	slices.Sort(roles)
	b = append(b, '{')
	for i, r := range roles {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, r...) // a valid role name needs no escaping
		b = append(b, '"', ':')
		gs := byRole[r]
		slices.SortFunc(gs, capability.CompareGroups)
		gs = slices.Compact(gs)
		if kind == capability.KindInt64 {
			b = append(b, '"')
			b = appendRiceIDs(b, gs)
			b = append(b, '"')
			continue
		}
		b = append(b, '[')
		for j, g := range gs {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendGroupJSON(b, g)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendRiceIDs appends the base64url form of the Rice-coded stream of gs,
// a non-empty, strictly ascending list of KindInt64 groups (see
// internal/rice).
func appendRiceIDs(b []byte, gs []capability.Group) []byte {
	ids := make([]int64, len(gs))
	for i, g := range gs {
		ids[i] = groupInt(g)
	}
	var w rice.Writer
	w.AppendIDs(ids)
	raw := w.Flush()
	n := base64.RawURLEncoding.EncodedLen(len(raw))
	b = slices.Grow(b, n)
	base64.RawURLEncoding.Encode(b[len(b):len(b)+n], raw)
	return b[:len(b)+n]
}

// roleSegment is one role's ids in the compact decoder's scratch slice.
type roleSegment struct {
	role       string
	start, end int
}

// compactGrants reads the compact profile's "grants" object. Each role's ids
// are decoded into a scratch slice, then merged into grants ordered by group
// then role, the order New sorts into (so that its sort finds them sorted).
func (d *claimsDecoder) compactGrants() error {
	var (
		segBuf [4]roleSegment
		segs   = segBuf[:0]
		ids    []int64            // KindInt64
		groups []capability.Group // KindUUID, KindText
		prev   []byte
		first  = true
	)
	// The keys must ascend strictly, which also rejects a repeated role.
	err := d.s.ObjectUnchecked(func(k []byte) error {
		if !first && bytes.Compare(prev, k) >= 0 {
			return errOrder
		}
		first, prev = false, k
		role, ok := d.lookupRole(k)
		if !ok {
			return errUnknownRole
		}
		seg := roleSegment{role: role}
		var err error
		if d.o.kind == capability.KindInt64 {
			seg.start = len(ids)
			ids, err = d.compactInts(ids)
			seg.end = len(ids)
		} else {
			seg.start = len(groups)
			groups, err = d.compactStrings(groups)
			seg.end = len(groups)
		}
		segs = append(segs, seg)
		return err
	})
	if err != nil {
		return err
	}
	switch {
	case d.o.byRole:
		d.out.held, err = d.heldOf(segs, ids, groups)
		return err
	case len(segs) == 0:
	case d.o.kind == capability.KindInt64:
		d.out.params.Grants = mergeInts(ids, segs)
	default:
		d.out.params.Grants = mergeGroups(groups, segs)
	}
	return nil
}

// heldOf returns the segments of ids (KindInt64) or groups as per-role
// lists for newFromHeld, sharing ids (a copy of the ids of groups).
func (d *claimsDecoder) heldOf(segs []roleSegment, ids []int64, groups []capability.Group) ([]capability.RoleGroups, error) {
	held := make([]capability.RoleGroups, len(segs))
	var strs []string
	if d.o.kind != capability.KindInt64 {
		strs = make([]string, len(groups))
		for i, g := range groups {
			strs[i] = g.Key()
		}
	}
	for i, sg := range segs {
		r, ok := d.findRole([]byte(sg.role))
		if !ok {
			return nil, errUnknownRole // not reached: sg.role is a declared role
		}
		held[i].Role = d.o.roles.Name(r)
		if d.o.kind == capability.KindInt64 {
			held[i].Int64s = ids[sg.start:sg.end:sg.end]
		} else {
			held[i].Keys = strs[sg.start:sg.end:sg.end]
		}
	}
	return held, nil
}

// mergeInts merges the sorted segments of ids into grants ordered by group,
// then role (segments are in ascending role order, so ties keep theirs).
func mergeInts(ids []int64, segs []roleSegment) []capability.Grant {
	out := make([]capability.Grant, 0, len(ids))
	if len(segs) == 1 {
		for _, id := range ids {
			out = append(out, capability.Grant{Group: capability.Int64Group(id), Role: segs[0].role})
		}
		return out
	}
	for {
		best := -1
		var lo int64
		for j := range segs {
			if sg := &segs[j]; sg.start < sg.end && (best < 0 || ids[sg.start] < lo) {
				best, lo = j, ids[sg.start]
			}
		}
		if best < 0 {
			return out
		}
		out = append(out, capability.Grant{Group: capability.Int64Group(lo), Role: segs[best].role})
		segs[best].start++
	}
}

// mergeGroups is mergeInts for UUID and text groups.
func mergeGroups(groups []capability.Group, segs []roleSegment) []capability.Grant {
	out := make([]capability.Grant, 0, len(groups))
	for {
		best := -1
		for j := range segs {
			if sg := &segs[j]; sg.start < sg.end && (best < 0 || capability.CompareGroups(groups[sg.start], groups[segs[best].start]) < 0) {
				best = j
			}
		}
		if best < 0 {
			return out
		}
		out = append(out, capability.Grant{Group: groups[segs[best].start], Role: segs[best].role})
		segs[best].start++
	}
}

// compactInts reads one role's Rice-coded KindInt64 ids and appends them to
// ids.
func (d *claimsDecoder) compactInts(ids []int64) ([]int64, error) {
	s := &d.s
	src, err := riceChars(s)
	if err != nil {
		return ids, err
	}
	r := rice.NewReader(src)
	n, err := r.Uvarint()
	if err != nil {
		return ids, err
	}
	if n == 0 {
		return ids, errEmptyList
	}
	if n > uint64(d.o.maxGrants-len(ids)) {
		return ids, errTooMany // before allocating anything for them
	}
	if ids == nil {
		// One allocation for all roles' ids: their counts lead each role's
		// stream; countCompactInts bounds the sum by maxGrants.
		ids = make([]int64, 0, min(d.o.maxGrants, int(n)+d.countCompactInts()))
	}
	return r.AppendIDs(ids, n)
}

// riceChars reads a JSON string of base64url characters and returns them.
func riceChars(s *strictjson.Scanner) ([]byte, error) {
	if s.Peek() != '"' {
		return nil, errWrongType
	}
	start := s.Pos + 1
	end := start + rice.Alphabet(s.Data[start:])
	if end >= len(s.Data) {
		return nil, strictjson.ErrEOF
	}
	if s.Data[end] != '"' {
		return nil, rice.ErrCompact // not base64url, or escaped
	}
	s.Pos = end + 1
	return s.Data[start:end], nil
}

// countCompactInts returns the sum of the ids counts of the roles after the
// current one in the "grants" object, read from the start of each string,
// capped at maxGrants; 0 if the rest does not look well-formed (the main pass
// then reports the error, and only the preallocation is lost). It is called
// with s.Pos just after the current role's string.
func (d *claimsDecoder) countCompactInts() int {
	s := d.s // a copy: the position is not moved
	total := 0
	for total <= d.o.maxGrants {
		if !s.Consume(',') {
			break
		}
		s.WS()
		if _, _, err := s.Str(); err != nil || s.Colon() != nil {
			break
		}
		src, err := riceChars(&s)
		if err != nil {
			break
		}
		r := rice.NewReader(src)
		n, err := r.Uvarint()
		if err != nil || n > uint64(d.o.maxGrants) {
			break
		}
		total += int(n)
	}
	return min(total, d.o.maxGrants)
}

// compactStrings reads one role's array of UUID or text ids and appends
// them to groups.
func (d *claimsDecoder) compactStrings(groups []capability.Group) ([]capability.Group, error) {
	s := &d.s
	has, err := s.OpenArray()
	if err != nil {
		return groups, errWrongType
	}
	if !has {
		return groups, errEmptyList
	}
	if groups == nil {
		// The shortest element, "a" and a comma, takes 4 bytes.
		groups = make([]capability.Group, 0, min(d.o.maxGrants, (len(s.Data)-s.Pos)/4+1))
	}
	var prev []byte
	for first := true; has; first = false {
		if len(groups) >= d.o.maxGrants {
			return groups, errTooMany
		}
		raw, err := s.Bytes()
		if err != nil {
			if err == strictjson.ErrNotString {
				err = errWrongType
			}
			return groups, err
		}
		if !first && bytes.Compare(prev, raw) >= 0 {
			return groups, errOrder
		}
		prev = raw
		g, err := parseGroupBytes(d.o.kind, raw, true)
		if err != nil {
			return groups, err
		}
		groups = append(groups, g)
		if has, err = s.More(']'); err != nil {
			return groups, err
		}
	}
	return groups, nil
}

// groupInt returns the id of a KindInt64 group.
func groupInt(g capability.Group) int64 {
	n, _ := g.Int64()
	return n
}
