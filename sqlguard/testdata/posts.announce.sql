-- posts.announce (insert-child) on posts
-- $1: value 0 (content)
-- $2: value 1 (thread_id)
-- $3: subject
-- $4: groups-list moderator
-- $5: admin
-- $6: groups-list member
WITH "sg_done" AS (INSERT INTO "posts" ("content", "thread_id", "author") SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM "threads" AS "p1" WHERE "p1"."id" = $2 AND (strpos($4::text, ',' || "p1"."group_id"::int8::text || ',') > 0 OR $5) FOR SHARE) RETURNING "id") SELECT 0, NULL::text, "sg_done"."id" FROM "sg_done" UNION ALL SELECT CASE WHEN NOT COALESCE((strpos($6::text, ',' || "p1"."group_id"::int8::text || ',') > 0 OR $5), FALSE) THEN 1 WHEN NOT COALESCE((strpos($4::text, ',' || "p1"."group_id"::int8::text || ',') > 0 OR $5), FALSE) THEN 2 ELSE 4 END, CASE WHEN COALESCE((strpos($6::text, ',' || "p1"."group_id"::int8::text || ',') > 0 OR $5), FALSE) THEN "p1"."group_id"::text END, NULL FROM "threads" AS "p1" WHERE "p1"."id" = $2 AND NOT EXISTS (SELECT 1 FROM "sg_done");
