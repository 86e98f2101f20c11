package sqlguard_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/sqlguard"
)

// An application that must end tokens before they expire declares its
// sessions (and the users' cut-off) and its memberships once; the guarded
// statement then checks the token's session, bound like its groups.
func ExampleRegistry_Sessions() {
	r := sqlguard.MustNewRegistry(roles, capability.KindInt64)
	r.MustSessions(sqlguard.SessionTable{Table: "sessions", ID: "id", RevokedAt: "revoked_at", Required: true})
	r.MustMemberships(sqlguard.MembershipTable{Table: "memberships", Subject: "user_name", Group: "group_id", Role: "role"})
	del := r.MustDelete(sqlguard.Policy{
		Name: "threads.delete", Table: "threads", Key: []string{"id"},
		GroupColumn: "group_id", Role: "moderator", FreshMembership: true,
	})
	c, _ := capability.New(roles, capability.KindInt64, capability.Params{
		Subject: "alice", SessionID: "s-42", IssuedAt: time.Unix(1767225600, 0), Expiry: time.Unix(1767229200, 0),
		Grants: []capability.Grant{{Group: capability.Int64Group(2), Role: "moderator"}},
	})
	sql, args, _ := del.Bind(c, int64(7))
	fmt.Println(sql)
	fmt.Println(args)
	info := del.Info()
	fmt.Println(info.LiveSession, info.FreshMembership, info.FreshRoles)
	fmt.Println(errors.Is(sqlguard.ErrSessionEnded, capability.ErrRevoked))
	// Output:
	// DELETE FROM "threads" WHERE "threads"."id" = $1 AND ("threads"."group_id" = ANY($2::int8[]) AND EXISTS (SELECT 1 FROM "memberships" AS "sg_mem" WHERE "sg_mem"."user_name" = $3 AND "sg_mem"."group_id" = "threads"."group_id" AND "sg_mem"."role" = ANY($4::text[]))) AND EXISTS (SELECT 1 FROM "sessions" AS "sg_sess" WHERE "sg_sess"."id" = $5::text AND "sg_sess"."revoked_at" IS NULL)
	// [7 {2} alice [moderator admin] s-42]
	// true true [moderator admin]
	// true
}
