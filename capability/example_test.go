package capability_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
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

// A hierarchy that is not a chain: an editor and a reviewer both include
// reader, an owner includes both.
func ExampleNewRoles() {
	roles, err := capability.NewRoles(
		capability.RoleSpec{Name: "reader"},
		capability.RoleSpec{Name: "editor", Includes: []string{"reader"}},
		capability.RoleSpec{Name: "reviewer", Includes: []string{"reader"}},
		capability.RoleSpec{Name: "owner", Includes: []string{"editor", "reviewer"}},
	)
	if err != nil {
		panic(err)
	}
	fmt.Println("owner includes reader:", roles.Includes("owner", "reader"))
	fmt.Println("editor includes reviewer:", roles.Includes("editor", "reviewer"))
	// Output:
	// owner includes reader: true
	// editor includes reviewer: false
}

// A handler reads the capability that the middleware (middleware.Auth's
// Handler) put in the request context. Behind Handler it is always there;
// a nil capability is valid and has no privilege, so handing it to a
// policy is refused by the policy.
func ExampleFromContext() {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := capability.FromContext(r.Context())
		if !ok {
			fmt.Println("anonymous; groups:", c.Groups("member").Len())
			return
		}
		fmt.Println(c.Subject(), "may post in", c.Groups("member").Int64s())
	})

	c, err := capability.New(capability.MustChain("member"), capability.KindInt64, capability.Params{
		Subject: "alice", Expiry: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
		Grants: []capability.Grant{{Group: capability.Int64Group(7), Role: "member"}},
	})
	if err != nil {
		panic(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	handler.ServeHTTP(httptest.NewRecorder(), r.WithContext(capability.NewContext(r.Context(), c)))
	handler.ServeHTTP(httptest.NewRecorder(), r)
	// Output:
	// alice may post in [7]
	// anonymous; groups: 0
}
