package token

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/internal/captest"
)

var byRoleExp = time.Unix(1795000900, 0).UTC()

// TestDecodeByRoleEqualsGrants decodes random tokens of both profiles, with
// and without byRole, and checks that newFromHeld of the per-role lists is
// capability.New of the grants. The default profile's permissions are also written in
// random order with duplicates, which the per-role path must sort and merge.
func TestDecodeByRoleEqualsGrants(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	hierarchies := captest.FixedHierarchies(t)
	for range 10 {
		hierarchies = append(hierarchies, captest.RandomRoles(t, rng))
	}
	for hi, roles := range hierarchies {
		for _, kind := range []capability.GroupKind{capability.KindInt64, capability.KindUUID, capability.KindText} {
			for i := range 8 {
				grants := captest.RandomGrants(rng, roles, captest.RandomGroupPool(rng, kind))
				p := capability.Params{Subject: "s", Issuer: "i", Audience: []string{"a"}, Expiry: byRoleExp, Admin: i%3 == 0, Grants: grants}
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
					want, err := capability.New(roles, kind, plain.params)
					if err != nil {
						t.Fatalf("%s: capability.New: %v", name, err)
					}
					got, err := newFromHeld(roles, kind, dc.params, dc.held)
					if err != nil {
						t.Fatalf("%s: newFromHeld: %v", name, err)
					}
					captest.CheckSameCapability(t, got, want, grants)
				}
			}
		}
	}
}

// shuffledPermissions writes grants (capability.RoleNone left out) as a default
// profile payload in random order, some twice.
func shuffledPermissions(rng *rand.Rand, grants []capability.Grant) []byte {
	var gs []capability.Grant
	for _, g := range grants {
		if g.Role == capability.RoleNone {
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
	roles, err := capability.Chain("member", "moderator", "admin")
	if err != nil {
		t.Fatal(err)
	}
	o := decodeOptions{roles: roles, kind: capability.KindInt64, maxGrants: 2, byRole: true}
	three := capability.Params{Expiry: byRoleExp, Grants: []capability.Grant{{Group: capability.Int64Group(1), Role: "member"}, {Group: capability.Int64Group(2), Role: "member"}, {Group: capability.Int64Group(3), Role: "admin"}}}
	for _, prof := range []Profile{ProfileDefault, ProfileCompact} {
		payload, err := encodeClaims(three, capability.KindInt64, prof)
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
