package middleware

import (
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"
)

// Recover turns a panic in next into a 500 answer with a generic problem
// body, logged with slog.Default. It is RecoverWith(nil, nil).
func Recover(next http.Handler) http.Handler { return RecoverWith(nil, nil)(next) }

// RecoverWith returns a middleware that recovers a panic in the handler it
// wraps, logs it (the value and the stack) to logger (nil: slog.Default) at
// LevelError, and answers through ew (nil: WriteError) with an error that
// maps to 500; the panic value never reaches the client. The headers the
// handler had set are all deleted before ew is called.
//
// http.ErrAbortHandler is not recovered: it propagates, so that net/http
// aborts the response as the handler asked. When the handler had already
// started the response, a 500 can no longer be sent: the panic is logged
// and the response is aborted with http.ErrAbortHandler, so that the client
// sees a broken response rather than a complete-looking one.
//
// The handler sees a wrapped ResponseWriter; use http.NewResponseController
// to reach the underlying one's optional interfaces (the wrapper has an
// Unwrap method, and a Flush method for handlers that assert http.Flusher).
func RecoverWith(logger *slog.Logger, ew func(w http.ResponseWriter, r *http.Request, err error)) func(http.Handler) http.Handler {
	if ew == nil {
		ew = WriteError
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rw := &startedWriter{ResponseWriter: w}
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(v)
				}
				l := logger
				if l == nil {
					l = slog.Default()
				}
				id, _ := RequestID(r.Context())
				l.LogAttrs(r.Context(), slog.LevelError, "keyhole: handler panicked",
					slog.Any("panic", v), slog.String("method", r.Method),
					slog.String("path", bounded(r.URL.Path, 512)), slog.String("request_id", id),
					slog.String("stack", string(debug.Stack())))
				if rw.started {
					panic(http.ErrAbortHandler)
				}
				// Nothing of the failed handler's answer is sent: not a
				// cookie it set, nor a Location, nor a Content-Encoding
				// that the problem body does not have.
				clear(w.Header())
				ew(w, r, errPanic)
			}()
			next.ServeHTTP(rw, r)
		})
	}
}

// startedWriter records whether the response was started.
type startedWriter struct {
	http.ResponseWriter
	started bool
}

func (w *startedWriter) WriteHeader(code int) {
	if code >= 200 { // 1xx informational answers do not start the response
		w.started = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *startedWriter) Write(p []byte) (int, error) {
	w.started = true
	return w.ResponseWriter.Write(p)
}

// Flush flushes the underlying writer if it can, starting the response.
func (w *startedWriter) Flush() {
	w.started = true
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (w *startedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
