-- threads.list.two (select-list) on threads
-- $1: groups member
-- $2: value 0 (arg 1)
-- $3: value 1 (arg 2)
SELECT id FROM (SELECT * FROM "threads" WHERE ("threads"."group_id" = ANY($1::int8[]))) AS "threads" WHERE id = $2 OR id = $3 ORDER BY id;
