-- threads.delete (delete) on threads
-- $1: value 0 (id)
-- $2: groups moderator
-- $3: admin
-- $4: groups member
WITH "sg_done" AS (DELETE FROM "threads" WHERE "threads"."id" = $1 AND ("threads"."group_id" = ANY($2::int8[]) OR $3) RETURNING 1) SELECT 0, NULL::text FROM "sg_done" UNION ALL SELECT CASE WHEN NOT COALESCE(("threads"."group_id" = ANY($4::int8[]) OR $3), FALSE) THEN 1 WHEN NOT COALESCE(("threads"."group_id" = ANY($2::int8[]) OR $3), FALSE) THEN 2 ELSE 4 END, CASE WHEN COALESCE(("threads"."group_id" = ANY($4::int8[]) OR $3), FALSE) THEN "threads"."group_id"::text END FROM "threads" WHERE "threads"."id" = $1 AND NOT EXISTS (SELECT 1 FROM "sg_done");
