-- posts.list (select-list) on posts
-- $1: groups member
-- $2: session
-- $3: subject
-- $4: issued-at
SELECT "sg_m".* FROM (SELECT p.id FROM (SELECT * FROM "posts" AS "p" WHERE EXISTS (SELECT 1 FROM "threads" AS "p1" WHERE "p1"."id" = "p"."thread_id" AND ("p1"."group_id" = ANY($1::int8[])))) AS "p" ORDER BY p.id) AS "sg_m" WHERE EXISTS (SELECT 1 FROM "sessions" AS "sg_sess", "subjects" AS "sg_subj" WHERE "sg_sess"."id" = $2::text AND "sg_sess"."revoked_at" IS NULL AND "sg_sess"."subject" = $3 AND "sg_subj"."name" = $3 AND "sg_subj"."valid_after" <= $4::timestamptz);
