-- threads.create (insert) on threads
-- $1: value 0 (title)
-- $2: value 1 (group_id)
-- $3: subject
-- $4: group-match member ∩ value 1 (group_id)
-- $5: constant [member moderator admin]
-- $6: admin
-- $7: session
-- $8: issued-at
INSERT INTO "threads" ("title", "group_id", "created_by") SELECT $1, $2, $3 WHERE ($2 = $4::int8 AND EXISTS (SELECT 1 FROM "memberships" AS "sg_mem" WHERE "sg_mem"."user_name" = $3 AND "sg_mem"."group_id" = $2::int8 AND "sg_mem"."role" = ANY($5::text[])) OR $6) AND EXISTS (SELECT 1 FROM "sessions" AS "sg_sess", "subjects" AS "sg_subj" WHERE "sg_sess"."id" = $7::text AND "sg_sess"."revoked_at" IS NULL AND "sg_sess"."subject" = $3 AND "sg_subj"."name" = $3 AND "sg_subj"."valid_after" <= $8::timestamptz) RETURNING "id";
