package sqlguard

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// TestExecModeMemoForgets: the memo of a handle's mode goes with the
// handle. (pgxpool connects lazily: no server needed.)
func TestExecModeMemoForgets(t *testing.T) {
	entries := func() int {
		n := 0
		modes.Range(func(any, any) bool { n++; return true })
		return n
	}
	before := entries()
	func() {
		for range 50 {
			p, err := pgxpool.New(context.Background(), "postgres://app@localhost/app?default_query_exec_mode=exec")
			if err != nil {
				t.Fatal(err)
			}
			if err := CheckExecMode(p); err != nil {
				t.Fatal(err)
			}
			p.Close()
		}
	}()
	if n := entries(); n < before+50 {
		t.Fatalf("%d entries after 50 pools, want at least %d", n, before+50)
	}
	for deadline := time.Now().Add(10 * time.Second); entries() > before+10; {
		if time.Now().After(deadline) {
			t.Fatalf("%d memo entries left after the pools were collected", entries())
		}
		runtime.GC() // the cleanups run after a collection
		runtime.Gosched()
	}
}
