// Package wall is sqlguard's second wall: defense in depth behind the
// guards. From the same declarations as the guards (a *sqlguard.Registry)
// it generates PostgreSQL roles, GRANTs and row-level security policies
// (Script, run once as the tables' owner), and at run time it binds a
// capability to a transaction (WithCapability) or, in one round trip, to
// a single statement (New, then Wall.Bind: the settings and the statement
// travel in one pipeline, one implicit transaction), so that a raw
// statement that forgot its guard still cannot cross a group.
//
// What it trusts: the registry's declarations and its approval (Script
// refuses to grant a policy the registry's approval refuses, see package
// approval), and the application's code, which could always reset the
// role. How it fails: closed. A session without WithCapability (or
// Wall.Bind, its one-round-trip form for single statements) reads no
// row and writes none (missing settings are the empty array, false and
// NULL); a statement the wall refuses answers PostgreSQL's
// insufficient_privilege (sqlguard.IsInsufficientPrivilege) or no row.
//
// The name says what it is in the design (docs: "Defense in depth"): the
// guards are the first wall, this package the second.
//
// Script turns the registry's declarations into PostgreSQL roles,
// GRANTs and row-level security policies, so that a raw statement that
// forgot its guard (or a guard with a bug) still cannot read or write a row
// outside the caller's groups, and cannot touch a table or a column that no
// policy uses. The guards stay the first wall: they decide, and tell denied
// from not found; the second wall only ever refuses what no policy allows.
//
// Roles. For each application role R a NOLOGIN role <prefix>role_<R>
// holds exactly the table privileges of the policies that need R: SELECT on
// the table and on the parent tables the guard reads, INSERT on the
// inserted columns, UPDATE on the Set columns (column privileges), DELETE,
// and UPDATE on a parent's key column where the guard locks the parent (a
// row lock needs an UPDATE privilege). The hierarchy is mirrored (a
// moderator's role is granted the member's role). One NOLOGIN role
// <prefix>app is granted every role's role and the privileges of unguarded
// policies: it is the role WithCapability switches to. One role for every
// capability, and not one per capability's highest role, because a
// capability may act through a policy whose role it does not hold (the
// row's owner, the admin override): which rows it may touch is decided per
// row by the policies below, reading the capability's groups per role from
// transaction-local settings.
//
// Settings, set by WithCapability and Wall.Bind with set_config(name,
// value, true), so that they end with the transaction (safe behind a
// transaction-mode pooler): <ns>.groups_<role> (the capability's groups
// for the role: for int8 and uuid ids the text delimited by commas of
// sqlguard.GroupsList, ",1,2,3,"; for text ids an array literal),
// <ns>.admin and <ns>.subject. A policy reads them in an uncorrelated
// scalar subquery, which PostgreSQL evaluates once per statement (an
// InitPlan), not once per row,
//
//	strpos((SELECT CASE WHEN left(s, 1) = ',' THEN s ELSE ',' END FROM (SELECT COALESCE(NULLIF(current_setting('keyhole.groups_member', true), ''), ',') AS s) AS keyhole_setting), ',' || "t"."group_id"::int8::text || ',') > 0
//	"t"."group_id" = ANY((SELECT COALESCE(NULLIF(current_setting('keyhole.groups_member', true), ''), '{}')::text[])::text[])
//
// (the first for int8 and uuid ids: the text is searched, never parsed,
// see the measurements in rls.go; the second for text ids, which may hold
// commas). A missing setting is no group, a missing admin flag false and
// a missing subject NULL: a session that forgot WithCapability sees no
// row and writes none (fail closed).
//
// Policies, one per table and command, the OR of the guards of the
// registry's policies on that table, merged per parent chain (one EXISTS
// holding the OR of the roles' groups): SELECT (every policy's row
// predicate, with its read role too, and the parent rows a guard reads),
// INSERT (WITH CHECK: the inserted row's group, and for a policy with a
// SubjectColumn that column IS NOT DISTINCT FROM the capability's subject,
// as the guarded insert binds it: a raw insert cannot write a row in
// another subject's name; the column can change later only through an
// update policy whose Set holds it, since no other gets its UPDATE
// privilege), DELETE, and UPDATE, whose
// WITH CHECK pairs each update policy's filter on the old row with its
// check on the new row and allows only that policy's Set columns to change
// (the old row is read back by Key in a generated STABLE SECURITY DEFINER
// function <prefix>chk_<n>, which sees the statement's snapshot; a policy
// may not read its own table directly): the OR of permissive policies
// cannot combine one policy's rows with another policy's columns.
// Unguarded policies add TRUE for their commands. Admin-only policies
// (sqlguard.Policy.AdminOnly) add nothing: no role of the wall may touch
// their rows raw, and running one behind the wall needs a grant of the
// application's own.
//
// Where the wall is wider than a single guard, by construction:
//   - reads: SELECT is the union over every policy of the table, because
//     PostgreSQL requires an UPDATE's or a DELETE's rows (and RETURNING
//     rows) to pass the SELECT policies too: a raw select sees every row
//     some policy of the table may touch (declare the list policies as
//     wide as the writes, e.g. with the same admin override);
//   - the wall judges the change a statement makes, a guard the statement:
//     a raw "move" to the group a row is already in is, to the wall, an
//     edit another policy allows;
//   - inserts: the INSERT column privileges of <prefix>app are the union of
//     the table's insert policies, so a raw insert may set a column (an
//     explicit id) that only another insert policy writes, in a group
//     where some insert policy allows it.
//
// What the wall does not carry: the extra conditions (sqlguard.Policy.Where), the
// caller's query (joins to tables no policy names get no GRANT: declare a
// policy for them, or grant them yourself), and the difference between
// denied and not found. Where only the wall refuses, PostgreSQL answers
// insufficient_privilege (42501, sqlguard.IsInsufficientPrivilege) or simply no row:
// an upsert over an existing row the wall hides raises 42501 instead of
// *sqlguard.DeniedError, and a DistinguishDenied Get answers not found for a row the
// wall hides. An update policy may not set its own Key columns (the old row
// is found by Key). The generated functions run with the search_path of
// the script (SET search_path FROM CURRENT): run it with a search_path of
// trusted schemas only.
//
// FORCE ROW LEVEL SECURITY is off unless Options.Force: the tables'
// owner (migrations, maintenance) bypasses the policies, and the
// application must not connect as the owner or as a role with BYPASSRLS.
// WithCapability switches to <prefix>app in any case.
//
// # Examples
//
// ExampleScript prints the row-level security policies and GRANTs
// generated from a registry.
package wall
