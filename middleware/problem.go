package middleware

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/capability/token"
)

// A Classifier maps an error it knows to the HTTP status that answers it
// and a detail safe to show to the caller ("" for none); ok is false for an
// error it does not know. It never puts err's text in detail unless that
// text was written for the caller.
//
// The signature uses plain types only, so that a package that must not
// import this one (a SQL layer) can provide a classifier: sqlguard.Classify
// is one, and is assignable to Classifier as it is.
type Classifier func(err error) (status int, detail string, ok bool)

// ErrorWriter writes the answer to a request that failed with an error: an
// HTTP status and an RFC 9457 problem body (application/problem+json) of
// the form
//
//	{"type":"about:blank","title":"Forbidden","status":403}
//
// The zero ErrorWriter answers with the defaults of WriteError. An
// application adds the mapping of the errors of the layers this package
// does not link, such as the SQL layer's, in one line:
//
//	errs := middleware.ErrorWriter{Classifiers: []middleware.Classifier{sqlguard.Classify}}
//
// and uses errs.WriteError in its handlers, as Options.ErrorWriter and in
// RecoverWith. To change one row, put a classifier of its own before the
// others: the first classifier that knows the error decides.
//
// An *AuthError is answered as it says (Auth decided its status and
// challenge), and so is a *ClientError (the application decided its status
// and wrote its detail for the client); every other error is offered to Classifiers in order, then
// answered by the defaults. A classified status outside 400..599 answers
// 500.
//
// An ErrorWriter must not be modified while it is in use.
type ErrorWriter struct {
	// Classifiers are tried in order before the defaults.
	Classifiers []Classifier

	// RetryAfter, when positive, is sent as Retry-After (whole seconds,
	// rounded up) with every 503 answer.
	RetryAfter time.Duration

	// Logger, when set, receives one record per 5xx answer, at LevelError,
	// with the status, the error's text, the method, the path and the
	// request id (RequestIDs), and one per *ClientError, at LevelDebug,
	// with its status, detail and the text of its Err. An *AuthError is
	// not logged here: Auth's own Logger has it.
	Logger *slog.Logger
}

// WriteError answers r with the status err calls for (see ErrorWriter) and
// a problem body whose detail member, if any, is the *ClientError's or the
// classifier's. Every answer has Cache-Control: no-store and
// X-Content-Type-Options: nosniff.
func (ew ErrorWriter) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	status, ch, detail := ew.classify(err)
	ew.log(r, err, status, detail)
	writeProblem(w, status, ch, detail, ew.retryAfter(status))
}

// WriteError answers r with the status err calls for and a generic RFC
// 9457 problem body: it is the zero ErrorWriter's WriteError, which knows
// this package's errors, capability's shared sentinels and token's
// errors, and nothing of SQL. The body never carries err's text, a token
// or a claim value.
//
// The defaults, first match wins:
//
//	*AuthError                               its Status, with its WWW-Authenticate challenge
//	*ClientError                             its Status, with its Detail as the problem's detail
//	ErrNoToken                               401, WWW-Authenticate: Bearer
//	token.ErrInvalidToken                    401, WWW-Authenticate: Bearer error="invalid_token"
//	ErrInsufficientScope                     403, WWW-Authenticate: Bearer error="insufficient_scope"
//	*http.MaxBytesError                      413
//	capability.ErrForbidden, ErrCrossOrigin  403
//	capability.ErrNotFound                   404
//	ErrBadRequest, capability.ErrBadCapability,
//	capability.ErrBadGroup                   400
//	context.DeadlineExceeded, a net.Error
//	that timed out                           503
//	anything else, including nil             500
//
// sqlguard's *DeniedError and ErrNotFound match capability's sentinels, so
// they answer 403 and 404 even here; the SQL-specific rows (409 on a
// unique violation, 503 when the database is unavailable, the denial's
// detail) come with sqlguard.Classify in an ErrorWriter.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	ErrorWriter{}.WriteError(w, r, err)
}

// classify maps err to a status, a WWW-Authenticate challenge and a detail
// safe to show.
func (ew ErrorWriter) classify(err error) (status int, challenge, detail string) {
	if err == nil {
		return http.StatusInternalServerError, "", ""
	}
	var ae *AuthError
	if errors.As(err, &ae) {
		if ae.Status < 400 || ae.Status > 599 {
			return http.StatusInternalServerError, "", ""
		}
		return ae.Status, ae.challenge, ""
	}
	if ce, ok := asClientError(err); ok {
		return ce.status(), "", ce.Detail
	}
	for _, c := range ew.Classifiers {
		if c == nil {
			continue
		}
		if status, detail, ok := c(err); ok {
			if status < 400 || status > 599 {
				return http.StatusInternalServerError, "", ""
			}
			return status, "", detail
		}
	}
	return classifyDefault(err), challengeOf(err), ""
}

// classifyDefault is the default mapping of an error that is not an
// *AuthError.
func classifyDefault(err error) int {
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, ErrNoToken), errors.Is(err, token.ErrInvalidToken):
		return http.StatusUnauthorized
	case errors.Is(err, ErrInsufficientScope):
		return http.StatusForbidden
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, capability.ErrForbidden), errors.Is(err, ErrCrossOrigin):
		return http.StatusForbidden
	case errors.Is(err, capability.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrBadRequest), errors.Is(err, capability.ErrBadCapability), errors.Is(err, capability.ErrBadGroup):
		return http.StatusBadRequest
	case timedOut(err):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// challengeOf is the WWW-Authenticate value of a default answer, "" for
// none.
func challengeOf(err error) string {
	switch {
	case errors.Is(err, ErrNoToken):
		return "Bearer"
	case errors.Is(err, token.ErrInvalidToken):
		return `Bearer error="invalid_token"`
	case errors.Is(err, ErrInsufficientScope):
		return `Bearer error="insufficient_scope"`
	}
	return ""
}

// timedOut reports whether err is a deadline that expired, the request's
// or a network operation's: the answer is 503, the request may succeed
// later.
func timedOut(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// retryAfter is the Retry-After value of an answer with status, "" for
// none.
func (ew ErrorWriter) retryAfter(status int) string {
	if status != http.StatusServiceUnavailable || ew.RetryAfter <= 0 {
		return ""
	}
	return strconv.FormatInt(int64((ew.RetryAfter+time.Second-1)/time.Second), 10)
}

// problem is an RFC 9457 problem body.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// problemBodies holds the bodies without detail of the usual statuses, so
// that a refusal costs no encoding.
var problemBodies = func() map[int][]byte {
	m := make(map[int][]byte)
	for _, s := range []int{400, 401, 403, 404, 405, 409, 413, 415, 500, 503} {
		m[s] = encodeProblem(s, "")
	}
	return m
}()

func encodeProblem(status int, detail string) []byte {
	b, err := json.Marshal(problem{Type: "about:blank", Title: statusText(status), Status: status, Detail: detail})
	if err != nil { // cannot happen for these types
		return []byte(`{"type":"about:blank","title":"Error","status":` + strconv.Itoa(status) + `}`)
	}
	return append(b, '\n')
}

// writeProblem writes a problem answer. ch is the WWW-Authenticate value
// and retry the Retry-After value, "" for none.
func writeProblem(w http.ResponseWriter, status int, ch, detail, retry string) {
	body := problemBodies[status]
	if body == nil || detail != "" {
		body = encodeProblem(status, detail)
	}
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", "application/problem+json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	if ch != "" {
		h.Set("WWW-Authenticate", ch)
	}
	if retry != "" {
		h.Set("Retry-After", retry)
	}
	w.WriteHeader(status)
	w.Write(body)
}
