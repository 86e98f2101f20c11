package main

import (
	"net/http"
	"net/url"
	"strings"
)

// Returning after the login. A page request whose session is missing or
// expired goes to the login page with ?next= its path, the login form
// carries it, and the login redirects there. The target comes from the
// request, so it is checked: only a path of this site (localPath), never
// another site (an open redirect would let a link to the forum send its
// users anywhere, logged in).

// localPath reports whether s is a path of this site to redirect to: it
// starts with "/" but not "//" or "/\" (which browsers read as another
// host: "//evil.example", "/\evil.example"), and has no control
// character or backslash (browsers drop tabs and newlines from URLs, so
// "/\t/evil.example" would become "//evil.example"). What remains parses
// as a path without scheme or host.
func localPath(s string) bool {
	if len(s) < 1 || len(s) > 2048 || s[0] != '/' || strings.HasPrefix(s, "//") || strings.HasPrefix(s, "/\\") {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return false
		}
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil && strings.HasPrefix(u.Path, "/")
}

// nextOf is where a page request whose session is missing or expired
// should return after the login: its own path for a GET; for a form post,
// which is not repeated, the page that sent it (its Referer, when that is
// a page of this host). "" for the home page or when there is none.
func nextOf(r *http.Request) string {
	s := r.URL.RequestURI()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		ref, err := url.Parse(r.Referer())
		if err != nil || ref.Host != r.Host || (ref.Scheme != "http" && ref.Scheme != "https") {
			return ""
		}
		s = ref.RequestURI()
	}
	if s == "/" || !localPath(s) {
		return ""
	}
	return s
}

// loginPage is the login page's URL that returns to next after the
// login.
func loginPage(next string) string {
	if next == "" {
		return "/"
	}
	return "/?" + url.Values{"next": {next}}.Encode()
}
