package middleware_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/keyhole-go/keyhole/middleware"
)

func TestDeadline(t *testing.T) {
	var got error
	var hadDeadline bool
	h := middleware.Deadline(20 * time.Millisecond)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, hadDeadline = r.Context().Deadline()
		<-r.Context().Done() // a wait that only the deadline ends
		got = r.Context().Err()
		middleware.ErrorWriter{RetryAfter: time.Second}.WriteError(w, r, got)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if !hadDeadline || !errors.Is(got, context.DeadlineExceeded) {
		t.Errorf("handler saw deadline %v and error %v, want a deadline and DeadlineExceeded", hadDeadline, got)
	}
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1" {
		t.Errorf("got %d with Retry-After %q, want 503 with Retry-After 1", rec.Code, rec.Header().Get("Retry-After"))
	}

	// A request that ends in time is not touched.
	fast := middleware.Deadline(time.Minute)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.Context().Err(); err != nil {
			t.Errorf("fast request: context already done: %v", err)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	rec = httptest.NewRecorder()
	fast.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusNoContent {
		t.Errorf("fast request: got %d, want 204", rec.Code)
	}
}

func TestDeadlineNeedsPositive(t *testing.T) {
	for _, d := range []time.Duration{0, -time.Second} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Deadline(%v) did not panic", d)
				}
			}()
			middleware.Deadline(d)
		}()
	}
}
