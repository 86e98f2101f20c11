-- threads.get (select-one) on threads
-- $1: value 0 (id)
-- $2: groups member
-- $3: session
-- $4: subject
-- $5: issued-at
SELECT "sg_m".* FROM (SELECT t.id, t.title FROM (SELECT * FROM "threads" AS "t" WHERE ("t"."id" = $1) AND ("t"."group_id" = ANY($2::int8[]))) AS "t") AS "sg_m" WHERE EXISTS (SELECT 1 FROM "sessions" AS "sg_sess", "subjects" AS "sg_subj" WHERE "sg_sess"."id" = $3::text AND "sg_sess"."revoked_at" IS NULL AND "sg_sess"."subject" = $4 AND "sg_subj"."name" = $4 AND "sg_subj"."valid_after" <= $5::timestamptz);
