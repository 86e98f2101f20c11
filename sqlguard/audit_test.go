package sqlguard_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/keyhole-go/keyhole/sqlguard"
)

// TestReportJSON checks the report's stable field names and the reserved
// section.
func TestReportJSON(t *testing.T) {
	var buf bytes.Buffer
	if err := exampleRegistry().Report().WriteJSON(&buf); err != nil {
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
	if err := reg.Report().WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "RESERVED: none") {
		t.Errorf("report:\n%s", buf.String())
	}
}
