package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// fullFingerprint is fingerprint with the auth side's tables: a refused
// call changes no thread, post, group, membership, user or session.
func (f *forum) fullFingerprint() string {
	f.t.Helper()
	var s string
	err := f.db.Owner.QueryRow(context.Background(), `select md5(
		coalesce((select string_agg(m::text, '|' order by user_name, group_id) from memberships m), '') || '#' ||
		coalesce((select string_agg(u::text, '|' order by name) from users u), '') || '#' ||
		coalesce((select string_agg(s::text, '|' order by id) from sessions s), ''))`).Scan(&s)
	if err != nil {
		f.t.Fatal(err)
	}
	return f.fingerprint() + s
}

// login logs user in through POST /login and returns a fresh token (a
// new session every time, unlike token).
func (f *forum) login(user string) string {
	f.t.Helper()
	status, body := f.do("POST", "/login", "", `{"user":"`+user+`"}`)
	var lr loginResponse
	if status != http.StatusOK || json.Unmarshal(body, &lr) != nil || lr.Token == "" {
		f.t.Fatalf("login %s: %d %s", user, status, body)
	}
	return lr.Token
}

// wantEnded checks a refusal of an ended session: 401 with the
// invalid_token challenge.
func (f *forum) wantEnded(what, method, path, token, body string) {
	f.t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		f.t.Errorf("%s: %s %s: got %d %q, want 401 invalid_token", what, method, path, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

// apiRoutes is every route of the API with a body for the writes, on rows
// alice could otherwise reach (thread 1 and its first post are in group
// 1, where she is a member).
func apiRoutes(f *forum) [][3]string {
	p := f.id("select min(id) from posts where thread_id = 1")
	return [][3]string{
		{"GET", "/api/me", ""},
		{"GET", "/api/groups", ""},
		{"GET", "/api/groups/1", ""},
		{"GET", "/api/groups/1/threads", ""},
		{"POST", "/api/groups/1/threads", `{"title":"after logout"}`},
		{"GET", "/api/threads/1", ""},
		{"GET", "/api/threads/404", ""},
		{"DELETE", "/api/threads/1", ""},
		{"POST", "/api/threads/1/move", `{"group_id":2}`},
		{"GET", "/api/threads/1/posts", ""},
		{"POST", "/api/threads/1/posts", `{"content":"after logout"}`},
		{"PATCH", fmt.Sprintf("/api/posts/%d", p), `{"content":"after logout"}`},
		{"DELETE", fmt.Sprintf("/api/posts/%d", p), ""},
		{"GET", "/api/members", ""},
		{"DELETE", "/api/groups/1/members/bob", ""},
		{"POST", "/api/users/bob/signout", ""},
	}
}

// TestLogoutEndsTheToken: POST /login, POST /logout with the same token,
// then a write with that token answers 401 and writes nothing; so does
// every other route of the API, reads, writes and the route that runs no
// statement (/api/me, refused by the middleware's revocation check), for
// the token and any copy of it. Logging in again works.
func TestLogoutEndsTheToken(t *testing.T) {
	f := newForum(t)
	tok := f.login("alice")
	if status, body := f.do("POST", "/api/groups/1/threads", tok, `{"title":"before logout"}`); status != http.StatusCreated {
		t.Fatalf("write before logout: %d %s", status, body)
	}
	copied := tok
	if status, body := f.do("POST", "/logout", tok, ""); status != http.StatusNoContent {
		t.Fatalf("logout: %d %s", status, body)
	}
	if n := f.id("select count(*) from sessions where user_name = 'alice' and revoked_at is null"); n != 0 {
		t.Errorf("%d live sessions of alice after logout, want 0", n)
	}
	before := f.fullFingerprint()
	f.wantEnded("the logged-out token", "POST", "/api/groups/1/threads", tok, `{"title":"after logout"}`)
	for _, r := range apiRoutes(f) {
		f.wantEnded("a copy of the logged-out token", r[0], r[1], copied, r[2])
	}
	if f.fullFingerprint() != before {
		t.Fatal("refused requests changed the database")
	}
	// Logging out again with the ended token is refused too, changing nothing.
	f.wantEnded("a second logout", "POST", "/logout", copied, "")
	again := f.login("alice")
	if status, body := f.do("POST", "/api/groups/1/threads", again, `{"title":"new session"}`); status != http.StatusCreated {
		t.Errorf("write after logging in again: %d %s", status, body)
	}
}

// TestLogoutEndsTheWebSession: after logout through the page, the copied
// cookie is refused by every page, reads and form posts: each answers a
// redirect to the login that clears the cookie, and nothing changes.
func TestLogoutEndsTheWebSession(t *testing.T) {
	f := newForum(t)
	c := f.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	cookie := cookieName + "=" + f.login("dave")
	send := func(method, path, form string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, f.srv.URL+path, strings.NewReader(form))
		if form != "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		req.Header.Set("Cookie", cookie)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if resp := send("GET", "/threads/3", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("dave's thread before logout: %d", resp.StatusCode)
	}
	if resp := send("POST", "/logout", "x=1"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	p := f.id("select min(id) from posts where thread_id = 3")
	before := f.fullFingerprint()
	for _, r := range [][3]string{
		{"GET", "/", ""},
		{"GET", "/groups/2", ""},
		{"GET", "/threads/3", ""},
		{"POST", "/groups/2/threads", "title=after+logout"},
		{"POST", "/threads/3/posts", "content=after+logout"},
		{"POST", "/threads/3/delete", "group_id=2"},
		{"POST", "/threads/3/move", "group_id=1"},
		{"POST", fmt.Sprintf("/posts/%d/edit", p), "thread_id=3&content=x"},
		{"POST", fmt.Sprintf("/posts/%d/delete", p), "thread_id=3"},
		{"POST", "/groups/2/members/remove", "user=bob"},
		{"POST", "/users/signout", "user=bob"},
		{"POST", "/logout", "x=1"},
	} {
		resp := send(r[0], r[1], r[2])
		cleared := false
		for _, ck := range resp.Cookies() {
			cleared = cleared || ck.Name == cookieName && ck.MaxAge < 0
		}
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" || !cleared {
			t.Errorf("%s %s with the logged-out cookie: %d to %q, cookie cleared %v; want 303 to / clearing it",
				r[0], r[1], resp.StatusCode, resp.Header.Get("Location"), cleared)
		}
	}
	if f.fullFingerprint() != before {
		t.Fatal("refused requests changed the database")
	}
}

// TestRemovedMember: an admin removes bob (moderator of general) from
// general; bob's token still lists the group, and his next writes there
// are refused before the token expires, changing nothing, while his
// writes in golang still work. A non-admin cannot remove anyone.
func TestRemovedMember(t *testing.T) {
	f := newForum(t)
	bob := f.login("bob")
	if status, body := f.do("POST", "/api/groups/1/threads", bob, `{"title":"still a moderator"}`); status != http.StatusCreated {
		t.Fatalf("bob writes in general: %d %s", status, body)
	}
	f.token("alice")
	f.token("carol")
	before := f.fullFingerprint()
	if status, _ := f.as("alice", "DELETE", "/api/groups/1/members/bob", ""); status != http.StatusNotFound {
		t.Errorf("alice removes bob: %d, want 404 (admin only)", status)
	}
	if f.fullFingerprint() != before {
		t.Fatal("a refused removal changed the database")
	}
	if status, body := f.as("carol", "DELETE", "/api/groups/1/members/bob", ""); status != http.StatusNoContent {
		t.Fatalf("carol removes bob: %d %s", status, body)
	}
	if status, body := f.do("GET", "/api/me", bob, ""); status != http.StatusOK || !strings.Contains(string(body), `"group":1`) {
		t.Fatalf("bob's token no longer lists general? %d %s", status, body)
	}
	p := f.id("select min(id) from posts where thread_id = 1")
	before = f.fullFingerprint()
	for _, r := range []struct{ method, path, body string }{
		{"POST", "/api/groups/1/threads", `{"title":"removed"}`},
		{"POST", "/api/threads/1/posts", `{"content":"removed"}`},
		{"DELETE", "/api/threads/1", ""},
		{"POST", "/api/threads/1/move", `{"group_id":2}`},
		{"DELETE", fmt.Sprintf("/api/posts/%d", p), ""},
	} {
		status, body := f.do(r.method, r.path, bob, r.body)
		if status != http.StatusForbidden && status != http.StatusNotFound {
			t.Errorf("removed bob %s %s: %d %s, want 403 or 404", r.method, r.path, status, body)
		}
	}
	if f.fullFingerprint() != before {
		t.Fatal("refused writes of a removed member changed the database")
	}
	if status, body := f.do("POST", "/api/groups/2/threads", bob, `{"title":"still a member of golang"}`); status != http.StatusCreated {
		t.Errorf("bob writes in golang: %d %s", status, body)
	}
}

// TestSignOutEverywhere: an admin signs alice out everywhere: both of her
// tokens are refused on every route, nothing changes, and she can log in
// again at once. A non-admin cannot sign anyone out; the admin's forms on
// the page do the same.
func TestSignOutEverywhere(t *testing.T) {
	f := newForum(t)
	t1, t2 := f.login("alice"), f.login("alice")
	f.token("bob")
	f.token("carol")
	before := f.fullFingerprint()
	if status, _ := f.as("bob", "POST", "/api/users/alice/signout", ""); status != http.StatusNotFound {
		t.Errorf("bob signs alice out: %d, want 404 (admin only)", status)
	}
	if status, _ := f.as("carol", "POST", "/api/users/nobody/signout", ""); status != http.StatusNotFound {
		t.Errorf("carol signs an unknown user out: %d, want 404", status)
	}
	if f.fullFingerprint() != before {
		t.Fatal("refused sign-outs changed the database")
	}
	if status, body := f.as("carol", "POST", "/api/users/alice/signout", ""); status != http.StatusNoContent {
		t.Fatalf("carol signs alice out: %d %s", status, body)
	}
	before = f.fullFingerprint()
	for _, tok := range []string{t1, t2} {
		for _, r := range apiRoutes(f) {
			f.wantEnded("a signed-out token", r[0], r[1], tok, r[2])
		}
	}
	if f.fullFingerprint() != before {
		t.Fatal("refused requests changed the database")
	}
	again := f.login("alice")
	if status, body := f.do("POST", "/api/groups/1/threads", again, `{"title":"back"}`); status != http.StatusCreated {
		t.Errorf("alice after logging in again: %d %s", status, body)
	}

	// The admin's page: the forms remove a member and sign a user out.
	c := f.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	admin := cookieName + "=" + f.token("carol")
	post := func(path, form string) int {
		req, _ := http.NewRequest("POST", f.srv.URL+path, strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Cookie", admin)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	req, _ := http.NewRequest("GET", f.srv.URL+"/", nil)
	req.Header.Set("Cookie", admin)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), `action="/groups/2/members/remove"`) || !strings.Contains(string(page), `action="/users/signout"`) {
		t.Errorf("the admin's home has no member forms:\n%s", page)
	}
	if got := post("/groups/2/members/remove", "user=dave"); got != http.StatusSeeOther {
		t.Errorf("remove dave from golang through the page: %d", got)
	}
	if n := f.id("select count(*) from memberships where user_name = 'dave' and group_id = 2"); n != 0 {
		t.Error("dave is still a member of golang")
	}
	dave := f.login("dave")
	if got := post("/users/signout", "user=dave"); got != http.StatusSeeOther {
		t.Errorf("sign dave out through the page: %d", got)
	}
	f.wantEnded("dave after the page's sign-out", "GET", "/api/me", dave, "")
}
