package tokenserver

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// exchangeParams are the request parameters the exchange reads (RFC 8693
// §2.1); none of them may appear in the query string.
var exchangeParams = []string{
	"grant_type", "subject_token", "subject_token_type", "audience", "resource",
	"scope", "requested_token_type", "actor_token", "actor_token_type",
}

// ServeHTTP answers a token exchange request (see TokenExchange).
func (e *TokenExchange) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if e == nil || e.v == nil {
		writeExchangeError(w, unconfigured())
		return
	}
	form, xerr := e.parse(w, r)
	var t *ExchangedToken
	var sub, audience string
	if xerr == nil {
		audience = form.Get("audience")
		xerr = checkExchangeParams(form)
	}
	if xerr == nil {
		t, sub, xerr = e.exchange(r.Context(), form.Get("subject_token"), audience)
	}
	e.logExchange(r.Context(), audience, sub, t, xerr)
	if xerr != nil {
		writeExchangeError(w, xerr)
		return
	}
	// Rounded down: the client never believes the token lives longer than
	// it does.
	expiresIn := int64(t.Expiry.Sub(t.now) / time.Second)
	writeExchangeJSON(w, http.StatusOK, struct {
		AccessToken     string `json:"access_token"`
		IssuedTokenType string `json:"issued_token_type"`
		TokenType       string `json:"token_type"`
		ExpiresIn       int64  `json:"expires_in"`
	}{t.Token, TokenTypeJWT, "Bearer", max(expiresIn, 0)})
}

// parse checks the method, media type and size of r and returns its body's
// parameters, each present at most once.
func (e *TokenExchange) parse(w http.ResponseWriter, r *http.Request) (url.Values, *ExchangeError) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return nil, exchangeError(http.StatusMethodNotAllowed, ExchangeInvalidRequest, "method "+strconv.Quote(bounded(r.Method, 16)), nil)
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, exchangeError(http.StatusUnsupportedMediaType, ExchangeInvalidRequest, "media type", nil)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return nil, exchangeError(http.StatusUnsupportedMediaType, ExchangeInvalidRequest, "charset", nil)
	}
	if r.URL != nil && r.URL.RawQuery != "" {
		q, _ := url.ParseQuery(r.URL.RawQuery) // the pairs that parse
		for _, p := range exchangeParams {
			if q.Has(p) {
				return nil, badExchange("parameter in the query string")
			}
		}
	}
	if r.Body == nil {
		return nil, badExchange("missing grant_type")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, e.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, exchangeError(http.StatusRequestEntityTooLarge, ExchangeInvalidRequest, "body too large", err)
		}
		return nil, exchangeError(http.StatusBadRequest, ExchangeInvalidRequest, "body unreadable", err)
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, badExchange("malformed body")
	}
	for _, vs := range form {
		if len(vs) > 1 {
			// RFC 6749 §3.2: parameters MUST NOT be included more than once.
			return nil, badExchange("repeated parameter")
		}
	}
	return form, nil
}

// checkExchangeParams checks the parameters other than subject_token's
// value and the audience's value.
func checkExchangeParams(form url.Values) *ExchangeError {
	switch gt := form.Get("grant_type"); {
	case gt == "":
		return badExchange("missing grant_type")
	case gt != GrantTypeTokenExchange:
		return exchangeError(http.StatusBadRequest, ExchangeUnsupportedGrantType, "grant_type", nil)
	}
	if form.Get("subject_token") == "" {
		return badExchange("missing subject_token")
	}
	switch form.Get("subject_token_type") {
	case TokenTypeJWT, TokenTypeAccessToken:
	case "":
		return badExchange("missing subject_token_type")
	default:
		return badExchange("unsupported subject_token_type")
	}
	if form.Has("actor_token") || form.Has("actor_token_type") {
		return badExchange("delegation (actor_token) is not supported")
	}
	switch form.Get("requested_token_type") {
	case "", TokenTypeJWT, TokenTypeAccessToken:
	default:
		return badExchange("unsupported requested_token_type")
	}
	if form.Get("audience") == "" {
		return badExchange("missing audience")
	}
	if form.Has("scope") {
		return exchangeError(http.StatusBadRequest, ExchangeInvalidScope, "scope is not supported", nil)
	}
	if form.Has("resource") {
		return exchangeError(http.StatusBadRequest, ExchangeInvalidTarget, "resource is not supported", nil)
	}
	return nil
}

// exchangeErrorBodies holds the JSON bodies of the error codes.
var exchangeErrorBodies = func() map[string][]byte {
	m := make(map[string][]byte)
	for _, code := range []string{
		ExchangeInvalidRequest, ExchangeUnsupportedGrantType, ExchangeInvalidGrant, ExchangeInvalidTarget,
		ExchangeInvalidScope, ExchangeAccessDenied, ExchangeServerError, ExchangeTemporarilyUnavailable,
	} {
		m[code] = []byte(`{"error":"` + code + `"}` + "\n")
	}
	return m
}()

// writeExchangeError writes the OAuth error answer of e: its status and its
// code, nothing else.
func writeExchangeError(w http.ResponseWriter, e *ExchangeError) {
	status, body := e.Status, exchangeErrorBodies[e.Code]
	if body == nil || status < 400 || status > 599 {
		status, body = http.StatusInternalServerError, exchangeErrorBodies[ExchangeServerError]
	}
	setExchangeHeaders(w.Header())
	w.WriteHeader(status)
	w.Write(body)
}

func writeExchangeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeExchangeError(w, exchangeError(http.StatusInternalServerError, ExchangeServerError, "encode", err))
		return
	}
	setExchangeHeaders(w.Header())
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// setExchangeHeaders sets the headers of every answer (RFC 6749 §5.1).
func setExchangeHeaders(h http.Header) {
	h.Del("Content-Length")
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
}
