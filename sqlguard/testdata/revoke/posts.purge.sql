-- posts.purge (delete) on posts
-- $1: value 0 (id)
-- $2: session
-- $3: subject
-- $4: issued-at
DELETE FROM "posts" WHERE "posts"."id" = $1 AND EXISTS (SELECT 1 FROM "sessions" AS "sg_sess", "subjects" AS "sg_subj" WHERE "sg_sess"."id" = $2::text AND "sg_sess"."revoked_at" IS NULL AND "sg_sess"."subject" = $3 AND "sg_subj"."name" = $3 AND "sg_subj"."valid_after" <= $4::timestamptz);
