package main

import (
	"context"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/keyhole-go/keyhole/sqlguard"
	"github.com/keyhole-go/keyhole/sqlguard/approval"
)

// TestRefusalStatus: a statement refused by the approval lock
// (sqlguard.ErrNotApproved) or by PostgreSQL's privileges
// (insufficient_privilege) is 403 on the page as in the API, with a page
// that says so, and nothing lands.
func TestRefusalStatus(t *testing.T) {
	notApproved := func(a *app) {
		a.reg.SetApproval(func(p sqlguard.PolicyInfo) error {
			if p.Name == "posts.create" {
				return fmt.Errorf("%w: posts.create (test)", sqlguard.ErrNotApproved)
			}
			return nil
		})
	}
	for _, c := range []struct {
		name    string
		app     func(*app)
		revoke  bool // REVOKE INSERT ON posts from the app's roles (its login role and the wall's)
		pageHas string
	}{
		{"not approved", notApproved, false, "not approved by the forum&#39;s keyhole.lock"},
		{"insufficient privilege", nil, true, "PostgreSQL refused the statement."},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newForumWith(t, forumOptions{app: c.app})
			if c.revoke {
				var role string
				if err := f.db.Pool.QueryRow(context.Background(), "select current_user").Scan(&role); err != nil {
					t.Fatal(err)
				}
				f.exec("revoke insert on posts from " + pgx.Identifier{role}.Sanitize())
				rows, err := f.db.Owner.Query(context.Background(), "select rolname from pg_roles where starts_with(rolname, $1)", f.db.Name+"_")
				if err != nil {
					t.Fatal(err)
				}
				wallRoles, err := pgx.CollectRows(rows, pgx.RowTo[string])
				if err != nil || len(wallRoles) == 0 {
					t.Fatalf("the wall's roles: %v, %v", wallRoles, err)
				}
				for _, r := range wallRoles {
					f.exec("revoke insert on posts from " + pgx.Identifier{r}.Sanitize())
				}
			}
			alice := f.token("alice")
			before := f.fingerprint()

			req, _ := http.NewRequest("POST", f.srv.URL+"/threads/1/posts", strings.NewReader("content=refused"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Cookie", cookieName+"="+alice)
			resp, err := f.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			page := readAll(t, resp)
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "Denied.") || !strings.Contains(page, c.pageHas) {
				t.Errorf("page: got %d\n%s\nwant 403 Denied. with %q", resp.StatusCode, page, c.pageHas)
			}
			if status, body := f.do("POST", "/api/threads/1/posts", alice, `{"content":"refused"}`); status != http.StatusForbidden {
				t.Errorf("API: got %d %s, want 403", status, body)
			}
			if f.fingerprint() != before {
				t.Errorf("a refused request changed the database")
			}
		})
	}
}

// TestWebErrorPage: the page answers every error with the status of the
// API (errorWriter), and says why.
func TestWebErrorPage(t *testing.T) {
	tmpl, err := parseTemplates()
	if err != nil {
		t.Fatal(err)
	}
	a := &app{tmpl: tmpl, log: slog.New(slog.DiscardHandler)}
	for _, c := range []struct {
		name string
		err  error
		want int
		says string
	}{
		{"denied", &sqlguard.DeniedError{Policy: "posts.delete", Need: "role moderator in the row's group"}, http.StatusForbidden, "needs moderator in the row's group (policy posts.delete)"},
		{"not approved", &approval.Error{Policy: "posts.create"}, http.StatusForbidden, "not approved"},
		{"insufficient privilege", fmt.Errorf("sqlguard: posts.create: %w", &pgconn.PgError{Code: "42501"}), http.StatusForbidden, "PostgreSQL refused the statement."},
		{"not found", fmt.Errorf("x: %w", sqlguard.ErrNotFound), http.StatusNotFound, "Not found."},
		{"bad input", badRequest("id must be a positive integer"), http.StatusBadRequest, "Bad request."},
		{"too large", &http.MaxBytesError{Limit: maxBody}, http.StatusRequestEntityTooLarge, "Too long."},
		{"unique", &pgconn.PgError{Code: "23505"}, http.StatusConflict, "Conflict."},
		{"unavailable", &pgconn.PgError{Code: "57014"}, http.StatusServiceUnavailable, "Unavailable."},
		{"other", errors.New("boom"), http.StatusInternalServerError, "Something went wrong."},
	} {
		t.Run(c.name, func(t *testing.T) {
			api := httptest.NewRecorder()
			req := httptest.NewRequest("POST", "/threads/1/posts", nil)
			errorWriter.WriteError(api, req, c.err)
			page := httptest.NewRecorder()
			a.webError(page, req, c.err)
			if page.Code != c.want || api.Code != c.want {
				t.Errorf("page %d, API %d; want %d", page.Code, api.Code, c.want)
			}
			if retry := api.Header().Get("Retry-After"); (c.want == http.StatusServiceUnavailable) != (retry == "1") {
				t.Errorf("API Retry-After %q with %d", retry, api.Code)
			}
			if body := page.Body.String(); !strings.Contains(body, html.EscapeString(c.says)) {
				t.Errorf("page does not say %q:\n%s", c.says, body)
			}
			if ct := page.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}
