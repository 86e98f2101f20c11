package middleware_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"

	"github.com/keyhole-go/keyhole/middleware"
)

// A handler that cannot parse its input answers with a detail written for
// the client; the parser's error goes to the log (ErrorWriter.Logger),
// never into the body.
func ExampleBadRequest() {
	errs := middleware.ErrorWriter{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := strconv.ParseInt(r.URL.Query().Get("group"), 10, 64); err != nil {
			errs.WriteError(w, r, middleware.BadRequest("group: want an integer", err))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/threads?group=seven", nil))
	fmt.Println(w.Code, w.Body.String())
	// Output:
	// 400 {"type":"about:blank","title":"Bad Request","status":400,"detail":"group: want an integer"}
}

// RequestIDs, outermost, gives each request an id: the proxy's
// X-Request-Id when it is a valid one, else a made-up one. The answer
// carries it, Auth's and ErrorWriter's log records carry it, and the
// application's own log takes it from the context.
func ExampleRequestIDs() {
	var logged string
	h := middleware.RequestIDs(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logged, _ = middleware.RequestID(r.Context()) // e.g. slog.String("request_id", id)
	}))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-Request-Id", "lb-7f3a9c")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println("handler:", logged, "answer:", w.Header().Get("X-Request-Id"))

	r.Header.Set("X-Request-Id", "not a valid id\n")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println("made up:", len(logged), "hex digits, same in the answer:", logged == w.Header().Get("X-Request-Id"))
	// Output:
	// handler: lb-7f3a9c answer: lb-7f3a9c
	// made up: 16 hex digits, same in the answer: true
}
