package capability

import (
	"testing"
	"time"
)

func TestSessionID(t *testing.T) {
	var nilCap *Capability
	if nilCap.SessionID() != "" {
		t.Error("nil capability has a session id")
	}
	roles := MustChain("member", "moderator")
	c, err := New(roles, KindInt64, Params{
		Subject: "alice", SessionID: "s1", Expiry: time.Unix(2000000000, 0),
		Grants: []Grant{{Group: Int64Group(1), Role: "moderator"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.SessionID(); got != "s1" {
		t.Errorf("SessionID() = %q, want s1", got)
	}
	if got := c.Params().SessionID; got != "s1" {
		t.Errorf("Params().SessionID = %q, want s1", got)
	}
	n, err := c.Narrow(Narrowing{Role: "member"})
	if err != nil {
		t.Fatal(err)
	}
	if got := n.SessionID(); got != "s1" {
		t.Errorf("narrowed SessionID() = %q, want s1: a narrowed capability ends with its session", got)
	}
}
