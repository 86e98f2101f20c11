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
//	wall/create-post       create-post behind the second wall, as the
//	                       program runs it (wall.Wall.Bind: one round trip)
//
// The ratio of their ns/op is the throughput the guard leaves (goal: the
// guarded path at least 0.95× the unguarded one). interleaved measures the
// same ratio with the two requests alternating, which is the number to
// trust on a busy machine; wall/interleaved alternates wall/create-post
// with the same unguarded request (a forum without the wall, the login
// role's plain INSERT):
//
//	go test ./examples/forum -run '^$' -bench Forum -benchtime 3000x -count 3
func BenchmarkForum(b *testing.B) {
	f := newForumWith(b, forumOptions{noWall: true})
	walled := newForumWith(b, forumOptions{})
	token, wallToken := f.token("alice"), walled.token("alice")

	plain := *f.app
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
	b.Run("create-post", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			post(b, f.srv.URL, token)
		}
	})
	b.Run("create-post-unguarded", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			post(b, unguarded.URL, "")
		}
	})
	b.Run("wall/create-post", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			post(b, walled.srv.URL, wallToken)
		}
	})
	// interleaved alternates a guarded request with the unguarded one, so
	// that both see the same machine: on a shared machine the load drifts
	// between the sub-benchmarks above. It reports each path's time per
	// request and the guarded path's throughput relative to the unguarded
	// one.
	interleaved := func(name, base, token string) {
		b.Run(name, func(b *testing.B) {
			var guarded, plain time.Duration
			for b.Loop() {
				start := time.Now()
				post(b, base, token)
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
	interleaved("interleaved", f.srv.URL, token)
	interleaved("wall/interleaved", walled.srv.URL, wallToken)
}
