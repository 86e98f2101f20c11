package middleware_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keyhole-go/keyhole/middleware"
)

func TestDecodeJSON(t *testing.T) {
	type thread struct {
		Title string `json:"title"`
		Group int64  `json:"group"`
	}
	tests := []struct {
		name   string
		ct     string
		body   string
		max    int64
		status int // WriteError's answer; 0 for success
	}{
		{"ok", "application/json", `{"title":"hi","group":7}`, 0, 0},
		{"ok with charset and whitespace", "application/json; charset=utf-8", " {\"title\":\"hi\"}\n ", 0, 0},
		{"unknown field", "application/json", `{"title":"hi","admin":true}`, 0, 400},
		{"wrong type", "application/json", `{"group":"7"}`, 0, 400},
		{"two values", "application/json", `{"title":"a"}{"title":"b"}`, 0, 400},
		{"trailing garbage", "application/json", `{"title":"a"} x`, 0, 400},
		{"truncated", "application/json", `{"title":`, 0, 400},
		{"empty", "application/json", ``, 0, 400},
		{"array", "application/json", `[]`, 0, 400},
		{"too large", "application/json", `{"title":"` + strings.Repeat("a", 100) + `"}`, 50, 413},
		{"too large trailing", "application/json", `{"title":"a"}` + strings.Repeat(" ", 100) + "{}", 50, 413},
		{"no content type", "", `{"title":"a"}`, 0, 415},
		{"text/plain (a cross-site form)", "text/plain", `{"title":"a"}`, 0, 415},
		{"form", "application/x-www-form-urlencoded", `title=a`, 0, 415},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(tt.body))
			if tt.ct != "" {
				r.Header.Set("Content-Type", tt.ct)
			}
			var v thread
			err := middleware.DecodeJSON(httptest.NewRecorder(), r, &v, tt.max)
			if tt.status == 0 {
				if err != nil || v.Title != "hi" {
					t.Fatalf("got %+v, %v", v, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error")
			}
			w := httptest.NewRecorder()
			middleware.WriteError(w, r, err)
			checkAnswer(t, w, tt.status, "")
			if tt.status == 400 && !errors.Is(err, middleware.ErrBadRequest) {
				t.Errorf("%v is not ErrBadRequest", err)
			}
		})
	}
	// A programming error is not the client's fault.
	r := httptest.NewRequest("POST", "/", strings.NewReader(`{}`))
	r.Header.Set("Content-Type", "application/json")
	err := middleware.DecodeJSON(httptest.NewRecorder(), r, nil, 0)
	if err == nil || errors.Is(err, middleware.ErrBadRequest) {
		t.Errorf("nil target: got %v", err)
	}
	w := httptest.NewRecorder()
	middleware.WriteError(w, r, err)
	if w.Code != http.StatusInternalServerError {
		t.Errorf("nil target: status %d", w.Code)
	}
}
