-- threads.get (select-one) on threads
-- $1: value 0 (id)
-- $2: groups member
-- $3: admin
SELECT t.id, t.title FROM (SELECT * FROM "threads" AS "t" WHERE ("t"."id" = $1) AND ("t"."group_id" = ANY($2::int8[]) OR $3)) AS "t";
