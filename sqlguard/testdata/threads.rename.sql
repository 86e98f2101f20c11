-- threads.rename (update) on threads
-- $1: value 1 (title)
-- $2: value 0 (id)
-- $3: groups moderator
-- $4: value 2 (arg 3)
UPDATE "threads" AS "t" SET "title" = $1 WHERE "t"."id" = $2 AND ("t"."group_id" = ANY($3::int8[])) AND (NOT "t"."locked") AND ($4 <> '');
