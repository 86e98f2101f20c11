package main

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
)

// Refusals that happen before a route's handler runs (a Host the forum
// does not answer, a cross-site form post, a path or method no route
// has) answer with the site's own body, never Go's plain-text defaults
// ("404 page not found"): the web page's error page, or, under /api/, an
// RFC 9457 problem (application/problem+json) like every other API error.

// refusalPages are the error page's message and detail for the statuses
// of refusals.
var refusalPages = map[int]struct{ message, detail string }{
	http.StatusMisdirectedRequest: {"Wrong address.",
		"This forum answers only the names it is meant to be reached by (localhost, 127.0.0.1, [::1] and its -addr or -allowed-host names). Nothing was done."},
	http.StatusForbidden: {"Cross-site request refused.",
		"The request came from another site's page, not from this forum's own: it was not run, and nothing was changed."},
	http.StatusNotFound:         {"Not found.", "There is no such page."},
	http.StatusMethodNotAllowed: {"Method not allowed.", "This page does not take that kind of request."},
}

// refuse answers a request refused before its handler ran, with status:
// problem JSON under /api/, the error page elsewhere. err is logged at
// debug level only: these are answers, not failures.
func (a *app) refuse(w http.ResponseWriter, r *http.Request, status int, err error) {
	if err != nil {
		a.log.LogAttrs(r.Context(), slog.LevelDebug, "forum: refused",
			slog.Int("status", status), slog.String("path", r.URL.Path), slog.String("error", err.Error()))
	}
	page, ok := refusalPages[status]
	if !ok {
		page.message = http.StatusText(status) + "."
	}
	if r.URL.Path == "/api" || strings.HasPrefix(r.URL.Path, "/api/") {
		writeProblem(w, status, strings.TrimSuffix(page.message, "."))
		return
	}
	v := a.newView(nil, page.message)
	v.Status, v.Message, v.Detail = status, page.message, page.detail
	a.render(w, r, status, "error", v)
}

// problem is an RFC 9457 problem body.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// writeProblem writes a problem answer with status and detail.
func writeProblem(w http.ResponseWriter, status int, detail string) {
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail})
}

// siteErrors answers the requests that mux itself would answer with its
// plain-text 404 or 405 (no route has the path, or none has the method)
// with refuse instead, keeping the 405's Allow header. Everything else,
// including the mux's redirects, goes to mux unchanged.
func (a *app) siteErrors(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		// The mux's own answer, kept for its status and headers only.
		var m muxAnswer
		h.ServeHTTP(&m, r)
		if m.status == 0 {
			m.status = http.StatusNotFound
		}
		if allow := m.Header().Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		a.refuse(w, r, m.status, nil)
	})
}

// muxAnswer is a ResponseWriter that keeps the status and the headers of
// an answer and drops its body.
type muxAnswer struct {
	header http.Header
	status int
}

func (m *muxAnswer) Header() http.Header {
	if m.header == nil {
		m.header = make(http.Header)
	}
	return m.header
}

func (m *muxAnswer) WriteHeader(status int) {
	if m.status == 0 {
		m.status = status
	}
}

func (m *muxAnswer) Write(p []byte) (int, error) {
	m.WriteHeader(http.StatusOK)
	return len(p), nil
}
