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
// # Performance
//
// Measured on a shared 2-core machine, PostgreSQL 15, over a Unix socket
// (sqlguard's BenchmarkWallInsert, BenchmarkWallList: every variant in
// turn, serially, medians of 5 runs of 400 iterations; ratios are
// throughput, the baseline's median time over the variant's):
//
//	go test ./sqlguard -run '^$' -bench 'Wall(Insert|List)' -benchtime 400x -count 5
//
//	                                        groups=3   100    1000
//	guarded insert, Bind ÷ plain insert        0.60   0.65   0.52
//	guarded insert, Bind ÷ hand-written RLS    0.95   0.98   0.98   (BEGIN, set_config, insert, COMMIT in one batch)
//	guarded insert, Bind ÷ WithCapability      2.22   2.20   2.13
//	raw insert, Bind ÷ plain insert            0.78   0.83   0.65   (the wall alone)
//	child insert, Bind ÷ plain child insert    0.61   0.61   0.61
//	guarded list, Bind ÷ hand-written list     0.64   0.76   0.96
//
// Where the time goes, in CPU time per statement (BenchmarkWallCPU, one
// connection; server backend from /proc, client from getrusage; medians
// of 11 rounds, two runs at different loads):
//
//	go test ./sqlguard -run '^$' -bench BenchmarkWallCPU -benchtime 200x
//
//	groups=3, µs             server        client
//	select 1 (simple query)  11 – 19       16 – 20
//	plain insert             24 – 40       24 – 37
//	guarded insert           25 – 44       26 – 37
//	Bind: select 1           23 – 43       24 – 37
//	Bind: plain insert       50 – 65       31 – 54
//	Bind: guarded insert     48 – 72       32 – 61
//	hand-written list        92 – 94       63
//	Bind: guarded list      139 – 177      80
//
// So Bind costs an insert about 25 µs of server and 8 to 20 µs of client
// CPU time, which the goal of 0.8 × the plain insert's throughput (a
// budget of about 15 µs in all) cannot hold:
//
//   - the set_config statement: its own Bind and Execute in the pipeline
//     and about 1.4 µs per setting (set, then reverted at the implicit
//     commit), 3 µs for the role: 11 µs of server time for the 5 settings
//     and the role of a 3-role hierarchy. Setting only the roles a
//     statement's table reads saved nothing measurable (4 settings
//     instead of 6); the settings of every role must be set anyway, or a
//     session-level value would be read in their place;
//   - row-level security on the insert: the privilege checks through the
//     wall's roles and the WITH CHECK with its three InitPlans, about
//     14 µs (what the raw insert through Bind costs beyond the plain one
//     and the set_config statement);
//   - the hand-written pipeline (BEGIN; set_config; insert; COMMIT) pays
//     the same two costs: BEGIN and COMMIT are cheap statements, so Bind's
//     two statements are not 1.3 × faster than its four, only as fast.
//
// Lists: under plan_cache_mode = auto, PostgreSQL plans the page of
// threads anew on every call (its custom plan is estimated cheaper than
// the generic one), with and without the wall, and planning the wall's
// policies (their InitPlans are subqueries, each planned) doubles the
// cost: server time per list, in one transaction, 95 µs custom and 51 µs
// generic without the wall, 145 µs and 76 µs under it. Forcing generic
// plans in Bind (set_config('plan_cache_mode', 'force_generic_plan'))
// was measured and rejected: the list at 3 groups went from 0.76 to 1.05
// × the hand-written one, but at 100 groups from 0.87 to 0.29 and at
// 1,000 from 1.00 to 0.03 (54 ms a page), because the generic plan reads
// every row of the allowed groups through the policy's strpos over the
// 5 kB list instead of walking the primary key until 50 rows pass.
//
// # Examples
//
// ExampleScript prints the row-level security policies and GRANTs
// generated from a registry.
package wall
