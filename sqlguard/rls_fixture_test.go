package sqlguard_test

import (
	"context"
	"strings"
	"testing"
	"time"

	sq "github.com/Masterminds/squirrel"
	"github.com/jackc/pgx/v5"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/internal/testdb"
	"github.com/keyhole-go/keyhole/sqlguard"
	"github.com/keyhole-go/keyhole/sqlguard/wall"
)

// The fixtures of the audit, lock and second-wall tests: a forum with
// threads, posts (one hop) and comments (two hops), and a table no policy
// names.

var wallRoles = func() *capability.Roles {
	r, err := capability.Chain("member", "moderator")
	if err != nil {
		panic(err)
	}
	return r
}()

const wallSchema = `
create table threads (
	id bigserial primary key,
	title text not null,
	created_by text,
	group_id bigint
);
create index threads_group_id_id on threads (group_id, id);
create table posts (
	id bigserial primary key,
	content text not null,
	author text,
	thread_id bigint not null references threads (id) on delete cascade
);
create index posts_thread_id on posts (thread_id);
create table comments (
	id bigserial primary key,
	body text not null,
	author text,
	post_id bigint not null references posts (id) on delete cascade
);
create table secrets (id int primary key, v text);
insert into secrets values (1, 'launch codes');
`

var wallThread = []sqlguard.Parent{{Column: "thread_id", Table: "threads"}}

// wallForum is the registry the second wall is generated from, and the
// policies the differential test runs.
type wallForum struct {
	reg *sqlguard.Registry
	ops map[string]any // policy name -> *Write, *List, *Get
}

func newWallForum(t testing.TB) *wallForum {
	t.Helper()
	reg := sqlguard.MustNewRegistry(wallRoles, capability.KindInt64)
	f := &wallForum{reg: reg, ops: map[string]any{}}
	w := func(p *sqlguard.Write) { f.ops[p.Info().Name] = p }
	w(reg.MustInsert(sqlguard.Policy{Name: "threads.create", Table: "threads",
		Columns: []string{"title", "group_id"}, SubjectColumn: "created_by",
		GroupColumn: "group_id", Role: "member", AdminOverride: true, Returning: []string{"id"}}))
	w(reg.MustDelete(sqlguard.Policy{Name: "threads.delete", Table: "threads", Key: []string{"id"},
		GroupColumn: "group_id", Role: "moderator", ReadRole: "member", AdminOverride: true}))
	w(reg.MustUpdate(sqlguard.Policy{Name: "threads.move", Table: "threads", Key: []string{"id"}, Set: []string{"group_id"},
		GroupColumn: "group_id", Role: "moderator", ReadRole: "member", AdminOverride: true}))
	w(reg.MustUpdate(sqlguard.Policy{Name: "threads.rename", Table: "threads", Key: []string{"id"}, Set: []string{"title"},
		GroupColumn: "group_id", Role: "member"}))
	w(reg.MustUpsert(sqlguard.Policy{Name: "threads.upsert", Table: "threads",
		Columns: []string{"id", "title", "group_id"}, Key: []string{"id"}, Set: []string{"title", "group_id"},
		SubjectColumn: "created_by", GroupColumn: "group_id", Role: "moderator", ReadRole: "member"}))
	w(reg.MustInsert(sqlguard.Policy{Name: "posts.create", Table: "posts",
		Columns: []string{"content", "thread_id"}, SubjectColumn: "author", Parents: wallThread,
		GroupColumn: "group_id", Role: "member", AdminOverride: true, Lock: sqlguard.LockShare}))
	w(reg.MustUpdate(sqlguard.Policy{Name: "posts.edit", Table: "posts", Key: []string{"id"}, Set: []string{"content"},
		Parents: wallThread, GroupColumn: "group_id", Role: "moderator", ReadRole: "member", OwnerColumn: "author"}))
	w(reg.MustUpdate(sqlguard.Policy{Name: "posts.move", Table: "posts", Key: []string{"id"}, Set: []string{"thread_id"},
		Parents: wallThread, GroupColumn: "group_id", Role: "moderator", ReadRole: "member"}))
	w(reg.MustDelete(sqlguard.Policy{Name: "posts.delete", Table: "posts", Key: []string{"id"},
		Parents: wallThread, GroupColumn: "group_id", Role: "moderator", OwnerColumn: "author", AdminOverride: true}))
	w(reg.MustInsert(sqlguard.Policy{Name: "comments.create", Table: "comments",
		Columns: []string{"body", "post_id"}, SubjectColumn: "author",
		Parents:     []sqlguard.Parent{{Column: "post_id", Table: "posts"}, {Column: "thread_id", Table: "threads"}},
		GroupColumn: "group_id", Role: "member", ReadRole: "member", Lock: sqlguard.LockKeyShare}))
	l := func(p *sqlguard.List) { f.ops[p.Info().Name] = p }
	l(reg.MustList(sqlguard.Policy{Name: "threads.list", Table: "threads", GroupColumn: "group_id", Role: "member",
		AdminOverride: true, Query: sq.Select("id").OrderBy("id")}))
	l(reg.MustList(sqlguard.Policy{Name: "posts.list", Table: "posts", Alias: "p", Parents: wallThread,
		GroupColumn: "group_id", Role: "member", OwnerColumn: "author", AdminOverride: true, Query: sq.Select("p.id").OrderBy("p.id")}))
	l(reg.MustList(sqlguard.Policy{Name: "comments.list", Table: "comments", Alias: "c",
		Parents:     []sqlguard.Parent{{Column: "post_id", Table: "posts"}, {Column: "thread_id", Table: "threads"}},
		GroupColumn: "group_id", Role: "member", Query: sq.Select("c.id").OrderBy("c.id")}))
	g := func(p *sqlguard.Get) { f.ops[p.Info().Name] = p }
	g(reg.MustGet(sqlguard.Policy{Name: "threads.get", Table: "threads", Alias: "t", Key: []string{"id"},
		GroupColumn: "group_id", Role: "member", AdminOverride: true, Query: sq.Select("t.id")}))
	return f
}

// wallSeed: threads 1..8 in groups 1..4 (two each), posts 1..16 (two per
// thread, authors alice and bob), comments 1..16 (one per post).
const wallSeed = `
insert into threads (id, title, created_by, group_id)
	select i, 'thread ' || i, 'alice', (i + 1) / 2 from generate_series(1, 8) i;
insert into posts (id, content, author, thread_id)
	select i, 'post ' || i, case when i % 2 = 0 then 'alice' else 'bob' end, (i + 1) / 2 from generate_series(1, 16) i;
insert into comments (id, body, author, post_id)
	select i, 'comment ' || i, 'carol', i from generate_series(1, 16) i;
select setval('threads_id_seq', 100), setval('posts_id_seq', 100), setval('comments_id_seq', 100);
`

// wallDB is a database with the second wall applied.
type wallDB struct {
	*testdb.DB
	opts     wall.Options
	testRole string // the role of db.Pool
}

// newWallDB creates a database with wallSchema and seed, and applies the
// second wall of reg (when reg is not nil) with roles prefixed by the
// database's name, dropped at cleanup.
func newWallDB(t testing.TB, reg *sqlguard.Registry) *wallDB {
	t.Helper()
	ctx := context.Background()
	db := testdb.New(t, wallSchema)
	if _, err := db.Owner.Exec(ctx, wallSeed); err != nil {
		t.Fatal(err)
	}
	w := &wallDB{DB: db}
	if err := db.Pool.QueryRow(ctx, "select current_user").Scan(&w.testRole); err != nil {
		t.Fatal(err)
	}
	if reg == nil {
		return w
	}
	w.opts = applyWall(t, db, reg, w.testRole)
	return w
}

// applyWall applies the second wall of reg to db, with roles prefixed by
// the database's name (dropped at cleanup) and granted to testRole.
func applyWall(t testing.TB, db *testdb.DB, reg *sqlguard.Registry, testRole string) wall.Options {
	t.Helper()
	ctx := context.Background()
	opts := wall.Options{Prefix: db.Name + "_", Grantees: []string{testRole}}
	script, err := wall.Script(reg, opts)
	if err != nil {
		t.Fatal(err)
	}
	roles := []string{opts.AppRole()}
	for _, r := range reg.Roles().Names() {
		roles = append(roles, opts.RoleFor(r))
	}
	t.Cleanup(func() {
		ctx := context.Background()
		var q []string
		for _, r := range roles {
			var exists bool
			if err := db.Owner.QueryRow(ctx, "select exists (select from pg_roles where rolname = $1)", r).Scan(&exists); err != nil {
				t.Errorf("drop wall roles: %v", err)
				return
			}
			if exists {
				q = append(q, pgx.Identifier{r}.Sanitize())
			}
		}
		if len(q) == 0 {
			return
		}
		list := strings.Join(q, ", ")
		if _, err := db.Owner.Exec(ctx, "drop owned by "+list+"; drop role "+list); err != nil {
			t.Errorf("drop wall roles: %v", err)
		}
	})
	if _, err := db.Owner.Exec(ctx, script); err != nil {
		t.Fatalf("apply the second wall: %v\n%s", err, script)
	}
	return opts
}

// wallCap builds a capability of wallRoles.
func wallCap(t testing.TB, subject string, admin bool, roleAt map[int64]string) *capability.Capability {
	t.Helper()
	p := capability.Params{Subject: subject, Admin: admin, Expiry: time.Now().Add(time.Hour), MaxGrants: 5000}
	for g, role := range roleAt {
		p.Grants = append(p.Grants, capability.Grant{Group: capability.Int64Group(g), Role: role})
	}
	c, err := capability.New(wallRoles, capability.KindInt64, p)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
