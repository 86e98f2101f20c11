package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/middleware"
)

// BenchmarkForum measures a full HTTP request that creates a post:
//
//	create-post            token check (middleware + verifier), strict
//	                       decode, the guarded insert of posts.create
//	                       (FOR SHARE on the thread), JSON answer
//	create-post-unguarded  the same handler and server wrappers with a plain
//	                       INSERT and no token check
//
// The ratio of their ns/op is the throughput the guard leaves (goal: the
// guarded path at least 0.95× the unguarded one). interleaved measures the
// same ratio with the two requests alternating, which is the number to
// trust on a busy machine:
//
//	go test ./examples/forum -run '^$' -bench Forum -benchtime 3000x -count 3
//
// The top-level rows run without the second wall (the guard's cost
// alone); the wall/ rows run the guarded request as the program does,
// behind the wall in one round trip (wall.Wall.Bind), against the same
// plain INSERT on the same database, sent by the tables' owner (who
// bypasses row-level security, as the login role without the wall would).
func BenchmarkForum(b *testing.B) {
	benchForum(b, "", forumOptions{noWall: true})
	benchForum(b, "wall/", forumOptions{})
}

// benchForum runs BenchmarkForum's rows, named prefix+row, on a forum
// made with o.
func benchForum(b *testing.B, prefix string, o forumOptions) {
	f := newForumWith(b, o)
	token := f.token("alice")

	plain := *f.app
	if !o.noWall {
		// The login role passes the wall only through Bind: the plain
		// INSERT runs as the owner, whom row-level security skips.
		plain.db = f.db.Owner
	}
	plain.createPost = func(ctx context.Context, _ *capability.Capability, threadID int64, content string) (post, error) {
		p := post{ThreadID: threadID, Author: "alice", Content: content}
		err := plain.db.QueryRow(ctx, "insert into posts (thread_id, content, author) values ($1, $2, $3) returning id, created_at",
			threadID, content, p.Author).Scan(&p.ID, &p.CreatedAt)
		return p, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/threads/{id}/posts", apiJSON(&plain, plain.apiCreatePost))
	unguarded := httptest.NewServer(middleware.RecoverWith(plain.log, nil)(http.NewCrossOriginProtection().Handler(mux)))
	b.Cleanup(unguarded.Close)

	client := f.srv.Client()
	const body = `{"content":"a benchmark post, of an ordinary length for a forum reply"}`
	post := func(b *testing.B, base, token string) {
		req, err := http.NewRequest("POST", base+"/api/threads/1/posts", strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("got %d, want 201", resp.StatusCode)
		}
	}
	b.Run(prefix+"create-post", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			post(b, f.srv.URL, token)
		}
	})
	b.Run(prefix+"create-post-unguarded", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			post(b, unguarded.URL, "")
		}
	})
	// interleaved alternates the two requests, so that both see the same
	// machine: on a shared machine the load drifts between the two
	// sub-benchmarks above. It reports each path's time per request and
	// the guarded path's throughput relative to the unguarded one.
	b.Run(prefix+"interleaved", func(b *testing.B) {
		var guarded, plain time.Duration
		for b.Loop() {
			start := time.Now()
			post(b, f.srv.URL, token)
			mid := time.Now()
			post(b, unguarded.URL, "")
			guarded += mid.Sub(start)
			plain += time.Since(mid)
		}
		b.ReportMetric(float64(guarded.Nanoseconds())/float64(b.N), "guarded-ns/req")
		b.ReportMetric(float64(plain.Nanoseconds())/float64(b.N), "unguarded-ns/req")
		b.ReportMetric(float64(plain)/float64(guarded), "throughput-ratio")
	})
}
