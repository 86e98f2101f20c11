package tokenserver

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"

	"github.com/keyhole-go/keyhole/capability/token"
)

// logExchange writes the one record of an exchange. The audience is
// untrusted input: an undeclared one is quoted and bounded. No token is
// logged; the subject only when the subject token's signature verified.
func (e *TokenExchange) logExchange(ctx context.Context, audience, sub string, t *ExchangedToken, xerr *ExchangeError) {
	if e.log == nil {
		return
	}
	level := slog.LevelInfo
	if xerr != nil && xerr.Status >= 500 {
		level = slog.LevelError
	}
	if !e.log.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 7)
	if xerr == nil {
		attrs = append(attrs, slog.String("outcome", "issued"), slog.Int("status", http.StatusOK))
	} else {
		attrs = append(attrs, slog.String("outcome", xerr.Code), slog.String("reason", xerr.Reason), slog.Int("status", xerr.Status))
	}
	if _, ok := e.aud[audience]; ok {
		attrs = append(attrs, slog.String("audience", audience))
	} else if audience != "" {
		attrs = append(attrs, slog.String("audience", quoteBounded(audience, maxAudienceLen)))
	}
	if sub == "" && xerr != nil {
		var te *token.TokenError
		if errors.As(xerr.Err, &te) {
			sub = te.Subject // set only when the signature verified
		}
	}
	if sub != "" {
		attrs = append(attrs, slog.String("sub", bounded(sub, maxLogSubject)))
	}
	if t != nil {
		attrs = append(attrs, slog.Int("grants", len(t.Grants)), slog.Time("exp", t.Expiry))
	}
	if xerr != nil && xerr.Status >= 500 && xerr.Err != nil {
		attrs = append(attrs, slog.String("error", xerr.Err.Error()))
	}
	e.log.LogAttrs(ctx, level, "keyhole: token exchange", attrs...)
}

// Bounds on the untrusted or unbounded values that reach a log record.
const maxLogSubject = 256

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

// timedOut reports whether err is a deadline that expired, the request's
// or a network operation's (a JWKS fetch): the answer is 503.
func timedOut(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
