// Package capability is keyhole's model of what a request may do: an
// immutable, typed [Capability] that says in which groups its bearer holds
// which role, and whether it carries the admin override.
//
// # Quick start
//
// Declare the roles once, get a capability (from a verified token, or built
// directly), and hand it on through the request's context:
//
//	// Once, at start-up: member < moderator < admin.
//	roles := capability.MustChain("member", "moderator", "admin")
//
//	// Per request: a capability from a verified token (package
//	// capability/token: c, err := verifier.Verify(ctx, bearer)), or built
//	// directly, as here, for tests and internal callers.
//	c, err := capability.New(roles, capability.KindInt64, capability.Params{
//		Subject: "alice",
//		Expiry:  time.Now().Add(15 * time.Minute),
//		Grants: []capability.Grant{
//			{Group: capability.Int64Group(7), Role: "moderator"},
//			{Group: capability.Int64Group(9), Role: "member"},
//		},
//	})
//	if err != nil {
//		return err // wraps capability.ErrBadCapability
//	}
//
//	// The groups where alice acts as a member: [7 9] (a moderator is a
//	// member too). sqlguard binds this set in the SQL statement.
//	ids := c.Groups("member").Int64s()
//
//	// A smaller capability for a downstream call: group 7, member only.
//	small, err := c.Narrow(capability.Narrowing{
//		Groups: []capability.Group{capability.Int64Group(7)},
//		Role:   "member",
//	})
//
//	// Into the request's context, and out again in a handler.
//	ctx = capability.NewContext(ctx, c)
//	mine, ok := capability.FromContext(ctx) // ok is false if none was stored
//
// The examples of [Chain], [NewRoles], [New], [Capability.Groups],
// [Capability.Narrow], [Capability.GrantsWithin] and [FromContext] (reading
// the capability in a handler) run as written. Verifying a token into a
// capability is package capability/token's Verifier (its examples include
// ExampleNewVerifier_jwksURL).
//
// # The model
//
// A [Roles] hierarchy is declared once per application ([Chain] for a
// linear one, [NewRoles] for any partial order): a role includes the rights
// of every role below it. A [Group] is an id of one [GroupKind] (int64, UUID
// or text), the type of the application's group column. A [Grant] gives one
// role in one group; [New] builds a capability from [Params] (grants, or
// grants per role in ByRole, plus subject, issuer, audience, token id and
// lifetime), validating them against the hierarchy and the kind and merging
// duplicates.
//
// keyhole never decides access in Go: sqlguard hands the capability's groups
// for a role ([Capability.Groups], a sorted [GroupSet]) and its admin flag to
// the SQL statement, and PostgreSQL decides. [Capability.Has] answers the
// same question for one group, for the rare decision taken outside SQL.
//
// A capability only shrinks: [Capability.Narrow] derives one with fewer
// groups, a lower role, one audience or a shorter lifetime, and
// [Capability.GrantsWithin] (or [Capability.GrantsWithinApproval] with an
// [Approval] compiled once) lowers the grants to the roles an audience is
// approved for, through the hierarchy.
//
// # Trust and failure
//
// The package trusts its configuration (the hierarchy and the group kind)
// and the [Params] it is given: it is the model, not the trust boundary.
// Reading untrusted input is the job of package capability/token, whose
// Verifier checks a token's signature and claims strictly before it calls
// New. New fails closed: params it cannot represent exactly (an undeclared
// role, a group of another kind, more grants than MaxGrants, a missing
// expiry) are an error matching [ErrBadCapability], never a capability with
// less in it.
//
// A *Capability is immutable and safe for concurrent use, and nil-safe:
// every method on a nil capability gives the no-privilege answer (no
// groups, no admin, expired). Accessors return copies. The context accessors
// follow the context package's pattern: an unexported key, and
// [FromContext] reports whether a capability was stored, so that "no
// capability" is never mistaken for an empty one.
//
// This package uses the standard library only; tokens, keys and JOSE live
// in capability/token, SQL in sqlguard.
package capability
