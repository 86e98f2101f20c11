package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
)

// TestConcurrentWrites sends 200 requests at once, allowed and forbidden
// writes of several users mixed, and checks that exactly the allowed
// effects landed: every allowed post, thread and delete, and none of the
// forbidden ones.
func TestConcurrentWrites(t *testing.T) {
	f := newForum(t)
	t1 := f.newThread(1, "general target") // alice, bob: members; dave: not
	t2 := f.newThread(2, "golang target")  // bob, dave: members; alice: not
	var g1Doomed, g2Kept []int64
	for i := range 15 {
		g1Doomed = append(g1Doomed, f.newThread(1, fmt.Sprintf("g1 doomed %d", i)))
		g2Kept = append(g2Kept, f.newThread(2, fmt.Sprintf("g2 kept %d", i)))
	}
	tokens := map[string]string{}
	for _, u := range []string{"alice", "bob", "dave", "carol"} {
		tokens[u] = f.token(u)
	}

	type req struct {
		user, method, path, body string
		want                     int
		marker                   string // content or title that lands iff allowed
	}
	var reqs []req
	postTo := func(user string, th int64, want, i int) {
		m := fmt.Sprintf("post %s %d #%d", user, th, i)
		reqs = append(reqs, req{user, "POST", fmt.Sprintf("/api/threads/%d/posts", th), `{"content":"` + m + `"}`, want, m})
	}
	threadIn := func(user string, g int64, want, i int) {
		m := fmt.Sprintf("thread %s %d #%d", user, g, i)
		reqs = append(reqs, req{user, "POST", fmt.Sprintf("/api/groups/%d/threads", g), `{"title":"` + m + `"}`, want, m})
	}
	del := func(user string, th int64, want int) {
		reqs = append(reqs, req{user, "DELETE", fmt.Sprintf("/api/threads/%d", th), "", want, ""})
	}
	for i := range 30 {
		postTo("alice", t1, http.StatusCreated, i)
		postTo("dave", t2, http.StatusCreated, i)
	}
	for i := range 20 {
		postTo("alice", t2, http.StatusNotFound, i)
		postTo("dave", t1, http.StatusNotFound, i)
	}
	for i := range 10 {
		threadIn("bob", 2, http.StatusCreated, i)
		threadIn("dave", 1, http.StatusForbidden, i)
		threadIn("alice", 3, http.StatusForbidden, i)
		postTo("carol", t2, http.StatusCreated, i)
	}
	for i := range 10 {
		threadIn("carol", 3, http.StatusCreated, i) // the admin flag: any group
		threadIn("alice", 1, http.StatusCreated, i)
	}
	for i := range 15 {
		del("bob", g1Doomed[i], http.StatusNoContent) // moderator of group 1
		del("bob", g2Kept[i], http.StatusForbidden)   // member of group 2 only
	}
	for i := range 10 {
		del("alice", g2Kept[i], http.StatusNotFound) // cannot see group 2
	}
	if len(reqs) != 200 {
		t.Fatalf("%d requests, want 200", len(reqs))
	}
	rand.Shuffle(len(reqs), func(i, j int) { reqs[i], reqs[j] = reqs[j], reqs[i] })

	got := make([]int, len(reqs))
	errs := make([]error, len(reqs))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, r := range reqs {
		wg.Go(func() {
			<-start
			got[i], _, errs[i] = f.try(r.method, r.path, tokens[r.user], r.body)
		})
	}
	close(start)
	wg.Wait()

	var wantPosts, wantThreads []string
	for i, r := range reqs {
		if errs[i] != nil {
			t.Fatalf("%s %s as %s: %v", r.method, r.path, r.user, errs[i])
		}
		if got[i] != r.want {
			t.Errorf("%s %s as %s: got %d, want %d", r.method, r.path, r.user, got[i], r.want)
		}
		if r.want == http.StatusCreated && r.method == "POST" {
			if strings.HasPrefix(r.marker, "post ") {
				wantPosts = append(wantPosts, r.marker)
			} else {
				wantThreads = append(wantThreads, r.marker)
			}
		}
	}
	strs := func(sql string) []string {
		rows, err := f.db.Owner.Query(context.Background(), sql)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		return out
	}
	if got := strs("select content from posts where content like 'post %' order by content collate \"C\""); !slices.Equal(got, sortedC(wantPosts)) {
		t.Errorf("posts that landed: %d, want exactly the %d allowed", len(got), len(wantPosts))
	}
	if got := strs("select title from threads where title like 'thread %' order by title collate \"C\""); !slices.Equal(got, sortedC(wantThreads)) {
		t.Errorf("threads that landed: %d, want exactly the %d allowed", len(got), len(wantThreads))
	}
	for _, th := range g1Doomed {
		if f.exists("threads", th) {
			t.Errorf("thread %d should have been deleted", th)
		}
	}
	for _, th := range g2Kept {
		if !f.exists("threads", th) {
			t.Errorf("thread %d was deleted by a forbidden request", th)
		}
	}
}

// sortedC sorts like PostgreSQL's "C" collation: by bytes.
func sortedC(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
