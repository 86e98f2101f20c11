package sqlguardtest_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/sqlguard"
	"github.com/keyhole-go/keyhole/sqlguard/sqlguardtest"
)

// recorder is a testing.TB that records what CheckLock reports.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	errors []string
	logs   []string
	fatal  bool
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}
func (r *recorder) Logf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	r.fatal = true
	runtime.Goexit()
}

// check runs CheckLock on a recorder, in a goroutine of its own so that
// Fatalf can stop it.
func check(t *testing.T, reg *sqlguard.Registry, path string, update bool) *recorder {
	rec := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sqlguardtest.CheckLock(rec, reg, path, update)
	}()
	<-done
	return rec
}

func registry(t *testing.T, role string, admin bool) *sqlguard.Registry {
	roles, err := capability.Chain("member", "moderator")
	if err != nil {
		t.Fatal(err)
	}
	reg := sqlguard.MustNewRegistry(roles, capability.KindInt64)
	reg.MustDelete(sqlguard.Policy{Name: "posts.delete", Table: "posts", Key: []string{"id"},
		Parents:     []sqlguard.Parent{{Column: "thread_id", Table: "threads"}},
		GroupColumn: "group_id", Role: role, AdminOverride: admin})
	return reg
}

func TestCheckLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyhole.lock")

	rec := check(t, registry(t, "moderator", true), path, false)
	if len(rec.errors) == 0 || !strings.Contains(strings.Join(rec.errors, "\n"), "posts.delete is a new permission") {
		t.Errorf("missing lock: errors %q", rec.errors)
	}

	rec = check(t, registry(t, "moderator", true), path, true)
	if len(rec.errors) != 0 {
		t.Errorf("update: errors %q", rec.errors)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "posts.delete  delete  posts  role=moderator") {
		t.Errorf("written lock:\n%s", data)
	}

	rec = check(t, registry(t, "moderator", true), path, false)
	if len(rec.errors) != 0 || len(rec.logs) != 0 {
		t.Errorf("approved: errors %q, logs %q", rec.errors, rec.logs)
	}

	rec = check(t, registry(t, "member", true), path, false)
	if want := "posts.delete now allows role member; approved: moderator"; len(rec.errors) != 1 || !strings.Contains(rec.errors[0], want) {
		t.Errorf("widened: errors %q, want one naming %q", rec.errors, want)
	}

	rec = check(t, registry(t, "moderator", false), path, false)
	if len(rec.errors) != 0 || len(rec.logs) == 0 || !strings.Contains(rec.logs[0], "narrowed to no admin override") {
		t.Errorf("narrowed: errors %q, logs %q; want no error and a log", rec.errors, rec.logs)
	}
	if got, _ := os.ReadFile(path); string(got) != string(data) {
		t.Error("a check without update rewrote the lock")
	}

	if err := os.WriteFile(path, []byte("posts.delete  delete  posts  role=moderator  color=red\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rec = check(t, registry(t, "moderator", true), path, false)
	if !rec.fatal {
		t.Errorf("unreadable lock: errors %q, want a fatal error", rec.errors)
	}
	rec = check(t, registry(t, "moderator", true), path, true)
	if rec.fatal || len(rec.errors) != 0 {
		t.Errorf("update over an unreadable lock: errors %q", rec.errors)
	}
}
