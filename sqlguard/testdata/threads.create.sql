-- threads.create (insert) on threads
-- $1: value 0 (title)
-- $2: value 1 (group_id)
-- $3: subject
-- $4: group-match member ∩ value 1 (group_id)
INSERT INTO "threads" ("title", "group_id", "created_by") SELECT $1, $2, $3 WHERE ($2 = $4::int8) RETURNING "id";
