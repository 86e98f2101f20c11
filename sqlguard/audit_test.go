package sqlguard_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	sq "github.com/Masterminds/squirrel"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/sqlguard"
	"github.com/keyhole-go/keyhole/sqlguard/approval"
)

// TestReportJSON checks the report's stable field names and the reserved
// section.
func TestReportJSON(t *testing.T) {
	var buf bytes.Buffer
	if err := approval.NewReport(exampleRegistry()).WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Policies []map[string]any `json:"policies"`
		Reserved []map[string]any `json:"reserved"`
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	byName := map[string]map[string]any{}
	for _, p := range got.Policies {
		byName[p["name"].(string)] = p
	}
	del := byName["posts.delete"]
	for k, want := range map[string]any{
		"kind": "delete", "table": "posts", "role": "moderator", "read_role": "member",
		"group": "thread_id>threads.group_id", "owner_column": "author", "admin_override": false,
	} {
		if del[k] != want {
			t.Errorf("posts.delete %s = %v, want %v", k, del[k], want)
		}
	}
	if parents, _ := del["parents"].([]any); len(parents) != 1 || parents[0].(map[string]any)["table"] != "threads" {
		t.Errorf("posts.delete parents = %v", del["parents"])
	}
	if conds, _ := byName["posts.edit"]["conditions"].([]any); len(conds) != 1 || conds[0] != "posts.author = <subject>" {
		t.Errorf("posts.edit conditions = %v", byName["posts.edit"]["conditions"])
	}
	if byName["sessions.purge"]["unguarded"] != "expired sessions are purged by a job without a user" {
		t.Errorf("sessions.purge = %v", byName["sessions.purge"])
	}
	want := []string{"sessions.purge unguarded", "threads.list admin-override"}
	var reserved []string
	for _, r := range got.Reserved {
		reserved = append(reserved, r["name"].(string)+" "+r["bypass"].(string))
	}
	if strings.Join(reserved, ",") != strings.Join(want, ",") {
		t.Errorf("reserved = %v, want %v", reserved, want)
	}
}

func TestReportTextNoReserved(t *testing.T) {
	var buf bytes.Buffer
	reg := lockReg(t, lockRoles, func(r *sqlguard.Registry) { r.MustDelete(lockBase()) })
	if err := approval.NewReport(reg).WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "RESERVED: none") {
		t.Errorf("report:\n%s", buf.String())
	}
}

// exampleRegistry declares a few policies of a small forum.
func exampleRegistry() *sqlguard.Registry {
	roles, _ := capability.Chain("member", "moderator")
	reg := sqlguard.MustNewRegistry(roles, capability.KindInt64)
	reg.MustInsert(sqlguard.Policy{Name: "threads.create", Table: "threads",
		Columns: []string{"title", "group_id"}, SubjectColumn: "created_by",
		GroupColumn: "group_id", Role: "member"})
	reg.MustList(sqlguard.Policy{Name: "threads.list", Table: "threads", Alias: "t",
		GroupColumn: "group_id", Role: "member", AdminOverride: true,
		Query: sq.Select("t.id", "t.title").OrderBy("t.id DESC")})
	reg.MustDelete(sqlguard.Policy{Name: "posts.delete", Table: "posts", Key: []string{"id"},
		Parents:     []sqlguard.Parent{{Column: "thread_id", Table: "threads"}},
		GroupColumn: "group_id", Role: "moderator", ReadRole: "member", OwnerColumn: "author"})
	reg.MustUpdate(sqlguard.Policy{Name: "posts.edit", Table: "posts", Key: []string{"id"}, Set: []string{"content"},
		Parents:     []sqlguard.Parent{{Column: "thread_id", Table: "threads"}},
		GroupColumn: "group_id", Role: "member", Where: []sq.Sqlizer{sq.Expr("posts.author = ?", sqlguard.Subject)}})
	reg.MustDelete(sqlguard.Policy{Name: "sessions.purge", Table: "sessions", Key: []string{"id"},
		Unguarded: "expired sessions are purged by a job without a user"})
	return reg
}
