package middleware

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/capability/token"
)

// Bounds on the untrusted or unbounded values that reach a log record.
const (
	maxLogKeyID   = token.MaxKeyIDLen
	maxLogSubject = 256
)

// logRefusal writes one record for a refused request: the reason, the
// status, the kid (quoted: it is untrusted header input) and the subject
// when the signature verified. It never logs the token or the signature;
// for a failed verifier it logs the verifier's error text, which for a
// *token.TokenError never holds token bytes.
func (a *Auth) logRefusal(r *http.Request, e *AuthError) {
	if a.log == nil {
		return
	}
	level := slog.LevelInfo
	if e.Reason == ReasonVerifierError {
		level = slog.LevelError
	}
	ctx := r.Context()
	if !a.log.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 6)
	attrs = append(attrs, slog.String("reason", e.Reason), slog.Int("status", e.Status))
	if id, ok := RequestID(ctx); ok {
		attrs = append(attrs, slog.String("request_id", id))
	}
	var te *token.TokenError
	if errors.As(e.Err, &te) {
		if te.KeyID != "" {
			attrs = append(attrs, slog.String("kid", quoteBounded(te.KeyID, maxLogKeyID)))
		}
		if te.Subject != "" {
			attrs = append(attrs, slog.String("sub", bounded(te.Subject, maxLogSubject)))
		}
	} else if c, ok := capability.FromContext(ctx); ok && c.Subject() != "" {
		attrs = append(attrs, slog.String("sub", bounded(c.Subject(), maxLogSubject)))
	}
	if e.Reason == ReasonVerifierError && e.Err != nil {
		attrs = append(attrs, slog.String("error", e.Err.Error()))
	}
	a.log.LogAttrs(ctx, level, "keyhole: request refused", attrs...)
}

// log writes ErrorWriter's record of an answer (see ErrorWriter.Logger).
func (ew ErrorWriter) log(r *http.Request, err error, status int, detail string) {
	if ew.Logger == nil {
		return
	}
	var ae *AuthError
	if errors.As(err, &ae) {
		return // Auth logs its refusals
	}
	level := slog.LevelError
	ce, isClient := asClientError(err)
	switch {
	case status >= 500:
	case isClient:
		level = slog.LevelDebug
	default:
		return
	}
	ctx := r.Context()
	if !ew.Logger.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 7)
	attrs = append(attrs, slog.Int("status", status), slog.String("method", r.Method),
		slog.String("path", bounded(r.URL.Path, 512)))
	if id, ok := RequestID(ctx); ok {
		attrs = append(attrs, slog.String("request_id", id))
	}
	if isClient {
		attrs = append(attrs, slog.String("detail", detail))
		if ce.Err != nil {
			attrs = append(attrs, slog.String("error", ce.Err.Error()))
		}
	} else if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	ew.Logger.LogAttrs(ctx, level, "keyhole: request failed", attrs...)
}

// quoteBounded returns s, cut to at most n bytes, as a Go-quoted string
// (control characters, quotes and invalid UTF-8 escaped), with "..."
// appended outside the quotes when it was cut.
func quoteBounded(s string, n int) string {
	if len(s) <= n {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:n]) + "..."
}

func bounded(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
