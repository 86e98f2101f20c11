package capability_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/keyhole-go/keyhole/capability"
)

// exampleExpiry is the fixed expiry of the examples' capabilities.
var exampleExpiry = time.Date(2026, 11, 24, 12, 15, 0, 0, time.UTC)

// exampleCapability returns alice's capability in the forum: moderator in
// group 7, member in groups 9 and 12.
func exampleCapability() *capability.Capability {
	roles := capability.MustChain("member", "moderator", "admin")
	c, err := capability.New(roles, capability.KindInt64, capability.Params{
		Subject:  "alice",
		Audience: []string{"forum", "search"},
		Expiry:   exampleExpiry,
		Grants: []capability.Grant{
			{Group: capability.Int64Group(7), Role: "moderator"},
			{Group: capability.Int64Group(9), Role: "member"},
			{Group: capability.Int64Group(12), Role: "member"},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	return c
}

func ExampleChain() {
	roles, err := capability.Chain("member", "moderator", "admin")
	if err != nil {
		log.Fatal(err)
	}
	for i := range roles.Len() {
		fmt.Println(i, roles.Name(i))
	}
	_, err = capability.Chain("member", "none")
	fmt.Println(err != nil)
	// Output:
	// 0 member
	// 1 moderator
	// 2 admin
	// true
}

func ExampleMustChain() {
	// A hierarchy fixed in the program's source: MustChain panics on an
	// invalid one, at start-up.
	var roles = capability.MustChain("reader", "editor")
	idx, ok := roles.Index("editor")
	fmt.Println(idx, ok)
	// Output: 1 true
}

func ExampleNew() {
	roles := capability.MustChain("member", "moderator", "admin")
	c, err := capability.New(roles, capability.KindInt64, capability.Params{
		Subject: "alice",
		Expiry:  exampleExpiry,
		Grants: []capability.Grant{
			{Group: capability.Int64Group(9), Role: "member"},
			{Group: capability.Int64Group(7), Role: "moderator"},
			{Group: capability.Int64Group(9), Role: "member"}, // merged
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Subject())
	for _, g := range c.Grants() {
		fmt.Println(g)
	}

	// An undeclared role is refused, never ignored.
	_, err = capability.New(roles, capability.KindInt64, capability.Params{
		Expiry: exampleExpiry,
		Grants: []capability.Grant{{Group: capability.Int64Group(1), Role: "owner"}},
	})
	fmt.Println(err != nil)
	// Output:
	// alice
	// role moderator in group 7
	// role member in group 9
	// true
}

func ExampleCapability_Groups() {
	c := exampleCapability()
	// The groups for a role include those of every role that includes it:
	// a moderator is also a member.
	fmt.Println("member:", c.Groups("member").Int64s())
	fmt.Println("moderator:", c.Groups("moderator").Int64s())
	fmt.Println("admin:", c.Groups("admin").Int64s())
	fmt.Println("unknown role:", c.Groups("owner").Len())
	// Output:
	// member: [7 9 12]
	// moderator: [7]
	// admin: []
	// unknown role: 0
}

func ExampleCapability_Narrow() {
	c := exampleCapability()
	// A capability for one request to the search service: groups 7 and 12
	// only, at most member, for five minutes.
	n, err := c.Narrow(capability.Narrowing{
		Groups:   []capability.Group{capability.Int64Group(7), capability.Int64Group(12)},
		Role:     "member",
		Audience: "search",
		Expiry:   exampleExpiry.Add(-10 * time.Minute),
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, g := range n.Grants() {
		fmt.Println(g)
	}
	fmt.Println(n.Audience(), n.Expiry().Format(time.Kitchen))
	fmt.Println("moderator:", n.Groups("moderator").Int64s())

	// Narrowing never widens: an audience c does not have is refused.
	_, err = c.Narrow(capability.Narrowing{Audience: "billing"})
	fmt.Println(err != nil)
	// Output:
	// role member in group 7
	// role member in group 12
	// [search] 12:05PM
	// moderator: []
	// true
}

func ExampleCapability_GrantsWithin() {
	c := exampleCapability()
	// A plugin approved for "member" sees alice's groups, never as
	// moderator.
	gs, err := c.GrantsWithin("member")
	if err != nil {
		log.Fatal(err)
	}
	for _, g := range gs {
		fmt.Println(g)
	}
	// Output:
	// role member in group 7
	// role member in group 9
	// role member in group 12
}

func ExampleFromContext() {
	c := exampleCapability()
	ctx := capability.NewContext(context.Background(), c)

	// Later, in a handler:
	if got, ok := capability.FromContext(ctx); ok {
		fmt.Println(got.Subject(), got.Groups("member").Len())
	}
	// A context without a capability says so: no capability is not an
	// empty one.
	_, ok := capability.FromContext(context.Background())
	fmt.Println(ok)
	// Output:
	// alice 3
	// false
}
