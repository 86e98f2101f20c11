package sqlguard_test

import (
	"errors"
	"fmt"
	"os"

	sq "github.com/Masterminds/squirrel"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/sqlguard"
)

// exampleRegistry declares a few policies of a small forum.
func exampleRegistry() *sqlguard.Registry {
	roles, _ := capability.Chain("member", "moderator")
	reg := sqlguard.MustNewRegistry(roles, capability.KindInt64)
	reg.MustInsert(sqlguard.Policy{Name: "threads.create", Table: "threads",
		Columns: []string{"title", "group_id"}, SubjectColumn: "created_by",
		GroupColumn: "group_id", Role: "member"})
	reg.MustList(sqlguard.Policy{Name: "threads.list", Table: "threads", Alias: "t",
		GroupColumn: "group_id", Role: "member", AdminOverride: true,
		Query: sq.Select("t.id", "t.title").OrderBy("t.id DESC")})
	reg.MustDelete(sqlguard.Policy{Name: "posts.delete", Table: "posts", Key: []string{"id"},
		Parents:     []sqlguard.Parent{{Column: "thread_id", Table: "threads"}},
		GroupColumn: "group_id", Role: "moderator", ReadRole: "member", OwnerColumn: "author"})
	reg.MustUpdate(sqlguard.Policy{Name: "posts.edit", Table: "posts", Key: []string{"id"}, Set: []string{"content"},
		Parents:     []sqlguard.Parent{{Column: "thread_id", Table: "threads"}},
		GroupColumn: "group_id", Role: "member", Where: []sq.Sqlizer{sq.Expr("posts.author = ?", sqlguard.Subject)}})
	reg.MustDelete(sqlguard.Policy{Name: "sessions.purge", Table: "sessions", Key: []string{"id"},
		Unguarded: "expired sessions are purged by a job without a user"})
	return reg
}

// The audit report of a registry, for people, with the policies that
// bypass the group guard flagged in a RESERVED section.
func ExampleReport_WriteText() {
	reg := exampleRegistry()
	if err := reg.Report().WriteText(os.Stdout); err != nil {
		fmt.Println(err)
	}
	// Output:
	// POLICY          KIND         TABLE     ROLE       READ    GROUP                       OWNER   ADMIN  SET      CONDITIONS
	// posts.delete    delete       posts     moderator  member  thread_id>threads.group_id  author  no     -        -
	// posts.edit      update       posts     member     -       thread_id>threads.group_id  -       no     content  posts.author = <subject>
	// sessions.purge  delete       sessions  UNGUARDED  -       -                           -       no     -        -
	// threads.create  insert       threads   member     -       group_id                    -       no     -        -
	// threads.list    select-list  threads   member     -       group_id                    -       yes    -        -
	//
	// RESERVED: 2 policies bypass the group guard
	//   !! sessions.purge  unguarded       delete on sessions                     no group guard: expired sessions are purged by a job without a user
	//   !! threads.list    admin-override  select-list on threads in every group  the admin flag passes the group check
}

// The lock file of a registry: the approved permissions, one line per
// policy, without SQL text.
func ExampleRegistry_LockFile() {
	reg := exampleRegistry()
	fmt.Print(string(reg.LockFile()))
	// Output:
	// # keyhole approval lock: the approved permissions of this application's
	// # sqlguard policies, one line per policy (see sqlguard.Permission).
	// # A new or widened permission fails the application's lock test until this
	// # file is regenerated (go test -run Lock -update) and the diff is reviewed.
	// posts.delete  delete  posts  role=moderator  read=member  group=thread_id>threads.group_id  owner=author  admin=no
	// posts.edit  update  posts  role=member  group=thread_id>threads.group_id  admin=no  set=content  conds=1  subj=1
	// # sessions.purge is unguarded: expired sessions are purged by a job without a user
	// sessions.purge  delete  sessions  unguarded=yes
	// threads.create  insert  threads  role=member  group=group_id  admin=no  write=group_id,title  subject=created_by
	// threads.list  select-list  threads  role=member  group=group_id  admin=yes
}

// An application's code changed posts.delete to need only role member: the
// diff against the approved lock names the widening, and a registry that
// approves the lock refuses to run the policy.
func ExampleApproved_Diff() {
	approved, err := sqlguard.ParseLockFile(exampleRegistry().LockFile())
	if err != nil {
		fmt.Println(err)
		return
	}
	roles, _ := capability.Chain("member", "moderator")
	reg := sqlguard.MustNewRegistry(roles, capability.KindInt64)
	del := reg.MustDelete(sqlguard.Policy{Name: "posts.delete", Table: "posts", Key: []string{"id"},
		Parents:     []sqlguard.Parent{{Column: "thread_id", Table: "threads"}},
		GroupColumn: "group_id", Role: "member", AdminOverride: true})
	reg.MustUpdate(sqlguard.Policy{Name: "posts.pin", Table: "posts", Key: []string{"id"}, Set: []string{"pinned"},
		Parents:     []sqlguard.Parent{{Column: "thread_id", Table: "threads"}},
		GroupColumn: "group_id", Role: "moderator"})
	d := approved.Diff(reg)
	for _, c := range d.Added {
		fmt.Println("added:   ", c)
	}
	for _, c := range d.Widened {
		fmt.Println("widened: ", c)
	}
	for _, c := range d.Narrowed {
		fmt.Println("narrowed:", c)
	}
	for _, c := range d.Removed {
		fmt.Println("removed: ", c)
	}
	if err := reg.Approve(approved); err != nil {
		fmt.Println(err)
		return
	}
	// Refused before anything reaches the database.
	_, _, err = del.Bind(nil, int64(1))
	fmt.Println(errors.Is(err, sqlguard.ErrNotApproved), err)
	// Output:
	// added:    posts.pin is a new permission (update on posts, role moderator); not approved
	// widened:  posts.delete now allows role member; approved: moderator
	// widened:  posts.delete now allows the admin override; approved: no admin override
	// narrowed: posts.delete narrowed to no read role; approved: read role member
	// narrowed: posts.delete narrowed to no owner column; approved: owner author
	// removed:  posts.edit is no longer declared; approved: update on posts, role member
	// removed:  sessions.purge is no longer declared; approved: delete on sessions, unguarded
	// removed:  threads.create is no longer declared; approved: insert on threads, role member
	// removed:  threads.list is no longer declared; approved: select-list on threads, role member, admin override
	// true sqlguard: posts.delete: policy not approved: policy "posts.delete" needs role member on posts; approved: moderator; and needs the admin override on posts; approved: no admin override
}

// The second wall of a registry: roles, GRANTs and row-level security
// generated from the same declarations, to run once as the tables' owner.
// At run time, sqlguard.WithCapability binds a capability to a transaction
// (SET LOCAL ROLE keyhole_app and the settings the policies read).
func ExampleRegistry_SecondWall() {
	roles, _ := capability.Chain("member", "moderator")
	reg := sqlguard.MustNewRegistry(roles, capability.KindInt64)
	reg.MustInsert(sqlguard.Policy{Name: "threads.create", Table: "threads",
		Columns: []string{"title", "group_id"}, GroupColumn: "group_id", Role: "member"})
	reg.MustDelete(sqlguard.Policy{Name: "threads.delete", Table: "threads", Key: []string{"id"},
		GroupColumn: "group_id", Role: "moderator", AdminOverride: true})
	script, err := reg.SecondWall(sqlguard.WallOptions{Grantees: []string{"forum"}})
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
	//     ("threads"."group_id" = ANY((SELECT COALESCE(NULLIF(current_setting('keyhole.groups_member', true), ''), '{}')::int8[])::int8[]) OR (SELECT COALESCE(NULLIF(current_setting('keyhole.admin', true), '')::boolean, false))));
	// CREATE POLICY "keyhole_insert" ON "threads" FOR INSERT WITH CHECK (
	//     ("threads"."group_id" = ANY((SELECT COALESCE(NULLIF(current_setting('keyhole.groups_member', true), ''), '{}')::int8[])::int8[])));
	// CREATE POLICY "keyhole_delete" ON "threads" FOR DELETE USING (
	//     ("threads"."group_id" = ANY((SELECT COALESCE(NULLIF(current_setting('keyhole.groups_moderator', true), ''), '{}')::int8[])::int8[]) OR (SELECT COALESCE(NULLIF(current_setting('keyhole.admin', true), '')::boolean, false))));
}
