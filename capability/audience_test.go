package capability

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

var audienceT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// audienceRoles is a diamond: member < editor, reviewer < moderator < owner.
func audienceRoles(t testing.TB) *Roles {
	t.Helper()
	roles, err := NewRoles(
		RoleSpec{Name: "member"},
		RoleSpec{Name: "editor", Includes: []string{"member"}},
		RoleSpec{Name: "reviewer", Includes: []string{"member"}},
		RoleSpec{Name: "moderator", Includes: []string{"editor", "reviewer"}},
		RoleSpec{Name: "owner", Includes: []string{"moderator"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	return roles
}

func TestGrantsWithin(t *testing.T) {
	roles := audienceRoles(t)
	g := func(role string, n int64) Grant { return Grant{Int64Group(n), role} }
	for _, tc := range []struct {
		name     string
		grants   []Grant
		approved []string
		want     []Grant
	}{
		{"member stays member under moderator", []Grant{g("member", 1)}, []string{"moderator"}, []Grant{g("member", 1)}},
		{"moderator lowered to member", []Grant{g("moderator", 1)}, []string{"member"}, []Grant{g("member", 1)}},
		{"unrelated roles meet below", []Grant{g("editor", 1)}, []string{"reviewer"}, []Grant{g("member", 1)}},
		{"two approved roles, both kept", []Grant{g("moderator", 1)}, []string{"editor", "reviewer"}, []Grant{g("editor", 1), g("reviewer", 1)}},
		{"redundant lower role dropped", []Grant{g("owner", 1)}, []string{"member", "moderator"}, []Grant{g("moderator", 1)}},
		{"several groups", []Grant{g("owner", 2), g("member", 1), g("editor", 3)}, []string{"editor"},
			[]Grant{g("member", 1), g("editor", 2), g("editor", 3)}},
		{"none approves nothing", []Grant{g("owner", 1)}, []string{RoleNone}, nil},
		{"nothing approved", []Grant{g("owner", 1)}, nil, nil},
		{"no grants", nil, []string{"owner"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(roles, KindInt64, Params{Expiry: audienceT0.Add(time.Hour), Grants: tc.grants, Admin: true})
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.GrantsWithin(tc.approved...)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("GrantsWithin(%v) of %v: got %v, want %v", tc.approved, tc.grants, got, tc.want)
			}
		})
	}
}

func TestGrantsWithinErrors(t *testing.T) {
	c, err := New(audienceRoles(t), KindInt64, Params{Expiry: audienceT0.Add(time.Hour), Grants: []Grant{{Int64Group(1), "owner"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GrantsWithin("member", "root"); !errors.Is(err, ErrBadCapability) {
		t.Errorf("unknown approved role: got %v, want ErrBadCapability", err)
	}
	var nilCap *Capability
	if got, err := nilCap.GrantsWithin("member"); got != nil || err != nil {
		t.Errorf("nil capability: got %v, %v, want nil, nil", got, err)
	}
	if _, err := NewApproval(audienceRoles(t), "member", "root"); !errors.Is(err, ErrBadCapability) {
		t.Errorf("NewApproval, unknown approved role: got %v, want ErrBadCapability", err)
	}
	if _, err := NewApproval(nil, "member"); !errors.Is(err, ErrBadCapability) {
		t.Errorf("NewApproval, nil roles: got %v, want ErrBadCapability", err)
	}
	if _, err := c.GrantsWithinApproval(nil); !errors.Is(err, ErrBadCapability) {
		t.Errorf("nil Approval: got %v, want ErrBadCapability", err)
	}
	// An approval of another hierarchy is checked like GrantsWithin.
	other, err := Chain("reader")
	if err != nil {
		t.Fatal(err)
	}
	ap, err := NewApproval(other, "reader")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GrantsWithinApproval(ap); !errors.Is(err, ErrBadCapability) {
		t.Errorf("approval of another hierarchy: got %v, want ErrBadCapability", err)
	}
}

// bowtieRoles has two roles, x and y, with two greatest common roles below
// them, p and q; z is above x.
func bowtieRoles(t testing.TB) *Roles {
	t.Helper()
	roles, err := NewRoles(
		RoleSpec{Name: "p"},
		RoleSpec{Name: "q"},
		RoleSpec{Name: "x", Includes: []string{"p", "q"}},
		RoleSpec{Name: "y", Includes: []string{"p", "q"}},
		RoleSpec{Name: "z", Includes: []string{"x"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	return roles
}

func TestGrantsWithinBowtie(t *testing.T) {
	c, err := New(bowtieRoles(t), KindInt64, Params{Expiry: audienceT0.Add(time.Hour), Grants: []Grant{{Int64Group(1), "z"}}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.GrantsWithin("y")
	if err != nil {
		t.Fatal(err)
	}
	if want := []Grant{{Int64Group(1), "p"}, {Int64Group(1), "q"}}; !slices.Equal(got, want) {
		t.Errorf("z within y: got %v, want %v", got, want)
	}
}

// TestGrantsWithinIsIntersection is the property: for every role and group,
// the result holds the role exactly when the capability holds it and an
// approved role includes it; and the result is a valid capability's grants.
func TestGrantsWithinIsIntersection(t *testing.T) {
	t.Run("diamond", func(t *testing.T) { testGrantsWithinIsIntersection(t, audienceRoles(t)) })
	t.Run("bowtie", func(t *testing.T) { testGrantsWithinIsIntersection(t, bowtieRoles(t)) })
}

func testGrantsWithinIsIntersection(t *testing.T, roles *Roles) {
	names := roles.Names()
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 0))
	for i := range 1000 {
		var grants []Grant
		for range rng.IntN(8) {
			grants = append(grants, Grant{Int64Group(rng.Int64N(5)), names[rng.IntN(len(names))]})
		}
		var approved []string
		for range rng.IntN(4) {
			approved = append(approved, append(names, RoleNone)[rng.IntN(len(names)+1)])
		}
		c, err := New(roles, KindInt64, Params{Expiry: audienceT0.Add(time.Hour), Grants: grants})
		if err != nil {
			t.Fatalf("seed %d case %d: %v", seed, i, err)
		}
		got, err := c.GrantsWithin(approved...)
		if err != nil {
			t.Fatalf("seed %d case %d: GrantsWithin(%v): %v", seed, i, approved, err)
		}
		ap, err := NewApproval(roles, approved...)
		if err != nil {
			t.Fatalf("seed %d case %d: NewApproval(%v): %v", seed, i, approved, err)
		}
		if compiled, err := c.GrantsWithinApproval(ap); err != nil || !slices.Equal(compiled, got) {
			t.Fatalf("seed %d case %d: GrantsWithinApproval: got %v, %v; want GrantsWithin's %v", seed, i, compiled, err, got)
		}
		n, err := New(roles, KindInt64, Params{Expiry: audienceT0.Add(time.Hour), Grants: got})
		if err != nil {
			t.Fatalf("seed %d case %d: result does not build: %v", seed, i, err)
		}
		if !slices.Equal(n.Grants(), got) {
			t.Fatalf("seed %d case %d: result %v is not sorted and merged like New's %v", seed, i, got, n.Grants())
		}
		for _, r := range names {
			approves := slices.ContainsFunc(approved, func(a string) bool { return roles.Includes(a, r) })
			for g := range int64(5) {
				want := approves && c.Has(r, Int64Group(g))
				if n.Has(r, Int64Group(g)) != want {
					t.Fatalf("seed %d case %d: grants %v approved %v: holds %s in %d = %v, want %v (result %v)",
						seed, i, grants, approved, r, g, !want, want, got)
				}
			}
		}
		// No redundant grant: within a group, no kept role includes another.
		for x, a := range got {
			for y, b := range got {
				if x != y && a.Group == b.Group && roles.Includes(a.Role, b.Role) {
					t.Fatalf("seed %d case %d: %v makes %v redundant", seed, i, a, b)
				}
			}
		}
	}
}

// BenchmarkGrantsWithin compares the per-call GrantsWithin with an
// Approval compiled once, on 100 grants of a diamond hierarchy.
func BenchmarkGrantsWithin(b *testing.B) {
	roles := audienceRoles(b)
	names := roles.Names()
	var grants []Grant
	for i := range 100 {
		grants = append(grants, Grant{Int64Group(int64(i / 2)), names[i%len(names)]})
	}
	c, err := New(roles, KindInt64, Params{Expiry: audienceT0.Add(time.Hour), Grants: grants})
	if err != nil {
		b.Fatal(err)
	}
	approved := []string{"editor", "reviewer"}
	b.Run("GrantsWithin", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = c.GrantsWithin(approved...)
		}
	})
	ap, err := NewApproval(roles, approved...)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("GrantsWithinApproval", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = c.GrantsWithinApproval(ap)
		}
	})
}
