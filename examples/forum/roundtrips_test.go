package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyhole-go/keyhole/internal/testdb"
)

// statementCounter counts the round trips through a pool: a statement,
// or a batch (behind the second wall, each statement travels with its
// settings in one batch: one round trip).
type statementCounter struct{ n atomic.Int64 }

func (c *statementCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (c *statementCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *statementCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (c *statementCounter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

func (c *statementCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// TestRoundTrips: how many statements a request costs. No request runs a
// guarded Get twice; a list whose page has rows is one statement; only an
// empty page asks the parent's Get whether it is not found. Every policy
// requires a live session: a statement that did nothing (an empty page, a
// row not found) asks the registry's liveness query why before it answers
// (sqlguard.PolicyInfo.LiveSQL), one statement more; an allowed statement
// carries its session check and needs none.
func TestRoundTrips(t *testing.T) {
	var sc statementCounter
	f := newForumWith(t, forumOptions{pool: func(db *testdb.DB) *pgxpool.Pool {
		return testPool(t, db.URL, defaultWaits, func(cfg *pgxpool.Config) { cfg.ConnConfig.Tracer = &sc })
	}})
	empty := f.newThread(1, "no posts yet")
	f.token("alice")
	f.token("dave")
	for _, c := range []struct {
		user, method, path, body string
		status                   int
		statements               int64
		bodyHas                  string
	}{
		// The page of a thread: threads.get, posts.list, groups.list (the
		// move form).
		{"dave", "GET", "/threads/3", "", http.StatusOK, 3, "Go 1.26 is out"},
		{"dave", "GET", "/threads/1", "", http.StatusNotFound, 2, "Not found."},
		{"dave", "GET", "/groups/2", "", http.StatusOK, 2, "golang"},
		{"alice", "GET", "/api/threads/1/posts", "", http.StatusOK, 1, `"items":[{`},
		{"alice", "GET", fmt.Sprintf("/api/threads/%d/posts", empty), "", http.StatusOK, 3, `{"items":[]}`},
		{"alice", "GET", "/api/threads/3/posts", "", http.StatusNotFound, 4, ""},
		{"alice", "GET", "/api/groups/1/threads", "", http.StatusOK, 1, `"items":[{`},
		{"alice", "GET", "/api/groups/1/threads?before=1", "", http.StatusOK, 3, `{"items":[]}`},
		{"alice", "GET", "/api/groups/2/threads", "", http.StatusNotFound, 4, ""},
		{"alice", "GET", "/api/threads/1", "", http.StatusOK, 1, ""},
		{"alice", "POST", "/api/threads/1/posts", `{"content":"one statement"}`, http.StatusCreated, 1, ""},
	} {
		sc.n.Store(0)
		status, body := f.as(c.user, c.method, c.path, c.body)
		if status != c.status || !strings.Contains(string(body), c.bodyHas) {
			t.Errorf("%s %s %s: got %d %.200s, want %d with %q", c.user, c.method, c.path, status, body, c.status, c.bodyHas)
		}
		if n := sc.n.Load(); n != c.statements {
			t.Errorf("%s %s %s: %d statements, want %d", c.user, c.method, c.path, n, c.statements)
		}
	}
}
