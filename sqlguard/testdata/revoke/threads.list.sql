-- threads.list (select-list) on threads
-- $1: groups member
-- $2: session
-- $3: subject
-- $4: issued-at
SELECT id FROM (SELECT * FROM "threads" WHERE ("threads"."group_id" = ANY($1::int8[])) AND EXISTS (SELECT 1 FROM "sessions" AS "sg_sess", "subjects" AS "sg_subj" WHERE "sg_sess"."id" = $2::text AND "sg_sess"."revoked_at" IS NULL AND "sg_sess"."subject" = $3 AND "sg_subj"."name" = $3 AND "sg_subj"."valid_after" <= $4::timestamptz)) AS "threads" ORDER BY id DESC LIMIT 50;

-- for admin capabilities:
-- $1: admin
-- $2: session
-- $3: subject
-- $4: issued-at
SELECT id FROM (SELECT * FROM "threads" WHERE ($1) AND EXISTS (SELECT 1 FROM "sessions" AS "sg_sess", "subjects" AS "sg_subj" WHERE "sg_sess"."id" = $2::text AND "sg_sess"."revoked_at" IS NULL AND "sg_sess"."subject" = $3 AND "sg_subj"."name" = $3 AND "sg_subj"."valid_after" <= $4::timestamptz)) AS "threads" ORDER BY id DESC LIMIT 50;
