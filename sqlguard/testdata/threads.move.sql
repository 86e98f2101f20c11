-- threads.move (update) on threads
-- $1: value 1 (group_id)
-- $2: value 0 (id)
-- $3: groups moderator
-- $4: admin
-- $5: group-match moderator ∩ value 1 (group_id)
-- $6: groups member
WITH "sg_done" AS (UPDATE "threads" SET "group_id" = $1 WHERE "threads"."id" = $2 AND ("threads"."group_id" = ANY($3::int8[]) OR $4) AND ($1 = $5::int8 OR $4) RETURNING "id", "group_id") SELECT 0, NULL::text, "sg_done"."id", "sg_done"."group_id" FROM "sg_done" UNION ALL SELECT CASE WHEN NOT COALESCE(("threads"."group_id" = ANY($6::int8[]) OR $4), FALSE) THEN 1 WHEN NOT COALESCE(("threads"."group_id" = ANY($3::int8[]) OR $4), FALSE) THEN 2 WHEN NOT COALESCE(($1 = $5::int8 OR $4), FALSE) THEN 3 ELSE 4 END, CASE WHEN COALESCE(("threads"."group_id" = ANY($6::int8[]) OR $4), FALSE) THEN "threads"."group_id"::text END, NULL, NULL FROM "threads" WHERE "threads"."id" = $2 AND NOT EXISTS (SELECT 1 FROM "sg_done");
