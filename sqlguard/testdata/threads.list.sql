-- threads.list (select-list) on threads
-- $1: groups member
-- $2: value 0 (arg 1)
SELECT id FROM (SELECT * FROM "threads" WHERE ("threads"."group_id" = ANY($1::int8[]))) AS "threads" WHERE id > $2 ORDER BY id DESC LIMIT 50;

-- for admin capabilities:
-- $1: admin
-- $2: value 0 (arg 1)
SELECT id FROM (SELECT * FROM "threads" WHERE ($1)) AS "threads" WHERE id > $2 ORDER BY id DESC LIMIT 50;
