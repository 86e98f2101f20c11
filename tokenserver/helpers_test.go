package tokenserver_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/capability/token"
)

// keys is a real issuer with a fixed clock.
type keys struct {
	issuer *token.Issuer
}

func newKeys(t testing.TB) *keys {
	t.Helper()
	roles, err := capability.Chain("member", "moderator")
	if err != nil {
		t.Fatal(err)
	}
	key, err := token.GenerateKey(token.EdDSA, "k1")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	issuer, err := token.NewIssuer(token.IssuerOptions{
		Issuer: "https://auth.example", Roles: roles, Kind: capability.KindInt64, Key: key,
		Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	return &keys{issuer: issuer}
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// checkAnswer asserts the status, no WWW-Authenticate header, and, for an
// error status, the generic problem body and headers.
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
	want := `{"type":"about:blank","title":"` + http.StatusText(status) + `","status":` + strconv.Itoa(status) + "}\n"
	if got := w.Body.String(); got != want {
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
