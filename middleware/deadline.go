package middleware

import (
	"context"
	"net/http"
	"time"
)

// Deadline returns middleware that bounds every request's work: the
// request's context ends d after the request arrives, so that every wait
// on it (a pool waiting for a free connection, a statement waiting for a
// lock, an outgoing call) ends then. A database driver such as pgx cancels
// a statement still running when its context ends; the handler's error is
// then a deadline error, which an ErrorWriter with sqlguard.Classify
// answers 503 with Retry-After.
//
// Choose d below the http.Server's WriteTimeout, so that the answer is
// still written, and above the database's statement_timeout and
// lock_timeout, so that the server, which rolls the statement back itself,
// usually ends it first: a statement that the client abandons can, in a
// narrow race, still commit on the server (sqlguard reports such a write
// as ErrOutcomeUnknown), one that the server ends cannot.
//
// Deadline panics if d is not positive: a request without a bound is what
// it exists to prevent.
func Deadline(d time.Duration) func(http.Handler) http.Handler {
	if d <= 0 {
		panic("middleware: Deadline needs a positive duration")
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), d)
			defer cancel()
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}
