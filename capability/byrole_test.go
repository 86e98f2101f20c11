package capability

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The per-role construction (newFromHeld, and the decoders' byRole lists)
// must build exactly the capability New builds from the same grants.

var byRoleExp = time.Unix(1795000900, 0).UTC()

// randomRoles returns a random hierarchy of 1..6 roles: role i includes a
// random subset of the roles before it (so there is no cycle), which yields
// chains, diamonds, several tops and unrelated roles.
func randomRoles(t *testing.T, rng *rand.Rand) *Roles {
	t.Helper()
	n := 1 + rng.IntN(6)
	specs := make([]RoleSpec, n)
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
	r, err := NewRoles(specs...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// fixedHierarchies are the shapes every property test covers explicitly.
func fixedHierarchies(t *testing.T) []*Roles {
	t.Helper()
	chain, err := Chain("member", "moderator", "admin")
	if err != nil {
		t.Fatal(err)
	}
	diamond, err := NewRoles(
		RoleSpec{Name: "bottom"},
		RoleSpec{Name: "left", Includes: []string{"bottom"}},
		RoleSpec{Name: "right", Includes: []string{"bottom"}},
		RoleSpec{Name: "top", Includes: []string{"left", "right"}},
		RoleSpec{Name: "aside"},
	)
	if err != nil {
		t.Fatal(err)
	}
	single, err := NewRoles(RoleSpec{Name: "only"})
	if err != nil {
		t.Fatal(err)
	}
	return []*Roles{chain, diamond, single}
}

// randomGroupPool returns a small pool of groups of kind, so that random
// grants repeat groups across roles and as duplicates.
func randomGroupPool(rng *rand.Rand, kind GroupKind) []Group {
	n := 1 + rng.IntN(12)
	var pool []Group
	switch kind {
	case KindInt64:
		pool = append(pool, Int64Group(math.MinInt64), Int64Group(math.MaxInt64), Int64Group(0), Int64Group(-1))
		for range n {
			pool = append(pool, Int64Group(rng.Int64N(2000)-1000))
		}
	case KindUUID:
		for range n {
			var u [16]byte
			for i := range u {
				u[i] = byte(rng.IntN(3)) * 0x7f // few distinct bytes: shared prefixes
			}
			pool = append(pool, UUIDGroup(u))
		}
	case KindText:
		words := []string{"a", "b", "ab", "ba", "a b", "Z", "é", "\u00e9t\u00e9", "z\u2028", "x\"y", "back\\slash", "1", "10", "9"}
		for range n {
			pool = append(pool, TextGroup(words[rng.IntN(len(words))]))
		}
	}
	return pool
}

// randomGrants returns up to 40 random grants over pool and the roles,
// with duplicates, RoleNone, in random order.
func randomGrants(rng *rand.Rand, roles *Roles, pool []Group) []Grant {
	names := append(roles.Names(), RoleNone)
	gs := make([]Grant, rng.IntN(41))
	for i := range gs {
		gs[i] = Grant{Group: pool[rng.IntN(len(pool))], Role: names[rng.IntN(len(names))]}
	}
	return gs
}

// heldOfGrants groups grants per role the way newFromHeld wants them.
func heldOfGrants(roles *Roles, kind GroupKind, grants []Grant) []heldGroups {
	var held []heldGroups
	for ri, name := range roles.names {
		var ints []int64
		var strs []string
		for _, g := range grants {
			if g.Role != name {
				continue
			}
			if kind == KindInt64 {
				ints = append(ints, g.Group.n)
			} else {
				strs = append(strs, g.Group.s)
			}
		}
		if len(ints)+len(strs) == 0 {
			continue
		}
		slices.Sort(ints)
		slices.Sort(strs)
		held = append(held, heldGroups{role: ri, ints: slices.Compact(ints), strs: slices.Compact(strs)})
	}
	return held
}

// wantGroups is the definition of Groups: the groups of the grants whose
// role includes role, sorted, without duplicates.
func wantGroups(roles *Roles, grants []Grant, role string) []Group {
	out := []Group{}
	for _, g := range grants {
		if roles.Includes(g.Role, role) {
			out = append(out, g.Group)
		}
	}
	slices.SortFunc(out, compareGroups)
	return slices.Compact(out)
}

// checkSameCapability fails unless got and want answer every accessor alike,
// and checks both against the definition of Groups over grants.
func checkSameCapability(t *testing.T, got, want *Capability, grants []Grant) {
	t.Helper()
	if got.Subject() != want.Subject() || got.Issuer() != want.Issuer() || got.ID() != want.ID() ||
		!got.IssuedAt().Equal(want.IssuedAt()) || !got.Expiry().Equal(want.Expiry()) || got.Admin() != want.Admin() ||
		!slices.Equal(got.Audience(), want.Audience()) || got.GroupKind() != want.GroupKind() || got.Roles() != want.Roles() {
		t.Fatalf("parts differ: got %+v, want %+v", got.Params(), want.Params())
	}
	if g, w := got.Grants(), want.Grants(); !slices.Equal(g, w) {
		t.Fatalf("Grants: got %v, want %v", g, w)
	}
	if g, w := got.Params(), want.Params(); !slices.Equal(g.Grants, w.Grants) {
		t.Fatalf("Params().Grants: got %v, want %v", g.Grants, w.Grants)
	}
	if got.nGrants != len(want.Grants()) {
		t.Fatalf("nGrants: got %d, want %d", got.nGrants, len(want.Grants()))
	}
	roles := want.Roles()
	for _, role := range append(roles.Names(), RoleNone, "unknown") {
		gs, ws := got.Groups(role), want.Groups(role)
		def := wantGroups(roles, grants, role)
		if !slices.Equal(gs.Groups(), ws.Groups()) || !slices.Equal(ws.Groups(), def) {
			t.Fatalf("Groups(%q): got %v, New %v, want %v", role, gs.Groups(), ws.Groups(), def)
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
		gn, err1 := got.Narrow(Narrowing{Role: a})
		wn, err2 := want.Narrow(Narrowing{Role: a})
		if err1 != nil || err2 != nil || !slices.Equal(gn.Grants(), wn.Grants()) {
			t.Fatalf("Narrow(%q): got %v, %v; want %v, %v", a, gn.Grants(), err1, wn.Grants(), err2)
		}
	}
}

func TestNewFromHeldEqualsNew(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	hierarchies := fixedHierarchies(t)
	for range 30 {
		hierarchies = append(hierarchies, randomRoles(t, rng))
	}
	for hi, roles := range hierarchies {
		for _, kind := range []GroupKind{KindInt64, KindUUID, KindText} {
			for i := range 10 {
				grants := randomGrants(rng, roles, randomGroupPool(rng, kind))
				p := Params{Subject: "s", Issuer: "i", Audience: []string{"a", "b"}, ID: "j", IssuedAt: byRoleExp.Add(-time.Hour), Expiry: byRoleExp, Admin: i%2 == 0, Grants: grants}
				want, err := New(roles, kind, p)
				if err != nil {
					t.Fatalf("hierarchy %d %v: New: %v", hi, kind, err)
				}
				hp := p
				hp.Grants = nil
				got, err := newFromHeld(roles, kind, hp, heldOfGrants(roles, kind, grants))
				if err != nil {
					t.Fatalf("hierarchy %d %v: newFromHeld: %v", hi, kind, err)
				}
				checkSameCapability(t, got, want, grants)
			}
		}
	}
}

func TestNewFromHeldRejects(t *testing.T) {
	roles, err := Chain("member", "moderator", "admin")
	if err != nil {
		t.Fatal(err)
	}
	p := Params{Expiry: byRoleExp}
	tests := []struct {
		name string
		kind GroupKind
		p    Params
		held []heldGroups
	}{
		{"unsorted", KindInt64, p, []heldGroups{{role: 0, ints: []int64{2, 1}}}},
		{"duplicate id", KindInt64, p, []heldGroups{{role: 0, ints: []int64{1, 1}}}},
		{"empty list", KindInt64, p, []heldGroups{{role: 0}}},
		{"role twice", KindInt64, p, []heldGroups{{role: 1, ints: []int64{1}}, {role: 1, ints: []int64{2}}}},
		{"role index out of range", KindInt64, p, []heldGroups{{role: 3, ints: []int64{1}}}},
		{"negative role index", KindInt64, p, []heldGroups{{role: -1, ints: []int64{1}}}},
		{"strings for int64", KindInt64, p, []heldGroups{{role: 0, strs: []string{"a"}}}},
		{"ints for text", KindText, p, []heldGroups{{role: 0, ints: []int64{1}}}},
		{"short uuid", KindUUID, p, []heldGroups{{role: 0, strs: []string{"0123456789abcde"}}}},
		{"empty text", KindText, p, []heldGroups{{role: 0, strs: []string{""}}}},
		{"text with NUL", KindText, p, []heldGroups{{role: 0, strs: []string{"a\x00b"}}}},
		{"text not UTF-8", KindText, p, []heldGroups{{role: 0, strs: []string{"\xff"}}}},
		{"text too long", KindText, p, []heldGroups{{role: 0, strs: []string{strings.Repeat("x", MaxTextGroupLen+1)}}}},
		{"unsorted text", KindText, p, []heldGroups{{role: 0, strs: []string{"b", "a"}}}},
		{"too many", KindInt64, Params{Expiry: byRoleExp, MaxGrants: 2}, []heldGroups{{role: 0, ints: []int64{1, 2}}, {role: 2, ints: []int64{1}}}},
		{"no expiry", KindInt64, Params{}, []heldGroups{{role: 0, ints: []int64{1}}}},
		{"bad kind", 0, p, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c, err := newFromHeld(roles, tt.kind, tt.p, tt.held); err == nil {
				t.Errorf("newFromHeld: got %v, want an error", c.Grants())
			}
		})
	}
	if _, err := newFromHeld(nil, KindInt64, p, nil); err == nil {
		t.Error("newFromHeld(nil roles): got no error")
	}
}

// TestDecodeByRoleEqualsGrants decodes random tokens of both profiles, with
// and without byRole, and checks that newFromHeld of the per-role lists is
// New of the grants. The default profile's permissions are also written in
// random order with duplicates, which the per-role path must sort and merge.
func TestDecodeByRoleEqualsGrants(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	hierarchies := fixedHierarchies(t)
	for range 10 {
		hierarchies = append(hierarchies, randomRoles(t, rng))
	}
	for hi, roles := range hierarchies {
		for _, kind := range []GroupKind{KindInt64, KindUUID, KindText} {
			for i := range 8 {
				grants := randomGrants(rng, roles, randomGroupPool(rng, kind))
				p := Params{Subject: "s", Issuer: "i", Audience: []string{"a"}, Expiry: byRoleExp, Admin: i%3 == 0, Grants: grants}
				var payloads [][]byte
				for _, prof := range []Profile{ProfileDefault, ProfileCompact} {
					b, err := encodeClaims(p, kind, prof)
					if err != nil {
						t.Fatal(err)
					}
					payloads = append(payloads, b)
				}
				payloads = append(payloads, shuffledPermissions(rng, grants))
				for _, payload := range payloads {
					name := fmt.Sprintf("hierarchy %d %v %s", hi, kind, payload)
					o := decodeOptions{roles: roles, kind: kind, maxGrants: 1000}
					plain, err := decodeClaims(payload, o)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					o.byRole = true
					dc, err := decodeClaims(payload, o)
					if err != nil {
						t.Fatalf("%s: byRole: %v", name, err)
					}
					if dc.held == nil || dc.params.Grants != nil {
						t.Fatalf("%s: byRole: got held %v and grants %v", name, dc.held, dc.params.Grants)
					}
					want, err := New(roles, kind, plain.params)
					if err != nil {
						t.Fatalf("%s: New: %v", name, err)
					}
					got, err := newFromHeld(roles, kind, dc.params, dc.held)
					if err != nil {
						t.Fatalf("%s: newFromHeld: %v", name, err)
					}
					checkSameCapability(t, got, want, grants)
				}
			}
		}
	}
}

// shuffledPermissions writes grants (RoleNone left out) as a default
// profile payload in random order, some twice.
func shuffledPermissions(rng *rand.Rand, grants []Grant) []byte {
	var gs []Grant
	for _, g := range grants {
		if g.Role == RoleNone {
			continue
		}
		gs = append(gs, g)
		if rng.IntN(4) == 0 {
			gs = append(gs, g)
		}
	}
	rng.Shuffle(len(gs), func(i, j int) { gs[i], gs[j] = gs[j], gs[i] })
	b := []byte(`{"exp":1795000900,"iss":"i","sub":"s","aud":["a"],"permissions":[`)
	for i, g := range gs {
		if i > 0 {
			b = append(b, ',')
		}
		if i%2 == 0 {
			b = append(b, `{"group":`...)
			b = appendGroupJSON(b, g.Group)
			b = append(b, `,"role":"`+g.Role+`"}`...)
		} else { // the other member order: read by grantObject
			b = append(b, `{"role":"`+g.Role+`", "group":`...)
			b = appendGroupJSON(b, g.Group)
			b = append(b, '}')
		}
	}
	return append(b, "]}"...)
}

// TestByRoleDecodeLimits checks that the per-role path keeps the decoder's
// bound and strictness.
func TestByRoleDecodeLimits(t *testing.T) {
	roles, err := Chain("member", "moderator", "admin")
	if err != nil {
		t.Fatal(err)
	}
	o := decodeOptions{roles: roles, kind: KindInt64, maxGrants: 2, byRole: true}
	three := Params{Expiry: byRoleExp, Grants: []Grant{{Int64Group(1), "member"}, {Int64Group(2), "member"}, {Int64Group(3), "admin"}}}
	for _, prof := range []Profile{ProfileDefault, ProfileCompact} {
		payload, err := encodeClaims(three, KindInt64, prof)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decodeClaims(payload, o); !errors.Is(err, ErrTooManyGrants) {
			t.Errorf("decodeClaims(%s) with 2 grants at most: got %v, want ErrTooManyGrants", payload, err)
		}
	}
	for _, payload := range []string{
		`{"exp":1,"permissions":[{"group":1,"role":"owner"}]}`,
		`{"exp":1,"permissions":[{"group":1,"role":"none"}]}`,
		`{"exp":1,"permissions":[{"group":1.0,"role":"member"}]}`,
		`{"exp":1,"grants":{"owner":"AQI"}}`,
	} {
		if _, err := decodeClaims([]byte(payload), o); err == nil {
			t.Errorf("decodeClaims(%s): got no error", payload)
		}
	}
	dc, err := decodeClaims([]byte(`{"exp":1,"permissions":[]}`), o)
	if err != nil || dc.held == nil || len(dc.held) != 0 {
		t.Errorf("empty permissions: got %v, %v; want no held roles", dc.held, err)
	}
}

// TestHeldGrantsConcurrent reads the lazily built grants of one capability
// from many goroutines (run with -race).
func TestHeldGrantsConcurrent(t *testing.T) {
	roles, err := Chain("member", "moderator", "admin")
	if err != nil {
		t.Fatal(err)
	}
	held := []heldGroups{{role: 0, ints: []int64{1, 2, 3}}, {role: 2, ints: []int64{2, 9}}}
	c, err := newFromHeld(roles, KindInt64, Params{Expiry: byRoleExp}, held)
	if err != nil {
		t.Fatal(err)
	}
	want := []Grant{
		{Int64Group(1), "member"}, {Int64Group(2), "admin"}, {Int64Group(2), "member"},
		{Int64Group(3), "member"}, {Int64Group(9), "admin"},
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if got := c.Grants(); !slices.Equal(got, want) {
				t.Errorf("Grants: got %v, want %v", got, want)
			}
			if got := c.Params().Grants; !slices.Equal(got, want) {
				t.Errorf("Params().Grants: got %v, want %v", got, want)
			}
		})
	}
	wg.Wait()
	// Accessors hand out copies: changing one changes nothing.
	c.Grants()[0].Role = "admin"
	if got := c.Grants(); !slices.Equal(got, want) {
		t.Errorf("after changing a copy: got %v, want %v", got, want)
	}
	if got := c.Groups("member").Int64s(); !slices.Equal(got, []int64{1, 2, 3, 9}) {
		t.Errorf("Groups(member): got %v", got)
	}
}
