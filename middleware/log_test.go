package middleware_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/capability/token"
	"github.com/keyhole-go/keyhole/middleware"
)

// anyValue in a want map means "present, any value".
const anyValue = "\x00any"

// TestLogRedaction captures the log of refused requests and checks that
// each is one record with a reason code, the escaped kid and the subject
// when known, and that no token, signature or payload bytes are in it.
func TestLogRedaction(t *testing.T) {
	k := newKeys(t)
	var logs logBuffer
	a := k.newAuth(t, middleware.Options{Logger: logs.logger(), Cookie: "kh"})

	expired := k.mintParams(t, capability.Params{Subject: "alice", Audience: []string{testAudience}, Expiry: testNow.Add(time.Second), Grants: []capability.Grant{grant("member", 1)}})
	k.now = testNow.Add(time.Hour)
	defer func() { k.now = testNow }()
	hostileKID := "k1\n\"level\":\"ERROR\"\x00\u202e" + strings.Repeat("x", 300)
	forged := forgeToken(t, nil2key(t), map[string]string{"alg": "EdDSA", "kid": hostileKID, "typ": "JWT"},
		map[string]any{"sub": "mallory", "iss": testIssuer, "aud": testAudience})
	unknownKID := forgeToken(t, nil2key(t), map[string]string{"alg": "EdDSA", "kid": "k2\"x", "typ": "JWT"}, map[string]any{"sub": "mallory"})
	good := k.mint(t, "bob", false)
	parts := strings.Split(good, ".")
	badSig := parts[0] + "." + parts[1] + "." + strings.Split(unknownKID, ".")[2]

	tests := []struct {
		name  string
		authz []string
		want  map[string]any // expected attributes; a missing key must be absent
		token string         // must not appear
	}{
		{"missing", nil, map[string]any{"reason": "missing_token", "status": 401.0}, ""},
		{"malformed", []string{"Bearer " + good + " x"}, map[string]any{"reason": "malformed_header", "status": 400.0}, good},
		{"expired", bearer(expired), map[string]any{"reason": "expired", "status": 401.0, "kid": `"k1"`, "sub": "alice"}, expired},
		{"bad signature", bearer(badSig), map[string]any{"reason": "bad_signature", "status": 401.0, "kid": `"k1"`}, badSig},
		{"unknown kid", bearer(unknownKID), map[string]any{"reason": "unknown_key", "status": 401.0, "kid": `"k2\"x"`}, unknownKID},
		{"hostile kid", bearer(forged), map[string]any{"reason": "unknown_key", "status": 401.0, "kid": anyValue}, forged},
		{"mismatch", []string{"Bearer " + good}, map[string]any{"reason": "token_mismatch", "status": 400.0}, good},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs.buf.Reset()
			cookie := ""
			if tt.name == "mismatch" {
				cookie = "kh=" + expired
			}
			serve(a.Handler(mustNotRun(t)), request("GET", "/", tt.authz, cookie))
			out := logs.String()
			recs := logs.records(t)
			if len(recs) != 1 {
				t.Fatalf("got %d records, want 1: %s", len(recs), out)
			}
			rec := recs[0]
			for _, key := range []string{"reason", "status", "kid", "sub"} {
				want, ok := tt.want[key]
				if got, has := rec[key]; has != ok || got != want && want != anyValue {
					t.Errorf("%s: got %v (present %v), want %v (present %v)", key, got, has, want, ok)
				}
			}
			if tt.token != "" {
				for i, part := range strings.Split(tt.token, ".") {
					if len(part) >= 8 && strings.Contains(out, part) {
						t.Errorf("log contains part %d of the token: %s", i, out)
					}
				}
			}
			for _, secret := range []string{expired, forged, good, badSig} {
				if sig := secret[strings.LastIndexByte(secret, '.')+1:]; strings.Contains(out, sig) {
					t.Errorf("log contains a signature: %s", out)
				}
			}
		})
	}

	// The hostile kid is quoted (no raw newline, NUL or bidi control) and
	// bounded.
	logs.buf.Reset()
	serve(a.Handler(mustNotRun(t)), request("GET", "/", bearer(forged), ""))
	kid, _ := logs.records(t)[0]["kid"].(string)
	unq, err := strconv.Unquote(strings.TrimSuffix(kid, "..."))
	if err != nil || !strings.HasPrefix(kid, `"k1\n\"level\":\"ERROR\"\x00\u202e`) || !strings.HasPrefix(hostileKID, unq) || len(unq) > 128 {
		t.Errorf("kid not escaped and bounded: %q", kid)
	}
	if strings.ContainsAny(kid, "\n\x00\u202e") {
		t.Errorf("kid holds raw control characters: %q", kid)
	}
}

// TestLogBoundsKeyID: whatever the verifier reports as kid, the record
// holds at most 128 bytes of it, quoted.
func TestLogBoundsKeyID(t *testing.T) {
	var logs logBuffer
	long := strings.Repeat("\n", 1000)
	v := funcVerifier(func(context.Context, string) (*capability.Capability, error) {
		return nil, &token.TokenError{Reason: token.ErrUnknownKey, KeyID: long}
	})
	a, err := middleware.New(v, middleware.Options{Logger: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	serve(a.Handler(mustNotRun(t)), request("GET", "/", bearer("abc"), ""))
	kid, _ := logs.records(t)[0]["kid"].(string)
	if want := strconv.Quote(long[:128]) + "..."; kid != want {
		t.Errorf("kid: got %q, want %q", kid, want)
	}
}
