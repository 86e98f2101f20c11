-- posts.list (select-list) on posts
-- $1: groups member
-- $2: subject
SELECT p.id FROM (SELECT * FROM "posts" AS "p" WHERE (EXISTS (SELECT 1 FROM "threads" AS "p1" WHERE "p1"."id" = "p"."thread_id" AND ("p1"."group_id" = ANY($1::int8[]))) OR "p"."author" = $2)) AS "p" ORDER BY p.id;
