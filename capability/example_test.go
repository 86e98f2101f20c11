package capability_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/keyhole-go/keyhole/capability"
)

// A chain of roles, lowest first: each role includes the rights of the
// roles below it.
func ExampleChain() {
	roles, err := capability.Chain("member", "moderator", "admin")
	if err != nil {
		panic(err)
	}
	fmt.Println(roles.Names())
	fmt.Println("moderator includes member:", roles.Includes("moderator", "member"))
	fmt.Println("member includes moderator:", roles.Includes("member", "moderator"))
	// Output:
	// [member moderator admin]
	// moderator includes member: true
	// member includes moderator: false
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

// A capability is normally what a token.Verifier returns; New builds one
// directly (in tests, or from another source of grants). Groups(role) is
// what a guarded statement binds: the groups where the capability holds
// the role or one that includes it.
func ExampleNew() {
	roles := capability.MustChain("member", "moderator")
	c, err := capability.New(roles, capability.KindInt64, capability.Params{
		Subject: "alice",
		Expiry:  time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
		Grants: []capability.Grant{
			{Group: capability.Int64Group(1), Role: "member"},
			{Group: capability.Int64Group(2), Role: "moderator"},
		},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(c.Subject(), "member in", c.Groups("member").Int64s())
	fmt.Println(c.Subject(), "moderator in", c.Groups("moderator").Int64s())
	fmt.Println("moderator of group 1:", c.Has("moderator", capability.Int64Group(1)))
	// Output:
	// alice member in [1 2]
	// alice moderator in [2]
	// moderator of group 1: false
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
