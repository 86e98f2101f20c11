package sqlguard_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/internal/testdb"
	"github.com/keyhole-go/keyhole/sqlguard"
)

// The matrix's rows: threads 1..3 in groups 1..3, thread 4 with a NULL
// group, thread 5 locked in group 1, thread 6 in group 13 (a text id that
// needs quoting in an array literal). Posts 11 (bob's, thread 1), 12
// (bob's, thread 2), 13 (carol's, thread 2), 14 (carol's, thread 3).
func seedForum(t testing.TB, db *testdb.DB, kind capability.GroupKind) {
	t.Helper()
	ctx := t.Context()
	ins := func(id int64, g *capability.Group, locked bool) {
		var gv any
		if g != nil {
			gv = groupArg(*g)
		}
		if _, err := db.Owner.Exec(ctx, `insert into threads (id, title, created_by, group_id, locked) values ($1, $2, 'seed', $3, $4)`,
			id, fmt.Sprintf("thread %d", id), gv, locked); err != nil {
			t.Fatal(err)
		}
	}
	g := func(n int64) *capability.Group { x := grp(kind, n); return &x }
	ins(1, g(1), false)
	ins(2, g(2), false)
	ins(3, g(3), false)
	ins(4, nil, false)
	ins(5, g(1), true)
	ins(6, g(13), false)
	for _, p := range []struct {
		id, thread int64
		author     string
	}{{11, 1, "bob"}, {12, 2, "bob"}, {13, 2, "carol"}, {14, 3, "carol"}} {
		if _, err := db.Owner.Exec(ctx, `insert into posts (id, content, author, thread_id) values ($1, 'post', $2, $3)`,
			p.id, p.author, p.thread); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Owner.Exec(ctx, `select setval('threads_id_seq', 100), setval('posts_id_seq', 100)`); err != nil {
		t.Fatal(err)
	}
}

// groupArg is the Go value of a group that pgx encodes for the column.
func groupArg(g capability.Group) any {
	if n, ok := g.Int64(); ok {
		return n
	}
	if u, ok := g.UUID(); ok {
		return u
	}
	s, _ := g.Text()
	return s
}

type caps struct {
	alice, bob, carol, admin, empty, big *capability.Capability
	none                                 *capability.Capability // nil
}

func forumCaps(t testing.TB, kind capability.GroupKind) caps {
	big := map[int64]string{1: "member"}
	for n := int64(1001); n < 2000; n++ {
		big[n] = "member"
	}
	return caps{
		alice: newCap(t, kind, "alice", false, map[int64]string{1: "member", 2: "moderator"}),
		bob:   newCap(t, kind, "bob", false, map[int64]string{2: "member", 13: "member"}),
		carol: newCap(t, kind, "carol", false, map[int64]string{3: "moderator"}),
		admin: newCap(t, kind, "root", true, nil),
		empty: newCap(t, kind, "nobody", false, nil),
		big:   newCap(t, kind, "big", false, big),
	}
}

var allKinds = []capability.GroupKind{capability.KindInt64, capability.KindUUID, capability.KindText}

// TestMatrix is the permission matrix: every statement kind, allowed and
// refused side by side, for admin and non-admin, empty and nil
// capabilities, a NULL group, arrays of 0, 1 and 1,000 groups, and the
// three group column types.
func TestMatrix(t *testing.T) {
	for _, kind := range allKinds {
		t.Run(kind.String(), func(t *testing.T) {
			t.Parallel()
			db := testdb.New(t, forumSchema(kind))
			seedForum(t, db, kind)
			f := newForum(t, kind)
			c := forumCaps(t, kind)
			ctx := t.Context()
			G := func(n int64) capability.Group { return grp(kind, n) }

			type action func(tx pgx.Tx, c *capability.Capability) error
			check := func(who string, cp *capability.Capability, what string, act action, want string) {
				t.Helper()
				inTx(t, db.Pool, func(tx pgx.Tx) {
					err := act(tx, cp)
					if got := outcome(err); got != want {
						t.Errorf("%s %s: got %s, want %s (err: %v)", who, what, got, want, err)
					}
				})
			}
			createThread := func(g capability.Group) action {
				return func(tx pgx.Tx, cp *capability.Capability) error {
					var id int64
					return f.createThread.QueryRow(ctx, tx, cp, "t", g).Scan(&id)
				}
			}
			createPost := func(thread int64) action {
				return func(tx pgx.Tx, cp *capability.Capability) error {
					var id int64
					err := f.createPost.QueryRow(ctx, tx, cp, "p", thread).Scan(&id)
					if err == nil && id <= 100 {
						return fmt.Errorf("returned id %d", id)
					}
					return err
				}
			}
			announce := func(thread int64) action {
				return func(tx pgx.Tx, cp *capability.Capability) error {
					return f.announce.Exec(ctx, tx, cp, "a", thread)
				}
			}
			comment := func(post int64) action {
				return func(tx pgx.Tx, cp *capability.Capability) error {
					return f.createComment.Exec(ctx, tx, cp, "c", post)
				}
			}
			deleteThread := func(id int64) action {
				return func(tx pgx.Tx, cp *capability.Capability) error {
					err := f.deleteThread.Exec(ctx, tx, cp, id)
					if err == nil {
						var n int
						if err := tx.QueryRow(ctx, "select count(*) from threads where id = $1", id).Scan(&n); err != nil || n != 0 {
							return fmt.Errorf("thread %d still there (%d, %v)", id, n, err)
						}
					}
					return err
				}
			}
			moveThread := func(id int64, to capability.Group) action {
				return func(tx pgx.Tx, cp *capability.Capability) error {
					var gotID int64
					var gotGroup any
					return f.moveThread.QueryRow(ctx, tx, cp, id, to).Scan(&gotID, &gotGroup)
				}
			}
			editPost := func(id int64) action {
				return func(tx pgx.Tx, cp *capability.Capability) error {
					return f.editPost.Exec(ctx, tx, cp, id, "edited")
				}
			}
			movePost := func(id, thread int64) action {
				return func(tx pgx.Tx, cp *capability.Capability) error {
					return f.movePost.Exec(ctx, tx, cp, id, thread)
				}
			}
			rename := func(id int64, title string) action {
				return func(tx pgx.Tx, cp *capability.Capability) error {
					return f.renameThread.Exec(ctx, tx, cp, id, title, title)
				}
			}
			upsert := func(id int64, g capability.Group) action {
				return func(tx pgx.Tx, cp *capability.Capability) error {
					var got int64
					return f.upsertThread.QueryRow(ctx, tx, cp, id, "u", g).Scan(&got)
				}
			}
			getThread := func(id int64) action {
				return func(tx pgx.Tx, cp *capability.Capability) error {
					var gotID int64
					var title string
					err := f.getThread.QueryRow(ctx, tx, cp, id).Scan(&gotID, &title)
					if err == nil && gotID != id {
						return fmt.Errorf("got thread %d", gotID)
					}
					return err
				}
			}
			peekThread := func(id int64) action {
				return func(tx pgx.Tx, cp *capability.Capability) error {
					var gotID int64
					var title string
					err := f.peekThread.QueryRow(ctx, tx, cp, id).Scan(&gotID, &title)
					if err == nil && gotID != id {
						return fmt.Errorf("got thread %d", gotID)
					}
					return err
				}
			}

			// Direct insert: the group is a call value.
			check("alice", c.alice, "create thread in 1", createThread(G(1)), "ok")
			check("alice", c.alice, "create thread in 2 (moderator includes member)", createThread(G(2)), "ok")
			check("alice", c.alice, "create thread in 3", createThread(G(3)), "denied")
			check("bob", c.bob, "create thread in 2", createThread(G(2)), "ok")
			check("bob", c.bob, "create thread in 13", createThread(G(13)), "ok")
			check("bob", c.bob, "create thread in 1", createThread(G(1)), "denied")
			check("admin", c.admin, "create thread in 3 (no override)", createThread(G(3)), "denied")
			check("empty", c.empty, "create thread in 1", createThread(G(1)), "denied")
			check("nil", c.none, "create thread in 1", createThread(G(1)), "denied")
			check("big", c.big, "create thread in 1", createThread(G(1)), "ok")
			check("big", c.big, "create thread in 1999", createThread(G(1999)), "ok")
			check("big", c.big, "create thread in 2", createThread(G(2)), "denied")

			// Child insert: the group comes from the parent thread.
			check("alice", c.alice, "post in thread 1", createPost(1), "ok")
			check("alice", c.alice, "post in thread 2", createPost(2), "ok")
			check("alice", c.alice, "post in thread 3", createPost(3), "notfound")
			check("alice", c.alice, "post in thread 4 (NULL group)", createPost(4), "notfound")
			check("alice", c.alice, "post in locked thread 5", createPost(5), "notfound")
			check("alice", c.alice, "post in missing thread", createPost(999), "notfound")
			check("bob", c.bob, "post in thread 1", createPost(1), "notfound")
			check("bob", c.bob, "post in thread 6", createPost(6), "ok")
			check("admin", c.admin, "post in thread 3 (no override)", createPost(3), "notfound")
			check("empty", c.empty, "post in thread 1", createPost(1), "notfound")
			check("nil", c.none, "post in thread 1", createPost(1), "notfound")
			check("big", c.big, "post in thread 1", createPost(1), "ok")
			check("big", c.big, "post in thread 2", createPost(2), "notfound")
			// Readable parent, insufficient role: denied.
			check("alice", c.alice, "announce in thread 1 (member only)", announce(1), "denied")
			check("alice", c.alice, "announce in thread 2", announce(2), "ok")
			check("alice", c.alice, "announce in thread 3", announce(3), "notfound")
			check("admin", c.admin, "announce in thread 3 (override)", announce(3), "ok")
			check("admin", c.admin, "announce in thread 4 (override, NULL group)", announce(4), "ok")
			check("admin", c.admin, "announce in missing thread", announce(999), "notfound")
			check("nil", c.none, "announce in thread 2", announce(2), "notfound")
			// Two hops: comment -> post -> thread -> group.
			check("alice", c.alice, "comment on post 11", comment(11), "ok")
			check("bob", c.bob, "comment on post 11", comment(11), "notfound")
			check("bob", c.bob, "comment on post 13", comment(13), "ok")
			check("carol", c.carol, "comment on post 14", comment(14), "ok")
			check("carol", c.carol, "comment on missing post", comment(999), "notfound")

			// Delete: moderator, readable by member, admin override.
			check("alice", c.alice, "delete thread 1 (member only)", deleteThread(1), "denied")
			check("alice", c.alice, "delete thread 2", deleteThread(2), "ok")
			check("alice", c.alice, "delete thread 3", deleteThread(3), "notfound")
			check("alice", c.alice, "delete thread 4 (NULL group)", deleteThread(4), "notfound")
			check("alice", c.alice, "delete missing thread", deleteThread(999), "notfound")
			check("bob", c.bob, "delete thread 2", deleteThread(2), "denied")
			check("admin", c.admin, "delete thread 3", deleteThread(3), "ok")
			check("admin", c.admin, "delete thread 4 (NULL group: the override passes it)", deleteThread(4), "ok")
			check("admin", c.admin, "delete missing thread", deleteThread(999), "notfound")
			check("empty", c.empty, "delete thread 1", deleteThread(1), "notfound")
			check("nil", c.none, "delete thread 1", deleteThread(1), "notfound")
			check("big", c.big, "delete thread 1", deleteThread(1), "denied")
			check("carol", c.carol, "delete thread 3", deleteThread(3), "ok")

			// Move: filter on the current group, check on the new one.
			check("alice", c.alice, "move thread 2 to 2", moveThread(2, G(2)), "ok")
			check("alice", c.alice, "move thread 2 to 1 (member only in 1)", moveThread(2, G(1)), "denied")
			check("alice", c.alice, "move thread 2 to 3", moveThread(2, G(3)), "denied")
			check("alice", c.alice, "move thread 1 to 2 (member only in 1)", moveThread(1, G(2)), "denied")
			check("alice", c.alice, "move thread 3 to 2", moveThread(3, G(2)), "notfound")
			check("bob", c.bob, "move thread 2 to 2", moveThread(2, G(2)), "denied")
			check("carol", c.carol, "move thread 3 to 2", moveThread(3, G(2)), "denied")
			check("admin", c.admin, "move thread 3 to 1", moveThread(3, G(1)), "ok")
			check("admin", c.admin, "move thread 4 (NULL) to 1", moveThread(4, G(1)), "ok")
			check("nil", c.none, "move thread 2 to 2", moveThread(2, G(2)), "notfound")
			check("alice", c.alice, "move thread 2 to a group of another kind", moveThread(2, capability.TextGroup("x")), map[bool]string{true: "denied", false: "invalid"}[kind == capability.KindText])

			// Edit: the author, or a moderator of the post's group.
			check("bob", c.bob, "edit own post 11 (not member of 1)", editPost(11), "ok")
			check("bob", c.bob, "edit own post 12", editPost(12), "ok")
			check("bob", c.bob, "edit carol's post 13 (member of 2)", editPost(13), "denied")
			check("bob", c.bob, "edit carol's post 14", editPost(14), "notfound")
			check("alice", c.alice, "edit carol's post 13 (moderator of 2)", editPost(13), "ok")
			check("alice", c.alice, "edit bob's post 11 (member of 1)", editPost(11), "denied")
			check("admin", c.admin, "edit post 11 (no override)", editPost(11), "notfound")
			check("nil", c.none, "edit post 11", editPost(11), "notfound")
			check("empty", c.empty, "edit post 11", editPost(11), "notfound")
			// Move a post to another thread: both threads' groups.
			check("alice", c.alice, "move post 13 to thread 2", movePost(13, 2), "ok")
			check("alice", c.alice, "move post 13 to thread 1 (member only)", movePost(13, 1), "denied")
			check("alice", c.alice, "move post 13 to thread 3", movePost(13, 3), "denied")
			check("carol", c.carol, "move post 14 to thread 2", movePost(14, 2), "denied")

			// No ReadRole: a refusal is not found; conditions with Arg.
			check("alice", c.alice, "rename thread 2", rename(2, "new"), "ok")
			check("alice", c.alice, "rename thread 2 to empty (condition)", rename(2, ""), "notfound")
			check("alice", c.alice, "rename thread 1", rename(1, "new"), "notfound")

			// Upsert: both sides guarded.
			check("alice", c.alice, "upsert new thread in 2", upsert(500, G(2)), "ok")
			check("alice", c.alice, "upsert new thread in 1 (member only)", upsert(500, G(1)), "denied")
			check("alice", c.alice, "upsert thread 2 in 2", upsert(2, G(2)), "ok")
			check("alice", c.alice, "upsert thread 1 into 2 (existing in 1, member only)", upsert(1, G(2)), "denied")
			check("alice", c.alice, "upsert thread 3 into 2 (existing unreadable)", upsert(3, G(2)), "denied")
			check("nil", c.none, "upsert new thread in 2", upsert(500, G(2)), "denied")

			// Get: not found for what the caller may not read.
			check("alice", c.alice, "get thread 1", getThread(1), "ok")
			check("alice", c.alice, "get thread 3", getThread(3), "notfound")
			check("alice", c.alice, "get thread 4 (NULL)", getThread(4), "notfound")
			check("admin", c.admin, "get thread 3", getThread(3), "ok")
			check("admin", c.admin, "get thread 4 (NULL, override)", getThread(4), "ok")
			check("nil", c.none, "get thread 1", getThread(1), "notfound")
			check("big", c.big, "get thread 1", getThread(1), "ok")
			check("alice", c.alice, "peek thread 1", peekThread(1), "ok")
			check("alice", c.alice, "peek thread 3", peekThread(3), "denied")
			check("alice", c.alice, "peek missing thread", peekThread(999), "notfound")

			// Lists.
			listIDs := func(l *sqlguard.List, cp *capability.Capability, values ...any) []int64 {
				t.Helper()
				rows, err := l.Query(ctx, db.Pool, cp, values...)
				if err != nil {
					t.Fatal(err)
				}
				ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
				if err != nil {
					t.Fatal(err)
				}
				slices.Sort(ids)
				return ids
			}
			for _, tc := range []struct {
				who  string
				cp   *capability.Capability
				want []int64
			}{
				{"alice", c.alice, []int64{1, 2, 5}},
				{"bob", c.bob, []int64{2, 6}},
				{"carol", c.carol, []int64{3}},
				{"admin", c.admin, []int64{1, 2, 3, 4, 5, 6}},
				{"empty", c.empty, []int64{}},
				{"nil", c.none, []int64{}},
				{"big", c.big, []int64{1, 5}},
			} {
				if got := listIDs(f.listThreads, tc.cp, int64(0)); !slices.Equal(got, tc.want) {
					t.Errorf("%s lists threads %v, want %v", tc.who, got, tc.want)
				}
			}
			if got, want := listIDs(f.listThreads, c.alice, int64(1)), []int64{2, 5}; !slices.Equal(got, want) {
				t.Errorf("alice lists threads after 1: %v, want %v", got, want)
			}
			// An OR in the caller's WHERE cannot reach around the guard.
			if got, want := listIDs(f.listTwo, c.alice, int64(1), int64(3)), []int64{1}; !slices.Equal(got, want) {
				t.Errorf("alice lists threads 1 or 3: %v, want %v", got, want)
			}
			// Posts through the parent, plus the author's own.
			if got, want := listIDs(f.listPosts, c.bob), []int64{11, 12, 13}; !slices.Equal(got, want) {
				t.Errorf("bob lists posts %v, want %v", got, want)
			}
			if got, want := listIDs(f.listPosts, c.none), []int64{}; !slices.Equal(got, want) {
				t.Errorf("nil lists posts %v, want %v", got, want)
			}

			// Bad call values never reach the database.
			check("alice", c.alice, "create thread with too few values", func(tx pgx.Tx, cp *capability.Capability) error {
				return f.createThread.Exec(ctx, tx, cp, "t")
			}, "invalid")
			check("alice", c.alice, "create thread with a nil group", func(tx pgx.Tx, cp *capability.Capability) error {
				return f.createThread.Exec(ctx, tx, cp, "t", nil)
			}, "invalid")
			check("alice", c.alice, "create thread with a zero group", func(tx pgx.Tx, cp *capability.Capability) error {
				return f.createThread.Exec(ctx, tx, cp, "t", capability.Group{})
			}, "invalid")
			// A hierarchy built separately from the same declarations is
			// the registry's (compared by value); a different one is the
			// server's misconfiguration, not the caller's bad input.
			same := newCapOther(t, kind, "member", "moderator", "admin")
			check("same", same, "create thread with an equal hierarchy built apart", createThread(G(1)), "ok")
			check("same", same, "create thread elsewhere with an equal hierarchy built apart", createThread(G(2)), "denied")
			other := newCapOther(t, kind, "member", "moderator")
			check("other", other, "create thread with a capability of another hierarchy", createThread(G(1)), "misconfigured")
		})
	}
}

func newCapOther(t testing.TB, kind capability.GroupKind, chain ...string) *capability.Capability {
	roles, err := capability.Chain(chain...)
	if err != nil {
		t.Fatal(err)
	}
	c, err := capability.New(roles, kind, capability.Params{Subject: "x", Expiry: forumCaps(t, kind).alice.Expiry(),
		Grants: []capability.Grant{{Group: grp(kind, 1), Role: "member"}}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestDeniedNeed checks what a denial names: the group the caller may
// read, nothing of a row it may not.
func TestDeniedNeed(t *testing.T) {
	kind := capability.KindInt64
	db := testdb.New(t, forumSchema(kind))
	seedForum(t, db, kind)
	f := newForum(t, kind)
	c := forumCaps(t, kind)
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		run  func(tx pgx.Tx) error
		want string
	}{
		{"delete", func(tx pgx.Tx) error { return f.deleteThread.Exec(ctx, tx, c.alice, int64(1)) },
			"sqlguard: threads.delete: denied: needs role moderator in group 1"},
		{"move target", func(tx pgx.Tx) error { return f.moveThread.Exec(ctx, tx, c.alice, int64(2), grp(kind, 3)) },
			"sqlguard: threads.move: denied: needs role moderator in group 3"},
		{"create", func(tx pgx.Tx) error { return f.createThread.Exec(ctx, tx, c.alice, "t", int64(3)) },
			"sqlguard: threads.create: denied: needs role member in group 3"},
		{"edit", func(tx pgx.Tx) error { return f.editPost.Exec(ctx, tx, c.bob, int64(13), "x") },
			"sqlguard: posts.edit: denied: needs role moderator in group 2 (or being the row's author)"},
		{"announce", func(tx pgx.Tx) error { return f.announce.Exec(ctx, tx, c.alice, "x", int64(1)) },
			"sqlguard: posts.announce: denied: needs role moderator in group 1"},
		{"upsert unreadable", func(tx pgx.Tx) error { return f.upsertThread.Exec(ctx, tx, c.alice, int64(3), "x", int64(2)) },
			"sqlguard: threads.upsert: denied: needs role moderator in the existing row's group"},
		{"upsert readable", func(tx pgx.Tx) error { return f.upsertThread.Exec(ctx, tx, c.alice, int64(1), "x", int64(2)) },
			"sqlguard: threads.upsert: denied: needs role moderator in group 1"},
		{"not found", func(tx pgx.Tx) error { return f.deleteThread.Exec(ctx, tx, c.alice, int64(3)) },
			"sqlguard: threads.delete: not found"},
	} {
		inTx(t, db.Pool, func(tx pgx.Tx) {
			err := tc.run(tx)
			if err == nil || err.Error() != tc.want {
				t.Errorf("%s: got %v, want %s", tc.name, err, tc.want)
			}
			var de *sqlguard.DeniedError
			if errors.As(err, &de) && de.Policy == "" {
				t.Errorf("%s: DeniedError without policy", tc.name)
			}
		})
	}
}

// TestPostgresErrors checks that PostgreSQL's errors surface wrapped, with
// the policy's name, and stay distinguishable.
func TestPostgresErrors(t *testing.T) {
	kind := capability.KindInt64
	db := testdb.New(t, forumSchema(kind)+`
create table uniq (id bigint primary key, group_id bigint, thread_id bigint references threads (id));
create table secret (id bigint primary key, group_id bigint);
revoke all on secret from public;`)
	seedForum(t, db, kind)
	ctx := t.Context()
	if _, err := db.Owner.Exec(ctx, "revoke all on secret from "+pgx.Identifier{currentUser(t, db)}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	reg := sqlguard.MustNewRegistry(forumRoles, kind)
	insUniq := reg.MustInsert(sqlguard.Policy{Name: "uniq.create", Table: "uniq", Columns: []string{"id", "group_id", "thread_id"},
		GroupColumn: "group_id", Role: "member"})
	insSecret := reg.MustInsert(sqlguard.Policy{Name: "secret.create", Table: "secret", Columns: []string{"id", "group_id"},
		GroupColumn: "group_id", Role: "member"})
	alice := forumCaps(t, kind).alice
	if err := insUniq.Exec(ctx, db.Pool, alice, int64(1), int64(1), int64(1)); err != nil {
		t.Fatal(err)
	}
	err := insUniq.Exec(ctx, db.Pool, alice, int64(1), int64(1), int64(1))
	var pg *pgconn.PgError
	if !sqlguard.IsUniqueViolation(err) || !errors.As(err, &pg) || pg.ConstraintName != "uniq_pkey" {
		t.Errorf("second insert: got %v, want a unique violation", err)
	}
	if want := "sqlguard: uniq.create: ERROR"; len(err.Error()) < len(want) || err.Error()[:len(want)] != want {
		t.Errorf("error %q does not start with %q", err, want)
	}
	err = insUniq.Exec(ctx, db.Pool, alice, int64(2), int64(1), int64(999))
	if !sqlguard.IsForeignKeyViolation(err) {
		t.Errorf("insert with missing thread: got %v, want a foreign key violation", err)
	}
	err = insSecret.Exec(ctx, db.Pool, alice, int64(1), int64(1))
	if !sqlguard.IsInsufficientPrivilege(err) {
		t.Errorf("insert into secret: got %v, want insufficient_privilege", err)
	}
}

func currentUser(t testing.TB, db *testdb.DB) string {
	var u string
	if err := db.Pool.QueryRow(t.Context(), "select current_user").Scan(&u); err != nil {
		t.Fatal(err)
	}
	return u
}
