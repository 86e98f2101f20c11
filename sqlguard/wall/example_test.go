package wall_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/sqlguard"
	"github.com/keyhole-go/keyhole/sqlguard/wall"
)

// The second wall of a registry: roles, GRANTs and row-level security
// generated from the same declarations, to run once as the tables' owner.
// At run time, wall.WithCapability binds a capability to a transaction
// (SET LOCAL ROLE keyhole_app and the settings the policies read).
func ExampleScript() {
	roles, _ := capability.Chain("member", "moderator")
	reg := sqlguard.MustNewRegistry(roles, capability.KindInt64)
	reg.MustInsert(sqlguard.Policy{Name: "threads.create", Table: "threads",
		Columns: []string{"title", "group_id"}, GroupColumn: "group_id", Role: "member"})
	reg.MustDelete(sqlguard.Policy{Name: "threads.delete", Table: "threads", Key: []string{"id"},
		GroupColumn: "group_id", Role: "moderator", AdminOverride: true})
	script, err := wall.Script(reg, wall.Options{Grantees: []string{"forum"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(script)
	// Output:
	// -- keyhole second wall: roles, GRANTs and row-level security generated
	// -- from the sqlguard registry. Run as the tables' owner. Settings read:
	// -- keyhole.admin, keyhole.subject, keyhole.groups_<role>.
	//
	// -- Roles.
	// DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'keyhole_app') THEN CREATE ROLE "keyhole_app" NOLOGIN; END IF; END $$;
	// DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'keyhole_role_member') THEN CREATE ROLE "keyhole_role_member" NOLOGIN; END IF; END $$;
	// DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'keyhole_role_moderator') THEN CREATE ROLE "keyhole_role_moderator" NOLOGIN; END IF; END $$;
	// GRANT "keyhole_role_member" TO "keyhole_app";
	// GRANT "keyhole_role_member" TO "keyhole_role_moderator";
	// GRANT "keyhole_role_moderator" TO "keyhole_app";
	// GRANT "keyhole_app" TO "forum";
	//
	// -- Privileges: exactly what each role's policies use.
	// REVOKE ALL ON TABLE "threads" FROM "keyhole_app", "keyhole_role_member", "keyhole_role_moderator";
	// GRANT SELECT ON TABLE "threads" TO "keyhole_role_member";
	// GRANT INSERT ("group_id", "title") ON TABLE "threads" TO "keyhole_role_member";
	// DO $$ DECLARE s regclass; BEGIN FOR s IN SELECT d.objid::regclass FROM pg_depend d JOIN pg_class c ON c.oid = d.objid WHERE d.classid = 'pg_class'::regclass AND d.refobjid = '"threads"'::regclass AND d.deptype IN ('a', 'i') AND c.relkind = 'S' LOOP EXECUTE format('GRANT USAGE ON SEQUENCE %s TO %I', s, 'keyhole_role_member'); END LOOP; END $$;
	// GRANT SELECT ON TABLE "threads" TO "keyhole_role_moderator";
	// GRANT DELETE ON TABLE "threads" TO "keyhole_role_moderator";
	//
	// -- Row-level security: the OR of the guards per table and command.
	//
	// ALTER TABLE "threads" ENABLE ROW LEVEL SECURITY;
	// ALTER TABLE "threads" NO FORCE ROW LEVEL SECURITY;
	// DROP POLICY IF EXISTS "keyhole_select" ON "threads";
	// DROP POLICY IF EXISTS "keyhole_insert" ON "threads";
	// DROP POLICY IF EXISTS "keyhole_update" ON "threads";
	// DROP POLICY IF EXISTS "keyhole_delete" ON "threads";
	// CREATE POLICY "keyhole_select" ON "threads" FOR SELECT USING (
	//     (strpos((SELECT CASE WHEN left(s, 1) = ',' THEN s ELSE ',' END FROM (SELECT COALESCE(NULLIF(current_setting('keyhole.groups_member', true), ''), ',') AS s) AS keyhole_setting), ',' || "threads"."group_id"::int8::text || ',') > 0 OR (SELECT COALESCE(NULLIF(current_setting('keyhole.admin', true), '')::boolean, false))));
	// CREATE POLICY "keyhole_insert" ON "threads" FOR INSERT WITH CHECK (
	//     (strpos((SELECT CASE WHEN left(s, 1) = ',' THEN s ELSE ',' END FROM (SELECT COALESCE(NULLIF(current_setting('keyhole.groups_member', true), ''), ',') AS s) AS keyhole_setting), ',' || "threads"."group_id"::int8::text || ',') > 0));
	// CREATE POLICY "keyhole_delete" ON "threads" FOR DELETE USING (
	//     (strpos((SELECT CASE WHEN left(s, 1) = ',' THEN s ELSE ',' END FROM (SELECT COALESCE(NULLIF(current_setting('keyhole.groups_moderator', true), ''), ',') AS s) AS keyhole_setting), ',' || "threads"."group_id"::int8::text || ',') > 0 OR (SELECT COALESCE(NULLIF(current_setting('keyhole.admin', true), '')::boolean, false))));
}

// inTransaction stands for a pgx.Tx in ExampleWall_Bind: Bind refuses
// it before calling any of its methods.
type inTransaction struct{ pgx.Tx }

// A declared statement behind the second wall in one round trip: Bind
// returns a sqlguard.DB on which each statement travels with the
// capability's role and settings in one pipeline (one implicit
// transaction), so nothing outlives it. In an application:
//
//	w, err := wall.New(reg, opts) // once, beside wall.Script(reg, opts)
//	err = createThread.Exec(ctx, w.Bind(pool, c), c, "hello", capability.Int64Group(1))
//
// Inside a transaction the settings would outlive the statement: Bind
// refuses it (use WithCapability there).
func ExampleWall_Bind() {
	roles, _ := capability.Chain("member", "moderator")
	reg := sqlguard.MustNewRegistry(roles, capability.KindInt64)
	createThread := reg.MustInsert(sqlguard.Policy{Name: "threads.create", Table: "threads",
		Columns: []string{"title", "group_id"}, GroupColumn: "group_id", Role: "member"})
	w, err := wall.New(reg, wall.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	var tx pgx.Tx = inTransaction{}
	err = createThread.Exec(context.Background(), w.Bind(tx, nil), nil, "hello", capability.Int64Group(1))
	fmt.Println(errors.Is(err, wall.ErrInTransaction))
	// Output:
	// true
}
