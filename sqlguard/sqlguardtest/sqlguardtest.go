// Package sqlguardtest holds test helpers for applications that declare
// sqlguard policies.
//
// CheckLock is the approval test of an application: it compares the
// application's registry with its checked-in lock file and fails on every
// permission the lock does not approve. Approval is a reviewed diff of the
// lock file, written by the same test run with -update:
//
//	var update = flag.Bool("update", false, "rewrite keyhole.lock")
//
//	func TestLock(t *testing.T) {
//		sqlguardtest.CheckLock(t, registry, "keyhole.lock", *update)
//	}
//
// NewDB gives a test a fresh database of its own with its schema, whose
// Pool connects as an unprivileged role; CheckMatrix runs a permission
// matrix on it, each case (Allowed, Denied, NotFound, SessionEnded) in a
// transaction that is rolled back, and checks that a refused call changed
// nothing; Main, from TestMain, stops the throwaway PostgreSQL afterwards.
// The quick-start test of keyhole's README (examples/quickstart) uses all
// three, the forum example's tests use CheckMatrix and CheckLock, and
// keyhole's own tests run on the same throwaway PostgreSQL.
package sqlguardtest

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"testing"

	"github.com/keyhole-go/keyhole/sqlguard"
	"github.com/keyhole-go/keyhole/sqlguard/approval"
)

// CheckLock compares the policies declared in r with the lock file at path.
//
// Without update it fails the test (t.Error) once per new or widened
// permission, naming it ("posts.delete now allows role member; approved:
// moderator"), and logs (t.Log) narrowed and removed permissions without
// failing. A missing lock file approves nothing. A lock file that cannot
// be parsed fails the test.
//
// With update it writes approval.File(r) to path (when it differs) and logs
// what changed: the diff of the file is then the approval to review.
func CheckLock(t testing.TB, r *sqlguard.Registry, path string, update bool) {
	t.Helper()
	want := approval.File(r)
	data, err := os.ReadFile(path)
	missing := errors.Is(err, fs.ErrNotExist)
	if err != nil && !missing {
		t.Fatalf("sqlguardtest: read lock: %v", err)
	}
	approved := &approval.Lock{}
	if !missing {
		approved, err = approval.Parse(data)
		if err != nil {
			if !update {
				t.Fatalf("sqlguardtest: %s: %v (rewrite it with -update)", path, err)
			}
			approved = &approval.Lock{}
		}
	}
	diff := approved.Diff(r)
	if update {
		for _, c := range append(append(diff.Added, diff.Widened...), append(diff.Narrowed, diff.Removed...)...) {
			t.Logf("sqlguardtest: %s: %s", path, c)
		}
		if missing || !bytes.Equal(data, want) {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatalf("sqlguardtest: write lock: %v", err)
			}
			t.Logf("sqlguardtest: wrote %s: review and commit its diff", path)
		}
		return
	}
	if missing {
		t.Errorf("sqlguardtest: no lock file %s: every permission is unapproved (create it with -update)", path)
	}
	for _, c := range diff.Added {
		t.Errorf("sqlguardtest: %s: not approved: %s", path, c)
	}
	for _, c := range diff.Widened {
		t.Errorf("sqlguardtest: %s: not approved: %s", path, c)
	}
	for _, c := range diff.Narrowed {
		t.Logf("sqlguardtest: %s: narrowed (approve with -update): %s", path, c)
	}
	for _, c := range diff.Removed {
		t.Logf("sqlguardtest: %s: removed (approve with -update): %s", path, c)
	}
	if !diff.NeedsApproval() && !bytes.Equal(data, want) && !missing {
		t.Logf("sqlguardtest: %s differs from the declared policies only in what needs no approval; -update rewrites it", path)
	}
}
