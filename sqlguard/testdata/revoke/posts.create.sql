-- posts.create (insert-child) on posts
-- $1: value 0 (content)
-- $2: value 1 (thread_id)
-- $3: subject
-- $4: groups-list member
-- $5: constant [member moderator admin]
-- $6: session
-- $7: issued-at
INSERT INTO "posts" ("content", "thread_id", "author") SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM "threads" AS "p1" WHERE "p1"."id" = $2 AND (strpos($4::text, ',' || "p1"."group_id"::int8::text || ',') > 0 AND EXISTS (SELECT 1 FROM "memberships" AS "sg_mem" WHERE "sg_mem"."user_name" = $3 AND "sg_mem"."group_id" = "p1"."group_id" AND "sg_mem"."role" = ANY($5::text[]))) FOR SHARE) AND EXISTS (SELECT 1 FROM "sessions" AS "sg_sess", "subjects" AS "sg_subj" WHERE "sg_sess"."id" = $6::text AND "sg_sess"."revoked_at" IS NULL AND "sg_sess"."subject" = $3 AND "sg_subj"."name" = $3 AND "sg_subj"."valid_after" <= $7::timestamptz);
