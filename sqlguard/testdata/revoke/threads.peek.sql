-- threads.peek (select-one) on threads
-- $1: value 0 (id)
-- $2: session
-- $3: subject
-- $4: issued-at
-- $5: groups member
SELECT "sg_s"."sg_found", "sg_r".* FROM (SELECT EXISTS (SELECT 1 FROM "threads" AS "t" WHERE "t"."id" = $1 AND EXISTS (SELECT 1 FROM "sessions" AS "sg_sess", "subjects" AS "sg_subj" WHERE "sg_sess"."id" = $2::text AND "sg_sess"."revoked_at" IS NULL AND "sg_sess"."subject" = $3 AND "sg_subj"."name" = $3 AND "sg_subj"."valid_after" <= $4::timestamptz)) AS "sg_found") AS "sg_s" LEFT JOIN (SELECT TRUE AS "sg_ok", "sg_q".* FROM (SELECT t.id, t.title FROM (SELECT * FROM "threads" AS "t" WHERE ("t"."id" = $1) AND ("t"."group_id" = ANY($5::int8[])) AND EXISTS (SELECT 1 FROM "sessions" AS "sg_sess", "subjects" AS "sg_subj" WHERE "sg_sess"."id" = $2::text AND "sg_sess"."revoked_at" IS NULL AND "sg_sess"."subject" = $3 AND "sg_subj"."name" = $3 AND "sg_subj"."valid_after" <= $4::timestamptz)) AS "t") AS "sg_q") AS "sg_r" ON TRUE;
