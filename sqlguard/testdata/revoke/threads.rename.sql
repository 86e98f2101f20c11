-- threads.rename (update) on threads
-- $1: value 1 (title)
-- $2: value 0 (id)
-- $3: groups member
-- $4: subject
-- $5: constant [member moderator admin]
-- $6: session
-- $7: issued-at
UPDATE "threads" SET "title" = $1 WHERE "threads"."id" = $2 AND ("threads"."group_id" = ANY($3::int8[]) AND EXISTS (SELECT 1 FROM "memberships" AS "sg_mem" WHERE "sg_mem"."user_name" = $4 AND "sg_mem"."group_id" = "threads"."group_id" AND "sg_mem"."role" = ANY($5::text[]))) AND EXISTS (SELECT 1 FROM "sessions" AS "sg_sess", "subjects" AS "sg_subj" WHERE "sg_sess"."id" = $6::text AND "sg_sess"."revoked_at" IS NULL AND "sg_sess"."subject" = $4 AND "sg_subj"."name" = $4 AND "sg_subj"."valid_after" <= $7::timestamptz) RETURNING "id";
