package middleware_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/capability/token"
	"github.com/keyhole-go/keyhole/middleware"
)

const (
	testIssuer   = "https://auth.example"
	testAudience = "forum"
	testRealm    = "forum"
)

// testNow is the fixed clock of the tests' issuers and verifiers.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testRoles(t testing.TB) *capability.Roles {
	t.Helper()
	r, err := capability.Chain("member", "moderator")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// keys is a real issuer and a real verifier with a static key set and a
// fixed clock: the proof of the security claims runs through them.
type keys struct {
	roles    *capability.Roles
	key      *token.SigningKey
	issuer   *token.Issuer
	verifier *token.Verifier
	now      time.Time
}

func newKeys(t testing.TB) *keys {
	t.Helper()
	k := &keys{roles: testRoles(t), now: testNow}
	var err error
	if k.key, err = token.GenerateKey(token.EdDSA, "k1"); err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return k.now }
	k.issuer, err = token.NewIssuer(token.IssuerOptions{
		Issuer: testIssuer, Roles: k.roles, Kind: capability.KindInt64, Key: k.key, Now: clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	k.verifier, err = token.NewVerifier(context.Background(), token.VerifierOptions{
		Issuer: testIssuer, Audience: testAudience, Algorithms: []token.Algorithm{token.EdDSA},
		Keys: k.issuer.PublicKeys(), Roles: k.roles, Kind: capability.KindInt64, Now: clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// grant returns the grant of role in int64 group g.
func grant(role string, g int64) capability.Grant {
	return capability.Grant{Group: capability.Int64Group(g), Role: role}
}

// mint mints a token for sub with the grants, for testAudience, 15 minutes.
func (k *keys) mint(t testing.TB, sub string, admin bool, grants ...capability.Grant) string {
	t.Helper()
	return k.mintParams(t, capability.Params{Subject: sub, Audience: []string{testAudience}, Grants: grants, Admin: admin})
}

func (k *keys) mintParams(t testing.TB, p capability.Params) string {
	t.Helper()
	tok, err := k.issuer.Mint(p)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// newAuth returns an Auth on k's verifier with realm testRealm.
func (k *keys) newAuth(t testing.TB, opts middleware.Options) *middleware.Auth {
	t.Helper()
	if opts.Realm == "" {
		opts.Realm = testRealm
	}
	a, err := middleware.New(k.verifier, opts)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// recordingVerifier accepts every token and records it. It proves nothing
// about security: it is used only for rows about where the token is read
// from and how the header is parsed.
type recordingVerifier struct {
	c *capability.Capability

	mu     sync.Mutex
	tokens []string
}

func newRecordingVerifier(t testing.TB) *recordingVerifier {
	t.Helper()
	c, err := capability.New(testRoles(t), capability.KindInt64, capability.Params{
		Subject: "rec", Audience: []string{testAudience}, Expiry: testNow.Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	return &recordingVerifier{c: c}
}

func (v *recordingVerifier) Verify(_ context.Context, token string) (*capability.Capability, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.tokens = append(v.tokens, token)
	return v.c, nil
}

func (v *recordingVerifier) seen() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := v.tokens
	v.tokens = nil
	return out
}

// funcVerifier adapts a function (failure modes of a broken verifier).
type funcVerifier func(ctx context.Context, token string) (*capability.Capability, error)

func (f funcVerifier) Verify(ctx context.Context, token string) (*capability.Capability, error) {
	return f(ctx, token)
}

// capHandler answers 200 with the subject of the request's capability, or
// "anonymous" when there is none.
var capHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	c, ok := capability.FromContext(r.Context())
	if !ok {
		w.Write([]byte("anonymous"))
		return
	}
	w.Write([]byte("sub=" + c.Subject()))
})

// mustNotRun fails the test if a refused request reaches it.
func mustNotRun(t *testing.T) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("handler reached for %s %s", r.Method, r.URL)
	})
}

// request builds a request with the given Authorization header values and
// Cookie header.
func request(method, target string, authz []string, cookie string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	for _, h := range authz {
		r.Header.Add("Authorization", h)
	}
	if cookie != "" {
		r.Header.Set("Cookie", cookie)
	}
	return r
}

func bearer(tok string) []string { return []string{"Bearer " + tok} }

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// problemBody returns the exact generic problem body for status.
func problemBody(status int) string {
	return `{"type":"about:blank","title":"` + http.StatusText(status) + `","status":` + itoa(status) + "}\n"
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// checkAnswer asserts the status, the WWW-Authenticate header ("" for
// none), and, for an error status, the generic problem body and headers.
func checkAnswer(t *testing.T, w *httptest.ResponseRecorder, status int, challenge string) {
	t.Helper()
	if w.Code != status {
		t.Errorf("status: got %d, want %d (body %q)", w.Code, status, w.Body.String())
	}
	if got := w.Header().Values("WWW-Authenticate"); challenge == "" && len(got) != 0 || challenge != "" && (len(got) != 1 || got[0] != challenge) {
		t.Errorf("WWW-Authenticate: got %q, want %q", got, challenge)
	}
	if status < 400 {
		return
	}
	if got, want := w.Body.String(), problemBody(status); got != want {
		t.Errorf("body: got %q, want %q", got, want)
	}
	for k, want := range map[string]string{
		"Content-Type":           "application/problem+json",
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
	} {
		if got := w.Header().Get(k); got != want {
			t.Errorf("%s: got %q, want %q", k, got, want)
		}
	}
}

// logBuffer is a JSON slog logger writing to a buffer.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// records returns the decoded log records.
func (b *logBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// forgeToken signs an EdDSA compact JWS with an arbitrary header and
// payload, with the standard library only: tokens our issuer would never
// mint (hostile kid, unknown key).
func forgeToken(t testing.TB, key ed25519.PrivateKey, header, payload any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	in := enc(header) + "." + enc(payload)
	return in + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(key, []byte(in)))
}

// nil2key returns a fresh Ed25519 private key no verifier knows.
func nil2key(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
