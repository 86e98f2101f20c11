-- threads.create.plain (insert) on threads
-- $1: value 0 (title)
-- $2: value 1 (group_id)
-- $3: group-match member ∩ value 1 (group_id)
-- $4: session
-- $5: subject
-- $6: issued-at
INSERT INTO "threads" ("title", "group_id") SELECT $1, $2 WHERE ($2 = $3::int8) AND EXISTS (SELECT 1 FROM "sessions" AS "sg_sess", "subjects" AS "sg_subj" WHERE "sg_sess"."id" = $4::text AND "sg_sess"."revoked_at" IS NULL AND "sg_sess"."subject" = $5 AND "sg_subj"."name" = $5 AND "sg_subj"."valid_after" <= $6::timestamptz);
