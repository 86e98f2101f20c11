package main

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// hostRequest sends method path to the forum with Host host and the
// header pairs hdr, and returns the answer with its body read. It does
// not follow redirects.
func (f *forum) hostRequest(method, path, host, body string, hdr ...string) (*http.Response, string) {
	f.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	req.Host = host
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c := *f.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp, string(b)
}

// port is the port of the forum's test server.
func (f *forum) port() string {
	f.t.Helper()
	_, p, err := net.SplitHostPort(f.srv.Listener.Addr().String())
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

// TestDNSRebinding: a page of an attacker's name re-resolved to the
// loopback is same-origin for http.CrossOriginProtection (Origin matches
// Host); the forum refuses its Host before any route runs: 421, the
// site's own answer, no token, no cookie, nothing changed.
func TestDNSRebinding(t *testing.T) {
	f := newForum(t)
	port := f.port()
	evil := "rebind.example:" + port
	before := f.fingerprint()

	resp, body := f.hostRequest("POST", "/login", evil, `{"user":"carol"}`,
		"Origin", "http://"+evil, "Sec-Fetch-Site", "same-origin", "Content-Type", "application/json")
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("rebound login: got %d, want 421\n%s", resp.StatusCode, body)
	}
	if strings.Contains(body, `"token"`) || len(resp.Cookies()) > 0 {
		t.Errorf("rebound login answered a token or a cookie: %v\n%s", resp.Cookies(), body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") || !strings.Contains(body, "Wrong address.") {
		t.Errorf("rebound login: got %s\n%s, want the site's error page", ct, body)
	}

	// Every route, including the API with a valid token (problem JSON),
	// the form posts, the key set and paths no route has.
	carol := f.token("carol")
	for _, c := range []struct {
		method, path, body string
		hdr                []string
		problem            bool
	}{
		{"GET", "/api/me", "", []string{"Authorization", "Bearer " + carol}, true},
		{"POST", "/api/groups/1/threads", `{"title":"rebound"}`, []string{"Authorization", "Bearer " + carol, "Content-Type", "application/json"}, true},
		{"DELETE", "/api/threads/1", "", []string{"Authorization", "Bearer " + carol}, true},
		{"POST", "/threads/1/posts", "content=rebound", []string{"Cookie", cookieName + "=" + carol, "Content-Type", "application/x-www-form-urlencoded", "Origin", "http://" + evil}, false},
		{"GET", "/", "", nil, false},
		{"GET", "/.well-known/jwks.json", "", nil, false},
		{"GET", "/no/such/page", "", nil, false},
		{"GET", "/api/nothing", "", nil, true},
	} {
		resp, body := f.hostRequest(c.method, c.path, evil, c.body, c.hdr...)
		ct := resp.Header.Get("Content-Type")
		wantCT := "text/html"
		if c.problem {
			wantCT = "application/problem+json"
		}
		if resp.StatusCode != http.StatusMisdirectedRequest || !strings.HasPrefix(ct, wantCT) {
			t.Errorf("%s %s with Host %s: got %d %s, want 421 %s\n%s", c.method, c.path, evil, resp.StatusCode, ct, wantCT, body)
		}
	}
	if f.fingerprint() != before {
		t.Error("a rebound request changed the database")
	}
}

// TestAllowedHosts: the loopback names, the listen address's host and
// the -allowed-host names are answered at the port the request arrived
// on (or the one given); another name, another port, or no Host are not.
func TestAllowedHosts(t *testing.T) {
	f := newForumWith(t, forumOptions{app: func(a *app) {
		g, err := newHostGuard("forum.internal:8080", []string{"forum.test", "Proxy.Test:443"})
		if err != nil {
			t.Fatal(err)
		}
		g.deny = a.refuse
		a.hosts = g
	}})
	port := f.port()
	for _, c := range []struct {
		host string
		want int
	}{
		{"127.0.0.1:" + port, http.StatusOK},
		{"localhost:" + port, http.StatusOK},
		{"LOCALHOST:" + port, http.StatusOK},
		{"[::1]:" + port, http.StatusOK},
		{"forum.internal:" + port, http.StatusOK}, // the -addr host
		{"forum.test:" + port, http.StatusOK},     // -allowed-host NAME
		{"proxy.test:443", http.StatusOK},         // -allowed-host NAME:PORT
		{"rebind.example:" + port, http.StatusMisdirectedRequest},
		{"127.0.0.1:1", http.StatusMisdirectedRequest}, // another port
		{"localhost:8080", http.StatusMisdirectedRequest},
		{"forum.internal:8080", http.StatusMisdirectedRequest}, // -addr's port is not the one the request arrived on
		{"forum.test:443", http.StatusMisdirectedRequest},
		{"proxy.test:" + port, http.StatusMisdirectedRequest},
		{"localhost", http.StatusMisdirectedRequest}, // port 80
		{"127.0.0.2:" + port, http.StatusMisdirectedRequest},
		{"localhost.:" + port, http.StatusMisdirectedRequest},
		{"sub.localhost:" + port, http.StatusMisdirectedRequest},
		{"forum.test.rebind.example:" + port, http.StatusMisdirectedRequest},
	} {
		resp, body := f.hostRequest("GET", "/", c.host, "")
		if resp.StatusCode != c.want {
			t.Errorf("Host %s: got %d, want %d\n%s", c.host, resp.StatusCode, c.want, body)
		}
	}

	// An HTTP/1.0 request without Host.
	conn, err := net.Dial("tcp", f.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET / HTTP/1.0\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(conn)
	if !strings.HasPrefix(string(b), "HTTP/1.0 421 ") {
		t.Errorf("no Host: got %.40q, want 421", b)
	}
}

// TestNewHostGuard: malformed names are refused at start.
func TestNewHostGuard(t *testing.T) {
	for _, bad := range []string{"", "a b", "http://x", "x:0", "x:65536", "x:http", ":80", "x/y", "u@x"} {
		if _, err := newHostGuard("127.0.0.1:8080", []string{bad}); err == nil {
			t.Errorf("-allowed-host %q: accepted", bad)
		}
	}
	if _, err := newHostGuard("127.0.0.1", nil); err == nil {
		t.Error("listen address without a port: accepted")
	}
}
