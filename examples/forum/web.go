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
	Older   int64 // before cursor of the next page, 0 when none
	Status  int
	Message string
	Detail  string
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

// webError shows a failed request as a page that says why.
func (a *app) webError(w http.ResponseWriter, r *http.Request, err error) {
	a.logFailure(r, err)
	v := a.newView(capOf(r), "")
	var de *sqlguard.DeniedError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &de):
		v.Status, v.Message = http.StatusForbidden, "Denied."
		v.Detail = "PostgreSQL refused the statement: it needs " + de.Need + " (policy " + de.Policy + ")."
	case errors.Is(err, sqlguard.ErrNotFound):
		v.Status, v.Message = http.StatusNotFound, "Not found."
		v.Detail = "It does not exist, or it is in a group you do not belong to."
	case errors.As(err, &mbe):
		v.Status, v.Message = http.StatusRequestEntityTooLarge, "Too long."
	case errors.Is(err, middleware.ErrBadRequest):
		v.Status, v.Message = http.StatusBadRequest, "Bad request."
		v.Detail = "Check what you typed: empty, too long, or not a number."
	default:
		v.Status, v.Message = http.StatusInternalServerError, "Something went wrong."
	}
	v.Title = v.Message
	a.render(w, r, v.Status, "error", v)
}

func (a *app) webHome(w http.ResponseWriter, r *http.Request) {
	c, ok := capability.FromContext(r.Context())
	v := a.newView(c, "log in")
	if ok {
		v.Title = "your groups"
	}
	v.Demo = demoUsers
	if ok {
		gs, err := a.listGroups(r.Context(), c, page{Before: math.MaxInt64, Limit: maxLimit})
		if err != nil {
			a.webError(w, r, err)
			return
		}
		slices.Reverse(gs)
		for _, g := range gs {
			v.Groups = append(v.Groups, groupView{g, roleIn(c, g.ID)})
		}
	}
	a.render(w, r, http.StatusOK, "home", v)
}

func (a *app) webGroup(w http.ResponseWriter, r *http.Request) {
	c := capOf(r)
	id, err := pathID(r)
	if err != nil {
		a.webError(w, r, err)
		return
	}
	p, err := pageOf(r)
	if err != nil {
		a.webError(w, r, err)
		return
	}
	g, err := a.getGroup(r.Context(), c, id)
	if err != nil {
		a.webError(w, r, err)
		return
	}
	ts, err := a.listThreads(r.Context(), c, id, p)
	if err != nil {
		a.webError(w, r, err)
		return
	}
	v := a.newView(c, g.Name)
	v.Group = &groupView{g, roleIn(c, g.ID)}
	v.Threads = ts
	if len(ts) == p.Limit {
		v.Older = ts[len(ts)-1].ID
	}
	a.render(w, r, http.StatusOK, "group", v)
}

func (a *app) webThread(w http.ResponseWriter, r *http.Request) {
	c := capOf(r)
	id, err := pathID(r)
	if err != nil {
		a.webError(w, r, err)
		return
	}
	p, err := pageOf(r)
	if err != nil {
		a.webError(w, r, err)
		return
	}
	t, err := a.getThread(r.Context(), c, id)
	if err != nil {
		a.webError(w, r, err)
		return
	}
	ps, err := a.listPosts(r.Context(), c, id, p)
	if err != nil {
		a.webError(w, r, err)
		return
	}
	gs, err := a.listGroups(r.Context(), c, page{Before: math.MaxInt64, Limit: maxLimit})
	if err != nil {
		a.webError(w, r, err)
		return
	}
	v := a.newView(c, t.Title)
	v.Thread = &t
	v.Group = &groupView{group{t.GroupID, t.GroupName}, roleIn(c, t.GroupID)}
	if len(ps) == p.Limit {
		v.Older = ps[len(ps)-1].ID
	}
	slices.Reverse(ps) // oldest first on the page
	v.Posts = ps
	slices.Reverse(gs)
	for _, g := range gs {
		v.Groups = append(v.Groups, groupView{g, roleIn(c, g.ID)})
	}
	a.render(w, r, http.StatusOK, "thread", v)
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

func redirect(w http.ResponseWriter, r *http.Request, path string, id int64) {
	http.Redirect(w, r, path+strconv.FormatInt(id, 10), http.StatusSeeOther)
}

func (a *app) webCreateThread(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err == nil {
		err = parseForm(w, r)
	}
	var t thread
	if err == nil {
		t, err = a.createThread(r.Context(), capOf(r), id, r.PostForm.Get("title"))
	}
	if err != nil {
		a.webError(w, r, err)
		return
	}
	redirect(w, r, "/threads/", t.ID)
}

func (a *app) webCreatePost(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err == nil {
		err = parseForm(w, r)
	}
	if err == nil {
		content := r.PostForm.Get("content")
		if err = checkText("content", content, maxContent); err == nil {
			_, err = a.createPost(r.Context(), capOf(r), id, content)
		}
	}
	if err != nil {
		a.webError(w, r, err)
		return
	}
	redirect(w, r, "/threads/", id)
}

func (a *app) webDeleteThread(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err == nil {
		err = parseForm(w, r)
	}
	var back int64
	if err == nil {
		back, err = formID(r, "group_id")
	}
	if err == nil {
		err = a.deleteThread(r.Context(), capOf(r), id)
	}
	if err != nil {
		a.webError(w, r, err)
		return
	}
	redirect(w, r, "/groups/", back)
}

func (a *app) webMoveThread(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err == nil {
		err = parseForm(w, r)
	}
	var to int64
	if err == nil {
		to, err = formID(r, "group_id")
	}
	if err == nil {
		err = a.moveThread(r.Context(), capOf(r), id, to)
	}
	if err != nil {
		a.webError(w, r, err)
		return
	}
	redirect(w, r, "/threads/", id)
}

func (a *app) webEditPost(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err == nil {
		err = parseForm(w, r)
	}
	var back int64
	if err == nil {
		back, err = formID(r, "thread_id")
	}
	if err == nil {
		err = a.editPost(r.Context(), capOf(r), id, r.PostForm.Get("content"))
	}
	if err != nil {
		a.webError(w, r, err)
		return
	}
	redirect(w, r, "/threads/", back)
}

func (a *app) webDeletePost(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err == nil {
		err = parseForm(w, r)
	}
	var back int64
	if err == nil {
		back, err = formID(r, "thread_id")
	}
	if err == nil {
		err = a.deletePost(r.Context(), capOf(r), id)
	}
	if err != nil {
		a.webError(w, r, err)
		return
	}
	redirect(w, r, "/threads/", back)
}
