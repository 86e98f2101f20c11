package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestSiteErrors: a path or a method no route has, and a cross-site
// request, answer with the site's own error page, or under /api/ with a
// problem body; never Go's plain-text defaults.
func TestSiteErrors(t *testing.T) {
	f := newForum(t)
	host := f.srv.Listener.Addr().String()
	carol := f.token("carol")
	before := f.fingerprint()
	for _, c := range []struct {
		method, path, body string
		hdr                []string
		want               int
		problem            bool   // else the HTML page
		has                string // in the body
		allow              string // the Allow header of a 405
	}{
		{"GET", "/no/such/page", "", nil, http.StatusNotFound, false, "There is no such page.", ""},
		{"GET", "/groups/1/nothing", "", nil, http.StatusNotFound, false, "There is no such page.", ""},
		{"GET", "/api/nothing", "", []string{"Authorization", "Bearer " + carol}, http.StatusNotFound, true, `"status":404`, ""},
		{"GET", "/api", "", nil, http.StatusNotFound, true, `"status":404`, ""},
		{"GET", "/login", "", nil, http.StatusMethodNotAllowed, false, "Method not allowed.", "POST"},
		{"PUT", "/threads/1/posts", "", nil, http.StatusMethodNotAllowed, false, "Method not allowed.", "POST"},
		{"PUT", "/api/threads/1", "", []string{"Authorization", "Bearer " + carol}, http.StatusMethodNotAllowed, true, `"status":405`, "DELETE, GET, HEAD"},
		// A form posted from another site's page, with the session cookie.
		{"POST", "/threads/1/posts", "content=cross-site", []string{
			"Cookie", cookieName + "=" + carol, "Content-Type", "application/x-www-form-urlencoded",
			"Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site",
		}, http.StatusForbidden, false, "Cross-site request refused.", ""},
		{"POST", "/login", "user=carol", []string{
			"Content-Type", "application/x-www-form-urlencoded", "Sec-Fetch-Site", "same-site",
		}, http.StatusForbidden, false, "Cross-site request refused.", ""},
		{"POST", "/logout", "", []string{"Origin", "http://evil.example"}, http.StatusForbidden, false, "Cross-site request refused.", ""},
		{"DELETE", "/api/threads/1", "", []string{"Cookie", cookieName + "=" + carol, "Sec-Fetch-Site", "cross-site"},
			http.StatusForbidden, true, `"status":403`, ""},
	} {
		resp, body := f.hostRequest(c.method, c.path, host, c.body, c.hdr...)
		ct := resp.Header.Get("Content-Type")
		wantCT := "text/html; charset=utf-8"
		if c.problem {
			wantCT = "application/problem+json"
		}
		if resp.StatusCode != c.want || ct != wantCT || !strings.Contains(body, c.has) {
			t.Errorf("%s %s: got %d %s\n%s\nwant %d %s with %q", c.method, c.path, resp.StatusCode, ct, body, c.want, wantCT, c.has)
		}
		if strings.Contains(body, "page not found") || strings.Contains(body, "cross-origin request detected") {
			t.Errorf("%s %s: Go's default text in the body:\n%s", c.method, c.path, body)
		}
		if got := resp.Header.Get("Allow"); got != c.allow {
			t.Errorf("%s %s: Allow %q, want %q", c.method, c.path, got, c.allow)
		}
		if len(resp.Cookies()) > 0 {
			t.Errorf("%s %s: set cookies %v", c.method, c.path, resp.Cookies())
		}
	}
	if f.fingerprint() != before {
		t.Error("a refused request changed the database")
	}
	// The mux's redirects still work: a cleaned path.
	resp, _ := f.hostRequest("GET", "/groups/../", host, "", "Cookie", cookieName+"="+carol)
	if resp.StatusCode/100 != 3 || resp.Header.Get("Location") != "/" {
		t.Errorf("GET /groups/../: got %d %q, want a redirect to /", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestCreatedLocation: 201 Created names the new thread or post in
// Location, and the URL answers it (to those who may read it).
func TestCreatedLocation(t *testing.T) {
	f := newForum(t)
	for _, c := range []struct{ path, body, prefix string }{
		{"/api/groups/1/threads", `{"title":"located"}`, "/api/threads/"},
		{"/api/threads/1/posts", `{"content":"located"}`, "/api/posts/"},
	} {
		resp, body := f.hostRequest("POST", c.path, f.srv.Listener.Addr().String(), c.body,
			"Authorization", "Bearer "+f.token("alice"), "Content-Type", "application/json")
		var row struct{ ID int64 }
		if err := json.Unmarshal([]byte(body), &row); err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST %s: %d %s %v", c.path, resp.StatusCode, body, err)
		}
		loc := resp.Header.Get("Location")
		if want := c.prefix + jsonInt(row.ID); loc != want {
			t.Errorf("POST %s: Location %q, want %q", c.path, loc, want)
		}
		if got, b := f.as("alice", "GET", loc, ""); got != http.StatusOK || !strings.Contains(string(b), "located") {
			t.Errorf("GET %s as alice: %d %s", loc, got, b)
		}
		if got, _ := f.as("dave", "GET", loc, ""); got != http.StatusNotFound {
			t.Errorf("GET %s as dave (not in general): %d, want 404", loc, got)
		}
	}
	// Errors and other statuses carry no Location.
	resp, _ := f.hostRequest("POST", "/api/groups/2/threads", f.srv.Listener.Addr().String(), `{"title":"x"}`,
		"Authorization", "Bearer "+f.token("alice"), "Content-Type", "application/json")
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Location") != "" {
		t.Errorf("refused create: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func jsonInt(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
