package middleware

import (
	"net/http"
	"strings"

	"github.com/keyhole-go/keyhole/capability/token"
)

// token extracts the bearer token of r from the Authorization header and,
// when configured, the token cookie. The query string is never read.
//
// The order of the checks matters: a repeated header is refused before
// anything is read, and a value over the size bound is refused before it is
// parsed.
func (a *Auth) token(r *http.Request) (string, *AuthError) {
	var tok string
	switch hs := r.Header["Authorization"]; len(hs) {
	case 0:
	case 1:
		h := hs[0]
		if len(h) > a.maxHeader {
			return "", a.tooLarge()
		}
		t, bearer, ok := parseAuthorization(h)
		if !ok {
			return "", a.badRequest(ReasonMalformedHeader)
		}
		if bearer {
			tok = t
		}
		// Another scheme (Basic, …) is not ours: it is ignored like an
		// absent header (RFC 6750 §3.1: no error code for an unsupported
		// authentication method).
	default:
		return "", a.badRequest(ReasonDuplicateHeader)
	}

	if a.cookie != "" {
		ct, err := a.cookieToken(r)
		if err != nil {
			return "", err
		}
		switch {
		case ct == "":
		case tok == "":
			// The cookie alone authenticates: a browser sends it with
			// cross-site requests too.
			if a.cop != nil {
				if err := a.cop.Check(r); err != nil {
					return "", &AuthError{
						Status:   http.StatusForbidden,
						Reason:   ReasonCrossOrigin,
						Err:      err,
						sentinel: ErrCrossOrigin,
					}
				}
			}
			tok = ct
		case tok != ct:
			return "", a.badRequest(ReasonTokenMismatch)
		}
	}

	if tok == "" {
		return "", &AuthError{
			Status:    http.StatusUnauthorized,
			Reason:    ReasonMissingToken,
			sentinel:  ErrNoToken,
			challenge: a.chNone,
		}
	}
	return tok, nil
}

// cookieToken returns the token of the configured cookie, "" when there is
// none or it is empty (a cleared session cookie). Several cookies of that
// name must agree.
func (a *Auth) cookieToken(r *http.Request) (string, *AuthError) {
	// Only parse the Cookie header when one is present (the common API
	// request has none).
	if len(r.Header["Cookie"]) == 0 {
		return "", nil
	}
	var tok string
	for _, c := range r.CookiesNamed(a.cookie) {
		v := c.Value
		if v == "" {
			continue
		}
		if len(v) > a.maxToken {
			return "", a.tooLarge()
		}
		if !validB64Token(v) {
			return "", a.badRequest(ReasonMalformedCookie)
		}
		switch {
		case tok == "":
			tok = v
		case tok != v:
			return "", a.badRequest(ReasonDuplicateCookie)
		}
	}
	return tok, nil
}

// parseAuthorization parses one Authorization header value. For the Bearer
// scheme (case-insensitive) it requires exactly one space and a b64token
// (RFC 6750 §2.1), and returns the token with bearer true. For another
// scheme it returns bearer false. ok is false for a malformed value: an
// empty one, one without a scheme, or a malformed Bearer credential.
//
// RFC 6750's grammar allows several spaces after "Bearer"; we accept
// exactly one, the form every client sends, so that there is one way to
// read a header.
func parseAuthorization(h string) (tok string, bearer, ok bool) {
	i := strings.IndexAny(h, " \t")
	scheme, rest := h, ""
	if i >= 0 {
		scheme, rest = h[:i], h[i:]
	}
	if scheme == "" {
		return "", false, false
	}
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false, true
	}
	if len(rest) < 2 || rest[0] != ' ' || !validB64Token(rest[1:]) {
		return "", true, false
	}
	return rest[1:], true, true
}

// b64tokenChar[c] reports whether c may appear in a b64token before its
// padding: ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/".
var b64tokenChar = func() (t [256]bool) {
	for c := range 256 {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'
	}
	return t
}()

// validB64Token reports whether s is an RFC 6750 b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func validB64Token(s string) bool {
	i := 0
	for i < len(s) && b64tokenChar[s[i]] {
		i++
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

func (a *Auth) badRequest(reason string) *AuthError {
	return &AuthError{
		Status:    http.StatusBadRequest,
		Code:      "invalid_request",
		Reason:    reason,
		sentinel:  ErrBadRequest,
		challenge: a.chInvalidRequest,
	}
}

// tooLarge refuses an oversize token the way the verifier would: as an
// invalid token (token.ErrTooLarge), 401.
func (a *Auth) tooLarge() *AuthError {
	return &AuthError{
		Status:    http.StatusUnauthorized,
		Code:      "invalid_token",
		Reason:    ReasonTooLarge,
		Err:       &token.TokenError{Reason: token.ErrTooLarge},
		challenge: a.chInvalidToken,
	}
}
