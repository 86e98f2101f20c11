package token

import (
	"errors"
	"github.com/keyhole-go/keyhole/capability"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestClaimMappingValidate(t *testing.T) {
	r := forumRoles(t)
	tests := []struct {
		name string
		m    ClaimMapping
		ok   bool
	}{
		{"groups claim", ClaimMapping{GroupsClaim: "groups", DefaultRole: "member"}, true},
		{"roles path", ClaimMapping{RolesPath: []string{"realm_access", "roles"}, AdminRole: "forum-admin"}, true},
		{"both", ClaimMapping{GroupsClaim: "groups", DefaultRole: "member", RolesPath: []string{"resource_access", "forum", "roles"}, IgnoreOtherRoles: true}, true},
		{"empty", ClaimMapping{}, false},
		{"groups claim without role", ClaimMapping{GroupsClaim: "groups"}, false},
		{"groups claim with unknown role", ClaimMapping{GroupsClaim: "groups", DefaultRole: "owner"}, false},
		{"groups claim with role none", ClaimMapping{GroupsClaim: "groups", DefaultRole: capability.RoleNone}, false},
		{"default role without groups claim", ClaimMapping{DefaultRole: "member", RolesPath: []string{"roles"}}, false},
		{"groups claim redirects sub", ClaimMapping{GroupsClaim: "sub", DefaultRole: "member"}, false},
		{"groups claim redirects exp", ClaimMapping{GroupsClaim: "exp", DefaultRole: "member"}, false},
		{"groups claim invalid UTF-8", ClaimMapping{GroupsClaim: "gr\xffoups", DefaultRole: "member"}, false},
		{"roles path redirects aud", ClaimMapping{RolesPath: []string{"aud"}}, false},
		{"roles path with empty element", ClaimMapping{RolesPath: []string{"realm_access", ""}}, false},
		{"roles path too long", ClaimMapping{RolesPath: strings.Split("a,b,c,d,e,f,g,h,i", ",")}, false},
		{"roles path and groups claim on one claim", ClaimMapping{GroupsClaim: "groups", DefaultRole: "member", RolesPath: []string{"groups"}}, false},
		{"admin role without roles path", ClaimMapping{GroupsClaim: "groups", DefaultRole: "member", AdminRole: "admin"}, false},
		{"admin role with a colon", ClaimMapping{RolesPath: []string{"roles"}, AdminRole: "admin:1"}, false},
		{"ignore without roles path", ClaimMapping{GroupsClaim: "groups", DefaultRole: "member", IgnoreOtherRoles: true}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.m.validate(r, capability.KindInt64)
			if tt.ok && err != nil {
				t.Errorf("got %v, want nil", err)
			}
			if !tt.ok && !errors.Is(err, ErrBadMapping) {
				t.Errorf("got %v, want ErrBadMapping", err)
			}
		})
	}
	if err := (*ClaimMapping)(nil).validate(r, capability.KindInt64); err != nil {
		t.Errorf("nil mapping: got %v, want nil", err)
	}
	m := ClaimMapping{GroupsClaim: "groups", DefaultRole: "member"}
	if err := m.validate(nil, capability.KindInt64); !errors.Is(err, ErrBadMapping) {
		t.Errorf("nil roles: got %v, want ErrBadMapping", err)
	}
	if err := m.validate(r, 0); !errors.Is(err, ErrBadMapping) {
		t.Errorf("no kind: got %v, want ErrBadMapping", err)
	}
}

func mappingOpts(t *testing.T, kind capability.GroupKind, m *ClaimMapping) decodeOptions {
	t.Helper()
	o := claimsOpts(t, kind, 5)
	if err := m.validate(o.roles, kind); err != nil {
		t.Fatalf("validate: %v", err)
	}
	o.mapping = m
	return o
}

var (
	okta     = &ClaimMapping{GroupsClaim: "groups", DefaultRole: "member"}
	keycloak = &ClaimMapping{
		GroupsClaim: "groups", DefaultRole: "member",
		RolesPath: []string{"resource_access", "forum", "roles"}, AdminRole: "forum-admin", IgnoreOtherRoles: true,
	}
	strictRoles = &ClaimMapping{RolesPath: []string{"roles"}}
)

func TestMappingDecode(t *testing.T) {
	u := "0b8e6a6c-3f1c-4d8e-9a51-2f1f0c3f8a10"
	ug, _ := capability.ParseGroup(capability.KindUUID, u)
	tests := []struct {
		name    string
		kind    capability.GroupKind
		m       *ClaimMapping
		payload string
		grants  []capability.Grant
		admin   bool
	}{
		{
			name: "flat groups, strings and integers", kind: capability.KindInt64, m: okta,
			payload: `{"exp":1795000900,"groups":["7",8,"-9","9223372036854775807"]}`,
			grants:  []capability.Grant{{Group: capability.Int64Group(7), Role: "member"}, {Group: capability.Int64Group(8), Role: "member"}, {Group: capability.Int64Group(-9), Role: "member"}, {Group: capability.Int64Group(math.MaxInt64), Role: "member"}},
		},
		{
			name: "flat uuid groups", kind: capability.KindUUID, m: okta,
			payload: `{"exp":1795000900,"groups":["` + u + `"]}`,
			grants:  []capability.Grant{{Group: ug, Role: "member"}},
		},
		{
			name: "absent groups claim grants nothing", kind: capability.KindInt64, m: okta,
			payload: `{"exp":1795000900}`,
		},
		{
			name: "our own claims are not read through a mapping", kind: capability.KindInt64, m: okta,
			payload: `{"exp":1795000900,"admin":true,"permissions":[{"group":1,"role":"admin"}],"grants":{"admin":"AQI"}}`,
		},
		{
			name: "keycloak nested roles, admin, other roles ignored", kind: capability.KindText, m: keycloak,
			payload: `{"exp":1795000900,"groups":["/forum/readers"],"realm_access":{"roles":["offline_access"]},` +
				`"resource_access":{"account":{"roles":["manage-account"]},"forum":{"x":1,"roles":["moderator:/forum/mods","uma_authorization","forum-admin",{"group":"g:1","role":"admin"}]}}}`,
			grants: []capability.Grant{{Group: capability.TextGroup("/forum/readers"), Role: "member"}, {Group: capability.TextGroup("/forum/mods"), Role: "moderator"}, {Group: capability.TextGroup("g:1"), Role: "admin"}},
			admin:  true,
		},
		{
			name: "role:group splits at the first colon", kind: capability.KindText, m: strictRoles,
			payload: `{"exp":1795000900,"roles":["member:a:b"]}`,
			grants:  []capability.Grant{{Group: capability.TextGroup("a:b"), Role: "member"}},
		},
		{
			name: "object entries with integer or string ids", kind: capability.KindInt64, m: strictRoles,
			payload: `{"exp":1795000900,"roles":[{"group":1,"role":"member"},{"role":"admin","group":"2"}]}`,
			grants:  []capability.Grant{{Group: capability.Int64Group(1), Role: "member"}, {Group: capability.Int64Group(2), Role: "admin"}},
		},
		{
			name: "absent path grants nothing", kind: capability.KindInt64, m: keycloak,
			payload: `{"exp":1795000900,"resource_access":{"account":{"roles":["x"]}}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeClaims([]byte(tt.payload), mappingOpts(t, tt.kind, tt.m))
			if err != nil {
				t.Fatalf("decodeClaims: %v", err)
			}
			if !reflect.DeepEqual(got.params.Grants, tt.grants) || got.params.Admin != tt.admin {
				t.Errorf("got %v admin=%v, want %v admin=%v", got.params.Grants, got.params.Admin, tt.grants, tt.admin)
			}
		})
	}
}

func TestMappingRejects(t *testing.T) {
	tests := []struct {
		name    string
		kind    capability.GroupKind
		m       *ClaimMapping
		payload string
		want    error // ErrClaims unless set
	}{
		{name: "groups claim not an array", m: okta, payload: `{"exp":1795000900,"groups":"7"}`},
		{name: "groups claim null", m: okta, payload: `{"exp":1795000900,"groups":null}`},
		{name: "float group", m: okta, payload: `{"exp":1795000900,"groups":[7.0]}`},
		{name: "exponent group", m: okta, payload: `{"exp":1795000900,"groups":[7e0]}`},
		{name: "group beyond int64", m: okta, payload: `{"exp":1795000900,"groups":[9223372036854775808]}`},
		{name: "string group beyond int64", m: okta, payload: `{"exp":1795000900,"groups":["9223372036854775808"]}`},
		{name: "string group with plus", m: okta, payload: `{"exp":1795000900,"groups":["+7"]}`},
		{name: "string group with leading zero", m: okta, payload: `{"exp":1795000900,"groups":["07"]}`},
		{name: "string group negative zero", m: okta, payload: `{"exp":1795000900,"groups":["-0"]}`},
		{name: "string group with space", m: okta, payload: `{"exp":1795000900,"groups":[" 7"]}`},
		{name: "string group decimal", m: okta, payload: `{"exp":1795000900,"groups":["7.0"]}`},
		{name: "bool group", m: okta, payload: `{"exp":1795000900,"groups":[true]}`},
		{name: "nested array group", m: okta, payload: `{"exp":1795000900,"groups":[[7]]}`},
		{name: "uuid group not canonical", kind: capability.KindUUID, m: okta, payload: `{"exp":1795000900,"groups":["0b8e6a6c3f1c4d8e9a512f1f0c3f8a10"]}`},
		{name: "duplicate groups claim", m: okta, payload: `{"exp":1795000900,"groups":[],"groups":[]}`},
		{name: "too many groups", m: okta, payload: `{"exp":1795000900,"groups":[1,2,3,4,5,6]}`, want: ErrTooManyGrants},
		{name: "path element not an object", m: keycloak, payload: `{"exp":1795000900,"resource_access":"forum"}`},
		{name: "path element null", m: keycloak, payload: `{"exp":1795000900,"resource_access":{"forum":null}}`},
		{name: "roles not an array", m: keycloak, payload: `{"exp":1795000900,"resource_access":{"forum":{"roles":"moderator:1"}}}`},
		{name: "duplicate key on the path", m: keycloak, payload: `{"exp":1795000900,"resource_access":{"forum":{"roles":[]},"forum":{"roles":["admin:1"]}}}`},
		{name: "duplicate key beside the path", m: keycloak, payload: `{"exp":1795000900,"resource_access":{"forum":{"roles":[]},"x":{"a":1,"a":2}}}`},
		{name: "unknown role with group", m: keycloak, payload: `{"exp":1795000900,"resource_access":{"forum":{"roles":["owner:1"]}}}`},
		{name: "plain role without IgnoreOtherRoles", m: strictRoles, payload: `{"exp":1795000900,"roles":["offline_access"]}`},
		{name: "admin role string not configured", m: strictRoles, payload: `{"exp":1795000900,"roles":["admin"]}`},
		{name: "role:group with bad group", m: strictRoles, payload: `{"exp":1795000900,"roles":["member:x"]}`},
		{name: "role:group with empty group", m: strictRoles, payload: `{"exp":1795000900,"roles":["member:"]}`},
		{name: "role:group with float group", m: strictRoles, payload: `{"exp":1795000900,"roles":["member:1.0"]}`},
		{name: "entry number", m: strictRoles, payload: `{"exp":1795000900,"roles":[1]}`},
		{name: "entry null", m: strictRoles, payload: `{"exp":1795000900,"roles":[null]}`},
		{name: "object entry with extra member", m: strictRoles, payload: `{"exp":1795000900,"roles":[{"group":1,"role":"member","x":1}]}`},
		{name: "object entry with float group", m: strictRoles, payload: `{"exp":1795000900,"roles":[{"group":1.0,"role":"member"}]}`},
		{name: "too many over both sources", m: keycloak, payload: `{"exp":1795000900,"groups":["1","2","3"],"resource_access":{"forum":{"roles":["admin:1","admin:2","admin:3"]}}}`, want: ErrTooManyGrants},
		{name: "invalid UTF-8 in an ignored role", m: keycloak, payload: `{"exp":1795000900,"resource_access":{"forum":{"roles":["` + "\xff" + `"]}}}`},
		{name: "exp still required", m: okta, payload: `{"groups":["1"]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind := tt.kind
			if kind == 0 {
				kind = capability.KindInt64
			}
			want := tt.want
			if want == nil {
				want = ErrClaims
			}
			got, err := decodeClaims([]byte(tt.payload), mappingOpts(t, kind, tt.m))
			if !errors.Is(err, want) {
				t.Errorf("got %v admin=%v, %v; want %v", got.params.Grants, got.params.Admin, err, want)
			}
		})
	}
}

func TestClaimMappingClone(t *testing.T) {
	m := &ClaimMapping{RolesPath: []string{"realm_access", "roles"}, AdminRole: "a"}
	c := m.clone()
	m.RolesPath[1] = "other"
	m.AdminRole = "b"
	if c.RolesPath[1] != "roles" || c.AdminRole != "a" {
		t.Errorf("got %+v after changing the original, want the original values", c)
	}
	if (*ClaimMapping)(nil).clone() != nil {
		t.Error("got a non-nil clone of nil")
	}
}
