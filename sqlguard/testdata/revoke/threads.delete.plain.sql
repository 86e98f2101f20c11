-- threads.delete.plain (delete) on threads
-- $1: value 0 (id)
-- $2: groups moderator
-- $3: session
-- $4: subject
-- $5: issued-at
DELETE FROM "threads" WHERE "threads"."id" = $1 AND ("threads"."group_id" = ANY($2::int8[])) AND EXISTS (SELECT 1 FROM "sessions" AS "sg_sess", "subjects" AS "sg_subj" WHERE "sg_sess"."id" = $3::text AND "sg_sess"."revoked_at" IS NULL AND "sg_sess"."subject" = $4 AND "sg_subj"."name" = $4 AND "sg_subj"."valid_after" <= $5::timestamptz);
