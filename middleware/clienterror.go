package middleware

import (
	"errors"
	"net/http"
)

// ClientError is the error of a request the client got wrong, with a
// Detail that the application wrote for the client: which field, what was
// expected ("field \"group\": want an integer"). An ErrorWriter answers it
// with Status and a problem body whose detail member is Detail; Err, the
// underlying error (a parser's, a decoder's), is for the server's log and
// never reaches the client.
//
// Detail must be text written for the caller: never an error's Error()
// text, which may hold internal state (a query, a file name, a value of
// another user). A value the client sent may be quoted in it, bounded in
// size (the body is JSON-encoded, so quoting is safe).
type ClientError struct {
	// Status is the answer's status, 400..499; any other value answers
	// 400.
	Status int
	// Detail is shown to the client as the problem's detail; "" for none.
	Detail string
	// Err is the cause, logged (ErrorWriter.Logger), never shown; may be
	// nil.
	Err error
}

// BadRequest returns a *ClientError with status 400: detail is shown to
// the client, err only logged. It matches ErrBadRequest.
func BadRequest(detail string, err error) error {
	return &ClientError{Status: http.StatusBadRequest, Detail: detail, Err: err}
}

func (e *ClientError) Error() string {
	msg := "middleware: bad request"
	if s := e.status(); s != http.StatusBadRequest {
		msg = "middleware: client error " + statusText(s)
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns ErrBadRequest when the status is 400, and Err, for
// errors.Is and errors.As.
func (e *ClientError) Unwrap() []error {
	errs := make([]error, 0, 2)
	if e.status() == http.StatusBadRequest {
		errs = append(errs, ErrBadRequest)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// status is the status that answers e.
func (e *ClientError) status() int {
	if e.Status < 400 || e.Status > 499 {
		return http.StatusBadRequest
	}
	return e.Status
}

// asClientError returns the first *ClientError in err's tree.
func asClientError(err error) (*ClientError, bool) {
	var ce *ClientError
	ok := errors.As(err, &ce)
	return ce, ok
}
