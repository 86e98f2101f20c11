package capability

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Building a capability from grants grouped by role.
//
// The compact profile is grouped by role, and its decoder reads each role's
// group ids already sorted and without duplicates. Spreading them into one
// Grant per group and role, sorting those and regrouping them per role (what
// New does with a Grant slice) would cost more than the signature check of
// the whole token. newFromHeld builds the same capability from the per-role
// lists directly: the set of a role is the union of the lists of the held
// roles that include it, a merge of sorted lists. The []Grant of Grants and
// Params is built only when it is asked for, once.

// RoleGroups is one role held by a capability and the groups where it is
// held: Params.ByRole, the form in which a decoder that reads grants per
// role hands them to New without spreading them into one Grant each.
//
// The ids are strictly ascending (so without duplicates) and not empty:
// Int64s for KindInt64; Keys for KindText (the text) and KindUUID (the 16
// raw bytes as a string). New checks all of it and keeps the slices: they
// must not be modified afterwards.
type RoleGroups struct {
	Role   string
	Int64s []int64
	Keys   []string
}

// newByRole is New for p.ByRole.
func newByRole(roles *Roles, kind GroupKind, p Params) (*Capability, error) {
	if roles == nil {
		return nil, fmt.Errorf("%w: no role hierarchy", ErrBadCapability)
	}
	if len(p.Grants) != 0 {
		return nil, fmt.Errorf("%w: both Grants and ByRole set", ErrBadCapability)
	}
	held := make([]heldGroups, 0, len(p.ByRole))
	for _, rg := range p.ByRole {
		if rg.Role == RoleNone {
			continue // holds nothing
		}
		i, ok := roles.index[rg.Role]
		if !ok {
			return nil, fmt.Errorf("%w: unknown role %q", ErrBadCapability, rg.Role)
		}
		held = append(held, heldGroups{role: i, ints: rg.Int64s, strs: rg.Keys})
	}
	p.ByRole = nil
	return newFromHeld(roles, kind, p, held)
}

// heldGroups is one role held in a token and its groups: strictly ascending
// (so without duplicates) and non-empty.
type heldGroups struct {
	role int      // index in Roles.names
	ints []int64  // KindInt64 ids
	strs []string // KindUUID (the 16 raw bytes) and KindText ids
}

func (h *heldGroups) len() int { return len(h.ints) + len(h.strs) }

// newFromHeld returns the capability New would return for p with the grants
// of held (p.Grants is ignored): every element of held is a different role
// of roles with its groups of kind, strictly ascending and non-empty. It
// checks these invariants (a violation is an error, never a capability),
// the bound p.MaxGrants (0: MaxGrantsDefault) and the expiry, like New. The
// capability keeps held's slices and shares them between its sets: neither
// held nor its slices may be modified afterwards.
func newFromHeld(roles *Roles, kind GroupKind, p Params, held []heldGroups) (*Capability, error) {
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
	if p.Expiry.IsZero() {
		return nil, fmt.Errorf("%w: no expiry", ErrBadCapability)
	}
	if len(held) > len(roles.names) {
		return nil, fmt.Errorf("%w: more held roles than declared", ErrBadCapability)
	}
	total := 0
	var seen uint64 // MaxRoles is 64
	for i := range held {
		h := &held[i]
		if h.role < 0 || h.role >= len(roles.names) || h.role >= 64 {
			return nil, fmt.Errorf("%w: unknown role index %d", ErrBadCapability, h.role)
		}
		if seen&(1<<h.role) != 0 {
			return nil, fmt.Errorf("%w: role %q held twice", ErrBadCapability, roles.names[h.role])
		}
		seen |= 1 << h.role
		if err := h.check(kind); err != nil {
			return nil, fmt.Errorf("%w: role %q: %w", ErrBadCapability, roles.names[h.role], err)
		}
		total += h.len()
	}
	if total > max {
		return nil, fmt.Errorf("%w: %d grants, at most %d", ErrBadCapability, total, max)
	}
	c := newShell(roles, kind, p)
	c.nGrants = total
	c.held = held
	// One allocation for the sets of all roles and one for the ids of the
	// sets that merge several lists; the scratch lists stay on the stack
	// for up to 8 held roles.
	sets := make([]GroupSet, len(roles.names))
	var intsBuf [8][]int64
	var strsBuf [8][]string
	ints, strs := intsBuf[:0], strsBuf[:0]
	var mergedInts, scratchInts []int64
	var mergedStrs, scratchStrs []string
	if n, m := mergedLen(roles, held); n > 0 {
		if kind == KindInt64 {
			mergedInts = make([]int64, 0, n)
			if m > 0 {
				scratchInts = make([]int64, 0, m)
			}
		} else {
			mergedStrs = make([]string, 0, n)
			if m > 0 {
				scratchStrs = make([]string, 0, m)
			}
		}
	}
	for j := range roles.names {
		ints, strs = ints[:0], strs[:0]
		for i := range held {
			if roles.incl[held[i].role][j] {
				if kind == KindInt64 {
					ints = append(ints, held[i].ints)
				} else {
					strs = append(strs, held[i].strs)
				}
			}
		}
		if len(ints) == 0 && len(strs) == 0 {
			c.byRole[j] = c.empty
			continue
		}
		s := &sets[j]
		s.kind = kind
		switch kind {
		case KindInt64:
			s.ints, mergedInts, scratchInts = mergeInto(mergedInts, scratchInts, ints)
		case KindText:
			s.texts, mergedStrs, scratchStrs = mergeInto(mergedStrs, scratchStrs, strs)
		case KindUUID:
			var m []string
			m, mergedStrs, scratchStrs = mergeInto(mergedStrs, scratchStrs, strs)
			s.uuids = make([][16]byte, len(m))
			for i, u := range m {
				copy(s.uuids[i][:], u)
			}
		}
		c.byRole[j] = s
	}
	return c, nil
}

// check reports whether h's groups are valid ids of kind, strictly
// ascending and non-empty.
func (h *heldGroups) check(kind GroupKind) error {
	if kind == KindInt64 {
		if len(h.strs) != 0 || len(h.ints) == 0 {
			return fmt.Errorf("no %v groups", kind)
		}
		for i := 1; i < len(h.ints); i++ {
			if h.ints[i-1] >= h.ints[i] {
				return fmt.Errorf("groups not strictly ascending")
			}
		}
		return nil
	}
	if len(h.ints) != 0 || len(h.strs) == 0 {
		return fmt.Errorf("no %v groups", kind)
	}
	for i, s := range h.strs {
		if i > 0 && h.strs[i-1] >= s {
			return fmt.Errorf("groups not strictly ascending")
		}
		if kind == KindUUID && len(s) != 16 || kind == KindText && !validText(s) {
			return fmt.Errorf("invalid %v group", kind)
		}
	}
	return nil
}

// mergedLen returns the room newFromHeld needs to merge the lists of the
// roles that include several held roles: final, the total length of their
// sets (kept by the capability), and scratch, that of the intermediate
// merges (garbage once the sets are built): for a set that merges k lists of
// n ids in all, n per further level of the merge tree.
func mergedLen(roles *Roles, held []heldGroups) (final, scratch int) {
	for j := range roles.names {
		k, sum := 0, 0
		for i := range held {
			if roles.incl[held[i].role][j] {
				k++
				sum += held[i].len()
			}
		}
		if k > 1 {
			final += sum
		}
		for levels := 2; levels < k; levels *= 2 {
			scratch += sum
		}
	}
	return final, scratch
}

// mergeInto returns the union of the strictly ascending lists, strictly
// ascending, and the unused rests of dst and scratch. A single list is
// returned itself (capacity cut to its length, so that nothing can append
// into what follows it); several are merged in pairs, as a balanced tree:
// the last merge is written into dst, the others into scratch (a new array
// only if one is too short).
func mergeInto[T cmp.Ordered](dst, scratch []T, lists [][]T) (merged, dstRest, scratchRest []T) {
	if len(lists) < 2 {
		merged, _ = mergeAll(nil, lists)
		return merged, dst, scratch
	}
	mid := len(lists) / 2
	a, scratch := mergeAll(scratch, lists[:mid])
	b, scratch := mergeAll(scratch, lists[mid:])
	merged, dst = merge2Into(dst, a, b)
	return merged, dst, scratch
}

// mergeAll is mergeInto with every merge written into buf.
func mergeAll[T cmp.Ordered](buf []T, lists [][]T) (merged, rest []T) {
	switch len(lists) {
	case 0:
		return nil, buf
	case 1:
		return lists[0][:len(lists[0]):len(lists[0])], buf
	}
	mid := len(lists) / 2
	a, buf := mergeAll(buf, lists[:mid])
	b, buf := mergeAll(buf, lists[mid:])
	return merge2Into(buf, a, b)
}

// merge2Into appends the union of the strictly ascending a and b to dst[:0]
// and returns it (capacity cut to its length) and the rest of dst.
func merge2Into[T cmp.Ordered](dst, a, b []T) (merged, rest []T) {
	out := dst[:0]
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch x, y := a[i], b[j]; {
		case x < y:
			out = append(out, x)
			i++
		case y < x:
			out = append(out, y)
			j++
		default:
			out = append(out, x)
			i++
			j++
		}
	}
	out = append(out, a[i:]...)
	out = append(out, b[j:]...)
	return out[:len(out):len(out)], out[len(out):]
}

// grantList returns c's grants, sorted by group then role. For a capability
// built by newFromHeld it builds them on first use, once; the result is
// shared: callers copy it before handing it out.
func (c *Capability) grantList() []Grant {
	c.grantsOnce.Do(func() {
		if c.held != nil {
			c.grants = grantsOfHeld(c.roles, c.kind, c.held)
		}
	})
	return c.grants
}

// grantsOfHeld merges the per-role lists into grants sorted by group, then
// role name.
func grantsOfHeld(roles *Roles, kind GroupKind, held []heldGroups) []Grant {
	// Order the lists by role name, so that among equal groups the first
	// list wins: then picking the smallest head gives (group, role) order.
	order := make([]*heldGroups, len(held))
	n := 0
	for i := range held {
		order[i] = &held[i]
		n += held[i].len()
	}
	slices.SortFunc(order, func(a, b *heldGroups) int {
		return strings.Compare(roles.names[a.role], roles.names[b.role])
	})
	pos := make([]int, len(order))
	out := make([]Grant, 0, n)
	for len(out) < n {
		best := -1
		var bg Group
		for k, h := range order {
			if pos[k] == h.len() {
				continue
			}
			g := h.group(kind, pos[k])
			if best < 0 || CompareGroups(g, bg) < 0 {
				best, bg = k, g
			}
		}
		out = append(out, Grant{Group: bg, Role: roles.names[order[best].role]})
		pos[best]++
	}
	return out
}

// group returns h's i-th group.
func (h *heldGroups) group(kind GroupKind, i int) Group {
	if kind == KindInt64 {
		return Int64Group(h.ints[i])
	}
	return Group{kind: kind, s: h.strs[i]}
}
