-- comments.create (insert-child) on comments
-- $1: value 0 (body)
-- $2: value 1 (post_id)
-- $3: subject
-- $4: groups-list member
WITH "sg_done" AS (INSERT INTO "comments" ("body", "post_id", "author") SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM "posts" AS "p1" JOIN "threads" AS "p2" ON "p2"."id" = "p1"."thread_id" WHERE "p1"."id" = $2 AND (strpos($4::text, ',' || "p2"."group_id"::int8::text || ',') > 0) FOR KEY SHARE) RETURNING 1) SELECT 0, NULL::text FROM "sg_done" UNION ALL SELECT CASE WHEN NOT COALESCE((strpos($4::text, ',' || "p2"."group_id"::int8::text || ',') > 0), FALSE) THEN 1 WHEN NOT COALESCE((strpos($4::text, ',' || "p2"."group_id"::int8::text || ',') > 0), FALSE) THEN 2 ELSE 4 END, CASE WHEN COALESCE((strpos($4::text, ',' || "p2"."group_id"::int8::text || ',') > 0), FALSE) THEN "p2"."group_id"::text END FROM "posts" AS "p1" JOIN "threads" AS "p2" ON "p2"."id" = "p1"."thread_id" WHERE "p1"."id" = $2 AND NOT EXISTS (SELECT 1 FROM "sg_done");
