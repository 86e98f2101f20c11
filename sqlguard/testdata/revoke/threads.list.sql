-- threads.list (select-list) on threads
-- $1: session
-- $2: subject
-- $3: issued-at
-- $4: groups member
SELECT "sg_l"."sg_live", "sg_q".* FROM (SELECT EXISTS (SELECT 1 FROM "sessions" AS "sg_sess", "subjects" AS "sg_subj" WHERE "sg_sess"."id" = $1::text AND "sg_sess"."revoked_at" IS NULL AND "sg_sess"."subject" = $2 AND "sg_subj"."name" = $2 AND "sg_subj"."valid_after" <= $3::timestamptz) AS "sg_live" OFFSET 0) AS "sg_l" LEFT JOIN (SELECT TRUE AS "sg_row", "sg_m".* FROM (SELECT id FROM (SELECT * FROM "threads" WHERE ("threads"."group_id" = ANY($4::int8[]))) AS "threads" ORDER BY id DESC LIMIT 50) AS "sg_m") AS "sg_q" ON "sg_l"."sg_live";

-- for admin capabilities:
-- $1: session
-- $2: subject
-- $3: issued-at
-- $4: admin
SELECT "sg_l"."sg_live", "sg_q".* FROM (SELECT EXISTS (SELECT 1 FROM "sessions" AS "sg_sess", "subjects" AS "sg_subj" WHERE "sg_sess"."id" = $1::text AND "sg_sess"."revoked_at" IS NULL AND "sg_sess"."subject" = $2 AND "sg_subj"."name" = $2 AND "sg_subj"."valid_after" <= $3::timestamptz) AS "sg_live" OFFSET 0) AS "sg_l" LEFT JOIN (SELECT TRUE AS "sg_row", "sg_m".* FROM (SELECT id FROM (SELECT * FROM "threads" WHERE ($4)) AS "threads" ORDER BY id DESC LIMIT 50) AS "sg_m") AS "sg_q" ON "sg_l"."sg_live";
