package sqlguardtest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	sq "github.com/Masterminds/squirrel"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/sqlguard"
	"github.com/keyhole-go/keyhole/sqlguard/sqlguardtest"
)

func TestMain(m *testing.M) { sqlguardtest.Main(m) }

const notesSchema = `
CREATE TABLE notes (id bigserial PRIMARY KEY, group_id bigint NOT NULL, body text NOT NULL, author text NOT NULL);
INSERT INTO notes (group_id, body, author) VALUES (1, 'one', 'alice'), (2, 'two', 'bob');`

func notesPolicies(t *testing.T) (*capability.Roles, *sqlguard.Write, *sqlguard.Write, *sqlguard.Get) {
	roles := capability.MustChain("member", "moderator")
	reg := sqlguard.MustNewRegistry(roles, capability.KindInt64)
	create := reg.MustInsert(sqlguard.Policy{Name: "notes.create", Table: "notes", Role: "member",
		GroupColumn: "group_id", Columns: []string{"group_id", "body"}, SubjectColumn: "author"})
	del := reg.MustDelete(sqlguard.Policy{Name: "notes.delete", Table: "notes", Key: []string{"id"},
		GroupColumn: "group_id", Role: "moderator", ReadRole: "member"})
	get := reg.MustGet(sqlguard.Policy{Name: "notes.get", Table: "notes", Key: []string{"id"},
		GroupColumn: "group_id", Role: "member", Query: sq.Select("id", "body")})
	return roles, create, del, get
}

func capOf(t *testing.T, roles *capability.Roles, grants ...capability.Grant) *capability.Capability {
	t.Helper()
	c, err := capability.New(roles, capability.KindInt64, capability.Params{Subject: "alice",
		Expiry: time.Now().Add(time.Hour), Grants: grants})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCheckMatrix(t *testing.T) {
	db := sqlguardtest.NewDB(t, notesSchema)
	roles, create, del, get := notesPolicies(t)
	member1 := capOf(t, roles, capability.Grant{Group: capability.Int64Group(1), Role: "member"})
	mod1 := capOf(t, roles, capability.Grant{Group: capability.Int64Group(1), Role: "moderator"})
	var nobody *capability.Capability

	sqlguardtest.CheckMatrix(t, db.Pool, create.Exec,
		sqlguardtest.Case{Name: "member creates in own group", Cap: member1, Values: []any{int64(1), "hi"}, Want: sqlguardtest.Allowed},
		sqlguardtest.Case{Name: "member creates elsewhere", Cap: member1, Values: []any{int64(2), "hi"}, Want: sqlguardtest.Denied},
		sqlguardtest.Case{Name: "nil capability", Cap: nobody, Values: []any{int64(1), "hi"}, Want: sqlguardtest.Denied},
	)
	sqlguardtest.CheckMatrix(t, db.Pool, del.Exec,
		sqlguardtest.Case{Name: "moderator deletes", Cap: mod1, Values: []any{int64(1)}, Want: sqlguardtest.Allowed},
		// Each case is rolled back: the row deleted above is still there.
		sqlguardtest.Case{Name: "moderator deletes again", Cap: mod1, Values: []any{int64(1)}, Want: sqlguardtest.Allowed},
		sqlguardtest.Case{Name: "member may read, not delete", Cap: member1, Values: []any{int64(1)}, Want: sqlguardtest.Denied},
		sqlguardtest.Case{Name: "row of another group", Cap: mod1, Values: []any{int64(2)}, Want: sqlguardtest.NotFound},
		sqlguardtest.Case{Name: "missing row", Cap: mod1, Values: []any{int64(99)}, Want: sqlguardtest.NotFound},
	)
	sqlguardtest.CheckMatrix(t, db.Pool, sqlguardtest.GetCall(get, nil, nil),
		sqlguardtest.Case{Name: "member reads", Cap: member1, Values: []any{int64(1)}, Want: sqlguardtest.Allowed},
		sqlguardtest.Case{Name: "member of another group", Cap: member1, Values: []any{int64(2)}, Want: sqlguardtest.NotFound},
	)
	var n int
	if err := db.Owner.QueryRow(t.Context(), "SELECT count(*) FROM notes").Scan(&n); err != nil || n != 2 {
		t.Errorf("after the matrix: %d notes (%v), want the 2 seeded: every case is rolled back", n, err)
	}
}

// TestCheckMatrixFails shows that the helper reports a wrong outcome, an
// unexpected error, and a refused call that changed the database anyway.
func TestCheckMatrixFails(t *testing.T) {
	db := sqlguardtest.NewDB(t, notesSchema)
	roles, create, _, _ := notesPolicies(t)
	member1 := capOf(t, roles, capability.Grant{Group: capability.Int64Group(1), Role: "member"})
	// liar writes a row, then claims the write was denied.
	liar := func(ctx context.Context, db sqlguard.DB, c *capability.Capability, values ...any) error {
		if _, err := db.Exec(ctx, "INSERT INTO notes (group_id, body, author) VALUES (2, 'sneaky', 'x')"); err != nil {
			return err
		}
		return &sqlguard.DeniedError{Policy: "liar", Need: "nothing"}
	}
	broken := func(ctx context.Context, db sqlguard.DB, c *capability.Capability, values ...any) error {
		_, err := db.Exec(ctx, "SELECT * FROM no_such_table")
		return err
	}
	tests := []struct {
		name string
		call sqlguardtest.Call
		tc   sqlguardtest.Case
		want string
	}{
		{"wrong outcome", create.Exec, sqlguardtest.Case{Name: "c", Cap: member1, Values: []any{int64(2), "x"}, Want: sqlguardtest.Allowed}, "got denied"},
		{"refused but changed", liar, sqlguardtest.Case{Name: "c", Cap: member1, Want: sqlguardtest.Denied}, "database changed"},
		{"other error", broken, sqlguardtest.Case{Name: "c", Cap: member1, Want: sqlguardtest.Denied}, "got error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				sqlguardtest.CheckMatrix(rec, db.Pool, tt.call, tt.tc)
			}()
			<-done
			if len(rec.errors) != 1 || !strings.Contains(rec.errors[0], tt.want) {
				t.Errorf("CheckMatrix reported %q, want one error containing %q", rec.errors, tt.want)
			}
		})
	}
}

// TestCheckMatrixSessionEnded: a policy that requires a live session
// answers SessionEnded for a capability whose session was revoked, and
// Allowed for the same capability while it was live.
func TestCheckMatrixSessionEnded(t *testing.T) {
	db := sqlguardtest.NewDB(t, notesSchema+`
CREATE TABLE sessions (id text PRIMARY KEY, revoked_at timestamptz);
INSERT INTO sessions (id, revoked_at) VALUES ('live', NULL), ('ended', now());`)
	roles := capability.MustChain("member", "moderator")
	reg := sqlguard.MustNewRegistry(roles, capability.KindInt64)
	if err := reg.Sessions(sqlguard.SessionTable{Table: "sessions", ID: "id", RevokedAt: "revoked_at", Required: true}); err != nil {
		t.Fatal(err)
	}
	create := reg.MustInsert(sqlguard.Policy{Name: "notes.create", Table: "notes", Role: "member",
		GroupColumn: "group_id", Columns: []string{"group_id", "body"}, SubjectColumn: "author"})
	withSession := func(sid string) *capability.Capability {
		c, err := capability.New(roles, capability.KindInt64, capability.Params{Subject: "alice", SessionID: sid,
			IssuedAt: time.Now(), Expiry: time.Now().Add(time.Hour),
			Grants: []capability.Grant{{Group: capability.Int64Group(1), Role: "member"}}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	sqlguardtest.CheckMatrix(t, db.Pool, create.Exec,
		sqlguardtest.Case{Name: "live session", Cap: withSession("live"), Values: []any{int64(1), "x"}, Want: sqlguardtest.Allowed},
		sqlguardtest.Case{Name: "live session, other group", Cap: withSession("live"), Values: []any{int64(2), "x"}, Want: sqlguardtest.Denied},
		sqlguardtest.Case{Name: "ended session", Cap: withSession("ended"), Values: []any{int64(1), "x"}, Want: sqlguardtest.SessionEnded},
		sqlguardtest.Case{Name: "no session id", Cap: withSession(""), Values: []any{int64(1), "x"}, Want: sqlguardtest.SessionEnded},
	)
}
