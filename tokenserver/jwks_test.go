package tokenserver_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyhole-go/keyhole/capability/token"
	"github.com/keyhole-go/keyhole/tokenserver"
)

type failingKeySet struct{}

func (failingKeySet) JWKS() ([]byte, error) {
	return nil, errors.New("capability: JWKS: secret failure")
}

func TestJWKSHandler(t *testing.T) {
	k := newKeys(t)
	h := tokenserver.JWKSHandler(k.issuer)

	w := serve(h, httptest.NewRequest("GET", "/.well-known/jwks.json", nil))
	if w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	want := map[string]string{
		"Content-Type":           "application/jwk-set+json",
		"Cache-Control":          "public, max-age=300",
		"X-Content-Type-Options": "nosniff",
	}
	for key, v := range want {
		if got := w.Header().Get(key); got != v {
			t.Errorf("%s: got %q, want %q", key, got, v)
		}
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &set); err != nil || len(set.Keys) != 1 || set.Keys[0]["kid"] != "k1" {
		t.Fatalf("body %s: %v", w.Body, err)
	}
	if _, ok := set.Keys[0]["d"]; ok {
		t.Fatalf("private key published")
	}
	etag := w.Header().Get("ETag")
	if len(etag) < 10 || etag[0] != '"' || etag[len(etag)-1] != '"' {
		t.Fatalf("ETag %q", etag)
	}

	// Conditional GET.
	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("If-None-Match", inm)
		w := serve(h, r)
		if w.Code != http.StatusNotModified || w.Body.Len() != 0 || w.Header().Get("ETag") != etag || w.Header().Get("Cache-Control") != "public, max-age=300" {
			t.Errorf("If-None-Match %s: got %d %v", inm, w.Code, w.Header())
		}
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("If-None-Match", `"stale"`)
	if w := serve(h, r); w.Code != 200 {
		t.Errorf("stale ETag: got %d", w.Code)
	}

	// HEAD: headers, no body.
	if w := serve(h, httptest.NewRequest("HEAD", "/", nil)); w.Code != 200 || w.Body.Len() != 0 || w.Header().Get("ETag") != etag {
		t.Errorf("HEAD: got %d, %d bytes", w.Code, w.Body.Len())
	}

	// Other methods.
	for _, m := range []string{"POST", "PUT", "DELETE", "OPTIONS", "PATCH"} {
		w := serve(h, httptest.NewRequest(m, "/", nil))
		checkAnswer(t, w, http.StatusMethodNotAllowed, "")
		if w.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: Allow %q", m, w.Header().Get("Allow"))
		}
	}

	// A rotation is published at once, with a new ETag.
	next, err := token.GenerateKey(token.EdDSA, "k2")
	if err != nil {
		t.Fatal(err)
	}
	k.issuer.Rotate(next)
	w = serve(h, httptest.NewRequest("GET", "/", nil))
	if w.Header().Get("ETag") == etag || !strings.Contains(w.Body.String(), `"k2"`) || !strings.Contains(w.Body.String(), `"k1"`) {
		t.Errorf("after rotation: ETag %s, body %s", w.Header().Get("ETag"), w.Body)
	}

	// MaxAge.
	for _, tt := range []struct {
		age  time.Duration
		want string
	}{{time.Hour, "public, max-age=3600"}, {time.Millisecond, "no-cache"}, {-time.Second, "no-cache"}} {
		w := serve(&tokenserver.JWKS{Keys: k.issuer, MaxAge: tt.age}, httptest.NewRequest("GET", "/", nil))
		if got := w.Header().Get("Cache-Control"); got != tt.want {
			t.Errorf("MaxAge %v: got %q, want %q", tt.age, got, tt.want)
		}
	}

	// A failing source: 500, generic body.
	w = serve(tokenserver.JWKSHandler(failingKeySet{}), httptest.NewRequest("GET", "/", nil))
	checkAnswer(t, w, 500, "")
	w = serve(&tokenserver.JWKS{}, httptest.NewRequest("GET", "/", nil))
	checkAnswer(t, w, 500, "")
}

// docKeySet is a KeySet whose document a test sets.
type docKeySet struct{ doc atomic.Pointer[[]byte] }

func (d *docKeySet) JWKS() ([]byte, error) { return *d.doc.Load(), nil }

// TestJWKSHandlerETagFollowsDocument: the ETag computed once per document
// is always the current document's, also when a document comes back.
func TestJWKSHandlerETagFollowsDocument(t *testing.T) {
	ks := &docKeySet{}
	h := &tokenserver.JWKS{Keys: ks}
	etagOf := func(doc string) string {
		sum := sha256.Sum256([]byte(doc))
		return `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`
	}
	for _, doc := range []string{`{"keys":[1]}`, `{"keys":[1]}`, `{"keys":[2]}`, `{"keys":[1]}`, `{"keys":[]}`} {
		b := []byte(doc)
		ks.doc.Store(&b)
		w := serve(h, httptest.NewRequest("GET", "/", nil))
		if got, want := w.Header().Get("ETag"), etagOf(doc); got != want || w.Body.String() != doc {
			t.Errorf("document %s: ETag %s body %s, want %s", doc, got, w.Body, want)
		}
		b[2] = 'X' // the handler keeps no alias of a document it was given
	}
}

func BenchmarkJWKSHandler(b *testing.B) {
	k := newKeys(b)
	h := tokenserver.JWKSHandler(k.issuer)
	r := httptest.NewRequest("GET", "/", nil)
	b.ReportAllocs()
	for b.Loop() {
		serve(h, r)
	}
}
