package tokenserver

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// KeySet is a source of a JWKS document (RFC 7517 §5). *token.Issuer
// satisfies it; its document holds public keys only, never an HS256 secret.
type KeySet interface {
	JWKS() ([]byte, error)
}

// DefaultJWKSMaxAge is how long clients and caches may keep a JWKS document
// served by JWKS with a zero MaxAge. It is short, so that a removed key
// stops verifying soon; a rotation should publish the next key at least
// this long before it signs.
const DefaultJWKSMaxAge = 5 * time.Minute

// JWKS is an http.Handler that serves a key set's JWKS document as
// application/jwk-set+json, with Cache-Control: public, max-age=…, a strong
// ETag (a hash of the document) and conditional GET (If-None-Match → 304).
// It answers GET and HEAD only (405 with Allow: GET, HEAD otherwise). The
// document is read from Keys on every request, so that a rotation is
// published at once; its ETag is computed once per distinct document
// (*token.Issuer builds its document once per key set). A JWKS must
// not be copied after first use.
//
// An auth service publishes its keys in one line:
//
//	mux.Handle("/.well-known/jwks.json", tokenserver.JWKSHandler(issuer))
type JWKS struct {
	Keys   KeySet
	MaxAge time.Duration // 0: DefaultJWKSMaxAge; below a second: no-cache

	last atomic.Pointer[jwksDoc] // the last document served, with its ETag
}

// jwksDoc is a served document and its ETag; immutable.
type jwksDoc struct {
	doc  []byte
	etag string
}

// etag returns doc's ETag, reusing the last one when doc is unchanged.
func (h *JWKS) etag(doc []byte) string {
	if last := h.last.Load(); last != nil && bytes.Equal(last.doc, doc) {
		return last.etag
	}
	sum := sha256.Sum256(doc)
	etag := `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`
	h.last.Store(&jwksDoc{doc: bytes.Clone(doc), etag: etag})
	return etag
}

// JWKSHandler returns a handler serving keys's JWKS document with
// DefaultJWKSMaxAge.
func JWKSHandler(keys KeySet) http.Handler { return &JWKS{Keys: keys} }

// ServeHTTP serves the document.
func (h *JWKS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeProblem(w, http.StatusMethodNotAllowed)
		return
	}
	if h.Keys == nil {
		writeProblem(w, http.StatusInternalServerError)
		return
	}
	doc, err := h.Keys.JWKS()
	if err != nil {
		writeProblem(w, http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/jwk-set+json")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("ETag", h.etag(doc))
	switch age := h.MaxAge; {
	case age == 0:
		hd.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(DefaultJWKSMaxAge/time.Second)))
	case age < time.Second:
		hd.Set("Cache-Control", "no-cache")
	default:
		hd.Set("Cache-Control", "public, max-age="+strconv.FormatInt(int64(age/time.Second), 10))
	}
	// ServeContent answers If-None-Match (304), HEAD and ranges; a zero
	// modification time disables the date-based conditions.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(doc))
}

// writeProblem writes a generic RFC 9457 problem answer with status, as
// package middleware does: no detail, nothing of the error.
func writeProblem(w http.ResponseWriter, status int) {
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", "application/problem+json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	io.WriteString(w, `{"type":"about:blank","title":"`+http.StatusText(status)+`","status":`+strconv.Itoa(status)+"}\n")
}
