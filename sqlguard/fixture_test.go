package sqlguard_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	sq "github.com/Masterminds/squirrel"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/internal/testdb"
	"github.com/keyhole-go/keyhole/sqlguard"
)

// TestMain sets up every test pool's connections with
// sqlguard.ConfigurePool, as an application sets up its own.
func TestMain(m *testing.M) {
	testdb.MainWith(m, testdb.Options{ConfigurePool: sqlguard.ConfigurePool})
}

// Compile-time: the execution interface is satisfied by pgx's handles.
var (
	_ sqlguard.DB = (*pgxpool.Pool)(nil)
	_ sqlguard.DB = (*pgx.Conn)(nil)
	_ sqlguard.DB = pgx.Tx(nil)
)

var forumRoles = mustRoles()

func mustRoles() *capability.Roles {
	r, err := capability.Chain("member", "moderator", "admin")
	if err != nil {
		panic(err)
	}
	return r
}

// groupType is the SQL type of a kind's group column.
var groupType = map[capability.GroupKind]string{
	capability.KindInt64: "bigint",
	capability.KindUUID:  "uuid",
	capability.KindText:  "text",
}

// grp returns the group numbered n in kind: n itself, a UUID holding n, or
// the text "g-n" (a text id with a quote, a comma and a brace for n = 13
// checks the array literal's escaping).
func grp(kind capability.GroupKind, n int64) capability.Group {
	switch kind {
	case capability.KindUUID:
		var u [16]byte
		binary.BigEndian.PutUint64(u[8:], uint64(n))
		u[0] = 0xab
		return capability.UUIDGroup(u)
	case capability.KindText:
		if n == 13 {
			return capability.TextGroup(`g-"13",{x}\ NULL`)
		}
		return capability.TextGroup(fmt.Sprintf("g-%d", n))
	}
	return capability.Int64Group(n)
}

// forumSchema is the forum of examples/forum (threads, posts, comments), with group ids of kind.
func forumSchema(kind capability.GroupKind) string {
	return strings.ReplaceAll(`
create table threads (
	id bigserial primary key,
	title text not null,
	created_by text,
	group_id GT,
	locked boolean not null default false
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
`, "GT", groupType[kind])
}

// forum holds the forum's policies, declared on a registry of one kind.
type forum struct {
	kind capability.GroupKind
	reg  *sqlguard.Registry

	createThread  *sqlguard.Write
	createPost    *sqlguard.Write
	announce      *sqlguard.Write // child insert needing moderator, readable by member
	createComment *sqlguard.Write // two hops
	deleteThread  *sqlguard.Write
	moveThread    *sqlguard.Write
	editPost      *sqlguard.Write
	movePost      *sqlguard.Write
	renameThread  *sqlguard.Write // no ReadRole: everything refused is not found
	upsertThread  *sqlguard.Write
	listThreads   *sqlguard.List
	listPosts     *sqlguard.List
	listTwo       *sqlguard.List // the caller's WHERE has an OR
	getThread     *sqlguard.Get
	peekThread    *sqlguard.Get
}

var threadParent = []sqlguard.Parent{{Column: "thread_id", Table: "threads"}}

func newForum(t testing.TB, kind capability.GroupKind) *forum {
	t.Helper()
	reg, err := sqlguard.NewRegistry(forumRoles, kind)
	if err != nil {
		t.Fatal(err)
	}
	f := &forum{kind: kind, reg: reg}
	f.createThread = reg.MustInsert(sqlguard.Policy{
		Name: "threads.create", Table: "threads",
		Columns: []string{"title", "group_id"}, SubjectColumn: "created_by",
		GroupColumn: "group_id", Role: "member", Returning: []string{"id"},
	})
	f.createPost = reg.MustInsert(sqlguard.Policy{
		Name: "posts.create", Table: "posts",
		Columns: []string{"content", "thread_id"}, SubjectColumn: "author",
		Parents: threadParent, GroupColumn: "group_id", Role: "member",
		Lock: sqlguard.LockShare, Returning: []string{"id"},
		Where: []sq.Sqlizer{sq.Expr(`NOT "p1"."locked"`)},
	})
	f.announce = reg.MustInsert(sqlguard.Policy{
		Name: "posts.announce", Table: "posts",
		Columns: []string{"content", "thread_id"}, SubjectColumn: "author",
		Parents: threadParent, GroupColumn: "group_id", Role: "moderator", ReadRole: "member",
		Lock: sqlguard.LockShare, Returning: []string{"id"}, AdminOverride: true,
	})
	f.createComment = reg.MustInsert(sqlguard.Policy{
		Name: "comments.create", Table: "comments",
		Columns: []string{"body", "post_id"}, SubjectColumn: "author",
		Parents:     []sqlguard.Parent{{Column: "post_id", Table: "posts"}, {Column: "thread_id", Table: "threads"}},
		GroupColumn: "group_id", Role: "member", ReadRole: "member", Lock: sqlguard.LockKeyShare,
	})
	f.deleteThread = reg.MustDelete(sqlguard.Policy{
		Name: "threads.delete", Table: "threads", Key: []string{"id"},
		GroupColumn: "group_id", Role: "moderator", ReadRole: "member", AdminOverride: true,
	})
	f.moveThread = reg.MustUpdate(sqlguard.Policy{
		Name: "threads.move", Table: "threads", Key: []string{"id"}, Set: []string{"group_id"},
		GroupColumn: "group_id", Role: "moderator", ReadRole: "member", AdminOverride: true,
		Returning: []string{"id", "group_id"},
	})
	f.editPost = reg.MustUpdate(sqlguard.Policy{
		Name: "posts.edit", Table: "posts", Key: []string{"id"}, Set: []string{"content"},
		Parents: threadParent, GroupColumn: "group_id", Role: "moderator", ReadRole: "member",
		OwnerColumn: "author",
	})
	f.movePost = reg.MustUpdate(sqlguard.Policy{
		Name: "posts.move", Table: "posts", Key: []string{"id"}, Set: []string{"thread_id"},
		Parents: threadParent, GroupColumn: "group_id", Role: "moderator", ReadRole: "member",
		Lock: sqlguard.LockKeyShare,
	})
	f.renameThread = reg.MustUpdate(sqlguard.Policy{
		Name: "threads.rename", Table: "threads", Alias: "t", Key: []string{"id"}, Set: []string{"title"},
		GroupColumn: "group_id", Role: "moderator",
		Where: []sq.Sqlizer{sq.Expr(`NOT "t"."locked"`), sq.Expr(`? <> ''`, sqlguard.Arg)},
	})
	f.upsertThread = reg.MustUpsert(sqlguard.Policy{
		Name: "threads.upsert", Table: "threads",
		Columns: []string{"id", "title", "group_id"}, Key: []string{"id"}, Set: []string{"title", "group_id"},
		SubjectColumn: "created_by",
		GroupColumn:   "group_id", Role: "moderator", ReadRole: "member", Returning: []string{"id"},
	})
	f.listThreads = reg.MustList(sqlguard.Policy{
		Name: "threads.list", Table: "threads", GroupColumn: "group_id", Role: "member", AdminOverride: true,
		Query: sq.Select("id").Where("id > ?", sqlguard.Arg).OrderBy("id DESC").Limit(50),
	})
	f.listPosts = reg.MustList(sqlguard.Policy{
		Name: "posts.list", Table: "posts", Alias: "p", Parents: threadParent,
		GroupColumn: "group_id", Role: "member", OwnerColumn: "author",
		Query: sq.Select("p.id").OrderBy("p.id"),
	})
	f.listTwo = reg.MustList(sqlguard.Policy{
		Name: "threads.list.two", Table: "threads", GroupColumn: "group_id", Role: "member",
		Query: sq.Select("id").Where("id = ? OR id = ?", sqlguard.Arg, sqlguard.Arg).OrderBy("id"),
	})
	f.getThread = reg.MustGet(sqlguard.Policy{
		Name: "threads.get", Table: "threads", Alias: "t", Key: []string{"id"},
		GroupColumn: "group_id", Role: "member", AdminOverride: true,
		Query: sq.Select("t.id", "t.title"),
	})
	f.peekThread = reg.MustGet(sqlguard.Policy{
		Name: "threads.peek", Table: "threads", Alias: "t", Key: []string{"id"},
		GroupColumn: "group_id", Role: "member", DistinguishDenied: true,
		Query: sq.Select("t.id", "t.title"),
	})
	return f
}

// grants builds a capability; roleAt maps group numbers to roles.
func newCap(t testing.TB, kind capability.GroupKind, subject string, admin bool, roleAt map[int64]string) *capability.Capability {
	t.Helper()
	p := capability.Params{Subject: subject, Admin: admin, Expiry: time.Now().Add(time.Hour), MaxGrants: 5000}
	for n, role := range roleAt {
		p.Grants = append(p.Grants, capability.Grant{Group: grp(kind, n), Role: role})
	}
	c, err := capability.New(forumRoles, kind, p)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// outcome classifies an error for the matrices.
func outcome(err error) string {
	var pg *pgconn.PgError
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, sqlguard.ErrDenied):
		return "denied"
	case errors.Is(err, sqlguard.ErrNotFound):
		return "notfound"
	case errors.Is(err, sqlguard.ErrInvalidInput):
		return "invalid"
	case errors.Is(err, sqlguard.ErrNotApproved):
		return "notapproved"
	case errors.Is(err, sqlguard.ErrMisconfigured):
		return "misconfigured"
	case errors.As(err, &pg):
		return "pg:" + pg.Code
	}
	return "error: " + err.Error()
}

// inTx runs f in a transaction that is rolled back, so that every check of
// a matrix starts from the same rows.
func inTx(t testing.TB, pool *pgxpool.Pool, f func(tx pgx.Tx)) {
	t.Helper()
	ctx := t.Context()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	f(tx)
}
