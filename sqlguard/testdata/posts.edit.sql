-- posts.edit (update) on posts
-- $1: value 1 (content)
-- $2: value 0 (id)
-- $3: groups moderator
-- $4: subject
-- $5: groups member
WITH "sg_done" AS (UPDATE "posts" SET "content" = $1 WHERE "posts"."id" = $2 AND (EXISTS (SELECT 1 FROM "threads" AS "p1" WHERE "p1"."id" = "posts"."thread_id" AND ("p1"."group_id" = ANY($3::int8[]))) OR "posts"."author" = $4) RETURNING 1) SELECT 0, NULL::text FROM "sg_done" UNION ALL SELECT CASE WHEN NOT COALESCE((EXISTS (SELECT 1 FROM "threads" AS "p1" WHERE "p1"."id" = "posts"."thread_id" AND ("p1"."group_id" = ANY($5::int8[]))) OR "posts"."author" = $4), FALSE) THEN 1 WHEN NOT COALESCE((EXISTS (SELECT 1 FROM "threads" AS "p1" WHERE "p1"."id" = "posts"."thread_id" AND ("p1"."group_id" = ANY($3::int8[]))) OR "posts"."author" = $4), FALSE) THEN 2 ELSE 4 END, CASE WHEN COALESCE((EXISTS (SELECT 1 FROM "threads" AS "p1" WHERE "p1"."id" = "posts"."thread_id" AND ("p1"."group_id" = ANY($5::int8[]))) OR "posts"."author" = $4), FALSE) THEN (SELECT "p1"."group_id"::text FROM "threads" AS "p1" WHERE "p1"."id" = "posts"."thread_id") END FROM "posts" WHERE "posts"."id" = $2 AND NOT EXISTS (SELECT 1 FROM "sg_done");
