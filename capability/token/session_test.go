package token

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/keyhole-go/keyhole/capability"
)

// TestSessionIDRoundTrip: the issuer writes "sid" when Params.SessionID is
// set, in both profiles, and the verifier reads it back; without it the
// claim is absent and SessionID is "".
func TestSessionIDRoundTrip(t *testing.T) {
	ring := vtKeys(t)
	ed := ring.byAlg[EdDSA]
	for _, profile := range []Profile{ProfileDefault, ProfileCompact} {
		is := vtIssuerFor(t, ed, profile)
		v := vtVerifierFor(t, nil, ed)
		for _, sid := range []string{"s-123", ""} {
			p := vtParams(2)
			p.SessionID = sid
			tok := vtMint(t, is, p)
			payload, _ := b64.DecodeString(strings.Split(tok, ".")[1])
			var c map[string]any
			if err := json.Unmarshal(payload, &c); err != nil {
				t.Fatal(err)
			}
			got, has := c["sid"]
			if (sid != "") != has || (has && got != sid) {
				t.Errorf("profile %d, sid %q: claim sid = %v (present %v)", profile, sid, got, has)
			}
			cp, err := v.Verify(t.Context(), tok)
			if err != nil {
				t.Fatalf("profile %d: %v", profile, err)
			}
			if cp.SessionID() != sid {
				t.Errorf("profile %d: SessionID() = %q, want %q", profile, cp.SessionID(), sid)
			}
		}
	}
}

// TestSessionIDClaimRejects: a "sid" that is not a string, or that
// repeats, is refused like a bad "jti".
func TestSessionIDClaimRejects(t *testing.T) {
	o := decodeOptions{roles: vtRoles(t), kind: capability.KindInt64, maxGrants: 10}
	for _, payload := range []string{
		`{"exp":1900000000,"sid":1}`,
		`{"exp":1900000000,"sid":null}`,
		`{"exp":1900000000,"sid":"a","sid":"b"}`,
		`{"exp":1900000000,"sid":"a\u0000"}`,
	} {
		if _, err := decodeClaims([]byte(payload), o); err == nil {
			t.Errorf("%s: decoded, want an error", payload)
		}
	}
	d, err := decodeClaims([]byte(`{"exp":1900000000,"sid":"abc"}`), o)
	if err != nil || d.params.SessionID != "abc" {
		t.Errorf("got %q, %v; want abc", d.params.SessionID, err)
	}
}
