package capability_test

import (
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/internal/captest"
)

// Params.ByRole (the decoders' per-role lists) must build exactly the
// capability New builds from the same grants.

var byRoleExp = time.Unix(1795000900, 0).UTC()

func TestNewFromHeldEqualsNew(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	hierarchies := captest.FixedHierarchies(t)
	for range 30 {
		hierarchies = append(hierarchies, captest.RandomRoles(t, rng))
	}
	for hi, roles := range hierarchies {
		for _, kind := range []GroupKind{KindInt64, KindUUID, KindText} {
			for i := range 10 {
				grants := captest.RandomGrants(rng, roles, captest.RandomGroupPool(rng, kind))
				p := Params{Subject: "s", Issuer: "i", Audience: []string{"a", "b"}, ID: "j", IssuedAt: byRoleExp.Add(-time.Hour), Expiry: byRoleExp, Admin: i%2 == 0, Grants: grants}
				want, err := New(roles, kind, p)
				if err != nil {
					t.Fatalf("hierarchy %d %v: New: %v", hi, kind, err)
				}
				hp := p
				hp.Grants = nil
				hp.ByRole = captest.HeldOfGrants(roles, kind, grants)
				got, err := New(roles, kind, hp)
				if err != nil {
					t.Fatalf("hierarchy %d %v: New with ByRole: %v", hi, kind, err)
				}
				captest.CheckSameCapability(t, got, want, grants)
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
		held []RoleGroups
	}{
		{"unsorted", KindInt64, p, []RoleGroups{{Role: "member", Int64s: []int64{2, 1}}}},
		{"duplicate id", KindInt64, p, []RoleGroups{{Role: "member", Int64s: []int64{1, 1}}}},
		{"empty list", KindInt64, p, []RoleGroups{{Role: "member"}}},
		{"role twice", KindInt64, p, []RoleGroups{{Role: "moderator", Int64s: []int64{1}}, {Role: "moderator", Int64s: []int64{2}}}},
		{"unknown role", KindInt64, p, []RoleGroups{{Role: "owner", Int64s: []int64{1}}}},
		{"grants and ByRole", KindInt64, Params{Expiry: byRoleExp, Grants: []Grant{{Int64Group(1), "member"}}}, []RoleGroups{{Role: "member", Int64s: []int64{2}}}},
		{"strings for int64", KindInt64, p, []RoleGroups{{Role: "member", Keys: []string{"a"}}}},
		{"ints for text", KindText, p, []RoleGroups{{Role: "member", Int64s: []int64{1}}}},
		{"short uuid", KindUUID, p, []RoleGroups{{Role: "member", Keys: []string{"0123456789abcde"}}}},
		{"empty text", KindText, p, []RoleGroups{{Role: "member", Keys: []string{""}}}},
		{"text with NUL", KindText, p, []RoleGroups{{Role: "member", Keys: []string{"a\x00b"}}}},
		{"text not UTF-8", KindText, p, []RoleGroups{{Role: "member", Keys: []string{"\xff"}}}},
		{"text too long", KindText, p, []RoleGroups{{Role: "member", Keys: []string{strings.Repeat("x", MaxTextGroupLen+1)}}}},
		{"unsorted text", KindText, p, []RoleGroups{{Role: "member", Keys: []string{"b", "a"}}}},
		{"too many", KindInt64, Params{Expiry: byRoleExp, MaxGrants: 2}, []RoleGroups{{Role: "member", Int64s: []int64{1, 2}}, {Role: "admin", Int64s: []int64{1}}}},
		{"no expiry", KindInt64, Params{}, []RoleGroups{{Role: "member", Int64s: []int64{1}}}},
		{"bad kind", 0, p, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.p
			p.ByRole = tt.held
			if p.ByRole == nil {
				p.ByRole = []RoleGroups{}
			}
			if c, err := New(roles, tt.kind, p); err == nil {
				t.Errorf("New with ByRole: got %v, want an error", c.Grants())
			}
		})
	}
	if _, err := New(nil, KindInt64, Params{Expiry: byRoleExp, ByRole: []RoleGroups{}}); err == nil {
		t.Error("New(nil roles) with ByRole: got no error")
	}
}

// TestHeldGrantsConcurrent reads the lazily built grants of one capability
// from many goroutines (run with -race).
func TestHeldGrantsConcurrent(t *testing.T) {
	roles, err := Chain("member", "moderator", "admin")
	if err != nil {
		t.Fatal(err)
	}
	held := []RoleGroups{{Role: "member", Int64s: []int64{1, 2, 3}}, {Role: "admin", Int64s: []int64{2, 9}}}
	c, err := New(roles, KindInt64, Params{Expiry: byRoleExp, ByRole: held})
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
