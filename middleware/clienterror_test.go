package middleware_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keyhole-go/keyhole/middleware"
	"github.com/keyhole-go/keyhole/sqlguard"
)

// TestClientError: the application's detail is shown, the underlying
// error's text never is, and the status is the one it chose (400 by
// default, 4xx only).
func TestClientError(t *testing.T) {
	secret := errors.New(`strconv.ParseInt: parsing "x": internal secret`)
	tests := []struct {
		name   string
		err    error
		status int
		detail string
	}{
		{"bad request", middleware.BadRequest(`field "group": want an integer`, secret), 400, `field "group": want an integer`},
		{"wrapped", fmt.Errorf("create thread: %w", middleware.BadRequest("title: empty", secret)), 400, "title: empty"},
		{"no detail", middleware.BadRequest("", secret), 400, ""},
		{"nil cause", middleware.BadRequest("id: want a positive integer", nil), 400, "id: want a positive integer"},
		{"413", &middleware.ClientError{Status: 413, Detail: "body: over 65536 bytes", Err: &http.MaxBytesError{Limit: 65536}}, 413, "body: over 65536 bytes"},
		{"status 0 is 400", &middleware.ClientError{Detail: "d", Err: secret}, 400, "d"},
		{"5xx is refused: 400", &middleware.ClientError{Status: 500, Detail: "d"}, 400, "d"},
		// The ClientError decides even when its cause is one a classifier knows.
		{"cause sqlguard not found", middleware.BadRequest("id: no such thread", sqlguard.ErrNotFound), 400, "id: no such thread"},
	}
	ew := middleware.ErrorWriter{Classifiers: []middleware.Classifier{sqlguard.Classify}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			ew.WriteError(w, httptest.NewRequest("POST", "/", nil), tt.err)
			if w.Code != tt.status {
				t.Errorf("status: got %d, want %d", w.Code, tt.status)
			}
			var p struct {
				Status int    `json:"status"`
				Detail string `json:"detail"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
				t.Fatalf("body %q: %v", w.Body, err)
			}
			if p.Detail != tt.detail || p.Status != tt.status {
				t.Errorf("got status %d detail %q, want %d %q", p.Status, p.Detail, tt.status, tt.detail)
			}
			for _, leak := range []string{"secret", "strconv", "sqlguard", "middleware"} {
				if strings.Contains(w.Body.String(), leak) {
					t.Errorf("body leaks %q: %s", leak, w.Body)
				}
			}
		})
	}
}

func TestClientErrorMatches(t *testing.T) {
	cause := &http.MaxBytesError{Limit: 1}
	bad := middleware.BadRequest("body: too large", cause)
	if !errors.Is(bad, middleware.ErrBadRequest) {
		t.Error("BadRequest does not match ErrBadRequest")
	}
	var mbe *http.MaxBytesError
	if !errors.As(bad, &mbe) {
		t.Error("BadRequest does not unwrap to its cause")
	}
	other := &middleware.ClientError{Status: 415, Detail: "Content-Type: want application/json"}
	if errors.Is(other, middleware.ErrBadRequest) {
		t.Error("a 415 ClientError matches ErrBadRequest")
	}
	if got := bad.Error(); !strings.Contains(got, "body: too large") || !strings.HasPrefix(got, "middleware: ") {
		t.Errorf("Error() = %q", got)
	}
}

// TestErrorWriterLogger: a 5xx answer is logged with the error's text and
// the request id, a client error's cause at debug level, an ordinary
// refusal (403, 404) not at all; the body never carries any of it.
func TestErrorWriterLogger(t *testing.T) {
	var logs logBuffer
	ew := middleware.ErrorWriter{Classifiers: []middleware.Classifier{sqlguard.Classify}, Logger: logs.logger()}
	h := middleware.RequestIDs(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/500":
			ew.WriteError(w, r, errors.New(`pq: relation "secret_table" does not exist`))
		case "/400":
			ew.WriteError(w, r, middleware.BadRequest("id: want an integer", errors.New("strconv: secret cause")))
		case "/404":
			ew.WriteError(w, r, sqlguard.ErrNotFound)
		}
	}))
	for _, tt := range []struct {
		path  string
		level string
		error string
	}{
		{"/500", "ERROR", `pq: relation "secret_table" does not exist`},
		{"/400", "DEBUG", "strconv: secret cause"},
		{"/404", "", ""},
	} {
		t.Run(tt.path, func(t *testing.T) {
			logs.buf.Reset()
			r := httptest.NewRequest("GET", tt.path, nil)
			r.Header.Set("X-Request-Id", "req-"+tt.path[1:])
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if strings.Contains(w.Body.String(), "secret") {
				t.Errorf("body leaks the error: %s", w.Body)
			}
			recs := logs.records(t)
			if tt.level == "" {
				if len(recs) != 0 {
					t.Errorf("got %d records, want none: %v", len(recs), recs)
				}
				return
			}
			if len(recs) != 1 {
				t.Fatalf("got %d records, want 1: %v", len(recs), recs)
			}
			rec := recs[0]
			if rec["level"] != tt.level || rec["error"] != tt.error || rec["request_id"] != "req-"+tt.path[1:] {
				t.Errorf("record %v: want level %s, error %q, request_id req-%s", rec, tt.level, tt.error, tt.path[1:])
			}
		})
	}
}
