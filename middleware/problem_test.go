package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/capability/token"
	"github.com/keyhole-go/keyhole/middleware"
	"github.com/keyhole-go/keyhole/sqlguard"
)

// timeoutError is a net.Error that timed out, as a JWKS fetch's.
type timeoutError struct{}

func (timeoutError) Error() string   { return "dial tcp 127.0.0.1:1: i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// TestWriteError: the defaults, which know this package's errors,
// capability's shared sentinels and token's errors, and nothing of SQL
// (sqlguard's classification is tested in sqlguard, next to Classify).
func TestWriteError(t *testing.T) {
	_, badGroup := capability.ParseGroup(capability.KindInt64, "x")
	_, badCap := capability.New(nil, capability.KindInt64, capability.Params{})
	denied := &sqlguard.DeniedError{Policy: "threads.delete", Need: "role moderator in group 7"}
	tests := []struct {
		name   string
		err    error
		status int
		ch     string
	}{
		{"nil", nil, 500, ""},
		{"other", errors.New("pq: relation \"secret_table\" does not exist"), 500, ""},
		{"forbidden", capability.ErrForbidden, 403, ""},
		{"forbidden wrapped", fmt.Errorf("delete: %w", capability.ErrForbidden), 403, ""},
		{"sqlguard denied, no detail by default", fmt.Errorf("delete thread: %w", denied), 403, ""},
		{"not found", fmt.Errorf("thread 9: %w", capability.ErrNotFound), 404, ""},
		{"sqlguard not found", fmt.Errorf("thread 9: %w", sqlguard.ErrNotFound), 404, ""},
		{"sqlguard invalid input is not known by default", fmt.Errorf("%w: group kind", sqlguard.ErrInvalidInput), 500, ""},
		{"bad capability", badCap, 400, ""},
		{"bad group", badGroup, 400, ""},
		{"bad roles is the server's", capability.ErrBadRoles, 500, ""},
		{"bad request", fmt.Errorf("%w: body", middleware.ErrBadRequest), 400, ""},
		{"cross origin", middleware.ErrCrossOrigin, 403, ""},
		{"too large", &http.MaxBytesError{Limit: 10}, 413, ""},
		{"deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), 503, ""},
		{"network timeout", fmt.Errorf("fetch jwks: %w", timeoutError{}), 503, ""},
		{"canceled", context.Canceled, 500, ""},
		{"invalid token", &token.TokenError{Reason: token.ErrExpired, KeyID: "k1", Subject: "alice"}, 401, `Bearer error="invalid_token"`},
		{"no token", middleware.ErrNoToken, 401, "Bearer"},
		{"insufficient scope", middleware.ErrInsufficientScope, 403, `Bearer error="insufficient_scope"`},
		{"auth error without status", &middleware.AuthError{}, 500, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			w.Header().Set("Content-Length", "999") // a stale header from the handler
			middleware.WriteError(w, httptest.NewRequest("GET", "/", nil), tt.err)
			checkAnswer(t, w, tt.status, tt.ch)
			if w.Header().Get("Content-Length") != "" {
				t.Errorf("stale Content-Length kept")
			}
			if w.Header().Get("Retry-After") != "" {
				t.Errorf("Retry-After without ErrorWriter.RetryAfter")
			}
			for _, leak := range []string{"internal", "secret", "alice", "pq:", "moderator", "127.0.0.1", "keyhole"} {
				if strings.Contains(w.Body.String(), leak) {
					t.Errorf("body leaks %q: %s", leak, w.Body.String())
				}
			}
		})
	}
}

// TestErrorWriterClassifiers: the classifiers come first, in order, the
// first that knows the error decides, and the defaults answer the rest.
func TestErrorWriterClassifiers(t *testing.T) {
	errConflict := errors.New("app: conflict")
	var calls []string
	classifier := func(name string, target error, status int, detail string) middleware.Classifier {
		return func(err error) (int, string, bool) {
			calls = append(calls, name)
			if errors.Is(err, target) {
				return status, detail, true
			}
			return 0, "", false
		}
	}
	ew := middleware.ErrorWriter{
		Classifiers: []middleware.Classifier{
			nil, // skipped
			classifier("first", capability.ErrForbidden, 404, ""),
			classifier("second", errConflict, 409, "it exists already"),
			classifier("broken", errPanicky, 200, ""), // a status that is no error: 500
			classifier("shadowed", errConflict, 418, ""),
		},
		RetryAfter: 1500 * time.Millisecond,
	}
	tests := []struct {
		name   string
		err    error
		status int
		ch     string
		detail string
		calls  string
	}{
		{"override of a default row", capability.ErrForbidden, 404, "", "", "first"},
		{"first that knows decides", fmt.Errorf("insert: %w", errConflict), 409, "", "it exists already", "first second"},
		{"status out of range", errPanicky, 500, "", "", "first second broken"},
		{"unknown: the defaults", capability.ErrNotFound, 404, "", "", "first second broken shadowed"},
		{"unknown token error: the defaults", token.ErrInvalidToken, 401, `Bearer error="invalid_token"`, "", "first second broken shadowed"},
		{"nil: no classifier", nil, 500, "", "", ""},
		{"auth error: no classifier", &middleware.AuthError{Status: 403, Err: capability.ErrForbidden}, 403, "", "", ""},
		{"deadline, retry after", context.DeadlineExceeded, 503, "", "", "first second broken shadowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls = nil
			w := httptest.NewRecorder()
			ew.WriteError(w, httptest.NewRequest("GET", "/", nil), tt.err)
			if got := strings.Join(calls, " "); got != tt.calls {
				t.Errorf("classifiers called: got %q, want %q", got, tt.calls)
			}
			if tt.detail == "" {
				checkAnswer(t, w, tt.status, tt.ch)
			} else {
				want := `{"type":"about:blank","title":"` + http.StatusText(tt.status) + `","status":` + itoa(tt.status) + `,"detail":"` + tt.detail + "\"}\n"
				if w.Code != tt.status || w.Body.String() != want {
					t.Errorf("got %d %q, want %d %q", w.Code, w.Body.String(), tt.status, want)
				}
			}
			wantRetry := ""
			if tt.status == 503 {
				wantRetry = "2" // 1.5s rounded up
			}
			if got := w.Header().Get("Retry-After"); got != wantRetry {
				t.Errorf("Retry-After: got %q, want %q", got, wantRetry)
			}
		})
	}
}

var errPanicky = errors.New("app: classified with a success status")

// TestClassifierSqlguard: sqlguard.Classify is a Classifier as it is,
// without an adapter (the one line an application writes).
func TestClassifierSqlguard(t *testing.T) {
	ew := middleware.ErrorWriter{Classifiers: []middleware.Classifier{sqlguard.Classify}}
	w := httptest.NewRecorder()
	ew.WriteError(w, httptest.NewRequest("GET", "/", nil), fmt.Errorf("%w: bad id", sqlguard.ErrInvalidInput))
	checkAnswer(t, w, 400, "")
	w = httptest.NewRecorder()
	ew.WriteError(w, httptest.NewRequest("GET", "/", nil), fmt.Errorf("%w: roles", sqlguard.ErrMisconfigured))
	checkAnswer(t, w, 500, "")
}

// TestAuthErrorAnswers: the exact answers of each refusal class through
// the default ErrorWriter, with realm.
func TestAuthErrorAnswers(t *testing.T) {
	k := newKeys(t)
	a := k.newAuth(t, middleware.Options{})
	tests := []struct {
		name   string
		h      http.Handler
		r      *http.Request
		status int
		ch     string
	}{
		{"no token", a.Handler(mustNotRun(t)), request("GET", "/", nil, ""), 401, `Bearer realm="forum"`},
		{"invalid token", a.Handler(mustNotRun(t)), request("GET", "/", bearer("x.y.z"), ""), 401, `Bearer realm="forum", error="invalid_token"`},
		{"malformed", a.Handler(mustNotRun(t)), request("GET", "/", []string{"Bearer x y"}, ""), 400, `Bearer realm="forum", error="invalid_request"`},
		{"scope", a.Handler(a.RequireAdmin()(mustNotRun(t))), request("GET", "/", bearer(k.mint(t, "a", false)), ""), 403, `Bearer realm="forum", error="insufficient_scope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := serve(tt.h, tt.r)
			checkAnswer(t, w, tt.status, tt.ch)
			if w.Header().Get("Content-Type") != "application/problem+json" || w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("headers %v", w.Header())
			}
		})
	}
}
