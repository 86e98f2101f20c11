package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyhole-go/keyhole/internal/testdb"
	"github.com/keyhole-go/keyhole/sqlguard"
)

// waitsForum is a forum whose pool has the bounds w (the forum's own
// poolConfig) and whose requests end after timeout.
func waitsForum(t *testing.T, w waits, timeout time.Duration) *forum {
	t.Helper()
	return newForumWith(t, forumOptions{
		pool: func(db *testdb.DB) *pgxpool.Pool { return testPool(t, db.URL, w, nil) },
		app:  func(a *app) { a.requestTimeout = timeout },
	})
}

// reply503 is one response's status and Retry-After.
type reply503 struct {
	status int
	retry  string
}

// deleteThreads sends n concurrent DELETE /api/threads/{id} as bob (a
// moderator of general) and returns their answers.
func (f *forum) deleteThreads(n int, id string) []reply503 {
	f.t.Helper()
	tok := f.token("bob")
	out := make([]reply503, n)
	var wg sync.WaitGroup
	for i := range out {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodDelete, f.srv.URL+"/api/threads/"+id, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := f.srv.Client().Do(req)
			if err != nil {
				out[i] = reply503{status: -1}
				return
			}
			resp.Body.Close()
			out[i] = reply503{resp.StatusCode, resp.Header.Get("Retry-After")}
		})
	}
	wg.Wait()
	return out
}

// holdThreadLock locks thread id's row as the owner, in a transaction
// rolled back by the returned function, which first waits until no
// session is still waiting for that lock (so that nothing waiting can
// run after it).
func (f *forum) holdThreadLock(id int64) (release func()) {
	f.t.Helper()
	ctx := context.Background()
	conn, err := f.db.Owner.Acquire(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	var pid int
	if err := tx.QueryRow(ctx, "select pg_backend_pid() from threads where id = $1 for update", id).Scan(&pid); err != nil {
		f.t.Fatal(err)
	}
	return func() {
		f.t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			var waiting int
			err := f.db.Owner.QueryRow(ctx, "select count(*) from pg_stat_activity where $1 = any(pg_blocking_pids(pid))", pid).Scan(&waiting)
			if err != nil {
				f.t.Fatal(err)
			}
			if waiting == 0 {
				break
			}
			if time.Now().After(deadline) {
				f.t.Fatalf("%d sessions still wait for the lock", waiting)
			}
			time.Sleep(10 * time.Millisecond) // polling the server's state, not a synchronisation guess
		}
		if err := tx.Rollback(ctx); err != nil {
			f.t.Fatal(err)
		}
		conn.Release()
	}
}

// TestHeldLockBoundedWaits: a row lock held by another session while
// eight moderators' deletes of that row arrive, on a pool of four
// connections. PostgreSQL's lock_timeout ends each wait: every delete
// answers 503 with Retry-After, a read of another route is served
// meanwhile (the pool is not held hostage), and when the lock is released
// no delete runs after its client got its reply503: the thread is still
// there and nothing changed.
func TestHeldLockBoundedWaits(t *testing.T) {
	f := waitsForum(t, waits{statement: 5 * time.Second, lock: 100 * time.Millisecond, maxConns: 4}, 10*time.Second)
	before := f.fingerprint()
	release := f.holdThreadLock(1)
	answers := make(chan []reply503, 1)
	go func() { answers <- f.deleteThreads(8, "1") }()
	if status, body := f.as("dave", "GET", "/api/groups/2/threads", ""); status != http.StatusOK {
		t.Errorf("unrelated read during the held lock: got %d %s, want 200", status, body)
	}
	for i, a := range <-answers {
		if a.status != http.StatusServiceUnavailable || a.retry == "" {
			t.Errorf("delete %d: got %d with Retry-After %q, want 503 with Retry-After", i, a.status, a.retry)
		}
	}
	release()
	if !f.exists("threads", 1) || f.fingerprint() != before {
		t.Error("a refused delete changed the database after its client got 503")
	}
}

// TestRequestDeadline: the same deletes, with lock_timeout longer than the
// request's deadline: the deadline ends each request with 503 and
// Retry-After, pgx cancels the statement still waiting, and none of them
// deletes the thread when the lock is released.
func TestRequestDeadline(t *testing.T) {
	f := waitsForum(t, waits{statement: 30 * time.Second, lock: 30 * time.Second, maxConns: 4}, 300*time.Millisecond)
	before := f.fingerprint()
	release := f.holdThreadLock(1)
	for i, a := range f.deleteThreads(4, "1") {
		if a.status != http.StatusServiceUnavailable || a.retry == "" {
			t.Errorf("delete %d: got %d with Retry-After %q, want 503 with Retry-After", i, a.status, a.retry)
		}
	}
	release()
	if !f.exists("threads", 1) || f.fingerprint() != before {
		t.Error("a delete canceled by the request's deadline ran after its client got 503")
	}
	// The pool recovered: the same route works again.
	if status, body := f.as("bob", "DELETE", "/api/threads/1", ""); status != http.StatusNoContent && status != http.StatusOK {
		t.Errorf("delete after the lock: got %d %s", status, body)
	}
}

// TestSerializableEdits: with every transaction SERIALIZABLE
// (default_transaction_isolation), 24 concurrent edits of one post by its
// author collide in serialization failures. Each edit is one statement
// that runs on its own (behind the wall, in one round trip), so sqlguard
// retries it (here with attempts enough for all): every edit is
// acknowledged, none answers 500 or 503, and the post holds one of the
// acknowledged contents. With retries off the same requests answer 503.
func TestSerializableEdits(t *testing.T) {
	f := newForumWith(t, forumOptions{pool: func(db *testdb.DB) *pgxpool.Pool {
		return testPool(t, db.URL, defaultWaits, func(cfg *pgxpool.Config) {
			cfg.ConnConfig.RuntimeParams["default_transaction_isolation"] = "serializable"
		})
	}})
	// Enough attempts that every edit gets through: the bound is what
	// the test is not about.
	f.app.reg.SetRetry(sqlguard.Retry{Attempts: 100, Backoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	post := f.newPost(1, "alice", "first")
	tok := f.token("alice")
	const n = 24
	status := make([]int, n)
	var wg sync.WaitGroup
	for i := range status {
		wg.Go(func() {
			s, _, err := f.try("PATCH", "/api/posts/"+strconv.FormatInt(post, 10), tok, fmt.Sprintf(`{"content":"edit %d"}`, i))
			if err != nil {
				s = -1
			}
			status[i] = s
		})
	}
	wg.Wait()
	acked := map[string]bool{}
	for i, s := range status {
		switch s {
		case http.StatusOK, http.StatusNoContent:
			acked[fmt.Sprintf("edit %d", i)] = true
		default:
			t.Errorf("edit %d: got %d, want success", i, s)
		}
	}
	var content string
	if err := f.db.Owner.QueryRow(t.Context(), "select content from posts where id = $1", post).Scan(&content); err != nil {
		t.Fatal(err)
	}
	if len(acked) == 0 || !acked[content] {
		t.Errorf("post holds %q; acknowledged: %d edits", content, len(acked))
	}
}
