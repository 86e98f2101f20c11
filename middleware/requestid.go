package middleware

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
)

// RequestIDHeader is the header that carries a request id, in requests
// (set by a proxy or a load balancer in front of the application) and in
// answers (set by RequestIDs).
const RequestIDHeader = "X-Request-Id"

// MaxRequestIDLen bounds the length of a request id taken from
// RequestIDHeader.
const MaxRequestIDLen = 128

type requestIDKey struct{}

// RequestIDs gives every request an id, so that one request can be
// followed from a refusal's log record (Auth's, ErrorWriter's, Recover's,
// which carry it as "request_id") to the application's own log
// (RequestID). Put it outermost, before Recover and Auth.
//
// The id is the request's X-Request-Id when the header is present once and
// valid: 1 to MaxRequestIDLen characters, each an RFC 9110 token character
// (letters, digits and !#$%&'*+-.^_`|~). Otherwise (no header, several,
// or one with other characters: spaces, quotes, control characters,
// non-ASCII) the id is made up: 16 hex digits from crypto/rand. The id is
// in the request context (RequestID) and in the answer's X-Request-Id
// header, set before next runs.
//
// Trust: a client may send any valid X-Request-Id, and it is kept, so a
// client can choose the id its requests are logged under (never more: the
// id decides nothing, and its characters cannot break a log line). A
// deployment that wants ids of its own sets or overwrites the header in
// its proxy.
func RequestIDs(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := ""
		if vs := r.Header.Values(RequestIDHeader); len(vs) == 1 && validRequestID(vs[0]) {
			id = vs[0]
		} else {
			id = newRequestID()
		}
		w.Header().Set(RequestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

// RequestID returns the id that RequestIDs gave the request of ctx, and
// false when the request did not pass through RequestIDs.
func RequestID(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(requestIDKey{}).(string)
	return id, ok && id != ""
}

func validRequestID(s string) bool {
	return len(s) <= MaxRequestIDLen && validToken(s)
}

// newRequestID returns 16 random hex digits.
func newRequestID() string {
	var b [8]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b[:])
}
