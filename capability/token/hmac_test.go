package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"strings"
	"testing"
)

// TestMACPool: the pooled HMAC states give hmac.New's answer for every
// input, whatever the previous inputs were, and refuse every other MAC.
func TestMACPool(t *testing.T) {
	secret := []byte(strings.Repeat("k", 40))
	p := newMACPool(secret)
	for n := range 300 {
		in := []byte(strings.Repeat("x", n))
		m := hmac.New(sha256.New, secret)
		m.Write(in)
		want := m.Sum(nil)
		for range 2 { // a state used before must give the same answer
			if !p.verify(in, want) {
				t.Fatalf("len %d: the right MAC does not verify", n)
			}
		}
		bad := append([]byte(nil), want...)
		bad[n%len(bad)] ^= 1
		if p.verify(in, bad) {
			t.Fatalf("len %d: a wrong MAC verifies", n)
		}
		if p.verify(in, want[:31]) || p.verify(in, append(want, 0)) {
			t.Fatalf("len %d: a MAC of another length verifies", n)
		}
	}
	if macPools(vtVerifierFor(t, nil, vtKeys(t).byAlg[EdDSA]).static) != nil {
		t.Error("macPools of a set without HS256 keys: got a map")
	}
}
