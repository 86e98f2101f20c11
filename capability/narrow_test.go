package capability

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestNarrowNeverWidens is the property of narrowing: whatever the
// narrowing, the derived capability holds no grant, group, role, audience,
// admin flag or lifetime that its parent did not.
func TestNarrowNeverWidens(t *testing.T) {
	roles, err := NewRoles(
		RoleSpec{Name: "member"},
		RoleSpec{Name: "editor", Includes: []string{"member"}},
		RoleSpec{Name: "reviewer", Includes: []string{"member"}},
		RoleSpec{Name: "moderator", Includes: []string{"editor", "reviewer"}},
		RoleSpec{Name: "admin", Includes: []string{"moderator"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	names := append(roles.Names(), RoleNone, "")
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 0))
	for i := range 3000 {
		var grants []Grant
		for range rng.IntN(8) {
			grants = append(grants, Grant{Int64Group(rng.Int64N(6)), roles.Names()[rng.IntN(5)]})
		}
		auds := []string{"a", "b"}[:rng.IntN(3)]
		parent, err := New(roles, KindInt64, Params{
			Subject: "s", Audience: auds, Expiry: t0.Add(time.Duration(1+rng.IntN(100)) * time.Minute),
			Grants: grants, Admin: rng.IntN(2) == 0,
		})
		if err != nil {
			t.Fatalf("seed %d case %d: New: %v", seed, i, err)
		}
		n := Narrowing{Role: names[rng.IntN(len(names))], DropAdmin: rng.IntN(4) == 0}
		if rng.IntN(2) == 0 {
			n.Groups = []Group{}
			for range rng.IntN(4) {
				n.Groups = append(n.Groups, Int64Group(rng.Int64N(8)))
			}
		}
		if rng.IntN(2) == 0 {
			n.Expiry = t0.Add(time.Duration(rng.IntN(200)) * time.Minute)
		}
		if rng.IntN(2) == 0 {
			n.Audience = []string{"a", "b", "c"}[rng.IntN(3)]
		}
		child, err := parent.Narrow(n)
		if err != nil {
			if n.Audience != "" && !slices.Contains(auds, n.Audience) && errors.Is(err, ErrBadCapability) {
				continue // narrowing to a foreign audience is refused
			}
			t.Fatalf("seed %d case %d: Narrow(%+v): %v", seed, i, n, err)
		}
		for _, role := range roles.Names() {
			for _, g := range child.Groups(role).Groups() {
				if !parent.Has(role, g) {
					t.Fatalf("seed %d case %d: child holds %s in %v, parent does not (narrowing %+v)", seed, i, role, g, n)
				}
				if n.Groups != nil && !slices.Contains(n.Groups, g) {
					t.Fatalf("seed %d case %d: child holds group %v outside the narrowing", seed, i, g)
				}
				if n.Role != "" && n.Role != RoleNone && !roles.Includes(n.Role, role) {
					t.Fatalf("seed %d case %d: child holds %s above the narrowed role %s", seed, i, role, n.Role)
				}
			}
		}
		if n.Role == RoleNone && len(child.Grants()) != 0 {
			t.Fatalf("seed %d case %d: narrowed to none but holds %v", seed, i, child.Grants())
		}
		if child.Admin() && (!parent.Admin() || n.DropAdmin || n.Groups != nil || n.Role != "") {
			t.Fatalf("seed %d case %d: child is admin (parent %v, narrowing %+v)", seed, i, parent.Admin(), n)
		}
		if child.Expiry().After(parent.Expiry()) {
			t.Fatalf("seed %d case %d: child outlives parent", seed, i)
		}
		for _, a := range child.Audience() {
			if !slices.Contains(parent.Audience(), a) {
				t.Fatalf("seed %d case %d: child audience %q not the parent's", seed, i, a)
			}
		}
		// Narrowing is monotone: narrowing the child again never regains anything.
		again, err := child.Narrow(Narrowing{})
		if err != nil || !slices.Equal(again.Grants(), child.Grants()) || again.Admin() != child.Admin() {
			t.Fatalf("seed %d case %d: identity narrowing changed the capability: %v", seed, i, err)
		}
	}
}

func TestNarrowUnknownRole(t *testing.T) {
	c, err := New(forumRoles(t), KindInt64, Params{Expiry: t0.Add(time.Hour), Grants: []Grant{{Int64Group(1), "member"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Narrow(Narrowing{Role: "owner"}); !errors.Is(err, ErrBadCapability) {
		t.Errorf("Narrow to unknown role: got %v, want ErrBadCapability", err)
	}
	low, err := c.Narrow(Narrowing{Role: "moderator"})
	if err != nil {
		t.Fatal(err)
	}
	if low.Has("moderator", Int64Group(1)) || !low.Has("member", Int64Group(1)) {
		t.Error("narrowing a member to moderator must keep member and never raise it")
	}
}
