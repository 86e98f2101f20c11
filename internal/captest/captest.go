// Package captest holds the random hierarchies, grants and capability
// comparisons that the property tests of capability and capability/token
// share. It is for tests only.
package captest

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/keyhole-go/keyhole/capability"
)

// RandomRoles returns a random hierarchy of 1..6 roles: role i includes a
// random subset of the roles before it (so there is no cycle), which yields
// chains, diamonds, several tops and unrelated roles.
func RandomRoles(t testing.TB, rng *rand.Rand) *capability.Roles {
	t.Helper()
	n := 1 + rng.IntN(6)
	specs := make([]capability.RoleSpec, n)
	for i := range specs {
		specs[i].Name = "r" + strconv.Itoa(i)
		for j := range i {
			if rng.IntN(3) == 0 {
				specs[i].Includes = append(specs[i].Includes, specs[j].Name)
			}
		}
	}
	// Declaration order is not hierarchy order.
	rng.Shuffle(n, func(i, j int) { specs[i], specs[j] = specs[j], specs[i] })
	r, err := capability.NewRoles(specs...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// FixedHierarchies are the shapes every property test covers explicitly.
func FixedHierarchies(t testing.TB) []*capability.Roles {
	t.Helper()
	chain, err := capability.Chain("member", "moderator", "admin")
	if err != nil {
		t.Fatal(err)
	}
	diamond, err := capability.NewRoles(
		capability.RoleSpec{Name: "bottom"},
		capability.RoleSpec{Name: "left", Includes: []string{"bottom"}},
		capability.RoleSpec{Name: "right", Includes: []string{"bottom"}},
		capability.RoleSpec{Name: "top", Includes: []string{"left", "right"}},
		capability.RoleSpec{Name: "aside"},
	)
	if err != nil {
		t.Fatal(err)
	}
	single, err := capability.NewRoles(capability.RoleSpec{Name: "only"})
	if err != nil {
		t.Fatal(err)
	}
	return []*capability.Roles{chain, diamond, single}
}

// RandomGroupPool returns a small pool of groups of kind, so that random
// grants repeat groups across roles and as duplicates.
func RandomGroupPool(rng *rand.Rand, kind capability.GroupKind) []capability.Group {
	n := 1 + rng.IntN(12)
	var pool []capability.Group
	switch kind {
	case capability.KindInt64:
		pool = append(pool, capability.Int64Group(math.MinInt64), capability.Int64Group(math.MaxInt64), capability.Int64Group(0), capability.Int64Group(-1))
		for range n {
			pool = append(pool, capability.Int64Group(rng.Int64N(2000)-1000))
		}
	case capability.KindUUID:
		for range n {
			var u [16]byte
			for i := range u {
				u[i] = byte(rng.IntN(3)) * 0x7f // few distinct bytes: shared prefixes
			}
			pool = append(pool, capability.UUIDGroup(u))
		}
	case capability.KindText:
		words := []string{"a", "b", "ab", "ba", "a b", "Z", "é", "\u00e9t\u00e9", "z\u2028", "x\"y", "back\\slash", "1", "10", "9"}
		for range n {
			pool = append(pool, capability.TextGroup(words[rng.IntN(len(words))]))
		}
	}
	return pool
}

// RandomGrants returns up to 40 random grants over pool and the roles,
// with duplicates, capability.RoleNone, in random order.
func RandomGrants(rng *rand.Rand, roles *capability.Roles, pool []capability.Group) []capability.Grant {
	names := append(roles.Names(), capability.RoleNone)
	gs := make([]capability.Grant, rng.IntN(41))
	for i := range gs {
		gs[i] = capability.Grant{Group: pool[rng.IntN(len(pool))], Role: names[rng.IntN(len(names))]}
	}
	return gs
}

// HeldOfGrants groups grants per role the way capability.Params.ByRole holds them.
func HeldOfGrants(roles *capability.Roles, kind capability.GroupKind, grants []capability.Grant) []capability.RoleGroups {
	var held []capability.RoleGroups
	for _, name := range roles.Names() {
		var ints []int64
		var strs []string
		for _, g := range grants {
			if g.Role != name {
				continue
			}
			if kind == capability.KindInt64 {
				n, _ := g.Group.Int64()
				ints = append(ints, n)
			} else {
				strs = append(strs, g.Group.Key())
			}
		}
		if len(ints)+len(strs) == 0 {
			continue
		}
		slices.Sort(ints)
		slices.Sort(strs)
		held = append(held, capability.RoleGroups{Role: name, Int64s: slices.Compact(ints), Keys: slices.Compact(strs)})
	}
	return held
}

// WantGroups is the definition of Groups: the groups of the grants whose
// role includes role, sorted, without duplicates.
func WantGroups(roles *capability.Roles, grants []capability.Grant, role string) []capability.Group {
	out := []capability.Group{}
	for _, g := range grants {
		if roles.Includes(g.Role, role) {
			out = append(out, g.Group)
		}
	}
	slices.SortFunc(out, capability.CompareGroups)
	return slices.Compact(out)
}

// CheckSameCapability fails unless got and want answer every accessor alike,
// and checks both against the definition of Groups over grants.
func CheckSameCapability(t testing.TB, got, want *capability.Capability, grants []capability.Grant) {
	t.Helper()
	if got.Subject() != want.Subject() || got.Issuer() != want.Issuer() || got.ID() != want.ID() ||
		!got.IssuedAt().Equal(want.IssuedAt()) || !got.Expiry().Equal(want.Expiry()) || got.Admin() != want.Admin() ||
		!slices.Equal(got.Audience(), want.Audience()) || got.GroupKind() != want.GroupKind() || !got.Roles().Equal(want.Roles()) {
		t.Fatalf("parts differ: got %+v, want %+v", got.Params(), want.Params())
	}
	if g, w := got.Grants(), want.Grants(); !slices.Equal(g, w) {
		t.Fatalf("Grants: got %v, want %v", g, w)
	}
	if g, w := got.Params(), want.Params(); !slices.Equal(g.Grants, w.Grants) {
		t.Fatalf("capability.Params().Grants: got %v, want %v", g.Grants, w.Grants)
	}
	roles := want.Roles()
	for _, role := range append(roles.Names(), capability.RoleNone, "unknown") {
		gs, ws := got.Groups(role), want.Groups(role)
		def := WantGroups(roles, grants, role)
		if !slices.Equal(gs.Groups(), ws.Groups()) || !slices.Equal(ws.Groups(), def) {
			t.Fatalf("Groups(%q): got %v, capability.New %v, want %v", role, gs.Groups(), ws.Groups(), def)
		}
		if gs.Kind() != ws.Kind() || gs.Len() != ws.Len() ||
			!slices.Equal(gs.Int64s(), ws.Int64s()) || !slices.Equal(gs.UUIDs(), ws.UUIDs()) || !slices.Equal(gs.Texts(), ws.Texts()) {
			t.Fatalf("Groups(%q): sets differ in kind, length or typed ids", role)
		}
		for _, g := range def {
			if !got.Has(role, g) {
				t.Fatalf("Has(%q, %v) = false, want true", role, g)
			}
		}
	}
	for _, a := range roles.Names() {
		g, err1 := got.GrantsWithin(a)
		w, err2 := want.GrantsWithin(a)
		if err1 != nil || err2 != nil || !slices.Equal(g, w) {
			t.Fatalf("GrantsWithin(%q): got %v, %v; want %v, %v", a, g, err1, w, err2)
		}
		gn, err1 := got.Narrow(capability.Narrowing{Role: a})
		wn, err2 := want.Narrow(capability.Narrowing{Role: a})
		if err1 != nil || err2 != nil || !slices.Equal(gn.Grants(), wn.Grants()) {
			t.Fatalf("Narrow(%q): got %v, %v; want %v, %v", a, gn.Grants(), err1, wn.Grants(), err2)
		}
	}
}
