package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestLocalPath: only paths of this site are login targets.
func TestLocalPath(t *testing.T) {
	for _, c := range []struct {
		s    string
		want bool
	}{
		{"/", true},
		{"/threads/1", true},
		{"/groups/2?before=10", true},
		{"/threads/1#post-3", true},
		{"", false},
		{"threads/1", false},
		{"//evil.example", false},
		{"//evil.example/threads/1", false},
		{"/\\evil.example", false},
		{"/\\/evil.example", false},
		{"/\t/evil.example", false},
		{"/\n/evil.example", false},
		{"/x\\y", false},
		{"http://evil.example/", false},
		{"https:/evil.example", false},
		{"javascript:alert(1)", false},
		{" /threads/1", false},
		{"/" + strings.Repeat("a", 3000), false},
	} {
		if got := localPath(c.s); got != c.want {
			t.Errorf("localPath(%q) = %v, want %v", c.s, got, c.want)
		}
	}
}

// TestLoginReturns: a page whose session has expired goes to the login
// with ?next= its path; the login returns there, and nowhere else.
func TestLoginReturns(t *testing.T) {
	f := newForum(t)
	host := f.srv.Listener.Addr().String()
	expired := cookieName + "=" + mintWith(t, f.key, time.Now().Add(-3*time.Hour))

	resp, _ := f.hostRequest("GET", "/threads/1?before=5", host, "", "Cookie", expired)
	want := "/?next=" + url.QueryEscape("/threads/1?before=5")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != want {
		t.Fatalf("expired session: %d Location %q, want 303 %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	resp, page := f.hostRequest("GET", want, host, "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `<input type="hidden" name="next" value="/threads/1?before=5">`) {
		t.Errorf("login page with next: %d\n%s", resp.StatusCode, page)
	}
	// An expired form post is not repeated: back to the login page, which
	// returns to the page of the form when it is one of the forum's.
	before := f.fingerprint()
	for _, c := range []struct{ referer, want string }{
		{f.srv.URL + "/threads/1", "/?next=" + url.QueryEscape("/threads/1")},
		{"", "/"},
		{f.srv.URL + "/", "/"},
		{"http://evil.example/threads/1", "/"},
		{"http://" + host + "//evil.example/", "/"},
		{"javascript:alert(1)", "/"},
	} {
		resp, _ = f.hostRequest("POST", "/threads/1/posts", host, "content=x", "Cookie", expired,
			"Content-Type", "application/x-www-form-urlencoded", "Sec-Fetch-Site", "same-origin", "Referer", c.referer)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != c.want {
			t.Errorf("expired form post from %q: %d Location %q, want 303 %q", c.referer, resp.StatusCode, resp.Header.Get("Location"), c.want)
		}
	}
	if f.fingerprint() != before {
		t.Error("an expired form post changed the database")
	}
	// A next that is not a path of this site is not offered.
	if _, page := f.hostRequest("GET", "/?next="+url.QueryEscape("//evil.example"), host, ""); strings.Contains(page, "evil.example") {
		t.Errorf("login page offers an outside next:\n%s", page)
	}

	for _, c := range []struct{ next, want string }{
		{"/threads/1", "/threads/1"},
		{"/groups/2?before=3", "/groups/2?before=3"},
		{"", "/"},
		{"//evil.example/", "/"},
		{"/\\evil.example", "/"},
		{"/\t/evil.example", "/"},
		{"https://evil.example/", "/"},
		{"threads/1", "/"},
	} {
		form := url.Values{"user": {"alice"}, "next": {c.next}}.Encode()
		resp, _ := f.hostRequest("POST", "/login", host, form,
			"Content-Type", "application/x-www-form-urlencoded", "Sec-Fetch-Site", "same-origin")
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != c.want {
			t.Errorf("login with next %q: %d Location %q, want 303 %q", c.next, resp.StatusCode, resp.Header.Get("Location"), c.want)
		}
	}
}
