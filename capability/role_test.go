package capability

import (
	"errors"
	"slices"
	"testing"
)

func forumRoles(t testing.TB) *Roles {
	t.Helper()
	r, err := Chain("member", "moderator", "admin")
	if err != nil {
		t.Fatalf("Chain: %v", err)
	}
	return r
}

func TestRolesIncludes(t *testing.T) {
	r := forumRoles(t)
	tests := []struct {
		a, b string
		want bool
	}{
		{"admin", "admin", true},
		{"admin", "moderator", true},
		{"admin", "member", true},
		{"moderator", "member", true},
		{"moderator", "admin", false},
		{"member", "moderator", false},
		{"member", "member", true},
		{"none", "member", false},
		{"member", "none", false},
		{"none", "none", false},
		{"ghost", "member", false},
		{"member", "ghost", false},
	}
	for _, tt := range tests {
		if got := r.Includes(tt.a, tt.b); got != tt.want {
			t.Errorf("Includes(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
	var nilRoles *Roles
	if nilRoles.Includes("member", "member") || nilRoles.Known("member") || nilRoles.Names() != nil {
		t.Error("nil *Roles must hold nothing")
	}
}

func TestNewRolesErrors(t *testing.T) {
	tests := []struct {
		name  string
		specs []RoleSpec
	}{
		{"empty", nil},
		{"reserved none", []RoleSpec{{Name: "none"}}},
		{"duplicate", []RoleSpec{{Name: "a"}, {Name: "a"}}},
		{"unknown parent", []RoleSpec{{Name: "a", Includes: []string{"b"}}}},
		{"cycle", []RoleSpec{{Name: "a", Includes: []string{"b"}}, {Name: "b", Includes: []string{"a"}}}},
		{"self cycle", []RoleSpec{{Name: "a", Includes: []string{"a"}}}},
		{"long cycle", []RoleSpec{{Name: "a", Includes: []string{"c"}}, {Name: "b", Includes: []string{"a"}}, {Name: "c", Includes: []string{"b"}}}},
		{"bad name", []RoleSpec{{Name: "Admin"}}},
		{"empty name", []RoleSpec{{Name: ""}}},
		{"starts with digit", []RoleSpec{{Name: "1a"}}},
		{"space", []RoleSpec{{Name: "a b"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewRoles(tt.specs...)
			if !errors.Is(err, ErrBadRoles) {
				t.Fatalf("NewRoles: got %v, %v; want ErrBadRoles", r, err)
			}
		})
	}
	many := make([]RoleSpec, MaxRoles+1)
	for i := range many {
		many[i].Name = "r" + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	if _, err := NewRoles(many...); !errors.Is(err, ErrBadRoles) {
		t.Errorf("NewRoles with %d roles: got %v, want ErrBadRoles", len(many), err)
	}
}

func TestRolesDiamond(t *testing.T) {
	// editor and reviewer both include reader; chief includes both.
	r, err := NewRoles(
		RoleSpec{Name: "reader"},
		RoleSpec{Name: "editor", Includes: []string{"reader"}},
		RoleSpec{Name: "reviewer", Includes: []string{"reader"}},
		RoleSpec{Name: "chief", Includes: []string{"editor", "reviewer"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Includes("chief", "reader") || r.Includes("editor", "reviewer") {
		t.Error("diamond closure wrong")
	}
	if got, want := r.commonBelow("editor", "reviewer"), []string{"reader"}; !slices.Equal(got, want) {
		t.Errorf("commonBelow(editor, reviewer) = %v, want %v", got, want)
	}
	if got, want := r.commonBelow("chief", "editor"), []string{"editor"}; !slices.Equal(got, want) {
		t.Errorf("commonBelow(chief, editor) = %v, want %v", got, want)
	}
}
