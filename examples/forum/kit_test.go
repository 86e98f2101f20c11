package main

import (
	"testing"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/sqlguard/sqlguardtest"
)

// TestPoliciesWithTestKit checks the forum's policies themselves, below
// HTTP, with keyhole's public test kit (sqlguardtest.CheckMatrix): each
// call runs on PostgreSQL in a transaction of its own that is rolled back,
// and every refused call must leave the database unchanged. The
// capabilities are the demo users' own, verified from tokens the forum's
// login minted (so each carries its live session).
func TestPoliciesWithTestKit(t *testing.T) {
	f := newForumWith(t, forumOptions{noWall: true}) // the guard alone, as the test role
	caps := map[string]*capability.Capability{}
	for _, u := range []string{"alice", "bob", "dave", "erin", "carol"} {
		c, err := f.app.verifier.Verify(t.Context(), f.token(u))
		if err != nil {
			t.Fatal(err)
		}
		caps[u] = c
	}
	general := f.newThread(1, "in general")
	golang := f.newThread(2, "in golang")
	staff := f.newThread(3, "in staff")
	p := f.app.pol
	type kit = sqlguardtest.Case
	const (
		allowed  = sqlguardtest.Allowed
		denied   = sqlguardtest.Denied
		notFound = sqlguardtest.NotFound
	)

	// Rule 3: a moderator deletes the threads of their group; a member
	// who may read the thread is denied; a thread of a group the caller
	// cannot read is not found, like a missing one.
	sqlguardtest.CheckMatrix(t, f.db.Pool, p.threadDelete.Exec,
		kit{Name: "bob moderates general", Cap: caps["bob"], Values: []any{general}, Want: allowed},
		kit{Name: "bob is a member of golang", Cap: caps["bob"], Values: []any{golang}, Want: denied},
		kit{Name: "alice is a member of general", Cap: caps["alice"], Values: []any{general}, Want: denied},
		kit{Name: "alice cannot read golang", Cap: caps["alice"], Values: []any{golang}, Want: notFound},
		kit{Name: "nobody reads staff but the admin", Cap: caps["erin"], Values: []any{staff}, Want: notFound},
		kit{Name: "the admin", Cap: caps["carol"], Values: []any{staff}, Want: allowed},
		kit{Name: "a missing thread", Cap: caps["carol"], Values: []any{int64(1 << 40)}, Want: notFound},
		// Every forum policy requires a live session: no capability, no
		// session, and the answer says so (401 over HTTP).
		kit{Name: "no capability", Cap: nil, Values: []any{general}, Want: sqlguardtest.SessionEnded},
	)
	// Rule 2: a member posts into a thread of their group.
	sqlguardtest.CheckMatrix(t, f.db.Pool, p.postCreate.Exec,
		kit{Name: "dave in golang", Cap: caps["dave"], Values: []any{golang, "hi"}, Want: allowed},
		kit{Name: "dave in general", Cap: caps["dave"], Values: []any{general, "hi"}, Want: notFound},
		kit{Name: "erin in staff", Cap: caps["erin"], Values: []any{staff, "hi"}, Want: notFound},
		kit{Name: "carol in staff", Cap: caps["carol"], Values: []any{staff, "hi"}, Want: allowed},
	)
}
