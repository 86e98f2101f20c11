package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/keyhole-go/keyhole/capability"
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

// keyed is a row of a list: its id is the cursor of the next page.
type keyed interface{ key() int64 }

func (g group) key() int64  { return g.ID }
func (t thread) key() int64 { return t.ID }
func (p post) key() int64   { return p.ID }

func newList[T keyed](items []T, p page) list[T] {
	l := list[T]{Items: items}
	if l.Items == nil {
		l.Items = []T{}
	}
	if n := next(items, p); n != 0 {
		l.Next = &n
	}
	return l
}

// next is the before cursor of the page after items, a full page of p; 0
// after the last page.
func next[T keyed](items []T, p page) int64 {
	if len(items) == p.Limit && len(items) > 0 {
		return items[len(items)-1].key()
	}
	return 0
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
	errorWriter.WriteError(w, r, err)
}

// An API handler returns its answer instead of writing it: a status and a
// JSON body (nil: no body, as for 204), or an error, which the adaptors
// below hand to fail. The adaptors parse what the route carries (the {id}
// of the path, a JSON body) before the handler runs, in that order, so
// that a malformed request is refused before it reaches a policy.

// reply writes what a handler returned.
func (a *app) reply(w http.ResponseWriter, r *http.Request, status int, body any, err error) {
	switch {
	case err != nil:
		a.fail(w, r, err)
	case body == nil:
		w.WriteHeader(status)
	default:
		if l, ok := body.(located); ok && status == http.StatusCreated {
			w.Header().Set("Location", l.location())
		}
		writeJSON(w, status, body)
	}
}

// located is a row that has a URL of its own in the API: a 201 Created
// answer names it in Location (RFC 9110 15.3.2).
type located interface{ location() string }

func (t thread) location() string { return "/api/threads/" + strconv.FormatInt(t.ID, 10) }
func (p post) location() string   { return "/api/posts/" + strconv.FormatInt(p.ID, 10) }

// api adapts a handler of a route without an {id}.
func (a *app) api(h func(r *http.Request) (int, any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		status, body, err := h(r)
		a.reply(w, r, status, body, err)
	}
}

// apiID adapts a handler of a route with an {id}.
func (a *app) apiID(h func(r *http.Request, id int64) (int, any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		var status int
		var body any
		if err == nil {
			status, body, err = h(r, id)
		}
		a.reply(w, r, status, body, err)
	}
}

// apiJSON adapts a handler of a route with an {id} and a JSON body, which
// it decodes strictly (decodeJSON, bounded by maxBody) into a
// T.
func apiJSON[T any](a *app, h func(r *http.Request, id int64, in T) (int, any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		var in T
		if err == nil {
			err = decodeJSON(w, r, &in, maxBody)
		}
		var status int
		var body any
		if err == nil {
			status, body, err = h(r, id, in)
		}
		a.reply(w, r, status, body, err)
	}
}

// ok, created and done are a handler's answers: 200 with v, 201 with v,
// 204; or err when it is not nil.
func ok(v any, err error) (int, any, error)      { return answer(http.StatusOK, v, err) }
func created(v any, err error) (int, any, error) { return answer(http.StatusCreated, v, err) }
func done(err error) (int, any, error)           { return answer(http.StatusNoContent, nil, err) }

func answer(status int, v any, err error) (int, any, error) {
	if err != nil {
		return 0, nil, err
	}
	return status, v, nil
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

func (a *app) apiMe(r *http.Request) (int, any, error) {
	c := capOf(r)
	m := me{User: c.Subject(), Admin: c.Admin(), Grants: []grantJSON{}, ExpiresAt: c.Expiry()}
	for _, g := range c.Grants() {
		id, _ := g.Group.Int64()
		m.Grants = append(m.Grants, grantJSON{Group: id, Role: g.Role})
	}
	return ok(m, nil)
}

// apiMembers lists every membership (admin-only: empty for anyone else).
func (a *app) apiMembers(r *http.Request) (int, any, error) {
	ms, err := a.listMembers(r.Context(), capOf(r))
	if ms == nil {
		ms = []member{}
	}
	return ok(ms, err)
}

// apiRemoveMember removes the user {user} from the group {id} (admin-only).
func (a *app) apiRemoveMember(r *http.Request, id int64) (int, any, error) {
	user, err := userName(r.PathValue("user"))
	if err != nil {
		return 0, nil, err
	}
	return done(a.removeMember(r.Context(), capOf(r), id, user))
}

// apiSignOut signs the user {user} out everywhere (admin-only).
func (a *app) apiSignOut(r *http.Request) (int, any, error) {
	user, err := userName(r.PathValue("user"))
	if err != nil {
		return 0, nil, err
	}
	return done(a.signOut(r.Context(), capOf(r), user))
}

func (a *app) apiGroups(r *http.Request) (int, any, error) {
	p, err := pageOf(r)
	if err != nil {
		return 0, nil, err
	}
	gs, err := a.listGroups(r.Context(), capOf(r), p)
	return ok(newList(gs, p), err)
}

func (a *app) apiGroup(r *http.Request, id int64) (int, any, error) {
	return ok(a.getGroup(r.Context(), capOf(r), id))
}

func (a *app) apiThreads(r *http.Request, id int64) (int, any, error) {
	return childList(r, id, a.listThreads, a.getGroup)
}

// childList answers the list of the rows under parent id (a group's
// threads, a thread's posts) with list, the rows' policy. A parent the
// caller may not see is not found, not an empty list: a page with rows
// says by itself that the caller may see the parent (the policy returned
// them); only an empty page asks get, the parent's guarded Get, which
// answers not found for a parent the caller may not see (or that does not
// exist).
func childList[T keyed, P any](r *http.Request, id int64,
	list func(context.Context, *capability.Capability, int64, page) ([]T, error),
	get func(context.Context, *capability.Capability, int64) (P, error),
) (int, any, error) {
	p, err := pageOf(r)
	if err != nil {
		return 0, nil, err
	}
	c := capOf(r)
	items, err := list(r.Context(), c, id, p)
	if err == nil && len(items) == 0 {
		_, err = get(r.Context(), c, id)
	}
	return ok(newList(items, p), err)
}

type titleIn struct {
	Title string `json:"title"`
}

func (a *app) apiCreateThread(r *http.Request, id int64, in titleIn) (int, any, error) {
	return created(a.createThread(r.Context(), capOf(r), id, in.Title))
}

func (a *app) apiThread(r *http.Request, id int64) (int, any, error) {
	return ok(a.getThread(r.Context(), capOf(r), id))
}

func (a *app) apiDeleteThread(r *http.Request, id int64) (int, any, error) {
	return done(a.deleteThread(r.Context(), capOf(r), id))
}

type moveIn struct {
	GroupID int64 `json:"group_id"`
}

func (a *app) apiMoveThread(r *http.Request, id int64, in moveIn) (int, any, error) {
	if in.GroupID <= 0 {
		return 0, nil, badRequest("group_id must be a positive integer")
	}
	return done(a.moveThread(r.Context(), capOf(r), id, in.GroupID))
}

func (a *app) apiPosts(r *http.Request, id int64) (int, any, error) {
	return childList(r, id, a.listPosts, a.getThread)
}

type contentIn struct {
	Content string `json:"content"`
}

func (a *app) apiCreatePost(r *http.Request, id int64, in contentIn) (int, any, error) {
	if err := checkText("content", in.Content, maxContent); err != nil {
		return 0, nil, err
	}
	return created(a.createPost(r.Context(), capOf(r), id, in.Content))
}

func (a *app) apiPost(r *http.Request, id int64) (int, any, error) {
	return ok(a.getPost(r.Context(), capOf(r), id))
}

func (a *app) apiEditPost(r *http.Request, id int64, in contentIn) (int, any, error) {
	return done(a.editPost(r.Context(), capOf(r), id, in.Content))
}

func (a *app) apiDeletePost(r *http.Request, id int64) (int, any, error) {
	return done(a.deletePost(r.Context(), capOf(r), id))
}
