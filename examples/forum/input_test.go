package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/capability/token"
)

// mintWith signs a token for alice's grants with key and a clock.
func mintWith(t *testing.T, key *token.SigningKey, now time.Time) string {
	t.Helper()
	is, err := token.NewIssuer(token.IssuerOptions{
		Issuer: tokenIssuer, Roles: forumRoles, Kind: capability.KindInt64, Key: key,
		TTL: time.Hour, Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := is.Mint(capability.Params{
		Subject: "alice", Audience: []string{tokenAudience},
		Grants: []capability.Grant{{Group: capability.Int64Group(1), Role: roleMember}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestBadInput: requests that must be refused without touching the
// database, and rows that do not exist answered exactly like rows of
// another group.
func TestBadInput(t *testing.T) {
	f := newForum(t)
	alice := f.token("alice")
	other := f.newThread(2, "golang only")
	otherPost := f.newPost(other, "dave", "hidden")
	before := f.fingerprint()

	otherKeySameKid, err := token.GenerateKey(signingAlgorithm, "test-1")
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := token.GenerateKey(signingAlgorithm, "stranger")
	if err != nil {
		t.Fatal(err)
	}
	const post = "/api/threads/1/posts"
	okBody := `{"content":"should not land"}`
	for _, c := range []struct {
		name                string
		method, path, token string
		body                string
		contentType         string // "" -> application/json when there is a body
		want                int
	}{
		{"no token", "POST", post, "", okBody, "", http.StatusUnauthorized},
		{"garbage token", "POST", post, "not-a-jwt", okBody, "", http.StatusUnauthorized},
		{"expired token", "POST", post, mintWith(t, f.key, time.Now().Add(-3*time.Hour)), okBody, "", http.StatusUnauthorized},
		{"token of another key, same kid", "POST", post, mintWith(t, otherKeySameKid, time.Now()), okBody, "", http.StatusUnauthorized},
		{"token of an unknown key", "POST", post, mintWith(t, otherKey, time.Now()), okBody, "", http.StatusUnauthorized},
		{"malformed JSON", "POST", post, alice, `{"content":`, "", http.StatusBadRequest},
		{"trailing data", "POST", post, alice, okBody + `{}`, "", http.StatusBadRequest},
		{"unknown field", "POST", post, alice, `{"content":"x","author":"bob"}`, "", http.StatusBadRequest},
		{"wrong type", "POST", post, alice, `{"content":42}`, "", http.StatusBadRequest},
		{"empty content", "POST", post, alice, `{"content":"  "}`, "", http.StatusBadRequest},
		{"NUL in content", "POST", post, alice, `{"content":"a\u0000b"}`, "", http.StatusBadRequest},
		{"invalid UTF-8 in content", "POST", post, alice, "{\"content\":\"a\xffb\"}", "", http.StatusBadRequest},
		{"lone surrogate in content", "POST", post, alice, `{"content":"a\ud800b"}`, "", http.StatusBadRequest},
		{"content too long", "POST", post, alice, `{"content":"` + strings.Repeat("x", maxContent+1) + `"}`, "", http.StatusBadRequest},
		{"oversize body", "POST", post, alice, `{"content":"` + strings.Repeat("x", maxBody) + `"}`, "", http.StatusRequestEntityTooLarge},
		{"not JSON", "POST", post, alice, `content=x`, "application/x-www-form-urlencoded", http.StatusUnsupportedMediaType},
		{"id not a number", "POST", "/api/threads/abc/posts", alice, okBody, "", http.StatusBadRequest},
		{"id negative", "POST", "/api/threads/-1/posts", alice, okBody, "", http.StatusBadRequest},
		{"id overflows", "DELETE", "/api/threads/99999999999999999999", alice, "", "", http.StatusBadRequest},
		{"id zero", "GET", "/api/threads/0", alice, "", "", http.StatusBadRequest},
		{"group id as a string", "POST", "/api/threads/1/move", alice, `{"group_id":"2"}`, "", http.StatusBadRequest},
		{"group id fractional", "POST", "/api/threads/1/move", alice, `{"group_id":2.5}`, "", http.StatusBadRequest},
		{"bad cursor", "GET", "/api/groups/1/threads?before=x", alice, "", "", http.StatusBadRequest},
		{"bad limit", "GET", "/api/groups/1/threads?limit=-3", alice, "", "", http.StatusBadRequest},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(c.method, f.srv.URL+c.path, strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			if c.body != "" {
				ct := c.contentType
				if ct == "" {
					ct = "application/json"
				}
				req.Header.Set("Content-Type", ct)
			}
			if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			resp, err := f.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Errorf("got %d, want %d", resp.StatusCode, c.want)
			}
			if c.want == http.StatusUnauthorized && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without a Bearer challenge")
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q, want application/problem+json", ct)
			}
		})
	}
	if f.fingerprint() != before {
		t.Fatalf("refused requests changed the database")
	}

	// A row of another group and a row that does not exist: one answer.
	for _, c := range []struct{ method, other, missing, body string }{
		{"GET", fmt.Sprintf("/api/threads/%d", other), "/api/threads/999999", ""},
		{"GET", fmt.Sprintf("/api/threads/%d/posts", other), "/api/threads/999999/posts", ""},
		{"POST", fmt.Sprintf("/api/threads/%d/posts", other), "/api/threads/999999/posts", okBody},
		{"DELETE", fmt.Sprintf("/api/threads/%d", other), "/api/threads/999999", ""},
		{"DELETE", fmt.Sprintf("/api/posts/%d", otherPost), "/api/posts/999999", ""},
		{"PATCH", fmt.Sprintf("/api/posts/%d", otherPost), "/api/posts/999999", `{"content":"x"}`},
		{"POST", fmt.Sprintf("/api/threads/%d/move", other), "/api/threads/999999/move", `{"group_id":1}`},
		{"GET", "/api/groups/2", "/api/groups/999999", ""},
		{"GET", "/api/groups/2/threads", "/api/groups/999999/threads", ""},
	} {
		s1, b1 := f.do(c.method, c.other, alice, c.body)
		s2, b2 := f.do(c.method, c.missing, alice, c.body)
		if s1 != http.StatusNotFound || s1 != s2 || string(b1) != string(b2) {
			t.Errorf("%s %s: %d %s; %s: %d %s; want the same 404", c.method, c.other, s1, b1, c.missing, s2, b2)
		}
	}
	if f.fingerprint() != before {
		t.Fatalf("refused requests changed the database")
	}
}

// TestWebPage: the page renders for nobody and for a user, the login form
// sets the HttpOnly cookie, forms post with it, a denial is a page that
// says what was needed, and a cross-site form post is refused.
func TestWebPage(t *testing.T) {
	f := newForum(t)
	c := f.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	get := func(path, cookie string) (int, string) {
		req, _ := http.NewRequest("GET", f.srv.URL+path, nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, readAll(t, resp)
	}
	post := func(path, cookie, form string, hdr ...string) *http.Response {
		req, _ := http.NewRequest("POST", f.srv.URL+path, strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	status, page := get("/", "")
	if status != http.StatusOK || !strings.Contains(page, "there are no passwords") || !strings.Contains(page, `value="alice"`) {
		t.Fatalf("login page: %d\n%s", status, page)
	}
	resp := post("/login", "", "user=dave", "Sec-Fetch-Site", "same-origin")
	resp.Body.Close()
	var session string
	for _, ck := range resp.Cookies() {
		if ck.Name == cookieName {
			session = ck.Name + "=" + ck.Value
			if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode {
				t.Errorf("session cookie HttpOnly=%v SameSite=%v", ck.HttpOnly, ck.SameSite)
			}
		}
	}
	if resp.StatusCode != http.StatusSeeOther || session == "" {
		t.Fatalf("form login: %d, cookie %q", resp.StatusCode, session)
	}
	if status, page = get("/", session); status != http.StatusOK || !strings.Contains(page, `href="/groups/2"`) || strings.Contains(page, `href="/groups/1"`) {
		t.Errorf("dave's home: %d\n%s", status, page)
	}
	if status, _ = get("/threads/1", session); status != http.StatusNotFound {
		t.Errorf("dave opens thread 1 of general: %d, want 404", status)
	}
	if status, page = get("/threads/3", session); status != http.StatusOK || !strings.Contains(page, "Go 1.26 is out") {
		t.Errorf("dave opens thread 3: %d", status)
	}

	// A post through the form lands; a cross-site one does not.
	before := f.id("select count(*) from posts where thread_id = 3")
	resp = post("/threads/3/posts", session, "content=from+the+page", "Sec-Fetch-Site", "same-origin")
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/threads/3" {
		t.Errorf("form post: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp = post("/threads/3/posts", session, "content=csrf", "Sec-Fetch-Site", "cross-site")
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site form post: %d, want 403", resp.StatusCode)
	}
	resp = post("/threads/3/posts", session, "content=csrf", "Origin", "https://evil.example")
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin form post: %d, want 403", resp.StatusCode)
	}
	if n := f.id("select count(*) from posts where thread_id = 3"); n != before+1 {
		t.Errorf("%d posts landed, want 1", n-before)
	}

	// A denial is a page that says why.
	p := f.id("select min(id) from posts where thread_id = 3")
	resp = post(fmt.Sprintf("/posts/%d/delete", p), session, "thread_id=3")
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Denied.") || !strings.Contains(body, "needs moderator in &#34;golang&#34; (policy posts.delete)") {
		t.Errorf("denied delete: %d\n%s", resp.StatusCode, body)
	}
	// An invalid session goes back to the login, without its cookie.
	resp = post("/threads/3/posts", cookieName+"=bogus.token.value", "content=x")
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Errorf("bad session: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
