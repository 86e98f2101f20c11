package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/capability/token"
	"github.com/keyhole-go/keyhole/middleware"
	"github.com/keyhole-go/keyhole/sqlguard"
)

// closedPortURL returns a libpq URL of a loopback port nothing listens on.
func closedPortURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "postgres://keyhole:secret@" + addr + "/keyhole?sslmode=disable&connect_timeout=5"
}

func pgErr(code string) error {
	return &pgconn.PgError{Severity: "ERROR", Code: code, Message: "internal message for " + code, Detail: "Key (email)=(alice@example.com) already exists."}
}

func TestWriteError(t *testing.T) {
	ctx := context.Background()
	// A real connection error: a pool on a closed loopback port.
	pool, err := pgxpool.New(ctx, closedPortURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	connErr := pool.Ping(ctx)
	if connErr == nil {
		t.Fatal("ping of a closed port succeeded")
	}
	// A real timeout: connecting with an expired context.
	expiredCtx, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel()
	_, timeoutErr := pgconn.Connect(expiredCtx, closedPortURL(t))
	if !pgconn.Timeout(timeoutErr) {
		t.Logf("connect with an expired context: %v (pgconn.Timeout false)", timeoutErr)
	}
	_, badGroup := capability.ParseGroup(capability.KindInt64, "x")
	_, badCap := capability.New(nil, capability.KindInt64, capability.Params{})
	// A real decode error from DecodeJSON.
	jsonReq := httptest.NewRequest("POST", "/", strings.NewReader(`{"x":1}`))
	jsonReq.Header.Set("Content-Type", "application/json")
	var into struct{}
	jsonErr := middleware.DecodeJSON(httptest.NewRecorder(), jsonReq, &into, 0)

	denied := &sqlguard.DeniedError{Policy: "threads.delete", Need: "role moderator in group 7"}
	tests := []struct {
		name   string
		err    error
		status int
		ch     string
		detail string
	}{
		{"nil", nil, 500, "", ""},
		{"other", errors.New("pq: relation \"secret_table\" does not exist"), 500, "", ""},
		{"denied", denied, 403, "", "needs role moderator in group 7"},
		{"denied wrapped", fmt.Errorf("delete thread: %w", denied), 403, "", "needs role moderator in group 7"},
		{"denied sentinel", sqlguard.ErrDenied, 403, "", ""},
		{"not approved", fmt.Errorf("%w: threads.purge", sqlguard.ErrNotApproved), 403, "", ""},
		{"not found", fmt.Errorf("thread 9: %w", sqlguard.ErrNotFound), 404, "", ""},
		{"unique violation", fmt.Errorf("sqlguard: insert: %w", pgErr("23505")), 409, "", ""},
		{"foreign key violation", pgErr("23503"), 500, "", ""},
		{"insufficient privilege", pgErr("42501"), 403, "", ""},
		{"undefined table", pgErr("42P01"), 500, "", ""},
		{"invalid input", fmt.Errorf("%w: group kind", sqlguard.ErrInvalidInput), 400, "", ""},
		{"bad capability", badCap, 400, "", ""},
		{"bad group", badGroup, 400, "", ""},
		{"bad request", jsonErr, 400, "", ""},
		{"too large", &http.MaxBytesError{Limit: 10}, 413, "", ""},
		{"media type", middleware.ErrUnsupportedMediaType, 415, "", ""},
		{"deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), 503, "", ""},
		{"pgconn timeout", timeoutErr, 503, "", ""},
		{"connect error", connErr, 503, "", ""},
		{"connection exception 08006", pgErr("08006"), 503, "", ""},
		{"connection exception 08000", pgErr("08000"), 503, "", ""},
		{"too many connections 53300", pgErr("53300"), 503, "", ""},
		{"admin shutdown 57P01", pgErr("57P01"), 503, "", ""},
		{"crash shutdown 57P02", pgErr("57P02"), 503, "", ""},
		{"cannot connect now 57P03", pgErr("57P03"), 503, "", ""},
		{"statement timeout 57014", pgErr("57014"), 503, "", ""},
		{"invalid token", &token.TokenError{Reason: token.ErrExpired, KeyID: "k1", Subject: "alice"}, 401, `Bearer error="invalid_token"`, ""},
		{"no token", middleware.ErrNoToken, 401, "Bearer", ""},
		{"insufficient scope", middleware.ErrInsufficientScope, 403, `Bearer error="insufficient_scope"`, ""},
		{"auth error without status", &middleware.AuthError{}, 500, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			w.Header().Set("Content-Length", "999") // a stale header from the handler
			middleware.WriteError(w, httptest.NewRequest("GET", "/", nil), tt.err)
			if tt.detail == "" {
				checkAnswer(t, w, tt.status, tt.ch)
			} else {
				want := `{"type":"about:blank","title":"Forbidden","status":403,"detail":"` + tt.detail + "\"}\n"
				if w.Code != tt.status || w.Body.String() != want {
					t.Errorf("got %d %q, want %d %q", w.Code, w.Body.String(), tt.status, want)
				}
			}
			if w.Header().Get("Content-Length") != "" {
				t.Errorf("stale Content-Length kept")
			}
			for _, leak := range []string{"internal", "secret", "alice", "pq:", "Key (", "127.0.0.1", "keyhole"} {
				if strings.Contains(w.Body.String(), leak) {
					t.Errorf("body leaks %q: %s", leak, w.Body.String())
				}
			}
		})
	}
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
