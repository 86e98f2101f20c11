package sqlguard_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	sq "github.com/Masterminds/squirrel"
	"github.com/jackc/pgx/v5"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/internal/testdb"
	"github.com/keyhole-go/keyhole/sqlguard"
)

// The revocation schema: the forum's tables plus the application's
// sessions, subjects (with their cut-off) and memberships.
const revokeSchema = `
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
create table sessions (
	id text primary key,
	subject text not null,
	revoked_at timestamptz
);
create table subjects (
	name text primary key,
	valid_after timestamptz not null default '-infinity'
);
create table memberships (
	user_name text not null,
	group_id bigint not null,
	role text not null,
	primary key (user_name, group_id)
);
`

// revokeIAT is the issued-at time of the matrix's capabilities.
var revokeIAT = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// seedRevoke: threads 1 (group 1), 2 (group 2); post 11 in thread 1.
// Sessions: s-alice, s-bob, s-root live, s-old revoked. Subjects alice,
// bob, root valid since before revokeIAT, dave cut off after it (carol has
// no subject row). Memberships: alice moderator in 1, member in 2; bob
// member in 2 (his token also lists group 1: removed).
func seedRevoke(t testing.TB, db *testdb.DB) {
	t.Helper()
	for _, s := range []string{
		`insert into threads (id, title, created_by, group_id) values (1, 't1', 'seed', 1), (2, 't2', 'seed', 2)`,
		`insert into posts (id, content, author, thread_id) values (11, 'p', 'bob', 1)`,
		`insert into sessions (id, subject, revoked_at) values ('s-alice', 'alice', null), ('s-bob', 'bob', null),
			('s-root', 'root', null), ('s-old', 'alice', now()), ('s-dave', 'dave', null), ('s-carol', 'carol', null)`,
		`insert into subjects (name, valid_after) values ('alice', '2026-01-01'), ('bob', '2026-01-01'),
			('root', '2026-01-01'), ('dave', '2026-01-03')`,
		`insert into memberships values ('alice', 1, 'moderator'), ('alice', 2, 'member'), ('bob', 2, 'member')`,
		`select setval('threads_id_seq', 100), setval('posts_id_seq', 100)`,
	} {
		if _, err := db.Owner.Exec(t.Context(), s); err != nil {
			t.Fatal(err)
		}
	}
}

// revokeForum is a registry with a live session required everywhere and
// fresh membership on the writes.
type revokeForum struct {
	reg                                     *sqlguard.Registry
	create, post, del, move, upsert, rename *sqlguard.Write
	list, listPosts                         *sqlguard.List
	get, peek                               *sqlguard.Get
	createPlain, deletePlain                *sqlguard.Write // live session, no fresh membership
	unguarded                               *sqlguard.Write
}

func newRevokeForum(t testing.TB) *revokeForum {
	t.Helper()
	reg := sqlguard.MustNewRegistry(forumRoles, capability.KindInt64)
	reg.MustSessions(sqlguard.SessionTable{Table: "sessions", ID: "id", RevokedAt: "revoked_at", Subject: "subject", Required: true,
		Subjects: &sqlguard.SubjectTable{Table: "subjects", Subject: "name", ValidAfter: "valid_after"}})
	reg.MustMemberships(sqlguard.MembershipTable{Table: "memberships", Subject: "user_name", Group: "group_id", Role: "role"})
	return &revokeForum{
		reg: reg,
		create: reg.MustInsert(sqlguard.Policy{
			Name: "threads.create", Table: "threads", Columns: []string{"title", "group_id"}, SubjectColumn: "created_by",
			GroupColumn: "group_id", Role: "member", AdminOverride: true, FreshMembership: true, Returning: []string{"id"},
		}),
		createPlain: reg.MustInsert(sqlguard.Policy{
			Name: "threads.create.plain", Table: "threads", Columns: []string{"title", "group_id"},
			GroupColumn: "group_id", Role: "member",
		}),
		post: reg.MustInsert(sqlguard.Policy{
			Name: "posts.create", Table: "posts", Columns: []string{"content", "thread_id"}, SubjectColumn: "author",
			Parents: threadParent, GroupColumn: "group_id", Role: "member", Lock: sqlguard.LockShare, FreshMembership: true,
		}),
		del: reg.MustDelete(sqlguard.Policy{
			Name: "threads.delete", Table: "threads", Key: []string{"id"},
			GroupColumn: "group_id", Role: "moderator", ReadRole: "member", AdminOverride: true, FreshMembership: true,
		}),
		deletePlain: reg.MustDelete(sqlguard.Policy{
			Name: "threads.delete.plain", Table: "threads", Key: []string{"id"}, GroupColumn: "group_id", Role: "moderator",
		}),
		move: reg.MustUpdate(sqlguard.Policy{
			Name: "threads.move", Table: "threads", Key: []string{"id"}, Set: []string{"group_id"},
			GroupColumn: "group_id", Role: "member", ReadRole: "member", FreshMembership: true,
		}),
		rename: reg.MustUpdate(sqlguard.Policy{
			Name: "threads.rename", Table: "threads", Key: []string{"id"}, Set: []string{"title"},
			GroupColumn: "group_id", Role: "member", FreshMembership: true, Returning: []string{"id"},
		}),
		upsert: reg.MustUpsert(sqlguard.Policy{
			Name: "threads.upsert", Table: "threads", Columns: []string{"id", "title", "group_id"}, Key: []string{"id"},
			Set: []string{"title"}, GroupColumn: "group_id", Role: "member", ReadRole: "member", FreshMembership: true,
		}),
		unguarded: reg.MustDelete(sqlguard.Policy{
			Name: "posts.purge", Table: "posts", Key: []string{"id"}, Unguarded: "test: no group",
		}),
		list: reg.MustList(sqlguard.Policy{
			Name: "threads.list", Table: "threads", GroupColumn: "group_id", Role: "member", AdminOverride: true,
			Query: sq.Select("id").OrderBy("id DESC").Limit(50),
		}),
		listPosts: reg.MustList(sqlguard.Policy{
			Name: "posts.list", Table: "posts", Alias: "p", Parents: threadParent, GroupColumn: "group_id", Role: "member",
			Query: sq.Select("p.id").OrderBy("p.id"),
		}),
		get: reg.MustGet(sqlguard.Policy{
			Name: "threads.get", Table: "threads", Alias: "t", Key: []string{"id"}, GroupColumn: "group_id", Role: "member",
			Query: sq.Select("t.id", "t.title"),
		}),
		peek: reg.MustGet(sqlguard.Policy{
			Name: "threads.peek", Table: "threads", Alias: "t", Key: []string{"id"}, GroupColumn: "group_id", Role: "member",
			DistinguishDenied: true, Query: sq.Select("t.id", "t.title"),
		}),
	}
}

// revokeCap builds a capability with a session id and an issued-at time.
func revokeCap(t testing.TB, subject, sid string, iat time.Time, admin bool, roleAt map[int64]string) *capability.Capability {
	t.Helper()
	p := capability.Params{Subject: subject, SessionID: sid, IssuedAt: iat, Admin: admin, Expiry: time.Now().Add(time.Hour)}
	for n, role := range roleAt {
		p.Grants = append(p.Grants, capability.Grant{Group: capability.Int64Group(n), Role: role})
	}
	c, err := capability.New(forumRoles, capability.KindInt64, p)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// revokeOutcome is outcome with the ended session.
func revokeOutcome(err error) string {
	if errors.Is(err, sqlguard.ErrSessionEnded) {
		if !errors.Is(err, capability.ErrRevoked) {
			return "ended without capability.ErrRevoked"
		}
		return "ended"
	}
	return outcome(err)
}

// TestRevokeMatrix: every statement kind with a required live session and
// fresh membership, each allow beside its deny: a live session, a revoked
// one, no session id, a subject cut off after the token, a subject without
// a row, a zero issued-at, a removed membership, and the admin override.
// An ended session answers ErrSessionEnded whether or not the row exists.
func TestRevokeMatrix(t *testing.T) {
	db, f := newRevokeDB(t)
	ctx := t.Context()
	aliceRoles := map[int64]string{1: "moderator", 2: "member"}
	bobRoles := map[int64]string{1: "moderator", 2: "member"} // group 1: removed from memberships
	caps := map[string]*capability.Capability{
		"alice":        revokeCap(t, "alice", "s-alice", revokeIAT, false, aliceRoles),
		"alice-old":    revokeCap(t, "alice", "s-old", revokeIAT, false, aliceRoles),
		"alice-gone":   revokeCap(t, "alice", "s-gone", revokeIAT, false, aliceRoles), // no row: deleted
		"alice-nosid":  revokeCap(t, "alice", "", revokeIAT, false, aliceRoles),
		"alice-noiat":  revokeCap(t, "alice", "s-alice", time.Time{}, false, aliceRoles),
		"alice-forged": revokeCap(t, "alice", "s-bob", revokeIAT, false, aliceRoles), // bob's live session id
		"bob":          revokeCap(t, "bob", "s-bob", revokeIAT, false, bobRoles),
		"dave-cutoff":  revokeCap(t, "dave", "s-dave", revokeIAT, false, aliceRoles),
		"carol-norow":  revokeCap(t, "carol", "s-carol", revokeIAT, false, aliceRoles),
		"root":         revokeCap(t, "root", "s-root", revokeIAT, true, nil),
		"root-old":     revokeCap(t, "root", "s-old", revokeIAT, true, nil),
		"nil":          nil,
	}
	type action func(tx pgx.Tx, c *capability.Capability) error
	check := func(who, what string, act action, want string) {
		t.Helper()
		inTx(t, db.Pool, func(tx pgx.Tx) {
			before := revokeFingerprint(t, tx)
			err := act(tx, caps[who])
			if got := revokeOutcome(err); got != want {
				t.Errorf("%s %s: got %s, want %s (err: %v)", who, what, got, want, err)
			}
			if err != nil {
				if after := revokeFingerprint(t, tx); after != before {
					t.Errorf("%s %s: refused, but the rows changed:\n%s\n%s", who, what, before, after)
				}
			}
		})
	}
	create := func(g int64) action {
		return func(tx pgx.Tx, c *capability.Capability) error {
			var id int64
			return f.create.QueryRow(ctx, tx, c, "t", g).Scan(&id)
		}
	}
	createPlain := func(g int64) action {
		return func(tx pgx.Tx, c *capability.Capability) error { return f.createPlain.Exec(ctx, tx, c, "t", g) }
	}
	post := func(thread int64) action {
		return func(tx pgx.Tx, c *capability.Capability) error { return f.post.Exec(ctx, tx, c, "p", thread) }
	}
	del := func(id int64) action {
		return func(tx pgx.Tx, c *capability.Capability) error { return f.del.Exec(ctx, tx, c, id) }
	}
	delPlain := func(id int64) action {
		return func(tx pgx.Tx, c *capability.Capability) error { return f.deletePlain.Exec(ctx, tx, c, id) }
	}
	move := func(id, to int64) action {
		return func(tx pgx.Tx, c *capability.Capability) error { return f.move.Exec(ctx, tx, c, id, to) }
	}
	rename := func(id int64) action {
		return func(tx pgx.Tx, c *capability.Capability) error {
			var got int64
			return f.rename.QueryRow(ctx, tx, c, id, "r").Scan(&got)
		}
	}
	upsert := func(id, g int64) action {
		return func(tx pgx.Tx, c *capability.Capability) error { return f.upsert.Exec(ctx, tx, c, id, "u", g) }
	}
	purge := func(id int64) action {
		return func(tx pgx.Tx, c *capability.Capability) error { return f.unguarded.Exec(ctx, tx, c, id) }
	}
	list := func(want ...int64) action {
		return func(tx pgx.Tx, c *capability.Capability) error {
			rows, err := f.list.Query(ctx, tx, c)
			if err != nil {
				return err
			}
			ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
			if err != nil {
				return err
			}
			if fmt.Sprint(ids) != fmt.Sprint(want) {
				return fmt.Errorf("listed %v, want %v", ids, want)
			}
			return nil
		}
	}
	listPosts := func(want ...int64) action {
		return func(tx pgx.Tx, c *capability.Capability) error {
			rows, err := f.listPosts.Query(ctx, tx, c)
			if err != nil {
				return err
			}
			defer rows.Close()
			var ids []int64
			for rows.Next() {
				var id int64
				if err := rows.Scan(&id); err != nil {
					return err
				}
				ids = append(ids, id)
			}
			if err := rows.Err(); err != nil {
				return err
			}
			if fmt.Sprint(ids) != fmt.Sprint(want) {
				return fmt.Errorf("listed %v, want %v", ids, want)
			}
			return nil
		}
	}
	get := func(g *sqlguard.Get, id int64) action {
		return func(tx pgx.Tx, c *capability.Capability) error {
			var got int64
			var title string
			err := g.QueryRow(ctx, tx, c, id).Scan(&got, &title)
			if err == nil && got != id {
				return fmt.Errorf("got %d", got)
			}
			return err
		}
	}

	// A live session: every kind as before.
	check("alice", "create in 1", create(1), "ok")
	check("alice", "create in 3", create(3), "denied")
	check("alice", "plain create in 1", createPlain(1), "ok")
	check("alice", "plain create in 3", createPlain(3), "denied")
	check("alice", "post in 1", post(1), "ok")
	check("alice", "post in 404", post(404), "notfound")
	check("alice", "delete 1", del(1), "ok")
	check("alice", "delete 2", del(2), "denied")
	check("alice", "delete 404", del(404), "notfound")
	check("alice", "plain delete 1", delPlain(1), "ok")
	check("alice", "plain delete 404", delPlain(404), "notfound")
	check("alice", "move 2 to 1", move(2, 1), "ok")
	check("alice", "move 2 to 3", move(2, 3), "denied")
	check("alice", "rename 1", rename(1), "ok")
	check("alice", "rename 404", rename(404), "notfound")
	check("alice", "upsert 1", upsert(1, 1), "ok")
	check("alice", "upsert new", upsert(50, 2), "ok")
	check("alice", "purge 11", purge(11), "ok")
	check("alice", "list", list(2, 1), "ok")
	check("alice", "list posts", listPosts(11), "ok")
	check("alice", "get 1", get(f.get, 1), "ok")
	check("alice", "get 404", get(f.get, 404), "notfound")
	check("alice", "peek 1", get(f.peek, 1), "ok")
	check("alice", "peek 404", get(f.peek, 404), "notfound")
	check("root", "create in 7", create(7), "ok")
	check("root", "delete 2", del(2), "ok")
	check("root", "list", list(2, 1), "ok")

	// An ended session, or none: ErrSessionEnded on every kind, for a row
	// that exists and for one that does not, never not found or denied.
	for _, who := range []string{"alice-old", "alice-gone", "alice-nosid", "alice-noiat", "alice-forged", "dave-cutoff", "carol-norow", "root-old", "nil"} {
		check(who, "create in 1", create(1), "ended")
		check(who, "create in 3", create(3), "ended")
		check(who, "plain create in 1", createPlain(1), "ended")
		check(who, "post in 1", post(1), "ended")
		check(who, "post in 404", post(404), "ended")
		check(who, "delete 1", del(1), "ended")
		check(who, "delete 404", del(404), "ended")
		check(who, "plain delete 1", delPlain(1), "ended")
		check(who, "plain delete 404", delPlain(404), "ended")
		check(who, "move 2 to 1", move(2, 1), "ended")
		check(who, "rename 1", rename(1), "ended")
		check(who, "rename 404", rename(404), "ended")
		check(who, "upsert 1", upsert(1, 1), "ended")
		check(who, "upsert new", upsert(50, 2), "ended")
		check(who, "purge 11", purge(11), "ended")
		check(who, "list", list(), "ended")
		check(who, "list posts", listPosts(), "ended")
		check(who, "get 1", get(f.get, 1), "ended")
		check(who, "get 404", get(f.get, 404), "ended")
		check(who, "peek 1", get(f.peek, 1), "ended")
		check(who, "peek 404", get(f.peek, 404), "ended")
	}

	// A removed membership: bob's token says moderator in group 1, the
	// memberships table no longer does. The writes with fresh membership
	// refuse; a policy without it, and reads, still follow the token.
	check("bob", "create in 1", create(1), "denied")
	check("bob", "create in 2", create(2), "ok")
	check("bob", "post in 1", post(1), "notfound")
	check("bob", "post in 2", post(2), "ok")
	check("bob", "delete 1", del(1), "denied")
	check("bob", "move 1 to 2", move(1, 2), "denied")
	check("bob", "move 2 to 1", move(2, 1), "denied")
	check("bob", "rename 1", rename(1), "notfound")
	check("bob", "rename 2", rename(2), "ok")
	check("bob", "upsert 1", upsert(1, 1), "denied")
	check("bob", "plain create in 1", createPlain(1), "ok")
	check("bob", "plain delete 1", delPlain(1), "ok")
	check("bob", "list", list(2, 1), "ok")
}

// revokeFingerprint is the content of the writable tables.
func revokeFingerprint(t testing.TB, tx pgx.Tx) string {
	t.Helper()
	var s string
	err := tx.QueryRow(t.Context(), `select
		coalesce((select string_agg(id || ':' || title || ':' || coalesce(group_id::text, '-'), ',' order by id) from threads), '') || '|' ||
		coalesce((select string_agg(id || ':' || content || ':' || thread_id, ',' order by id) from posts), '')`).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestRevocations: the registry's one-query checker for the middleware
// answers like the statements' condition: live, revoked, no session id,
// another subject's session, cut off, a subject without a row, nil.
func TestRevocations(t *testing.T) {
	db := testdb.New(t, revokeSchema)
	seedRevoke(t, db)
	f := newRevokeForum(t)
	rv, err := f.reg.Revocations(db.Pool)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		c    *capability.Capability
		want bool
	}{
		{"live", revokeCap(t, "alice", "s-alice", revokeIAT, false, nil), false},
		{"revoked", revokeCap(t, "alice", "s-old", revokeIAT, false, nil), true},
		{"no sid", revokeCap(t, "alice", "", revokeIAT, false, nil), true},
		{"another subject's session", revokeCap(t, "alice", "s-bob", revokeIAT, false, nil), true},
		{"cut off", revokeCap(t, "dave", "s-dave", revokeIAT, false, nil), true},
		{"no subject row", revokeCap(t, "carol", "s-carol", revokeIAT, false, nil), true},
		{"no issued-at", revokeCap(t, "alice", "s-alice", time.Time{}, false, nil), true},
		{"nil", nil, true},
	} {
		got, err := rv.Revoked(t.Context(), tc.c)
		if err != nil || got != tc.want {
			t.Errorf("%s: Revoked = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	if _, err := sqlguard.MustNewRegistry(forumRoles, capability.KindInt64).Revocations(db.Pool); !errors.Is(err, sqlguard.ErrDeclaration) {
		t.Errorf("Revocations without Sessions: %v", err)
	}
}

// TestClassifySessionEnded: an ended session is 401, never 403 or 404.
func TestClassifySessionEnded(t *testing.T) {
	status, detail, ok := sqlguard.Classify(fmt.Errorf("wrapped: %w", sqlguard.ErrSessionEnded))
	if status != 401 || detail != "" || !ok {
		t.Errorf("Classify(ErrSessionEnded) = %d %q %v, want 401", status, detail, ok)
	}
}
