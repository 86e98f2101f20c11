package main

import (
	"embed"
	"errors"
	"html/template"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/middleware"
	"github.com/keyhole-go/keyhole/sqlguard"
	"github.com/keyhole-go/keyhole/tokenserver"
)

// The web page: server-rendered html/template, no build step, no script.
// It authenticates with the HttpOnly session cookie that POST /login sets;
// its state-changing forms are protected against cross-site requests by
// http.CrossOriginProtection (see app.handler) and the SameSite=Lax cookie.
// It offers every action on every row it shows: PostgreSQL decides, and a
// refusal is shown as a message.

//go:embed templates/*.html
var templateFS embed.FS

func parseTemplates() (*template.Template, error) {
	return template.New("").Funcs(template.FuncMap{
		"ts": func(t interface{ Format(string) string }) string { return t.Format("2006-01-02 15:04") },
	}).ParseFS(templateFS, "templates/*.html")
}

// view is what every page template gets.
type view struct {
	Title   string
	User    string // "" when nobody is logged in
	Access  string // what the user may do, in words
	Demo    []demoUser
	Groups  []groupView
	Group   *groupView
	Threads []thread
	Thread  *thread
	Posts   []post
	Older   int64    // before cursor of the next page, 0 when none
	Members []member // an admin's view of the memberships
	Plugins []pluginView
	Status  int
	Message string
	Detail  string
	Next    string // where the login returns to (a localPath), "" for /
}

type groupView struct {
	group
	Role string // the caller's role, for display
}

func (a *app) newView(c *capability.Capability, title string) view {
	v := view{Title: title, User: c.Subject()}
	if c != nil {
		for _, u := range demoUsers {
			if u.Name == c.Subject() {
				v.Access = u.Describe()
			}
		}
	}
	return v
}

func (a *app) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	w.WriteHeader(status)
	if err := a.tmpl.ExecuteTemplate(w, name, v); err != nil {
		a.log.LogAttrs(r.Context(), slog.LevelError, "forum: template", slog.String("error", err.Error()))
	}
}

// webError shows a failed request as a page that says why, with the
// status the API would answer (statusOf).
func (a *app) webError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, capability.ErrRevoked) {
		// The session ended (logout, signed out everywhere): back to the
		// login, without the cookie, as for an expired token.
		clearSession(w)
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	a.logFailure(r, err)
	v := a.newView(capOf(r), "")
	v.Status = statusOf(r, err)
	ep, ok := errorPages[v.Status]
	if !ok { // not expected from the page's handlers (401, 415)
		ep.message = http.StatusText(v.Status) + "."
	}
	v.Message, v.Detail = ep.message, ep.detail
	var de *sqlguard.DeniedError
	var ce *middleware.ClientError
	var dr *digestRefused
	var xe *tokenserver.ExchangeError
	switch {
	case errors.As(err, &ce) && ce.Detail != "":
		v.Detail = ce.Detail // written for the client: which field, what was expected
	case errors.As(err, &dr):
		v.Detail = "The forum refused the digest plugin's request " + dr.Method + " " + dr.Path + ". " + ep.detail
	case errors.As(err, &xe) && xe.Code == tokenserver.ExchangeAccessDenied:
		v.Detail = pluginAccessDenied
	case v.Status != http.StatusForbidden:
	case errors.As(err, &de):
		v.Detail = "PostgreSQL refused the statement: needs " + a.needText(r, de.Need) + " (policy " + de.Policy + ")."
	case errors.Is(err, sqlguard.ErrNotApproved):
		v.Detail = "The statement's policy is not approved by the forum's keyhole.lock: it was not run."
	}
	v.Title = v.Message
	a.render(w, r, v.Status, "error", v)
}

// errorPages are the error page's message and detail for each status of
// statusOf.
var errorPages = map[int]struct{ message, detail string }{
	http.StatusForbidden:             {"Denied.", "PostgreSQL refused the statement."},
	http.StatusNotFound:              {"Not found.", "It does not exist, or it is in a group you do not belong to."},
	http.StatusRequestEntityTooLarge: {"Too long.", ""},
	http.StatusBadRequest:            {"Bad request.", "Check what you typed: empty, too long, or not a number."},
	http.StatusConflict:              {"Conflict.", "It exists already."},
	http.StatusServiceUnavailable:    {"Unavailable.", "The database did not answer in time; try again."},
	http.StatusInternalServerError:   {"Something went wrong.", ""},
}

// statusOf is the status errorWriter answers err with, so that the page
// and the API answer every error alike (403 for a denial, for
// sqlguard.ErrNotApproved and for PostgreSQL's insufficient_privilege; 404;
// 400; 413; 415; 409; 503; 500): one mapping, the API's. statusOf reads it
// off an answer written to nowhere (only on the error path).
func statusOf(r *http.Request, err error) int {
	var s statusWriter
	errorWriter.WriteError(&s, r, err)
	if s.status == 0 {
		return http.StatusInternalServerError
	}
	return s.status
}

// statusWriter is a ResponseWriter that keeps the status and drops the
// rest.
type statusWriter struct {
	header http.Header
	status int
}

func (s *statusWriter) Header() http.Header {
	if s.header == nil {
		s.header = make(http.Header)
	}
	return s.header
}

func (s *statusWriter) WriteHeader(status int) {
	if s.status == 0 {
		s.status = status
	}
}

func (s *statusWriter) Write(p []byte) (int, error) {
	s.WriteHeader(http.StatusOK)
	return len(p), nil
}

// webPage adapts a page of a route with an {id} and a list's page
// (?before=&limit=): it renders template name with the view h returns, or
// the error.
func (a *app) webPage(name string, h func(r *http.Request, id int64, p page) (view, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		var p page
		if err == nil {
			p, err = pageOf(r)
		}
		var v view
		if err == nil {
			v, err = h(r, id, p)
		}
		if err != nil {
			a.webError(w, r, err)
			return
		}
		a.render(w, r, http.StatusOK, name, v)
	}
}

// webForm adapts a form post of a route with an {id}: it reads the bounded
// form, then redirects (303) to the path h returns, or shows the error.
func (a *app) webForm(h func(r *http.Request, id int64) (to string, err error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err == nil {
			err = parseForm(w, r)
		}
		var to string
		if err == nil {
			to, err = h(r, id)
		}
		if err != nil {
			a.webError(w, r, err)
			return
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
	}
}

func (a *app) webHome(w http.ResponseWriter, r *http.Request) {
	c, ok := capability.FromContext(r.Context())
	v := a.newView(c, "log in")
	v.Demo = demoUsers
	if next := r.URL.Query().Get("next"); localPath(next) {
		v.Next = next
	}
	if ok {
		v.Title = "your groups"
		gs, err := a.groupViews(r, c)
		if err != nil {
			a.webError(w, r, err)
			return
		}
		v.Groups = gs
		v.Plugins = a.pluginViews()
		if c.Admin() { // what the page shows; members.list is admin-only in SQL
			if v.Members, err = a.listMembers(r.Context(), c); err != nil {
				a.webError(w, r, err)
				return
			}
		}
	}
	a.render(w, r, http.StatusOK, "home", v)
}

// webRemoveMember is an admin's form: remove user from the group {id}.
func (a *app) webRemoveMember(r *http.Request, id int64) (string, error) {
	user, err := userName(r.PostForm.Get("user"))
	if err != nil {
		return "", err
	}
	return "/", a.removeMember(r.Context(), capOf(r), id, user)
}

// webSignOut is an admin's form: sign a user out everywhere.
func (a *app) webSignOut(w http.ResponseWriter, r *http.Request) {
	err := parseForm(w, r)
	var user string
	if err == nil {
		user, err = userName(r.PostForm.Get("user"))
	}
	if err == nil {
		err = a.signOut(r.Context(), capOf(r), user)
	}
	if err != nil {
		a.webError(w, r, err)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// userName checks a user name as the users table does, before it reaches
// a statement.
func userName(s string) (string, error) {
	if len(s) == 0 || len(s) > 32 || s[0] < 'a' || s[0] > 'z' {
		return "", badRequest("invalid user name")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return "", badRequest("invalid user name")
		}
	}
	return s, nil
}

// groupViews are the groups the caller may see (the first maxLimit),
// oldest first.
func (a *app) groupViews(r *http.Request, c *capability.Capability) ([]groupView, error) {
	gs, err := a.listGroups(r.Context(), c, page{Before: math.MaxInt64, Limit: maxLimit})
	if err != nil {
		return nil, err
	}
	var vs []groupView
	for _, g := range slices.Backward(gs) {
		vs = append(vs, groupView{g, roleIn(c, g.ID)})
	}
	return vs, nil
}

func (a *app) webGroup(r *http.Request, id int64, p page) (view, error) {
	c := capOf(r)
	g, err := a.getGroup(r.Context(), c, id)
	if err != nil {
		return view{}, err
	}
	ts, err := a.listThreads(r.Context(), c, id, p)
	if err != nil {
		return view{}, err
	}
	v := a.newView(c, g.Name)
	v.Group = &groupView{g, roleIn(c, g.ID)}
	v.Threads = ts
	v.Older = next(ts, p)
	return v, nil
}

// webThread shows a thread, a page of its posts, and the groups it may be
// moved to. threads.get decides whether the caller may see the thread
// (not found otherwise); the posts' list is the one statement of
// posts.list, not checked again.
func (a *app) webThread(r *http.Request, id int64, p page) (view, error) {
	c := capOf(r)
	t, err := a.getThread(r.Context(), c, id)
	if err != nil {
		return view{}, err
	}
	ps, err := a.listPosts(r.Context(), c, id, p)
	if err != nil {
		return view{}, err
	}
	gs, err := a.groupViews(r, c)
	if err != nil {
		return view{}, err
	}
	v := a.newView(c, t.Title)
	v.Thread = &t
	v.Group = &groupView{group{t.GroupID, t.GroupName}, roleIn(c, t.GroupID)}
	v.Older = next(ps, p)
	slices.Reverse(ps) // oldest first on the page
	v.Posts = ps
	v.Groups = gs
	return v, nil
}

// parseForm reads a bounded form body.
func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return mbe
		}
		return badRequest("unreadable form")
	}
	return nil
}

// formID reads a positive integer form field.
func formID(r *http.Request, name string) (int64, error) {
	n, err := strconv.ParseInt(r.PostForm.Get(name), 10, 64)
	if err != nil || n <= 0 {
		return 0, badRequest("%s must be a positive integer", name)
	}
	return n, nil
}

// pathTo is the path of the row id under prefix ("/threads/").
func pathTo(prefix string, id int64) string { return prefix + strconv.FormatInt(id, 10) }

func (a *app) webCreateThread(r *http.Request, id int64) (string, error) {
	t, err := a.createThread(r.Context(), capOf(r), id, r.PostForm.Get("title"))
	return pathTo("/threads/", t.ID), err
}

func (a *app) webCreatePost(r *http.Request, id int64) (string, error) {
	content := r.PostForm.Get("content")
	if err := checkText("content", content, maxContent); err != nil {
		return "", err
	}
	_, err := a.createPost(r.Context(), capOf(r), id, content)
	return pathTo("/threads/", id), err
}

func (a *app) webDeleteThread(r *http.Request, id int64) (string, error) {
	back, err := formID(r, "group_id")
	if err != nil {
		return "", err
	}
	return pathTo("/groups/", back), a.deleteThread(r.Context(), capOf(r), id)
}

func (a *app) webMoveThread(r *http.Request, id int64) (string, error) {
	to, err := formID(r, "group_id")
	if err != nil {
		return "", err
	}
	return pathTo("/threads/", id), a.moveThread(r.Context(), capOf(r), id, to)
}

func (a *app) webEditPost(r *http.Request, id int64) (string, error) {
	back, err := formID(r, "thread_id")
	if err != nil {
		return "", err
	}
	return pathTo("/threads/", back), a.editPost(r.Context(), capOf(r), id, r.PostForm.Get("content"))
}

func (a *app) webDeletePost(r *http.Request, id int64) (string, error) {
	back, err := formID(r, "thread_id")
	if err != nil {
		return "", err
	}
	return pathTo("/threads/", back), a.deletePost(r.Context(), capOf(r), id)
}

// favicon answers the browsers' request for /favicon.ico: none, and no
// error in their console.
func favicon(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "max-age=86400")
	w.WriteHeader(http.StatusNoContent)
}
