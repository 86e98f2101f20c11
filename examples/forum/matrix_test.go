package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// The demo users (seed.go): alice member of group 1, bob moderator of 1 and
// member of 2, dave member of 2, erin moderator of 1 and 2, carol the admin
// flag. Group 3 has no member.

// TestPolicyMatrix is the forum's four rules (see policies.go), through HTTP:
// each demo user × each action × each group (their own, another, one
// nobody belongs to), allowed and denied side by side. After every denied
// request the database is unchanged; after every allowed one the effect
// is there.
func TestPolicyMatrix(t *testing.T) {
	runPolicyMatrix(t, newForum(t), matrixStrict)
}

// How runPolicyMatrix judges an answer.
type matrixMode uint8

const (
	matrixStrict  matrixMode = iota // every answer is the matrix's
	matrixRefused                   // every answer is 500 (the statement was refused before it ran)
	matrixMayFail                   // the matrix's answer, or a 500 that changed nothing
)

// runPolicyMatrix runs the matrix of TestPolicyMatrix on f.
func runPolicyMatrix(t *testing.T, f *forum, mode matrixMode) {
	// want[action] = status in groups 1, 2, 3.
	type want map[string][3]int
	const (
		ok      = http.StatusCreated
		gone    = http.StatusNoContent
		denied  = http.StatusForbidden
		unknown = http.StatusNotFound // not visible: same as missing
	)
	matrix := []struct {
		user string
		want want
	}{
		{"alice", want{
			"create-thread": {ok, denied, denied},
			"post":          {ok, unknown, unknown},
			"delete-thread": {denied, unknown, unknown},
			"delete-post":   {denied, unknown, unknown},
		}},
		{"bob", want{
			"create-thread": {ok, ok, denied},
			"post":          {ok, ok, unknown},
			"delete-thread": {gone, denied, unknown},
			"delete-post":   {gone, denied, unknown},
		}},
		{"dave", want{
			"create-thread": {denied, ok, denied},
			"post":          {unknown, ok, unknown},
			"delete-thread": {unknown, denied, unknown},
			"delete-post":   {unknown, denied, unknown},
		}},
		{"erin", want{
			"create-thread": {ok, ok, denied},
			"post":          {ok, ok, unknown},
			"delete-thread": {gone, gone, unknown},
			"delete-post":   {gone, gone, unknown},
		}},
		{"carol", want{
			"create-thread": {ok, ok, ok},
			"post":          {ok, ok, ok},
			"delete-thread": {gone, gone, gone},
			"delete-post":   {gone, gone, gone},
		}},
	}
	for _, row := range matrix {
		for _, action := range []string{"create-thread", "post", "delete-thread", "delete-post"} {
			for gi, status := range row.want[action] {
				g := int64(gi + 1)
				t.Run(fmt.Sprintf("%s/%s/group%d", row.user, action, g), func(t *testing.T) {
					parent := f.t
					f.t = t
					defer func() { f.t = parent }()
					check(t, f, row.user, action, g, status, mode)
				})
			}
		}
	}
}

// check performs action as user on a fresh row of group g and checks the
// status and the database.
func check(t *testing.T, f *forum, user, action string, g int64, want int, mode matrixMode) {
	t.Helper()
	th := f.newThread(g, "target")
	p := f.newPost(th, "setup", "target post")
	marker := fmt.Sprintf("%s %s in %d", user, action, g)
	var method, path, body string
	switch action {
	case "create-thread":
		method, path, body = "POST", fmt.Sprintf("/api/groups/%d/threads", g), `{"title":"`+marker+`"}`
	case "post":
		method, path, body = "POST", fmt.Sprintf("/api/threads/%d/posts", th), `{"content":"`+marker+`"}`
	case "delete-thread":
		method, path = "DELETE", fmt.Sprintf("/api/threads/%d", th)
	case "delete-post":
		method, path = "DELETE", fmt.Sprintf("/api/posts/%d", p)
	}
	before := f.fingerprint()
	got, resp := f.as(user, method, path, body)
	switch {
	case mode == matrixRefused:
		want = http.StatusInternalServerError
	case mode == matrixMayFail && got == http.StatusInternalServerError:
		want = got
	}
	if got != want {
		t.Fatalf("%s %s as %s: got %d %s, want %d", method, path, user, got, resp, want)
	}
	if got >= 400 {
		if after := f.fingerprint(); after != before {
			t.Errorf("denied request changed the database")
		}
		if got == http.StatusForbidden && !strings.Contains(string(resp), `"detail":"needs role `) {
			t.Errorf("403 body %s does not say what was needed", resp)
		}
		if got == http.StatusNotFound && string(resp) != `{"type":"about:blank","title":"Not Found","status":404}` {
			t.Errorf("404 body %s", resp)
		}
		return
	}
	switch action {
	case "create-thread":
		var created thread
		if err := json.Unmarshal(resp, &created); err != nil {
			t.Fatal(err)
		}
		if n := f.id("select count(*) from threads where id = $1 and group_id = $2 and title = $3 and created_by = $4",
			created.ID, g, marker, user); n != 1 {
			t.Errorf("thread %d of %s in group %d not found", created.ID, user, g)
		}
	case "post":
		if n := f.id("select count(*) from posts where thread_id = $1 and content = $2 and author = $3", th, marker, user); n != 1 {
			t.Errorf("got %d posts of %s, want 1", n, user)
		}
	case "delete-thread":
		if f.exists("threads", th) || f.exists("posts", p) {
			t.Errorf("thread %d (or its post) still there", th)
		}
	case "delete-post":
		if f.exists("posts", p) || !f.exists("threads", th) {
			t.Errorf("post %d still there, or its thread went too", p)
		}
	}
}

// TestMoveAndEdit: a thread moves between two groups its mover moderates,
// not out of or into one they do not; authors edit their own posts only.
func TestMoveAndEdit(t *testing.T) {
	f := newForum(t)
	// erin moderates groups 1 and 2 (bob moderates 1, is a member of 2).
	th := f.newThread(1, "movable")
	p := f.newPost(th, "alice", "mine")

	move := func(user string, to int64) (int, []byte) {
		return f.as(user, "POST", fmt.Sprintf("/api/threads/%d/move", th), fmt.Sprintf(`{"group_id":%d}`, to))
	}
	for _, c := range []struct {
		user       string
		to         int64
		want       int
		wantDetail string
	}{
		{"alice", 2, http.StatusForbidden, "needs role moderator in group 1"}, // member of the source
		{"bob", 2, http.StatusForbidden, "needs role moderator in group 2"},   // moderator of the source only
		{"bob", 3, http.StatusForbidden, "needs role moderator in group 3"},
		{"dave", 2, http.StatusNotFound, ""}, // cannot see the thread
		{"erin", 3, http.StatusForbidden, "needs role moderator in group 3"},
	} {
		before := f.fingerprint()
		got, body := move(c.user, c.to)
		if got != c.want || !strings.Contains(string(body), c.wantDetail) {
			t.Errorf("move by %s to %d: got %d %s, want %d %q", c.user, c.to, got, body, c.want, c.wantDetail)
		}
		if f.fingerprint() != before {
			t.Errorf("refused move by %s changed the database", c.user)
		}
	}
	if got, body := move("erin", 2); got != http.StatusNoContent {
		t.Fatalf("move by erin: got %d %s, want 204", got, body)
	}
	if g := f.id("select group_id from threads where id = $1", th); g != 2 {
		t.Errorf("thread in group %d after the move, want 2", g)
	}
	// Moved to group 2: alice no longer sees it, dave now does.
	if got, _ := f.as("alice", "GET", fmt.Sprintf("/api/threads/%d", th), ""); got != http.StatusNotFound {
		t.Errorf("alice reads the moved thread: got %d, want 404", got)
	}
	if got, _ := f.as("dave", "GET", fmt.Sprintf("/api/threads/%d", th), ""); got != http.StatusOK {
		t.Errorf("dave reads the moved thread: got %d, want 200", got)
	}
	if got, _ := move("carol", 3); got != http.StatusNoContent {
		t.Errorf("move by the admin: got %d, want 204", got)
	}
	if got, _ := move("carol", 999); got != http.StatusNotFound {
		t.Errorf("admin move to a missing group: got %d, want 404", got)
	}

	// Edits: back in group 1 for alice.
	f.exec("update threads set group_id = 1 where id = $1", th)
	edit := func(user string, post int64, content string) int {
		got, _ := f.as(user, "PATCH", fmt.Sprintf("/api/posts/%d", post), `{"content":"`+content+`"}`)
		return got
	}
	other := f.newPost(th, "bob", "bob's")
	before := f.fingerprint()
	for _, c := range []struct {
		user string
		post int64
		want int
	}{
		{"alice", other, http.StatusForbidden}, // not hers
		{"bob", p, http.StatusForbidden},       // a moderator does not edit others' posts
		{"carol", p, http.StatusForbidden},     // neither does the admin
		{"dave", p, http.StatusNotFound},       // cannot see it
		{"alice", 999999, http.StatusNotFound}, // does not exist
	} {
		if got := edit(c.user, c.post, "changed"); got != c.want {
			t.Errorf("edit of post %d by %s: got %d, want %d", c.post, c.user, got, c.want)
		}
	}
	if got, body := f.as("carol", "PATCH", fmt.Sprintf("/api/posts/%d", p), `{"content":"x"}`); got != http.StatusForbidden ||
		!strings.Contains(string(body), `"detail":"needs to be the post's author: only the author may edit"`) {
		t.Errorf("edit by the admin: got %d %s, want 403 naming the author", got, body)
	}
	if f.fingerprint() != before {
		t.Errorf("refused edits changed the database")
	}
	if got := edit("alice", p, "edited"); got != http.StatusNoContent {
		t.Fatalf("alice edits her post: got %d, want 204", got)
	}
	if n := f.id("select count(*) from posts where id = $1 and content = 'edited' and edited_at is not null", p); n != 1 {
		t.Errorf("edit did not land")
	}
}

// TestLists: lists show only what the caller may see, newest first, with a
// before cursor and a capped limit.
func TestLists(t *testing.T) {
	f := newForum(t)
	for i := range 5 {
		f.newThread(1, fmt.Sprintf("g1 thread %d", i))
		f.newThread(2, fmt.Sprintf("g2 thread %d", i))
	}
	groups := func(user string) string {
		_, body := f.as(user, "GET", "/api/groups", "")
		return string(body)
	}
	if got, want := groups("alice"), `{"items":[{"id":1,"name":"general"}]}`; got != want {
		t.Errorf("alice's groups: got %s, want %s", got, want)
	}
	if got, want := groups("carol"), `{"items":[{"id":3,"name":"staff"},{"id":2,"name":"golang"},{"id":1,"name":"general"}]}`; got != want {
		t.Errorf("carol's groups: got %s, want %s", got, want)
	}

	var seen []int64
	path := "/api/groups/1/threads?limit=3"
	for range 10 {
		status, body := f.as("alice", "GET", path, "")
		if status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, status, body)
		}
		var l struct {
			Items []thread
			Next  *int64 `json:"next_before"`
		}
		if err := json.Unmarshal(body, &l); err != nil {
			t.Fatal(err)
		}
		for _, th := range l.Items {
			if th.GroupID != 1 {
				t.Errorf("thread %d of group %d in group 1's list", th.ID, th.GroupID)
			}
			if len(seen) > 0 && th.ID >= seen[len(seen)-1] {
				t.Errorf("thread %d after %d: not newest first", th.ID, seen[len(seen)-1])
			}
			seen = append(seen, th.ID)
		}
		if l.Next == nil {
			break
		}
		path = fmt.Sprintf("/api/groups/1/threads?limit=3&before=%d", *l.Next)
	}
	if want := f.id("select count(*) from threads where group_id = 1"); int64(len(seen)) != want {
		t.Errorf("paged through %d threads, want %d", len(seen), want)
	}
	// Not visible: not found, like a missing group.
	for _, path := range []string{"/api/groups/2/threads", "/api/groups/99/threads", "/api/groups/2"} {
		if got, _ := f.as("alice", "GET", path, ""); got != http.StatusNotFound {
			t.Errorf("alice GET %s: got %d, want 404", path, got)
		}
	}
	// The limit is capped.
	for range 120 {
		f.newThread(2, "more")
	}
	_, body := f.as("dave", "GET", "/api/groups/2/threads?limit=1000", "")
	var l struct{ Items []thread }
	if err := json.Unmarshal(body, &l); err != nil {
		t.Fatal(err)
	}
	if len(l.Items) != maxLimit {
		t.Errorf("limit=1000 gave %d threads, want the cap %d", len(l.Items), maxLimit)
	}
	// Posts of a visible thread; of an invisible one: not found.
	if got, _ := f.as("alice", "GET", "/api/threads/1/posts", ""); got != http.StatusOK {
		t.Errorf("alice reads thread 1's posts: got %d", got)
	}
	if got, _ := f.as("alice", "GET", "/api/threads/3/posts", ""); got != http.StatusNotFound {
		t.Errorf("alice reads thread 3's posts: got %d, want 404", got)
	}
}
