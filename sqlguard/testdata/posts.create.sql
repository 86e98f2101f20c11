-- posts.create (insert-child) on posts
-- $1: value 0 (content)
-- $2: value 1 (thread_id)
-- $3: subject
-- $4: groups-list member
INSERT INTO "posts" ("content", "thread_id", "author") SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM "threads" AS "p1" WHERE "p1"."id" = $2 AND (strpos($4::text, ',' || "p1"."group_id"::int8::text || ',') > 0) AND (NOT "p1"."locked") FOR SHARE) RETURNING "id";
