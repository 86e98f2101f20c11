package sqlguard_test

import (
	"os"
	"path/filepath"
	"testing"
)

// TestRevokeGolden compares the SQL of the revocation matrix's policies
// (a live session required registry-wide, fresh membership on the writes)
// with testdata/revoke/<policy>.sql, rewritten with -update: the session
// check, the cut-off and the membership check sit inside the one guarded
// statement. TestRevokeMatrix runs every one of these statements against
// PostgreSQL, each allow beside its deny.
func TestRevokeGolden(t *testing.T) {
	f := newRevokeForum(t)
	dir := filepath.Join("testdata", "revoke")
	for _, p := range f.reg.Policies() {
		path := filepath.Join(dir, p.Name+".sql")
		got := goldenText(p)
		if *update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./sqlguard -run RevokeGolden -update)", err)
		}
		if got != string(want) {
			t.Errorf("%s changed:\ngot:\n%s\nwant:\n%s\n(run go test ./sqlguard -run RevokeGolden -update if intended)", path, got, want)
		}
	}
}
