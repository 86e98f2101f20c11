-- threads.list (select-list) on threads
-- $1: groups member
-- $2: session
-- $3: subject
-- $4: issued-at
SELECT "sg_m".* FROM (SELECT id FROM (SELECT * FROM "threads" WHERE ("threads"."group_id" = ANY($1::int8[]))) AS "threads" ORDER BY id DESC LIMIT 50) AS "sg_m" WHERE EXISTS (SELECT 1 FROM "sessions" AS "sg_sess", "subjects" AS "sg_subj" WHERE "sg_sess"."id" = $2::text AND "sg_sess"."revoked_at" IS NULL AND "sg_sess"."subject" = $3 AND "sg_subj"."name" = $3 AND "sg_subj"."valid_after" <= $4::timestamptz);

-- for admin capabilities:
-- $1: admin
-- $2: session
-- $3: subject
-- $4: issued-at
SELECT "sg_m".* FROM (SELECT id FROM (SELECT * FROM "threads" WHERE ($1)) AS "threads" ORDER BY id DESC LIMIT 50) AS "sg_m" WHERE EXISTS (SELECT 1 FROM "sessions" AS "sg_sess", "subjects" AS "sg_subj" WHERE "sg_sess"."id" = $2::text AND "sg_sess"."revoked_at" IS NULL AND "sg_sess"."subject" = $3 AND "sg_subj"."name" = $3 AND "sg_subj"."valid_after" <= $4::timestamptz);
