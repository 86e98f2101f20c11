-- threads.peek (select-one) on threads
-- $1: session
-- $2: subject
-- $3: issued-at
-- $4: value 0 (id)
-- $5: groups member
SELECT "sg_l"."sg_live", "sg_q".* FROM (SELECT EXISTS (SELECT 1 FROM "sessions" AS "sg_sess", "subjects" AS "sg_subj" WHERE "sg_sess"."id" = $1::text AND "sg_sess"."revoked_at" IS NULL AND "sg_sess"."subject" = $2 AND "sg_subj"."name" = $2 AND "sg_subj"."valid_after" <= $3::timestamptz) AS "sg_live" OFFSET 0) AS "sg_l" LEFT JOIN (SELECT TRUE AS "sg_row", "sg_m".* FROM (SELECT "sg_s"."sg_found", "sg_r".* FROM (SELECT EXISTS (SELECT 1 FROM "threads" AS "t" WHERE "t"."id" = $4) AS "sg_found") AS "sg_s" LEFT JOIN (SELECT TRUE AS "sg_ok", "sg_q".* FROM (SELECT t.id, t.title FROM (SELECT * FROM "threads" AS "t" WHERE ("t"."id" = $4) AND ("t"."group_id" = ANY($5::int8[]))) AS "t") AS "sg_q") AS "sg_r" ON TRUE) AS "sg_m") AS "sg_q" ON "sg_l"."sg_live";
