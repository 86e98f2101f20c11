-- threads.upsert (upsert) on threads
-- $1: value 0 (id)
-- $2: value 1 (title)
-- $3: value 2 (group_id)
-- $4: subject
-- $5: group-match moderator ∩ value 2 (group_id)
-- $6: groups moderator
-- $7: groups member
WITH "sg_done" AS (INSERT INTO "threads" ("id", "title", "group_id", "created_by") SELECT $1, $2, $3, $4 WHERE ($3 = $5::int8) ON CONFLICT ("id") DO UPDATE SET "title" = EXCLUDED."title", "group_id" = EXCLUDED."group_id" WHERE ("threads"."group_id" = ANY($6::int8[])) RETURNING "id") SELECT 0, NULL::text, "sg_done"."id" FROM "sg_done" UNION ALL SELECT CASE WHEN NOT COALESCE(($3 = $5::int8), FALSE) THEN 3 WHEN COALESCE((SELECT COALESCE(("threads"."group_id" = ANY($7::int8[])), FALSE) FROM "threads" WHERE "threads"."id" = $1), FALSE) THEN 2 ELSE 5 END, (SELECT CASE WHEN COALESCE(("threads"."group_id" = ANY($7::int8[])), FALSE) THEN "threads"."group_id"::text END FROM "threads" WHERE "threads"."id" = $1), NULL WHERE NOT EXISTS (SELECT 1 FROM "sg_done");
