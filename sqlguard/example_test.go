package sqlguard_test

import (
	"errors"
	"fmt"
	"time"

	sq "github.com/Masterminds/squirrel"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/sqlguard"
)

// The forum's registry and a capability: member of group 1, moderator of
// group 2. Applications declare their policies once, as package-level
// values, with the Must methods.
var (
	roles, _ = capability.Chain("member", "moderator", "admin")
	reg      = sqlguard.MustNewRegistry(roles, capability.KindInt64)

	threadOf = []sqlguard.Parent{{Column: "thread_id", Table: "threads"}}

	createThread = reg.MustInsert(sqlguard.Policy{
		Name: "threads.create", Table: "threads",
		Columns: []string{"title", "group_id"}, SubjectColumn: "created_by",
		GroupColumn: "group_id", Role: "member", Returning: []string{"id"},
	})
	createPost = reg.MustInsert(sqlguard.Policy{
		Name: "posts.create", Table: "posts",
		Columns: []string{"content", "thread_id"}, SubjectColumn: "author",
		Parents: threadOf, GroupColumn: "group_id", Role: "member", Lock: sqlguard.LockShare,
	})
	deleteThread = reg.MustDelete(sqlguard.Policy{
		Name: "threads.delete", Table: "threads", Key: []string{"id"},
		GroupColumn: "group_id", Role: "moderator", AdminOverride: true,
	})
	editPost = reg.MustUpdate(sqlguard.Policy{
		Name: "posts.edit", Table: "posts", Key: []string{"id"}, Set: []string{"content"},
		Parents: threadOf, GroupColumn: "group_id", Role: "moderator", OwnerColumn: "author",
	})
	moveThread = reg.MustUpdate(sqlguard.Policy{
		Name: "threads.move", Table: "threads", Key: []string{"id"}, Set: []string{"group_id"},
		GroupColumn: "group_id", Role: "moderator", AdminOverride: true,
	})
	listThreads = reg.MustList(sqlguard.Policy{
		Name: "threads.list", Table: "threads", GroupColumn: "group_id", Role: "member", AdminOverride: true,
		Query: sq.Select("id", "title").Where("title LIKE ?", sqlguard.Arg).OrderBy("id DESC").Limit(50),
	})
)

func exampleCap(admin bool) *capability.Capability {
	c, err := capability.New(roles, capability.KindInt64, capability.Params{
		Subject: "alice", Admin: admin, Expiry: time.Now().Add(time.Hour),
		Grants: []capability.Grant{
			{Group: capability.Int64Group(1), Role: "member"},
			{Group: capability.Int64Group(2), Role: "moderator"},
		},
	})
	if err != nil {
		panic(err)
	}
	return c
}

// show prints a bound statement. A group array binds as its text form, a
// string (or a *string).
func show(sql string, args []any, err error) {
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(sql)
	for i, a := range args {
		fmt.Printf("$%d = %#v\n", i+1, a)
	}
}

// A direct insert: the group is one of the inserted values; $4 is the
// capability's groups intersected with it, a scalar: the group when the
// capability holds it, NULL (no row inserted) when not.
func ExampleRegistry_Insert() {
	c := exampleCap(false)
	show(createThread.Bind(c, "Hello", int64(2)))
	show(createThread.Bind(c, "Hello", int64(3)))
	// Output:
	// INSERT INTO "threads" ("title", "group_id", "created_by") SELECT $1, $2, $3 WHERE ($2 = $4::int8) RETURNING "id"
	// $1 = "Hello"
	// $2 = 2
	// $3 = "alice"
	// $4 = 2
	// INSERT INTO "threads" ("title", "group_id", "created_by") SELECT $1, $2, $3 WHERE ($2 = $4::int8) RETURNING "id"
	// $1 = "Hello"
	// $2 = 3
	// $3 = "alice"
	// $4 = <nil>
}

// A child insert: the group comes from the parent thread, locked FOR
// SHARE so that a concurrent move serializes with the insert. The
// parent's group is searched in the groups' delimited text (int8 and uuid
// ids): one row is compared, and PostgreSQL copies the text instead of
// decoding an array.
func ExampleRegistry_Insert_child() {
	show(createPost.Bind(exampleCap(false), "First!", int64(7)))
	// Output:
	// INSERT INTO "posts" ("content", "thread_id", "author") SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM "threads" AS "p1" WHERE "p1"."id" = $2 AND (strpos($4::text, ',' || "p1"."group_id"::int8::text || ',') > 0) FOR SHARE)
	// $1 = "First!"
	// $2 = 7
	// $3 = "alice"
	// $4 = ",1,2,"
}

// The admin override sits inside the row predicate.
func ExampleRegistry_Delete() {
	show(deleteThread.Bind(exampleCap(false), int64(7)))
	// Output:
	// DELETE FROM "threads" WHERE "threads"."id" = $1 AND ("threads"."group_id" = ANY($2::int8[]) OR $3)
	// $1 = 7
	// $2 = "{2}"
	// $3 = false
}

// The author may edit their own post, or a moderator of its group: the
// subject is bound from the capability, never from the call.
func ExampleRegistry_Update() {
	show(editPost.Bind(exampleCap(false), int64(9), "edited"))
	// Output:
	// UPDATE "posts" SET "content" = $1 WHERE "posts"."id" = $2 AND (EXISTS (SELECT 1 FROM "threads" AS "p1" WHERE "p1"."id" = "posts"."thread_id" AND ("p1"."group_id" = ANY($3::int8[]))) OR "posts"."author" = $4)
	// $1 = "edited"
	// $2 = 9
	// $3 = "{2}"
	// $4 = "alice"
}

// Moving a thread: the filter on its current group, the check on the new
// one.
func ExampleRegistry_Update_move() {
	show(moveThread.Bind(exampleCap(false), int64(7), int64(1)))
	// Output:
	// UPDATE "threads" SET "group_id" = $1 WHERE "threads"."id" = $2 AND ("threads"."group_id" = ANY($3::int8[]) OR $4) AND ($1 = $5::int8 OR $4)
	// $1 = 1
	// $2 = 7
	// $3 = "{2}"
	// $4 = false
	// $5 = <nil>
}

// A list composes with the caller's query: the guard filters the table
// before the caller's WHERE sees it. Admins get a text of their own that
// keeps generic plans good for everyone else.
func ExampleRegistry_List() {
	show(listThreads.Bind(exampleCap(false), "%go%"))
	show(listThreads.Bind(exampleCap(true), "%go%"))
	show(listThreads.Bind(nil, "%go%"))
	// Output:
	// SELECT id, title FROM (SELECT * FROM "threads" WHERE ("threads"."group_id" = ANY($1::int8[]))) AS "threads" WHERE title LIKE $2 ORDER BY id DESC LIMIT 50
	// $1 = "{1,2}"
	// $2 = "%go%"
	// SELECT id, title FROM (SELECT * FROM "threads" WHERE ($1)) AS "threads" WHERE title LIKE $2 ORDER BY id DESC LIMIT 50
	// $1 = true
	// $2 = "%go%"
	// SELECT id, title FROM (SELECT * FROM "threads" WHERE ("threads"."group_id" = ANY($1::int8[]))) AS "threads" WHERE title LIKE $2 ORDER BY id DESC LIMIT 50
	// $1 = "{}"
	// $2 = "%go%"
}

// The registry describes its policies for an audit report or a lock file.
func ExampleRegistry_Policies() {
	for _, p := range reg.Policies() {
		fmt.Printf("%-15s %-12s %-8s role=%-9s admin=%v parents=%d\n", p.Name, p.Kind, p.Table, p.Role, p.AdminOverride, len(p.Parents))
	}
	// Output:
	// posts.create    insert-child posts    role=member    admin=false parents=1
	// posts.edit      update       posts    role=moderator admin=false parents=1
	// threads.create  insert       threads  role=member    admin=false parents=0
	// threads.delete  delete       threads  role=moderator admin=true parents=0
	// threads.list    select-list  threads  role=member    admin=true parents=0
	// threads.move    update       threads  role=moderator admin=true parents=0
}

// A policy that the approval refuses never reaches the database.
func ExampleRegistry_SetApproval() {
	r := sqlguard.MustNewRegistry(roles, capability.KindInt64)
	del := r.MustDelete(sqlguard.Policy{Name: "threads.purge", Table: "threads", Key: []string{"id"},
		GroupColumn: "group_id", Role: "admin"})
	r.SetApproval(func(p sqlguard.PolicyInfo) error {
		return errors.New("not in sqlguard.lock")
	})
	_, _, err := del.Bind(exampleCap(false), int64(1))
	fmt.Println(err)
	fmt.Println(errors.Is(err, sqlguard.ErrNotApproved))
	// Output:
	// sqlguard: threads.purge: policy not approved: not in sqlguard.lock
	// true
}
