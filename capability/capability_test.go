package capability

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func TestNewRejects(t *testing.T) {
	r := forumRoles(t)
	exp := t0.Add(time.Hour)
	tests := []struct {
		name  string
		roles *Roles
		kind  GroupKind
		p     Params
	}{
		{"nil roles", nil, KindInt64, Params{Expiry: exp}},
		{"bad kind", r, GroupKind(0), Params{Expiry: exp}},
		{"no expiry", r, KindInt64, Params{}},
		{"unknown role", r, KindInt64, Params{Expiry: exp, Grants: []Grant{{Int64Group(1), "owner"}}}},
		{"wrong kind", r, KindInt64, Params{Expiry: exp, Grants: []Grant{{TextGroup("1"), "member"}}}},
		{"zero group", r, KindInt64, Params{Expiry: exp, Grants: []Grant{{Group{}, "member"}}}},
		{"zero group, text kind", r, KindText, Params{Expiry: exp, Grants: []Grant{{Group{}, "member"}}}},
		{"empty text id", r, KindText, Params{Expiry: exp, Grants: []Grant{{TextGroup(""), "member"}}}},
		{"text id with NUL", r, KindText, Params{Expiry: exp, Grants: []Grant{{TextGroup("a\x00b"), "member"}}}},
		{"text id not UTF-8", r, KindText, Params{Expiry: exp, Grants: []Grant{{TextGroup("\xff"), "member"}}}},
		{"text id too long", r, KindText, Params{Expiry: exp, Grants: []Grant{{TextGroup(strings.Repeat("x", MaxTextGroupLen+1)), "member"}}}},
		{"too many", r, KindInt64, Params{Expiry: exp, MaxGrants: 1, Grants: []Grant{{Int64Group(1), "member"}, {Int64Group(2), "member"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.roles, tt.kind, tt.p)
			if !errors.Is(err, ErrBadCapability) {
				t.Fatalf("New: got %v, %v; want ErrBadCapability", c, err)
			}
		})
	}
}

func TestGroupsByRole(t *testing.T) {
	r := forumRoles(t)
	c, err := New(r, KindInt64, Params{
		Subject: "alice",
		Expiry:  t0.Add(time.Hour),
		Grants: []Grant{
			{Int64Group(1), "member"},
			{Int64Group(2), "moderator"},
			{Int64Group(3), "admin"},
			{Int64Group(4), "none"},
			{Int64Group(1), "member"}, // duplicate
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	check := func(role string, want ...int64) {
		t.Helper()
		got := c.Groups(role).Int64s()
		if len(got) != len(want) {
			t.Errorf("Groups(%q) = %v, want %v", role, got, want)
			return
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("Groups(%q) = %v, want %v", role, got, want)
				return
			}
		}
	}
	check("member", 1, 2, 3)
	check("moderator", 2, 3)
	check("admin", 3)
	check("none")
	check("ghost")
	if len(c.Grants()) != 3 {
		t.Errorf("Grants = %v, want 3 (duplicate merged, none dropped)", c.Grants())
	}
	if c.Admin() {
		t.Error("Admin() = true without the flag: an admin role grant is not the admin override")
	}
	if !c.Has("member", Int64Group(2)) || c.Has("moderator", Int64Group(1)) {
		t.Error("Has disagrees with the hierarchy")
	}
}

func TestNilCapability(t *testing.T) {
	var c *Capability
	if c.Admin() || c.Subject() != "" || c.Groups("member").Len() != 0 || c.Has("member", Int64Group(1)) ||
		!c.Expired(t0) || c.Grants() != nil || c.Audience() != nil {
		t.Error("nil capability must hold nothing")
	}
	n, err := c.Narrow(Narrowing{Role: "member"})
	if n != nil || err != nil {
		t.Errorf("nil.Narrow = %v, %v; want nil, nil", n, err)
	}
	if _, ok := FromContext(NewContext(t.Context(), nil)); ok {
		t.Error("FromContext reported a nil capability as present")
	}
	if _, ok := FromContext(t.Context()); ok {
		t.Error("FromContext reported a capability in an empty context")
	}
}

func TestAccessorsReturnCopies(t *testing.T) {
	c, err := New(forumRoles(t), KindInt64, Params{
		Expiry:   t0.Add(time.Hour),
		Audience: []string{"forum"},
		Grants:   []Grant{{Int64Group(1), "member"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Audience()[0] = "evil"
	c.Grants()[0].Role = "admin"
	p := c.Params()
	p.Grants[0].Role = "admin"
	p.Audience[0] = "evil"
	if c.Audience()[0] != "forum" || c.Grants()[0].Role != "member" || c.Has("admin", Int64Group(1)) {
		t.Error("an accessor exposed the capability's own storage")
	}
	got, ok := FromContext(NewContext(t.Context(), c))
	if !ok || got != c {
		t.Error("FromContext did not return the stored capability")
	}
}
