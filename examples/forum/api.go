package main

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/middleware"
)

// maxBody bounds every JSON request body of the API: a post's content at
// its longest, encoded, fits.
const maxBody = 64 << 10

// list is the answer of a list: Next is the before cursor of the next
// page, absent on the last page.
type list[T any] struct {
	Items []T    `json:"items"`
	Next  *int64 `json:"next_before,omitempty"`
}

func newList[T any](items []T, p page, id func(T) int64) list[T] {
	l := list[T]{Items: items}
	if l.Items == nil {
		l.Items = []T{}
	}
	if len(items) == p.Limit && len(items) > 0 {
		n := id(items[len(items)-1])
		l.Next = &n
	}
	return l
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// fail answers an API request that failed, through the middleware's error
// writer: denied 403 (with what was needed), not found 404, bad input 400.
func (a *app) fail(w http.ResponseWriter, r *http.Request, err error) {
	a.logFailure(r, err)
	middleware.WriteError(w, r, err)
}

// pathID parses the {id} of the path: a positive integer.
func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, badRequest("id must be a positive integer")
	}
	return id, nil
}

// pageOf parses ?before=ID&limit=N. The limit is capped at maxLimit.
func pageOf(r *http.Request) (page, error) {
	p := firstPage
	q := r.URL.Query()
	if s := q.Get("before"); s != "" {
		b, err := strconv.ParseInt(s, 10, 64)
		if err != nil || b <= 0 {
			return p, badRequest("before must be a positive integer")
		}
		p.Before = b
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return p, badRequest("limit must be a positive integer")
		}
		p.Limit = min(n, maxLimit)
	}
	return p, nil
}

// capOf is the request's capability: Auth.Handler put it there. Without
// one (a route mounted without the middleware), it is nil, which every
// policy refuses.
func capOf(r *http.Request) *capability.Capability {
	c, _ := capability.FromContext(r.Context())
	return c
}

type me struct {
	User      string      `json:"user"`
	Admin     bool        `json:"admin"`
	Grants    []grantJSON `json:"grants"`
	ExpiresAt time.Time   `json:"expires_at"`
}

type grantJSON struct {
	Group int64  `json:"group"`
	Role  string `json:"role"`
}

func (a *app) apiMe(w http.ResponseWriter, r *http.Request) {
	c := capOf(r)
	m := me{User: c.Subject(), Admin: c.Admin(), Grants: []grantJSON{}, ExpiresAt: c.Expiry()}
	for _, g := range c.Grants() {
		id, _ := g.Group.Int64()
		m.Grants = append(m.Grants, grantJSON{Group: id, Role: g.Role})
	}
	writeJSON(w, http.StatusOK, m)
}

func (a *app) apiGroups(w http.ResponseWriter, r *http.Request) {
	p, err := pageOf(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	gs, err := a.listGroups(r.Context(), capOf(r), p)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newList(gs, p, func(g group) int64 { return g.ID }))
}

func (a *app) apiGroup(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	g, err := a.getGroup(r.Context(), capOf(r), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, g)
}

func (a *app) apiThreads(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	p, err := pageOf(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	c := capOf(r)
	// A group the caller may not see is not found, not an empty list.
	if _, err := a.getGroup(r.Context(), c, id); err != nil {
		a.fail(w, r, err)
		return
	}
	ts, err := a.listThreads(r.Context(), c, id, p)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newList(ts, p, func(t thread) int64 { return t.ID }))
}

func (a *app) apiCreateThread(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var in struct {
		Title string `json:"title"`
	}
	if err := middleware.DecodeJSON(w, r, &in, maxBody); err != nil {
		a.fail(w, r, err)
		return
	}
	t, err := a.createThread(r.Context(), capOf(r), id, in.Title)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, t)
}

func (a *app) apiThread(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	t, err := a.getThread(r.Context(), capOf(r), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (a *app) apiDeleteThread(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.deleteThread(r.Context(), capOf(r), id); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *app) apiMoveThread(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var in struct {
		GroupID int64 `json:"group_id"`
	}
	if err := middleware.DecodeJSON(w, r, &in, maxBody); err != nil {
		a.fail(w, r, err)
		return
	}
	if in.GroupID <= 0 {
		a.fail(w, r, badRequest("group_id must be a positive integer"))
		return
	}
	if err := a.moveThread(r.Context(), capOf(r), id, in.GroupID); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *app) apiPosts(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	p, err := pageOf(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	ps, err := a.listPosts(r.Context(), capOf(r), id, p)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newList(ps, p, func(p post) int64 { return p.ID }))
}

func (a *app) apiCreatePost(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var in struct {
		Content string `json:"content"`
	}
	if err := middleware.DecodeJSON(w, r, &in, maxBody); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := checkText("content", in.Content, maxContent); err != nil {
		a.fail(w, r, err)
		return
	}
	p, err := a.createPost(r.Context(), capOf(r), id, in.Content)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, p)
}

func (a *app) apiEditPost(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var in struct {
		Content string `json:"content"`
	}
	if err := middleware.DecodeJSON(w, r, &in, maxBody); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.editPost(r.Context(), capOf(r), id, in.Content); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *app) apiDeletePost(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.deletePost(r.Context(), capOf(r), id); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
