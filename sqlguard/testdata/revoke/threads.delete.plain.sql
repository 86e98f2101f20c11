-- threads.delete.plain (delete) on threads
-- $1: value 0 (id)
-- $2: groups moderator
-- $3: session
-- $4: subject
-- $5: issued-at
WITH "sg_done" AS (DELETE FROM "threads" WHERE "threads"."id" = $1 AND ("threads"."group_id" = ANY($2::int8[])) AND EXISTS (SELECT 1 FROM "sessions" AS "sg_sess", "subjects" AS "sg_subj" WHERE "sg_sess"."id" = $3::text AND "sg_sess"."revoked_at" IS NULL AND "sg_sess"."subject" = $4 AND "sg_subj"."name" = $4 AND "sg_subj"."valid_after" <= $5::timestamptz) RETURNING 1) SELECT 0, NULL::text FROM "sg_done" UNION ALL SELECT 6, NULL WHERE NOT EXISTS (SELECT 1 FROM "sg_done") AND NOT EXISTS (SELECT 1 FROM "sessions" AS "sg_sess", "subjects" AS "sg_subj" WHERE "sg_sess"."id" = $3::text AND "sg_sess"."revoked_at" IS NULL AND "sg_sess"."subject" = $4 AND "sg_subj"."name" = $4 AND "sg_subj"."valid_after" <= $5::timestamptz);
