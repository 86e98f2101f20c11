package main

// The README's quick-start test is this file from the line after
// "quickstart-test:begin" to the line before "quickstart-test:end",
// verbatim: TestREADMEInSync fails when the two differ.

// quickstart-test:begin
import (
	"testing"
	"time"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/sqlguard/sqlguardtest"
)

// TestMain stops the throwaway PostgreSQL that NewDB starts.
func TestMain(m *testing.M) { sqlguardtest.Main(m) }

func TestNotesPolicies(t *testing.T) {
	db := sqlguardtest.NewDB(t, schema+`;
		INSERT INTO notes (group_id, author, body) VALUES (1, 'alice', 'hi'), (2, 'bob', 'secret');`)
	alice, err := capability.New(roles, capability.KindInt64, capability.Params{
		Subject: "alice", Expiry: time.Now().Add(time.Hour),
		Grants: []capability.Grant{{Group: capability.Int64Group(1), Role: "member"}}})
	if err != nil {
		t.Fatal(err)
	}
	// Each case runs in a transaction of its own, rolled back; a refused
	// call must leave every table as it was.
	sqlguardtest.CheckMatrix(t, db.Pool, createNote.Exec,
		sqlguardtest.Case{Name: "member, own group", Cap: alice, Values: []any{int64(1), "hi"}, Want: sqlguardtest.Allowed},
		sqlguardtest.Case{Name: "member, other group", Cap: alice, Values: []any{int64(2), "hi"}, Want: sqlguardtest.Denied},
		sqlguardtest.Case{Name: "no capability", Cap: nil, Values: []any{int64(1), "hi"}, Want: sqlguardtest.Denied},
	)
	var body string
	sqlguardtest.CheckMatrix(t, db.Pool, sqlguardtest.GetCall(getNote, &body),
		sqlguardtest.Case{Name: "note of own group", Cap: alice, Values: []any{int64(1)}, Want: sqlguardtest.Allowed},
		sqlguardtest.Case{Name: "note of other group", Cap: alice, Values: []any{int64(2)}, Want: sqlguardtest.NotFound},
	)
}

// quickstart-test:end
