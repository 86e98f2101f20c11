package token

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyhole-go/keyhole/capability"
)

// oidcServer is a loopback OpenID provider's discovery and JWKS endpoints,
// whose discovery document a test can replace.
type oidcServer struct {
	*httptest.Server
	mu   sync.Mutex
	doc  func(base string) []byte // the discovery document, given the server URL
	jwks []byte
}

func newOIDCServer(t *testing.T, jwks []byte) *oidcServer {
	t.Helper()
	s := &oidcServer{jwks: jwks}
	s.doc = func(base string) []byte {
		return mustJSON(t, map[string]any{"issuer": base, "jwks_uri": base + "/keys", "response_types_supported": []string{"code"}})
	}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		doc, jwks := s.doc, s.jwks
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/.well-known/openid-configuration", "/tenant/.well-known/openid-configuration":
			_, _ = w.Write(doc(s.URL))
		case "/keys":
			_, _ = w.Write(jwks)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *oidcServer) serveDoc(doc func(base string) []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.doc = doc
}

func discoveryVerifier(ctx context.Context, t *testing.T, issuer string, mod func(*VerifierOptions)) (*Verifier, error) {
	t.Helper()
	opts := VerifierOptions{
		Issuer: issuer, Audience: vtAudience, Algorithms: []Algorithm{ES384, PS256},
		Discovery: true, Roles: vtRoles(t), Kind: capability.KindInt64, Now: func() time.Time { return vtNow },
	}
	if mod != nil {
		mod(&opts)
	}
	v, err := NewVerifier(ctx, opts)
	if v != nil {
		t.Cleanup(func() { _ = v.Close() })
	}
	return v, err
}

func TestDiscoveryVerify(t *testing.T) {
	k := algKeys(t)[ES384]
	srv := newOIDCServer(t, jwksOf(t, k))
	v, err := discoveryVerifier(context.Background(), t, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	is, err := NewIssuer(IssuerOptions{Issuer: srv.URL, Roles: vtRoles(t), Kind: capability.KindInt64, Key: k, Now: func() time.Time { return vtNow }})
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(context.Background(), vtMint(t, is, vtParams(2)))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if c.Issuer() != srv.URL {
		t.Errorf("Issuer: got %q", c.Issuer())
	}
	// The issuer of the document is the one tokens must carry.
	other := vtMint(t, vtIssuerFor(t, k, ProfileDefault), vtParams(2))
	_, err = v.Verify(context.Background(), other)
	vtWantReason(t, err, ErrIssuer, other)

	// An issuer with a path and a trailing slash: the slash is removed
	// before the well-known path, and the document names the issuer with it.
	srv.serveDoc(func(base string) []byte {
		return mustJSON(t, map[string]any{"issuer": base + "/tenant/", "jwks_uri": base + "/keys"})
	})
	if _, err := discoveryVerifier(context.Background(), t, srv.URL+"/tenant/", nil); err != nil {
		t.Errorf("issuer with a path and a trailing slash: %v", err)
	}
}

func TestDiscoveryRefuses(t *testing.T) {
	k := algKeys(t)[ES384]
	srv := newOIDCServer(t, jwksOf(t, k))
	doc := func(m map[string]any) func(string) []byte {
		return func(base string) []byte {
			out := map[string]any{"issuer": base, "jwks_uri": base + "/keys"}
			for name, v := range m {
				if v == nil {
					delete(out, name)
					continue
				}
				if f, ok := v.(func(string) any); ok {
					v = f(base)
				}
				out[name] = v
			}
			return mustJSON(t, out)
		}
	}
	raw := func(s string) func(string) []byte {
		return func(base string) []byte { return []byte(strings.ReplaceAll(s, "BASE", base)) }
	}
	tests := []struct {
		name string
		doc  func(string) []byte
	}{
		{"issuer with a trailing slash", doc(map[string]any{"issuer": func(b string) any { return b + "/" }})},
		{"issuer of another host", doc(map[string]any{"issuer": "https://evil.example"})},
		{"issuer in upper case", doc(map[string]any{"issuer": func(b string) any { return strings.ToUpper(b) }})},
		{"no issuer", doc(map[string]any{"issuer": nil})},
		{"issuer not a string", doc(map[string]any{"issuer": 42})},
		{"issuer an array", doc(map[string]any{"issuer": func(b string) any { return []string{b} }})},
		{"no jwks_uri", doc(map[string]any{"jwks_uri": nil})},
		{"jwks_uri empty", doc(map[string]any{"jwks_uri": ""})},
		{"jwks_uri not a string", doc(map[string]any{"jwks_uri": map[string]any{"url": "x"}})},
		{"jwks_uri http on another host", doc(map[string]any{"jwks_uri": "http://keys.example/jwks"})},
		{"jwks_uri relative", doc(map[string]any{"jwks_uri": "/keys"})},
		{"jwks_uri with user info", doc(map[string]any{"jwks_uri": func(b string) any { return strings.Replace(b, "http://", "http://u:p@", 1) + "/keys" }})},
		{"jwks_uri null", raw(`{"issuer":"BASE","jwks_uri":null}`)},
		{"member names in another case", raw(`{"ISSUER":"BASE","JWKS_URI":"BASE/keys"}`)},
		{"duplicate issuer", raw(`{"issuer":"https://evil.example","issuer":"BASE","jwks_uri":"BASE/keys"}`)},
		{"duplicate jwks_uri", raw(`{"issuer":"BASE","jwks_uri":"https://evil.example/keys","jwks_uri":"BASE/keys"}`)},
		{"an array", raw(`[{"issuer":"BASE","jwks_uri":"BASE/keys"}]`)},
		{"trailing data", raw(`{"issuer":"BASE","jwks_uri":"BASE/keys"}{}`)},
		{"not JSON", raw(`<html>`)},
		{"invalid UTF-8", raw("{\"issuer\":\"BASE\",\"jwks_uri\":\"BASE/keys\",\"x\":\"\xff\"}")},
		{"oversized", doc(map[string]any{"pad": strings.Repeat("p", MaxDiscoveryBody)})},
		{"jwks_uri that serves no usable key", doc(map[string]any{"jwks_uri": func(b string) any { return b + "/nothing" }})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.serveDoc(tt.doc)
			v, err := discoveryVerifier(context.Background(), t, srv.URL, nil)
			if err == nil || v != nil {
				t.Fatalf("got %v, nil error", v)
			}
			if !errors.Is(err, ErrDiscovery) && !errors.Is(err, ErrJWKS) {
				t.Errorf("got %v, want ErrDiscovery or ErrJWKS", err)
			}
		})
	}
}

func TestDiscoveryOversizedChunked(t *testing.T) {
	var base string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// No Content-Length: the cap is met while reading.
		_, _ = w.Write([]byte(`{"issuer":"` + base + `","jwks_uri":"` + base + `/keys","pad":"`))
		for range MaxDiscoveryBody / 1024 {
			_, _ = w.Write([]byte(strings.Repeat("p", 1024)))
			w.(http.Flusher).Flush()
		}
		_, _ = w.Write([]byte(`"}`))
	}))
	defer srv.Close()
	base = srv.URL
	_, err := discoveryVerifier(context.Background(), t, srv.URL, nil)
	if !errors.Is(err, ErrDiscovery) {
		t.Fatalf("got %v, want ErrDiscovery", err)
	}
}

func TestDiscoveryHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusInternalServerError)
	}))
	defer srv.Close()
	if _, err := discoveryVerifier(context.Background(), t, srv.URL, nil); !errors.Is(err, ErrDiscovery) {
		t.Errorf("HTTP 500: got %v, want ErrDiscovery", err)
	}
	// Redirected to a document that names another issuer: refused.
	target := newOIDCServer(t, jwksOf(t, algKeys(t)[ES384]))
	redir := httptest.NewServer(http.RedirectHandler(target.URL+"/.well-known/openid-configuration", http.StatusFound))
	defer redir.Close()
	if _, err := discoveryVerifier(context.Background(), t, redir.URL, nil); !errors.Is(err, ErrDiscovery) {
		t.Errorf("redirect to another issuer's document: got %v, want ErrDiscovery", err)
	}
}

func TestDiscoveryTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // hang until the client gives up
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	_, err := discoveryVerifier(context.Background(), t, srv.URL, func(o *VerifierOptions) {
		o.HTTPClient = &http.Client{Timeout: 100 * time.Millisecond}
	})
	if !errors.Is(err, ErrDiscovery) {
		t.Fatalf("client timeout: got %v, want ErrDiscovery", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := discoveryVerifier(ctx, t, srv.URL, nil); !errors.Is(err, ErrDiscovery) {
		t.Fatalf("canceled context: got %v, want ErrDiscovery", err)
	}
}

func TestDiscoveryOptions(t *testing.T) {
	k := algKeys(t)[ES384]
	tests := []struct {
		name string
		mod  func(*VerifierOptions)
		want error // nil: any error
	}{
		{"http issuer on another host", func(o *VerifierOptions) { o.Issuer = "http://auth.example" }, ErrDiscovery},
		{"issuer not a URL", func(o *VerifierOptions) { o.Issuer = "forum-auth" }, ErrDiscovery},
		{"issuer with a query", func(o *VerifierOptions) { o.Issuer = "https://auth.example/?tenant=1" }, ErrDiscovery},
		{"issuer with a fragment", func(o *VerifierOptions) { o.Issuer = "https://auth.example/#x" }, ErrDiscovery},
		{"with Keys", func(o *VerifierOptions) { o.Keys = []PublicKey{k.pub} }, nil},
		{"with JWKSURL", func(o *VerifierOptions) { o.JWKSURL = "https://auth.example/keys" }, nil},
		{"with HS256", func(o *VerifierOptions) { o.Algorithms = []Algorithm{HS256} }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := discoveryVerifier(context.Background(), t, "https://auth.example", tt.mod)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

// TestDiscoveryRotation: the JWKS found through discovery is kept fresh
// like any JWKS URL: a key added at the provider verifies after a refresh.
func TestDiscoveryRotation(t *testing.T) {
	keys := algKeys(t)
	srv := newOIDCServer(t, jwksOf(t, keys[ES384]))
	v, err := discoveryVerifier(context.Background(), t, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	is, err := NewIssuer(IssuerOptions{Issuer: srv.URL, Roles: vtRoles(t), Kind: capability.KindInt64, Key: keys[ES384], Now: func() time.Time { return vtNow }})
	if err != nil {
		t.Fatal(err)
	}
	old := vtMint(t, is, vtParams(1))
	is.Rotate(keys[PS256])
	doc, err := is.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	srv.mu.Lock()
	srv.jwks = doc
	srv.mu.Unlock()
	next := vtMint(t, is, vtParams(1))
	if err := v.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{"old key": old, "new key": next} {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestDiscoveryTLS: an https issuer, and a redirect from https to http
// (even on loopback) refused.
func TestDiscoveryTLS(t *testing.T) {
	k := algKeys(t)[ES384]
	jwks := jwksOf(t, k)
	plain := newOIDCServer(t, jwks)
	var srv *httptest.Server
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			_, _ = w.Write(mustJSON(t, map[string]any{"issuer": srv.URL, "jwks_uri": srv.URL + "/keys"}))
		case "/keys":
			_, _ = w.Write(jwks)
		case "/down/.well-known/openid-configuration":
			http.Redirect(w, r, plain.URL+"/.well-known/openid-configuration", http.StatusFound)
		}
	}))
	defer srv.Close()
	if _, err := discoveryVerifier(context.Background(), t, srv.URL, func(o *VerifierOptions) { o.HTTPClient = srv.Client() }); err != nil {
		t.Errorf("https issuer: %v", err)
	}
	// The http document would otherwise be accepted: it names the issuer.
	plain.serveDoc(func(string) []byte {
		return mustJSON(t, map[string]any{"issuer": srv.URL + "/down", "jwks_uri": srv.URL + "/keys"})
	})
	_, err := discoveryVerifier(context.Background(), t, srv.URL+"/down", func(o *VerifierOptions) { o.HTTPClient = srv.Client() })
	if !errors.Is(err, ErrDiscovery) || !strings.Contains(err.Error(), "redirect") {
		t.Errorf("https to http redirect: got %v, want ErrDiscovery for the redirect", err)
	}
}
