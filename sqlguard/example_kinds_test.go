package sqlguard_test

import (
	sq "github.com/Masterminds/squirrel"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/sqlguard"
)

// A registry of its own (the examples of example_test.go list theirs).
var (
	docsReg = sqlguard.MustNewRegistry(roles, capability.KindInt64)

	saveThread = docsReg.MustUpsert(sqlguard.Policy{
		Name: "threads.save", Table: "threads",
		Columns: []string{"id", "title", "group_id"}, Key: []string{"id"}, Set: []string{"title"},
		SubjectColumn: "created_by", GroupColumn: "group_id", Role: "moderator", ReadRole: "member",
	})
	getThread = docsReg.MustGet(sqlguard.Policy{
		Name: "threads.get", Table: "threads", Alias: "t", Key: []string{"id"},
		GroupColumn: "group_id", Role: "member", AdminOverride: true,
		Query: sq.Select("t.id", "t.title"),
	})
)

// An upsert is guarded on both sides: the proposed row's group must allow
// the role (the insert), and so must the existing row's group (the update
// on conflict). One statement, with a status row that tells a denial
// (*DeniedError) from a row the caller may not read (ErrNotFound).
func ExampleRegistry_Upsert() {
	show(saveThread.Bind(exampleCap(false), int64(7), "Renamed", int64(2)))
	// Output:
	// WITH "sg_done" AS (INSERT INTO "threads" ("id", "title", "group_id", "created_by") SELECT $1, $2, $3, $4 WHERE ($3 = $5::int8) ON CONFLICT ("id") DO UPDATE SET "title" = EXCLUDED."title" WHERE ("threads"."group_id" = ANY($6::int8[])) RETURNING 1) SELECT 0, NULL::text FROM "sg_done" UNION ALL SELECT CASE WHEN NOT COALESCE(($3 = $5::int8), FALSE) THEN 3 WHEN COALESCE((SELECT COALESCE(("threads"."group_id" = ANY($7::int8[])), FALSE) FROM "threads" WHERE "threads"."id" = $1), FALSE) THEN 2 ELSE 5 END, (SELECT CASE WHEN COALESCE(("threads"."group_id" = ANY($7::int8[])), FALSE) THEN "threads"."group_id"::text END FROM "threads" WHERE "threads"."id" = $1) WHERE NOT EXISTS (SELECT 1 FROM "sg_done")
	// $1 = 7
	// $2 = "Renamed"
	// $3 = 2
	// $4 = "alice"
	// $5 = 2
	// $6 = "{2}"
	// $7 = "{1,2}"
}

// A Get reads one row by key; a row the caller may not read is not found,
// exactly like a missing one (unless the policy sets DistinguishDenied).
// Call QueryRow(ctx, pool, c, id).Scan(...): it answers ErrNotFound then.
func ExampleRegistry_Get() {
	show(getThread.Bind(exampleCap(false), int64(7)))
	// Output:
	// SELECT t.id, t.title FROM (SELECT * FROM "threads" AS "t" WHERE ("t"."id" = $1) AND ("t"."group_id" = ANY($2::int8[]) OR $3)) AS "t"
	// $1 = 7
	// $2 = "{1,2}"
	// $3 = false
}
