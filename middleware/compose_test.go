package middleware_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/middleware"
)

// TestServeMux composes Auth with http.ServeMux method patterns, both
// ways: Auth around the mux, and Auth around single routes.
func TestServeMux(t *testing.T) {
	k := newKeys(t)
	a := k.newAuth(t, middleware.Options{})
	tok := k.mint(t, "alice", false, grant("moderator", 3))

	item := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := capability.FromContext(r.Context())
		w.Write([]byte(r.PathValue("id") + " " + c.Subject()))
	})

	t.Run("auth around mux", func(t *testing.T) {
		mux := http.NewServeMux()
		mux.Handle("POST /api/items/{id}", item)
		h := a.Handler(mux)
		checkAnswer(t, serve(h, request("POST", "/api/items/9", nil, "")), 401, chNone)
		w := serve(h, request("POST", "/api/items/9", bearer(tok), ""))
		if w.Code != 200 || w.Body.String() != "9 alice" {
			t.Errorf("got %d %q", w.Code, w.Body.String())
		}
		// The mux still answers its own 405 after authentication.
		if w := serve(h, request("GET", "/api/items/9", bearer(tok), "")); w.Code != http.StatusMethodNotAllowed {
			t.Errorf("GET: got %d, want 405", w.Code)
		}
	})

	t.Run("auth per route", func(t *testing.T) {
		mux := http.NewServeMux()
		mux.Handle("POST /api/items/{id}", a.Handler(a.RequireRole("moderator")(item)))
		mux.Handle("GET /api/items/{id}", a.Optional(item))
		mux.Handle("GET /public", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("public")) }))
		w := serve(mux, request("POST", "/api/items/5", bearer(tok), ""))
		if w.Code != 200 || w.Body.String() != "5 alice" {
			t.Errorf("POST: got %d %q", w.Code, w.Body.String())
		}
		checkAnswer(t, serve(mux, request("POST", "/api/items/5", nil, "")), 401, chNone)
		member := k.mint(t, "bob", false, grant("member", 3))
		checkAnswer(t, serve(mux, request("POST", "/api/items/5", bearer(member), "")), 403, chScope)
		if w := serve(mux, request("GET", "/api/items/5", nil, "")); w.Code != 200 || w.Body.String() != "5 " {
			t.Errorf("anonymous GET: got %d %q", w.Code, w.Body.String())
		}
		checkAnswer(t, serve(mux, request("GET", "/api/items/5", bearer("abc"), "")), 401, chInvalid)
		if w := serve(mux, request("GET", "/public", bearer("abc"), "")); w.Code != 200 {
			t.Errorf("public: got %d", w.Code)
		}
	})
}

// chain applies middlewares so that the first is the outermost.
func chain(h http.Handler, mws ...func(http.Handler) http.Handler) http.Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

// TestChain composes with a plain func(http.Handler) http.Handler chain:
// Recover, Auth.Handler, RequireRole, and a panicking handler.
func TestChain(t *testing.T) {
	k := newKeys(t)
	var logs logBuffer
	a := k.newAuth(t, middleware.Options{})
	recoverMW := middleware.RecoverWith(logs.logger(), nil)
	tok := k.mint(t, "alice", false, grant("moderator", 1))

	ok := chain(capHandler, recoverMW, a.Handler, a.RequireRole("moderator"))
	if w := serve(ok, request("GET", "/", bearer(tok), "")); w.Code != 200 || w.Body.String() != "sub=alice" {
		t.Errorf("got %d %q", w.Code, w.Body.String())
	}
	checkAnswer(t, serve(ok, request("GET", "/", nil, "")), 401, chNone)

	boom := chain(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("secret detail " + tok) }),
		recoverMW, a.Handler, a.RequireRole("moderator"))
	w := serve(boom, request("GET", "/", bearer(tok), ""))
	checkAnswer(t, w, 500, "")
	if strings.Contains(w.Body.String(), "secret") {
		t.Errorf("body leaks the panic: %q", w.Body.String())
	}
	if !strings.Contains(logs.String(), "handler panicked") {
		t.Errorf("panic not logged: %s", logs.String())
	}
	// Refused requests never reach the panicking handler.
	checkAnswer(t, serve(boom, request("GET", "/", nil, "")), 401, chNone)
}

func TestRecover(t *testing.T) {
	var logs logBuffer
	rec := middleware.RecoverWith(logs.logger(), nil)

	t.Run("panic", func(t *testing.T) {
		h := rec(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Partial", "1")
			panic(errors.New("database password is hunter2"))
		}))
		w := serve(h, httptest.NewRequest("GET", "/", nil))
		checkAnswer(t, w, 500, "")
		if strings.Contains(w.Body.String(), "hunter2") {
			t.Errorf("body leaks the panic value")
		}
	})

	t.Run("handler headers dropped", func(t *testing.T) {
		h := rec(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.SetCookie(w, &http.Cookie{Name: "session", Value: "new-session-for-alice"})
			w.Header().Set("Location", "/admin")
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Set("X-Partial", "1")
			panic("boom")
		}))
		w := serve(h, httptest.NewRequest("GET", "/", nil))
		checkAnswer(t, w, 500, "")
		for _, name := range []string{"Set-Cookie", "Location", "Content-Encoding", "X-Partial"} {
			if v, ok := w.Header()[name]; ok {
				t.Errorf("500 answer has the failed handler's %s: %q", name, v)
			}
		}
	})

	t.Run("default logger", func(t *testing.T) {
		h := middleware.Recover(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("x") }))
		checkAnswer(t, serve(h, httptest.NewRequest("GET", "/", nil)), 500, "")
	})

	t.Run("ErrAbortHandler propagates", func(t *testing.T) {
		h := rec(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }))
		defer func() {
			if v := recover(); v != http.ErrAbortHandler {
				t.Errorf("recovered %v, want http.ErrAbortHandler", v)
			}
		}()
		serve(h, httptest.NewRequest("GET", "/", nil))
		t.Errorf("ErrAbortHandler was swallowed")
	})

	t.Run("panic after the response started aborts", func(t *testing.T) {
		h := rec(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"items":[`))
			panic("half way")
		}))
		w := httptest.NewRecorder()
		func() {
			defer func() {
				if v := recover(); v != http.ErrAbortHandler {
					t.Errorf("recovered %v, want http.ErrAbortHandler", v)
				}
			}()
			h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		}()
		if w.Body.String() != `{"items":[` {
			t.Errorf("body: got %q", w.Body.String())
		}
	})

	t.Run("over a real server", func(t *testing.T) {
		srv := httptest.NewServer(rec(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// The wrapper unwraps to the server's writer.
			if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
				t.Errorf("SetWriteDeadline: %v", err)
			}
			panic("x")
		})))
		defer srv.Close()
		resp, err := srv.Client().Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 500 || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("got %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	})

	t.Run("ResponseController reaches the writer", func(t *testing.T) {
		h := rec(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Errorf("Flush: %v", err)
			}
			if _, ok := w.(http.Flusher); !ok {
				t.Errorf("not a Flusher")
			}
		}))
		w := serve(h, httptest.NewRequest("GET", "/", nil))
		if !w.Flushed {
			t.Errorf("not flushed")
		}
	})
}
