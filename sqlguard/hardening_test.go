package sqlguard_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	sq "github.com/Masterminds/squirrel"
	"github.com/jackc/pgx/v5"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/internal/testdb"
	"github.com/keyhole-go/keyhole/sqlguard"
	"github.com/keyhole-go/keyhole/sqlguard/approval"
	"github.com/keyhole-go/keyhole/sqlguard/wall"
)

// TestDeclaredTextCannotEscape: a condition or a caller's query that
// could reach around the key and the guard (a parenthesis closing the
// wrapping, a comment, a second statement, a UNION, a WITH shadowing the
// table) is refused at declaration, naming the policy.
func TestDeclaredTextCannotEscape(t *testing.T) {
	del := func(cond string) func(r *sqlguard.Registry) error {
		return func(r *sqlguard.Registry) error {
			_, err := r.Delete(sqlguard.Policy{Name: "threads.delete", Table: "threads", Key: []string{"id"},
				GroupColumn: "group_id", Role: "moderator", Where: []sq.Sqlizer{sq.Expr(cond)}})
			return err
		}
	}
	list := func(where []sq.Sqlizer, q sq.SelectBuilder) func(r *sqlguard.Registry) error {
		return func(r *sqlguard.Registry) error {
			_, err := r.List(sqlguard.Policy{Name: "threads.list", Table: "threads", GroupColumn: "group_id", Role: "member",
				Where: where, Query: q})
			return err
		}
	}
	get := func(q sq.SelectBuilder) func(r *sqlguard.Registry) error {
		return func(r *sqlguard.Registry) error {
			_, err := r.Get(sqlguard.Policy{Name: "threads.get", Table: "threads", Alias: "t", Key: []string{"id"},
				GroupColumn: "group_id", Role: "member", Query: q})
			return err
		}
	}
	child := func(cond string) func(r *sqlguard.Registry) error {
		return func(r *sqlguard.Registry) error {
			_, err := r.Insert(sqlguard.Policy{Name: "posts.create", Table: "posts", Columns: []string{"content", "thread_id"},
				Parents: threadParent, GroupColumn: "group_id", Role: "member", Where: []sq.Sqlizer{sq.Expr(cond)}})
			return err
		}
	}
	notLocked := []sq.Sqlizer{sq.Expr("NOT locked")}
	for name, declare := range map[string]func(r *sqlguard.Registry) error{
		"write condition closes its parenthesis": del(`NOT "threads"."locked") OR (TRUE`),
		"write condition opens a parenthesis":    del(`(NOT "threads"."locked"`),
		"write condition second statement":       del(`TRUE; DELETE FROM threads`),
		"write condition line comment":           del(`NOT "threads"."locked" --`),
		"write condition block comment":          del(`NOT "threads"."locked" /* x`),
		"write condition open string":            del(`title <> 'x`),
		"write condition open E string":          del(`title <> E'x\') OR (TRUE`),
		"write condition open dollar quote":      del(`title <> $a$ x`),
		"write condition open identifier":        del(`"title <> 'x'`),
		"write condition string read two ways":   del(`title <> '\'' ) OR (TRUE OR '`),
		"child insert condition on parents":      child(`NOT "p1"."locked") OR (TRUE`),
		"read condition closes its parenthesis":  list([]sq.Sqlizer{sq.Expr("NOT locked) OR (TRUE")}, sq.Select("id")),
		"query suffix UNION":                     list(notLocked, sq.Select("id").Suffix("UNION SELECT id FROM threads")),
		"query suffix UNION after LIMIT":         list(notLocked, sq.Select("id").Suffix("LIMIT ? UNION SELECT id FROM threads", sqlguard.Arg)),
		"query suffix other than LIMIT":          list(nil, sq.Select("id").Suffix("LIMIT ? FOR UPDATE", sqlguard.Arg)),
		"query suffix INTERSECT":                 list(nil, sq.Select("id").Suffix("INTERSECT SELECT id FROM threads")),
		"query where EXCEPT":                     list(nil, sq.Select("id").Where("TRUE EXCEPT SELECT id FROM threads")),
		"query prefix WITH shadows the table":    list(nil, sq.Select("id").Prefix("WITH threads AS (SELECT 1 AS id, 1 AS group_id)")),
		"query where closes":                     list(nil, sq.Select("id").Where("id > 0) OR (TRUE")),
		"query where comment":                    list(nil, sq.Select("id").Where("id > 0 --")),
		"query columns FROM another table":       list(nil, sq.Select("id FROM threads AS x, threads")),
		"query columns INTO":                     list(nil, sq.Select("id INTO TEMP stolen")),
		"query join opens a string":              get(sq.Select("t.id").Join("groups AS g ON g.name = 'x")),
		"query second statement":                 get(sq.Select("t.id").Suffix("; SELECT 1")),
		"query RIGHT JOIN":                       list(nil, sq.Select("p.id").RightJoin("posts AS p ON p.thread_id = threads.id")),
		"query RIGHT OUTER JOIN":                 get(sq.Select("p.id").JoinClause("RIGHT OUTER JOIN posts AS p ON p.thread_id = t.id")),
		"query FULL JOIN":                        list(nil, sq.Select("p.id").JoinClause("FULL JOIN posts AS p ON p.thread_id = threads.id")),
		"query NATURAL FULL OUTER JOIN":          list(nil, sq.Select("id").JoinClause("NATURAL FULL OUTER JOIN posts")),
		"query comma then RIGHT JOIN":            list(nil, sq.Select("threads.id").JoinClause(", groups AS g RIGHT JOIN posts AS p ON p.id = g.id")),
		"query_to_xml in the columns":            list(nil, sq.Select("threads.id", "query_to_xml('SELECT * FROM sessions', true, false, '')::text")),
		"table_to_xml in ROWS FROM":              list(nil, sq.Select("threads.id", "x::text").JoinClause("CROSS JOIN ROWS FROM (pg_catalog.table_to_xml('sessions', true, false, '')) AS x")),
		"ts_stat in a read condition":            list([]sq.Sqlizer{sq.Expr("EXISTS (SELECT 1 FROM ts_stat('SELECT tsv FROM secrets'))")}, sq.Select("id")),
		"dblink in a write condition":            del("EXISTS (SELECT 1 FROM dblink('', 'SELECT 1') AS x (n int))"),
	} {
		t.Run(name, func(t *testing.T) {
			r := sqlguard.MustNewRegistry(forumRoles, capability.KindInt64)
			err := declare(r)
			if !errors.Is(err, sqlguard.ErrDeclaration) {
				t.Fatalf("got %v, want ErrDeclaration", err)
			}
			if !strings.Contains(err.Error(), ": threads.") && !strings.Contains(err.Error(), ": posts.") {
				t.Errorf("error %q does not name the policy", err)
			}
			if len(r.Policies()) != 0 {
				t.Errorf("refused policy was registered")
			}
		})
	}
}

// TestDeclaredTextBalancedInStrings: parentheses, quotes and comment
// markers inside strings, E-strings, dollar quotes and quoted
// identifiers are not structure; such conditions and queries declare and
// run against PostgreSQL with the guard still deciding.
func TestDeclaredTextBalancedInStrings(t *testing.T) {
	kind := capability.KindInt64
	db := testdb.New(t, forumSchema(kind))
	seedForum(t, db, kind)
	ctx := t.Context()
	c := forumCaps(t, kind)
	r := sqlguard.MustNewRegistry(forumRoles, kind)
	conds := []sq.Sqlizer{
		sq.Expr(`"threads"."title" <> ') OR (TRUE; --'`),
		sq.Expr(`"threads"."title" <> E'\') OR (TRUE /*'`),
		sq.Expr(`"threads"."title" <> $q$ ) -- $q$ AND "threads"."title" <> $$(;$$`),
		sq.Expr(`("threads"."title" IS NOT NULL) AND (? <> '(') AND "threads"."title" NOT LIKE '%\_(%'`, sqlguard.Arg),
	}
	list := r.MustList(sqlguard.Policy{Name: "threads.list", Table: "threads", Alias: "t", GroupColumn: "group_id", Role: "member",
		Where: []sq.Sqlizer{sq.Expr(`"t"."title" NOT LIKE '%)%'`)},
		Query: sq.Select(`t.id AS ")"`, `(SELECT count(*) FROM posts AS p WHERE p.thread_id = t.id) AS n`).
			Where(`t.title <> ?`, "(").OrderBy("t.id").Suffix("LIMIT ? OFFSET ?", sqlguard.Arg, sqlguard.Arg),
	})
	del := r.MustDelete(sqlguard.Policy{Name: "threads.delete", Table: "threads", Key: []string{"id"},
		GroupColumn: "group_id", Role: "moderator", Where: conds})
	if got := list.Info().Joins; !slices.Equal(got, []string{"posts"}) {
		t.Errorf("list joins = %v, want [posts]", got)
	}
	inTx(t, db.Pool, func(tx pgx.Tx) {
		rows, err := list.Query(ctx, tx, c.alice, 10, 0)
		if err != nil {
			t.Fatal(err)
		}
		type row struct{ ID, N int64 }
		got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
		if err != nil {
			t.Fatal(err)
		}
		if want := []row{{1, 1}, {2, 2}, {5, 0}}; !slices.Equal(got, want) {
			t.Errorf("alice lists %v, want %v", got, want)
		}
		if err := del.Exec(ctx, tx, c.alice, int64(1), "x"); !errors.Is(err, sqlguard.ErrNotFound) {
			t.Errorf("delete in a member group: got %v, want not found", err)
		}
		if err := del.Exec(ctx, tx, c.alice, int64(2), "x"); err != nil {
			t.Errorf("delete in a moderator group: %v", err)
		}
		if err := del.Exec(ctx, tx, c.empty, int64(3), "x"); !errors.Is(err, sqlguard.ErrNotFound) {
			t.Errorf("delete with no group: got %v, want not found", err)
		}
	})
}

// TestLockCatchesValuesFromTheRequest: a value moved from the capability
// to the request (SubjectColumn into Columns, a Subject placeholder into
// an Arg) and a new relation in a read's query are widenings; rewording
// does not change the lock.
func TestLockCatchesValuesFromTheRequest(t *testing.T) {
	kind := capability.KindInt64
	insert := func(cols []string, subj string) func(r *sqlguard.Registry) {
		return func(r *sqlguard.Registry) {
			r.MustInsert(sqlguard.Policy{Name: "posts.create", Table: "posts", Parents: threadParent,
				GroupColumn: "group_id", Role: "member", Columns: cols, SubjectColumn: subj})
		}
	}
	edit := func(cond sq.Sqlizer) func(r *sqlguard.Registry) {
		return func(r *sqlguard.Registry) {
			r.MustUpdate(sqlguard.Policy{Name: "posts.edit", Table: "posts", Parents: threadParent, Key: []string{"id"},
				Set: []string{"content"}, GroupColumn: "group_id", Role: "member", Where: []sq.Sqlizer{cond}})
		}
	}
	get := func(q sq.SelectBuilder) func(r *sqlguard.Registry) {
		return func(r *sqlguard.Registry) {
			r.MustGet(sqlguard.Policy{Name: "threads.get", Table: "threads", Alias: "t", Key: []string{"id"},
				GroupColumn: "group_id", Role: "member", Query: q})
		}
	}
	reg := func(declare func(r *sqlguard.Registry)) *sqlguard.Registry {
		r := sqlguard.MustNewRegistry(forumRoles, kind)
		declare(r)
		return r
	}
	tests := []struct {
		name              string
		approved, changed func(r *sqlguard.Registry)
		widened           string // "" for no change needing approval
	}{
		{"subject column moved into Columns",
			insert([]string{"content", "thread_id"}, "author"), insert([]string{"content", "thread_id", "author"}, ""),
			"posts.create now allows writing columns author; approved: content,thread_id"},
		{"subject column removed",
			insert([]string{"content", "thread_id"}, "author"), insert([]string{"content", "thread_id"}, ""),
			"posts.create now allows the subject in column none; approved: author"},
		{"subject column changed",
			insert([]string{"content", "thread_id"}, "author"), insert([]string{"content", "thread_id"}, "editor"),
			"posts.create now allows the subject in column editor; approved: author"},
		{"Subject placeholder became Arg",
			edit(sq.Expr("posts.author = ?", sqlguard.Subject)), edit(sq.Expr("posts.author = ?", sqlguard.Arg)),
			"posts.edit now allows 0 subject bindings in its conditions; approved: 1"},
		{"condition reworded keeping Subject",
			edit(sq.Expr("posts.author = ?", sqlguard.Subject)), edit(sq.Expr(`"posts"."author" IS NOT DISTINCT FROM ?`, sqlguard.Subject)),
			""},
		{"new join",
			get(sq.Select("t.id")), get(sq.Select("t.id", "g.name").Join("groups AS g ON g.id = t.group_id")),
			"threads.get now allows reading relations groups; approved: none"},
		{"new relation in a subquery",
			get(sq.Select("t.id")), get(sq.Select("t.id", "(SELECT max(s.v) FROM secrets AS s) AS v")),
			"threads.get now allows reading relations secrets; approved: none"},
		{"join reworded",
			get(sq.Select("t.id", "g.name").Join("groups AS g ON g.id = t.group_id")),
			get(sq.Select("t.id", "x.name AS n").LeftJoin(`"groups" x ON x.id = t.group_id`)),
			""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, after := reg(tc.approved), reg(tc.changed)
			a, err := approval.Parse(approval.File(before))
			if err != nil {
				t.Fatal(err)
			}
			d := a.Diff(after)
			var wide []string
			for _, c := range d.Widened {
				wide = append(wide, c.String())
			}
			if tc.widened == "" {
				if d.NeedsApproval() || string(approval.File(before)) != string(approval.File(after)) {
					t.Errorf("rewording needs approval %v or changed the lock:\n%s\nwas\n%s", wide, approval.File(after), approval.File(before))
				}
				return
			}
			if !slices.Contains(wide, tc.widened) {
				t.Errorf("widened %v, want %q", wide, tc.widened)
			}
			p := after.Policies()[0]
			if err := a.Check(after, p); !errors.Is(err, sqlguard.ErrNotApproved) {
				t.Errorf("Check: got %v, want ErrNotApproved", err)
			}
		})
	}
	// The audit report shows a Subject placeholder as <subject>.
	r := reg(edit(sq.Expr("posts.author = ? AND ? <> ''", sqlguard.Subject, sqlguard.Arg)))
	var b strings.Builder
	if err := approval.NewReport(r).WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "posts.author = <subject> AND ? <> ''") {
		t.Errorf("report:\n%s", b.String())
	}
}

// TestWithCapabilityNilInsideTx: a nil capability sees nothing, also in
// a transaction where WithCapability already ran for a capability (one
// after the other, and nested), and a capability after it sees its own.
func TestWithCapabilityNilInsideTx(t *testing.T) {
	f := newWallForum(t)
	w := newWallDB(t, f.reg)
	ctx := t.Context()
	alice := wallCap(t, "alice", true, map[int64]string{1: "member", 2: "moderator"})
	outer, err := w.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer outer.Rollback(ctx)
	count := func(tx pgx.Tx) int64 { return ids(t, tx, "select count(*) from threads")[0] }
	see := func(c *capability.Capability, want int64) func(tx pgx.Tx) error {
		return func(tx pgx.Tx) error {
			if got := count(tx); got != want {
				t.Errorf("%v sees %d threads, want %d", c.Subject(), got, want)
			}
			var admin, subject string
			if err := tx.QueryRow(ctx, "select current_setting($1), current_setting($2)", w.opts.AdminSetting(), w.opts.SubjectSetting()).Scan(&admin, &subject); err != nil {
				return err
			}
			if c == nil && (admin != "false" || subject != "") {
				t.Errorf("nil capability: admin %q, subject %q", admin, subject)
			}
			return nil
		}
	}
	nonAdmin := wallCap(t, "bob", false, map[int64]string{2: "member"})
	steps := []struct {
		c    *capability.Capability
		want int64
	}{{alice, 8}, {nil, 0}, {nonAdmin, 2}, {nil, 0}, {alice, 8}}
	for _, s := range steps {
		if err := wall.WithCapability(ctx, outer, s.c, w.opts, see(s.c, s.want)); err != nil {
			t.Fatal(err)
		}
	}
	// Nested: nil inside a capability's transaction.
	err = wall.WithCapability(ctx, w.Pool, nonAdmin, w.opts, func(tx pgx.Tx) error {
		if err := see(nonAdmin, 2)(tx); err != nil {
			return err
		}
		return wall.WithCapability(ctx, tx, nil, w.opts, see(nil, 0))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSecondWallSubjectColumn: behind the wall a raw insert cannot set the
// subject column of an insert policy to another subject than the
// capability's; with its own subject it can.
func TestSecondWallSubjectColumn(t *testing.T) {
	f := newWallForum(t)
	w := newWallDB(t, f.reg)
	ctx := t.Context()
	alice := wallCap(t, "alice", false, map[int64]string{1: "member"})
	raw := func(sql string) error {
		return wall.WithCapability(ctx, w.Pool, alice, w.opts, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, sql)
			return err
		})
	}
	for _, sql := range []string{
		"insert into posts (content, author, thread_id) values ('forged', 'bob', 1)",
		"insert into posts (content, author, thread_id) values ('forged', null, 1)",
		"insert into threads (title, created_by, group_id) values ('forged', 'bob', 1)",
		"insert into comments (body, author, post_id) values ('forged', 'bob', 1)",
	} {
		if err := raw(sql); !sqlguard.IsInsufficientPrivilege(err) {
			t.Errorf("%s: got %v, want insufficient_privilege", sql, err)
		}
	}
	if got := ownerIDs(t, w, "select (select count(*) from posts where content = 'forged') + (select count(*) from threads where title = 'forged') + (select count(*) from comments where body = 'forged')"); got[0] != 0 {
		t.Errorf("%d forged rows written", got[0])
	}
	for _, sql := range []string{
		"insert into posts (content, author, thread_id) values ('own', 'alice', 1)",
		"insert into threads (title, created_by, group_id) values ('own', 'alice', 1)",
	} {
		if err := raw(sql); err != nil {
			t.Errorf("%s: %v", sql, err)
		}
	}
}

// TestSecondWallRefusesUnapproved: a registry whose approved lock refuses
// a policy generates no wall, and says which policy.
func TestSecondWallRefusesUnapproved(t *testing.T) {
	f := newWallForum(t)
	approved, err := approval.Parse(approval.File(f.reg))
	if err != nil {
		t.Fatal(err)
	}
	if err := approval.Enforce(f.reg, approved); err != nil {
		t.Fatal(err)
	}
	if _, err := wall.Script(f.reg, wall.Options{}); err != nil {
		t.Fatalf("approved registry: %v", err)
	}
	f.reg.MustDelete(sqlguard.Policy{Name: "secrets.purge", Table: "secrets", Key: []string{"id"}, Unguarded: "not approved"})
	f.reg.MustInsert(sqlguard.Policy{Name: "threads.import", Table: "threads", Columns: []string{"title", "group_id"},
		GroupColumn: "group_id", Role: "member"})
	script, err := wall.Script(f.reg, wall.Options{})
	if !errors.Is(err, sqlguard.ErrNotApproved) || !strings.Contains(err.Error(), "secrets.purge") || !strings.Contains(err.Error(), "threads.import") {
		t.Errorf("got %v, want ErrNotApproved naming secrets.purge and threads.import", err)
	}
	if script != "" {
		t.Errorf("a script was generated:\n%s", script)
	}
}

// TestScanChecksDestinationsFirst: a write's Row.Scan with a wrong number
// of destinations fails before the statement is sent, so that no row is
// written (with autocommit it would stay written behind an error).
func TestScanChecksDestinationsFirst(t *testing.T) {
	kind := capability.KindInt64
	db := testdb.New(t, forumSchema(kind))
	seedForum(t, db, kind)
	f := newForum(t, kind)
	c := forumCaps(t, kind)
	ctx := t.Context()
	var id, g, extra int64
	count := func(sql string) int64 {
		var n int64
		if err := db.Owner.QueryRow(ctx, sql).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, tc := range []struct {
		name  string
		scan  func() error
		check string // a count that must stay 0
	}{
		{"rows shape, too many", func() error {
			return f.createThread.QueryRow(ctx, db.Pool, c.alice, "dest", grp(kind, 1)).Scan(&id, &extra)
		}, "select count(*) from threads where title = 'dest'"},
		{"status shape, too few", func() error {
			return f.moveThread.QueryRow(ctx, db.Pool, c.admin, int64(3), grp(kind, 1)).Scan(&id)
		}, "select count(*) from threads where id = 3 and group_id = 1"},
		{"status shape, too many", func() error {
			return f.announce.QueryRow(ctx, db.Pool, c.alice, "dest", int64(2)).Scan(&id, &g)
		}, "select count(*) from posts where content = 'dest'"},
		{"no returning", func() error {
			return f.deleteThread.QueryRow(ctx, db.Pool, c.alice, int64(2)).Scan(&id)
		}, "select 1 - count(*) from threads where id = 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.scan(); !errors.Is(err, sqlguard.ErrInvalidInput) {
				t.Errorf("got %v, want ErrInvalidInput", err)
			}
			if n := count(tc.check); n != 0 {
				t.Errorf("the write ran: %s = %d", tc.check, n)
			}
		})
	}
}

// TestQueryJoins: the relations a read's query reads besides its table,
// as PolicyInfo.Joins (and the lock file's joins=) lists them.
func TestQueryJoins(t *testing.T) {
	for _, tc := range []struct {
		q    sq.SelectBuilder
		want []string
	}{
		{sq.Select("t.id"), nil},
		{sq.Select("t.id", "extract(epoch FROM t.created_at)", "substring(t.title FROM 1 FOR 3)"), nil},
		{sq.Select("t.id", "g.name").Join("groups AS g ON g.id = t.group_id").LeftJoin(`public."Users" u ON u.id = t.created_by`), []string{"groups", "public.Users"}},
		{sq.Select("t.id").Where("t.id IN (SELECT p.thread_id FROM posts AS p, comments AS c WHERE c.post_id = p.id)"), []string{"comments", "posts"}},
		{sq.Select("t.id", "n").JoinClause("CROSS JOIN LATERAL generate_series(1, 2) AS n").JoinClause(", secrets AS s"), []string{"generate_series()", "secrets"}},
		{sq.Select("t.id").Where("EXISTS (SELECT 1 FROM ONLY audit.log l WHERE l.id = t.id UNION SELECT 1 FROM groups)"), []string{"audit.log", "groups"}},
		// A comma after a join's ON or USING starts the FROM list's next
		// item; TABLE t names a relation wherever it stands; ROWS FROM
		// lists functions.
		{sq.Select("t.id", "s.id").Join("posts AS p ON p.thread_id = t.id, sessions AS s"), []string{"posts", "sessions"}},
		{sq.Select("t.id", "s.id").JoinClause("JOIN posts AS p USING (id), sessions AS s"), []string{"posts", "sessions"}},
		{sq.Select("t.id", "(SELECT count(*) FROM (SELECT 'a' WHERE false UNION ALL TABLE sessions) AS x)", "EXISTS (TABLE users)"), []string{"sessions", "users"}},
		{sq.Select("t.id", "x").JoinClause("CROSS JOIN ROWS FROM (generate_series(1, 2), unnest(ARRAY[1])) AS x"), []string{"generate_series()", "unnest()"}},
		// right() and full as words are not joins; a RIGHT JOIN inside a
		// parenthesized join keeps the guarded rows' LEFT JOIN around it.
		{sq.Select("t.id", "right(t.title, 3) AS full").LeftJoin("(posts p RIGHT JOIN comments c ON c.post_id = p.id) ON p.thread_id = t.id"), []string{"comments", "posts"}},
		{sq.Select("t.id").Join("((posts p JOIN (TABLE secrets) AS s ON true)) ON p.thread_id = t.id").Join("(SELECT 1 FROM groups) AS g ON true").Join("(VALUES (1)) AS v (x) ON true"), []string{"groups", "posts", "secrets"}},
	} {
		r := sqlguard.MustNewRegistry(forumRoles, capability.KindInt64)
		g, err := r.Get(sqlguard.Policy{Name: "threads.get", Table: "threads", Alias: "t", Key: []string{"id"},
			GroupColumn: "group_id", Role: "member", Query: tc.q})
		if err != nil {
			t.Errorf("%v: %v", tc.q, err)
			continue
		}
		if got := g.Info().Joins; !slices.Equal(got, tc.want) {
			sql, _, _ := tc.q.ToSql()
			t.Errorf("%s: joins %q, want %q", sql, got, tc.want)
		}
	}
}

// TestConditionJoins: the relations a read's conditions read are its
// joins too (the lock file's joins=), beside its query's.
func TestConditionJoins(t *testing.T) {
	r := sqlguard.MustNewRegistry(forumRoles, capability.KindInt64)
	l, err := r.List(sqlguard.Policy{Name: "threads.list", Table: "threads", GroupColumn: "group_id", Role: "member",
		Where: []sq.Sqlizer{sq.Expr("NOT EXISTS (SELECT 1 FROM bans AS b WHERE b.user_name = ?)", sqlguard.Subject), sq.Expr("(id, title) IN (TABLE pinned)")},
		Query: sq.Select("threads.id", "g.name").Join("groups AS g ON g.id = threads.group_id")})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := l.Info().Joins, []string{"bans", "groups", "pinned"}; !slices.Equal(got, want) {
		t.Errorf("joins %q, want %q", got, want)
	}
	l, err = r.List(sqlguard.Policy{Name: "threads.mine", Table: "threads", GroupColumn: "group_id", Role: "member",
		Where: []sq.Sqlizer{sq.Eq{"created_by": sqlguard.Subject}}, Query: sq.Select("id")})
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Info().Joins; len(got) != 0 {
		t.Errorf("a condition on the table's own columns: joins %q, want none", got)
	}
}
