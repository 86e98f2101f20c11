package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/middleware"
)

var madeUpID = regexp.MustCompile(`^[0-9a-f]{16}$`)

// TestRequestIDs: a valid X-Request-Id is kept, anything else is replaced
// by a made-up id; the id is in the context and in the answer.
func TestRequestIDs(t *testing.T) {
	tests := []struct {
		name   string
		header []string
		keep   bool
	}{
		{"none", nil, false},
		{"uuid", []string{"0b9e3a52-6c3e-4bd5-9a51-2f1d7c9e8a10"}, true},
		{"token chars", []string{"abc.DEF_123~!#$%&'*+-^`|"}, true},
		{"longest", []string{strings.Repeat("a", middleware.MaxRequestIDLen)}, true},
		{"too long", []string{strings.Repeat("a", middleware.MaxRequestIDLen+1)}, false},
		{"empty", []string{""}, false},
		{"space", []string{"a b"}, false},
		{"newline", []string{"a\nlevel=ERROR"}, false},
		{"quote", []string{`a"b`}, false},
		{"non-ASCII", []string{"caf\u00e9"}, false},
		{"two headers", []string{"a", "b"}, false},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var inCtx string
			var ok bool
			h := middleware.RequestIDs(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				inCtx, ok = middleware.RequestID(r.Context())
			}))
			r := httptest.NewRequest("GET", "/", nil)
			for _, v := range tt.header {
				r.Header.Add("X-Request-Id", v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			got := w.Header().Get("X-Request-Id")
			if !ok || inCtx != got {
				t.Errorf("context id %q (%v), answer header %q", inCtx, ok, got)
			}
			switch {
			case tt.keep && got != tt.header[0]:
				t.Errorf("got id %q, want the request's %q", got, tt.header[0])
			case !tt.keep && !madeUpID.MatchString(got):
				t.Errorf("got id %q, want 16 made-up hex digits", got)
			case !tt.keep && seen[got]:
				t.Errorf("made-up id %q repeated", got)
			}
			seen[got] = true
		})
	}
	if id, ok := middleware.RequestID(t.Context()); ok || id != "" {
		t.Errorf("RequestID outside RequestIDs = %q, %v; want \"\", false", id, ok)
	}
}

// TestRequestIDInRefusalLog: Auth's refusal record carries the request id
// that the client sees in X-Request-Id, for 401 and 403 alike.
func TestRequestIDInRefusalLog(t *testing.T) {
	k := newKeys(t)
	var logs logBuffer
	a := k.newAuth(t, middleware.Options{Logger: logs.logger()})
	member := k.mint(t, "alice", false, capability.Grant{Group: capability.Int64Group(1), Role: "member"})
	for _, tt := range []struct {
		name   string
		h      http.Handler
		authz  []string
		status int
	}{
		{"401", a.Handler(mustNotRun(t)), nil, 401},
		{"403", a.Handler(a.RequireAdmin()(mustNotRun(t))), bearer(member), 403},
	} {
		t.Run(tt.name, func(t *testing.T) {
			logs.buf.Reset()
			w := serve(middleware.RequestIDs(tt.h), request("GET", "/", tt.authz, ""))
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d", w.Code, tt.status)
			}
			id := w.Header().Get("X-Request-Id")
			recs := logs.records(t)
			if len(recs) != 1 || recs[0]["request_id"] != id || id == "" {
				t.Errorf("records %v, want one with request_id %q", recs, id)
			}
		})
	}
}
