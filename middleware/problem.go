package middleware

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/capability/token"
	"github.com/keyhole-go/keyhole/sqlguard"
)

// ErrorWriter writes the answer to a request that failed with err. WriteError
// is the default; an application replaces it through Options.ErrorWriter
// (refused requests) and RecoverWith (panics), and may call its own from its
// handlers.
type ErrorWriter func(w http.ResponseWriter, r *http.Request, err error)

// WriteError answers r with the HTTP status that err calls for and an RFC
// 9457 problem body (application/problem+json) of the form
//
//	{"type":"about:blank","title":"Forbidden","status":403}
//
// The body never carries err's text, a token or a claim value. The one
// exception is the Need of a *sqlguard.DeniedError ("role moderator in
// group 7"), which sqlguard writes for the caller and which is shown as the
// problem's "detail": the caller could read the row, and learns only what
// it would have needed.
//
// The mapping, first match wins:
//
//	*AuthError                                   its Status, with its WWW-Authenticate challenge
//	ErrNoToken                                   401, WWW-Authenticate: Bearer
//	token.ErrInvalidToken                   401, WWW-Authenticate: Bearer error="invalid_token"
//	ErrInsufficientScope                         403, WWW-Authenticate: Bearer error="insufficient_scope"
//	*http.MaxBytesError                          413
//	ErrUnsupportedMediaType                      415
//	sqlguard.ErrDenied, sqlguard.ErrNotApproved,
//	ErrCrossOrigin                               403
//	sqlguard.ErrNotFound                         404
//	sqlguard.IsUniqueViolation                   409
//	sqlguard.IsInsufficientPrivilege             403 (a GRANT or row-level security policy refused)
//	sqlguard.ErrInvalidInput, ErrBadRequest,
//	capability.ErrBadCapability, ErrBadGroup     400
//	database unavailable or timed out            503 (see below)
//	anything else, including nil                 500
//
// "Unavailable or timed out" is context.DeadlineExceeded, pgconn.Timeout,
// a *pgconn.ConnectError, or a *pgconn.PgError of class 08 (connection
// exception) or 53 (insufficient resources, e.g. 53300 too many
// connections), 57P01..57P03 (admin/crash shutdown, cannot connect now) or
// 57014 (query canceled, e.g. by statement_timeout).
//
// Every answer has Cache-Control: no-store and X-Content-Type-Options:
// nosniff.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	status, ch, detail := classify(err)
	writeProblem(w, status, ch, detail)
}

// classify maps err to a status, a WWW-Authenticate challenge and a detail
// safe to show.
func classify(err error) (status int, challenge, detail string) {
	var ae *AuthError
	var mbe *http.MaxBytesError
	var de *sqlguard.DeniedError
	switch {
	case err == nil:
		return http.StatusInternalServerError, "", ""
	case errors.As(err, &ae):
		if ae.Status < 400 || ae.Status > 599 {
			return http.StatusInternalServerError, "", ""
		}
		return ae.Status, ae.challenge, ""
	case errors.Is(err, ErrNoToken):
		return http.StatusUnauthorized, "Bearer", ""
	case errors.Is(err, token.ErrInvalidToken):
		return http.StatusUnauthorized, `Bearer error="invalid_token"`, ""
	case errors.Is(err, ErrInsufficientScope):
		return http.StatusForbidden, `Bearer error="insufficient_scope"`, ""
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, "", ""
	case errors.Is(err, ErrUnsupportedMediaType):
		return http.StatusUnsupportedMediaType, "", ""
	case errors.As(err, &de):
		if de.Need != "" {
			detail = "needs " + de.Need
		}
		return http.StatusForbidden, "", detail
	case errors.Is(err, sqlguard.ErrDenied), errors.Is(err, sqlguard.ErrNotApproved), errors.Is(err, ErrCrossOrigin):
		return http.StatusForbidden, "", ""
	case errors.Is(err, sqlguard.ErrNotFound):
		return http.StatusNotFound, "", ""
	case sqlguard.IsUniqueViolation(err):
		return http.StatusConflict, "", ""
	case sqlguard.IsInsufficientPrivilege(err):
		return http.StatusForbidden, "", ""
	case errors.Is(err, sqlguard.ErrInvalidInput), errors.Is(err, ErrBadRequest),
		errors.Is(err, capability.ErrBadCapability), errors.Is(err, capability.ErrBadGroup):
		return http.StatusBadRequest, "", ""
	case unavailable(err):
		return http.StatusServiceUnavailable, "", ""
	}
	return http.StatusInternalServerError, "", ""
}

// unavailable reports whether err says that the database (or another
// dependency bounded by the request's deadline) is unavailable or timed out.
func unavailable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) {
		return true
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "53"):
			return true
		case pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", pe.Code == "57014":
			return true
		}
	}
	return false
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

// writeProblem writes a problem answer. ch is the WWW-Authenticate value,
// "" for none.
func writeProblem(w http.ResponseWriter, status int, ch, detail string) {
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
	w.WriteHeader(status)
	w.Write(body)
}
