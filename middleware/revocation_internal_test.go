package middleware

import (
	"context"
	"testing"
	"time"

	"github.com/keyhole-go/keyhole/capability"
)

type countingChecker struct {
	calls   int
	revoked bool
}

func (c *countingChecker) Revoked(context.Context, *capability.Capability) (bool, error) {
	c.calls++
	return c.revoked, nil
}

// TestRevocationCacheExpiry: an answer is reused until its TTL passes on
// the cache's clock, then asked again; the cache never holds more than
// its bound.
func TestRevocationCacheExpiry(t *testing.T) {
	cc := &countingChecker{}
	v, err := newRevocation(cc, time.Second, 3)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	v.now = func() time.Time { return now }
	roles := capability.MustChain("member")
	capFor := func(sid string) *capability.Capability {
		c, err := capability.New(roles, capability.KindInt64, capability.Params{Subject: "a", SessionID: sid, IssuedAt: now, Expiry: now.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c1 := capFor("s1")
	for range 3 {
		if r, _ := v.revoked(t.Context(), c1); r {
			t.Fatal("revoked")
		}
	}
	if cc.calls != 1 {
		t.Errorf("calls %d, want 1", cc.calls)
	}
	cc.revoked = true
	now = now.Add(999 * time.Millisecond)
	if r, _ := v.revoked(t.Context(), c1); r {
		t.Error("answer changed before the TTL passed")
	}
	now = now.Add(time.Millisecond)
	if r, _ := v.revoked(t.Context(), c1); !r {
		t.Error("revocation not seen after the TTL")
	}
	for i := range 10 {
		v.revoked(t.Context(), capFor(string(rune('a'+i))))
		if n := len(v.entries); n > 3 {
			t.Fatalf("%d entries, bound 3", n)
		}
	}
}
