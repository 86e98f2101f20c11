package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/keyhole-go/keyhole/internal/testdb"
	"github.com/keyhole-go/keyhole/middleware"
)

// TestBadRequestDetails: every 400 (and 413, 415) of the API says what is
// wrong, in words written for the client, never in Go's error text.
func TestBadRequestDetails(t *testing.T) {
	f := newForum(t)
	before := f.fingerprint()
	for _, c := range []struct {
		name, method, path, body string
		status                   int
		detail                   string
	}{
		{"unknown field", "POST", "/api/groups/1/threads", `{"titel":"x"}`, 400, `unknown field "titel"`},
		{"field of another case", "POST", "/api/groups/1/threads", `{"Title":"x"}`, 400, `unknown field "Title"`},
		{"repeated key", "POST", "/api/groups/1/threads", `{"title":"x","title":"y"}`, 400, `key "title" appears twice in an object`},
		{"wrong type", "POST", "/api/threads/1/move", `{"group_id":"2"}`, 400, `field "group_id": want an integer`},
		{"fraction", "POST", "/api/threads/1/move", `{"group_id":2.5}`, 400, `field "group_id": want an integer`},
		{"string for a string field", "POST", "/api/groups/1/threads", `{"title":42}`, 400, `field "title": want a string`},
		{"not an object", "POST", "/api/groups/1/threads", `[1]`, 400, `body: want an object`},
		{"empty title", "POST", "/api/groups/1/threads", `{"title":"  "}`, 400, "title is empty"},
		{"empty content", "POST", "/api/threads/1/posts", `{"content":""}`, 400, "content is empty"},
		{"bad id", "GET", "/api/threads/abc", "", 400, "id must be a positive integer"},
		{"id zero", "DELETE", "/api/threads/0", "", 400, "id must be a positive integer"},
		{"bad cursor", "GET", "/api/groups/1/threads?before=x", "", 400, "before must be a positive integer"},
		{"bad move target", "POST", "/api/threads/1/move", `{"group_id":0}`, 400, "group_id must be a positive integer"},
		{"malformed JSON", "POST", "/api/groups/1/threads", `{"title":`, 400, "body: the JSON value ends early"},
		{"syntax", "POST", "/api/groups/1/threads", `{"title" "x"}`, 400, "body: not valid JSON (at byte 9)"},
		{"empty body", "POST", "/api/groups/1/threads", " ", 400, "body: empty"},
		{"trailing data", "POST", "/api/groups/1/threads", `{"title":"x"} {}`, 400, "body: data after the JSON value"},
		{"invalid UTF-8", "POST", "/api/groups/1/threads", "{\"title\":\"a\xffb\"}", 400, "body: not valid UTF-8"},
		{"lone surrogate", "POST", "/api/groups/1/threads", `{"title":"a\ud800b"}`, 400, `body: lone surrogate \uD800 in a string`},
		{"body too large", "POST", "/api/threads/1/posts", `{"content":"` + strings.Repeat("x", maxBody) + `"}`, 413, fmt.Sprintf("body: larger than %d bytes", maxBody)},
		{"login: unknown user", "POST", "/login", `{"user":"mallory"}`, 400, "unknown demo user"},
		{"login: unknown field", "POST", "/login", `{"usr":"alice"}`, 400, `unknown field "usr"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			tok := f.token("alice")
			if c.path == "/login" {
				tok = ""
			}
			status, body := f.do(c.method, c.path, tok, c.body)
			var p struct {
				Status int    `json:"status"`
				Detail string `json:"detail"`
			}
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			if status != c.status || p.Status != c.status || p.Detail != c.detail {
				t.Errorf("got %d %q, want %d %q", status, p.Detail, c.status, c.detail)
			}
			for _, leak := range []string{"json:", "Go value", "main.", "int64", "strconv", "invalid character", "middleware:"} {
				if bytes.Contains(body, []byte(leak)) {
					t.Errorf("body leaks %q: %s", leak, body)
				}
			}
		})
	}
	t.Run("not JSON", func(t *testing.T) {
		req, err := http.NewRequest("POST", f.srv.URL+"/api/groups/1/threads", strings.NewReader("title=x"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer "+f.token("alice"))
		resp, err := f.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var p struct{ Detail string }
		if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 415 || p.Detail != "Content-Type: want application/json" {
			t.Errorf("got %d %q, want 415 with what to send", resp.StatusCode, p.Detail)
		}
	})
	if f.fingerprint() != before {
		t.Fatal("refused requests changed the database")
	}
}

// TestWebBadRequestDetail: the web page shows a client error's detail
// too.
func TestWebBadRequestDetail(t *testing.T) {
	tmpl, err := parseTemplates()
	if err != nil {
		t.Fatal(err)
	}
	a := &app{tmpl: tmpl, log: slog.New(slog.DiscardHandler)}
	page := httptest.NewRecorder()
	a.webError(page, httptest.NewRequest("POST", "/threads/1/move", nil), badRequest("group_id must be a positive integer"))
	if page.Code != 400 || !strings.Contains(page.Body.String(), "group_id must be a positive integer") {
		t.Errorf("got %d without the detail:\n%s", page.Code, page.Body)
	}
}

// TestInternalErrorTextNeverInBody: whatever error a handler fails with,
// the API's answer carries none of its text; only a *ClientError's
// detail, which the forum wrote for the client, is shown.
func TestInternalErrorTextNeverInBody(t *testing.T) {
	const secret = "SECRET-internal-text"
	for _, err := range []error{
		errors.New(secret),
		fmt.Errorf("forum: list: %w", errors.New(secret)),
		&pgconn.PgError{Code: "23503", Message: secret, Detail: secret},
		&pgconn.PgError{Code: "23505", Message: secret, Detail: secret},
		&pgconn.PgError{Code: "57014", Message: secret},
		badRequest("title is empty"),
		middleware.BadRequest("id must be a positive integer", errors.New(secret)),
		bodyError(errors.New(secret)),
		bodyError(&json.UnmarshalTypeError{Value: secret, Field: "group_id", Type: nil}),
		fmt.Errorf("%w: %s", middleware.ErrBadRequest, secret),
		context.DeadlineExceeded,
	} {
		w := httptest.NewRecorder()
		errorWriter.WriteError(w, httptest.NewRequest("POST", "/api/groups/1/threads", nil), err)
		if strings.Contains(w.Body.String(), secret) {
			t.Errorf("%v: body leaks the error's text: %s", err, w.Body)
		}
	}
}

// TestRequestIDInLogs: the forum gives every request an id (the proxy's
// X-Request-Id, or a made-up one), sends it back, and logs a refusal with
// it, so a 401 in the log leads to the answer the client saw.
func TestRequestIDInLogs(t *testing.T) {
	db := testdb.New(t, schema)
	var logs bytes.Buffer
	a, err := newApp(t.Context(), config{DB: db.Pool, Key: testKey(t), Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.handler())
	defer srv.Close()
	for _, sent := range []string{"lb-42", ""} {
		logs.Reset()
		req, err := http.NewRequest("GET", srv.URL+"/api/me", nil)
		if err != nil {
			t.Fatal(err)
		}
		if sent != "" {
			req.Header.Set("X-Request-Id", sent)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		id := resp.Header.Get("X-Request-Id")
		if resp.StatusCode != 401 || id == "" || (sent != "" && id != sent) {
			t.Fatalf("sent %q: got %d with X-Request-Id %q", sent, resp.StatusCode, id)
		}
		var rec map[string]any
		if err := json.Unmarshal(logs.Bytes(), &rec); err != nil {
			t.Fatalf("log %q: %v", logs.String(), err)
		}
		if rec["request_id"] != id || rec["status"] != 401.0 {
			t.Errorf("sent %q: log record %v, want request_id %q", sent, rec, id)
		}
	}
}
