package token

import (
	"errors"
	"fmt"
	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/internal/rice"
	"github.com/keyhole-go/keyhole/internal/strictjson"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// claimsOpts returns decode options for the forum roles.
func claimsOpts(t testing.TB, kind capability.GroupKind, maxGrants int) decodeOptions {
	t.Helper()
	return decodeOptions{roles: forumRoles(t), kind: kind, maxGrants: maxGrants}
}

var (
	claimsExp = time.Unix(1795000900, 0).UTC()
	claimsIat = time.Unix(1795000000, 0).UTC()
)

func TestEncodeClaimsDefault(t *testing.T) {
	u := [16]byte{0x0b, 0x8e, 0x6a, 0x6c, 0x3f, 0x1c, 0x4d, 0x8e, 0x9a, 0x51, 0x2f, 0x1f, 0x0c, 0x3f, 0x8a, 0x10}
	tests := []struct {
		name string
		kind capability.GroupKind
		p    capability.Params
		want string
	}{
		{
			name: "int64, one audience, unsorted grants",
			kind: capability.KindInt64,
			p: capability.Params{
				Subject: "alice", Issuer: "https://auth.example.com", Audience: []string{"forum"}, ID: "j1",
				IssuedAt: claimsIat, Expiry: claimsExp,
				Grants: []capability.Grant{
					{Group: capability.Int64Group(math.MaxInt64), Role: "member"}, {Group: capability.Int64Group(7), Role: "moderator"}, {Group: capability.Int64Group(7), Role: "member"},
					{Group: capability.Int64Group(math.MinInt64), Role: "member"}, {Group: capability.Int64Group(7), Role: "member"}, {Group: capability.Int64Group(3), Role: capability.RoleNone},
				},
			},
			want: `{"sub":"alice","iss":"https://auth.example.com","aud":"forum","jti":"j1","iat":1795000000,"exp":1795000900,` +
				`"permissions":[{"group":-9223372036854775808,"role":"member"},{"group":7,"role":"member"},` +
				`{"group":7,"role":"moderator"},{"group":9223372036854775807,"role":"member"}]}`,
		},
		{
			name: "uuid, two audiences, admin, no iat",
			kind: capability.KindUUID,
			p: capability.Params{
				Subject: "bob", Audience: []string{"forum", "wiki"}, Expiry: claimsExp, Admin: true,
				Grants: []capability.Grant{{Group: capability.UUIDGroup(u), Role: "admin"}},
			},
			want: `{"sub":"bob","aud":["forum","wiki"],"exp":1795000900,"admin":true,` +
				`"permissions":[{"group":"0b8e6a6c-3f1c-4d8e-9a51-2f1f0c3f8a10","role":"admin"}]}`,
		},
		{
			name: "text, escaped strings, no grants",
			kind: capability.KindText,
			p: capability.Params{
				Subject: "quote\" backslash\\ tab\t ctl\x01 é", Expiry: claimsExp,
			},
			want: `{"sub":"quote\" backslash\\ tab\t ctl\u0001 é","exp":1795000900,"permissions":[]}`,
		},
		{
			name: "text group ids are JSON strings",
			kind: capability.KindText,
			p:    capability.Params{Expiry: claimsExp, Grants: []capability.Grant{{Group: capability.TextGroup(`a"b`), Role: "member"}}},
			want: `{"exp":1795000900,"permissions":[{"group":"a\"b","role":"member"}]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := encodeClaims(tt.p, tt.kind, ProfileDefault)
			if err != nil {
				t.Fatalf("encodeClaims: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestEncodeClaimsRejects(t *testing.T) {
	ok := capability.Params{Expiry: claimsExp}
	tests := []struct {
		name    string
		kind    capability.GroupKind
		profile Profile
		edit    func(p *capability.Params)
	}{
		{"zero expiry", capability.KindInt64, ProfileDefault, func(p *capability.Params) { p.Expiry = time.Time{} }},
		{"expiry before 1970", capability.KindInt64, ProfileDefault, func(p *capability.Params) { p.Expiry = time.Unix(-5, 0) }},
		{"expiry at the epoch", capability.KindInt64, ProfileDefault, func(p *capability.Params) { p.Expiry = time.Unix(0, 0) }},
		{"expiry after 9999", capability.KindInt64, ProfileDefault, func(p *capability.Params) { p.Expiry = time.Unix(maxNumericDate+1, 0) }},
		{"iat before 1970", capability.KindInt64, ProfileDefault, func(p *capability.Params) { p.IssuedAt = time.Unix(-1, 0) }},
		{"subject with invalid UTF-8", capability.KindInt64, ProfileDefault, func(p *capability.Params) { p.Subject = "a\xffb" }},
		{"subject with NUL", capability.KindInt64, ProfileDefault, func(p *capability.Params) { p.Subject = "a\x00b" }},
		{"audience with NUL", capability.KindInt64, ProfileDefault, func(p *capability.Params) { p.Audience = []string{"a\x00"} }},
		{"group of another kind", capability.KindInt64, ProfileDefault, func(p *capability.Params) {
			p.Grants = []capability.Grant{{Group: capability.TextGroup("x"), Role: "member"}}
		}},
		{"zero group", capability.KindInt64, ProfileCompact, func(p *capability.Params) { p.Grants = []capability.Grant{{Group: capability.Group{}, Role: "member"}} }},
		{"invalid role name", capability.KindInt64, ProfileCompact, func(p *capability.Params) {
			p.Grants = []capability.Grant{{Group: capability.Int64Group(1), Role: `me"mber`}}
		}},
		{"invalid text id", capability.KindText, ProfileDefault, func(p *capability.Params) {
			p.Grants = []capability.Grant{{Group: capability.TextGroup(""), Role: "member"}}
		}},
		{"unknown kind", capability.GroupKind(9), ProfileDefault, func(p *capability.Params) {}},
		{"unknown profile", capability.KindInt64, Profile(7), func(p *capability.Params) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := ok
			tt.edit(&p)
			got, err := encodeClaims(p, tt.kind, tt.profile)
			if !errors.Is(err, capability.ErrBadCapability) {
				t.Errorf("got %s, %v; want ErrBadCapability", got, err)
			}
		})
	}
}

// claimsBase is a valid payload body; tests add members after it.
const claimsBase = `{"sub":"u","exp":1795000900`

func TestDecodeClaimsRejects(t *testing.T) {
	tests := []struct {
		name    string
		kind    capability.GroupKind // 0: KindInt64
		payload string
		want    error // ErrClaims unless set
	}{
		// Not exactly one JSON object.
		{name: "empty", payload: ``},
		{name: "array", payload: `[]`},
		{name: "null", payload: `null`},
		{name: "string", payload: `"x"`},
		{name: "unterminated", payload: claimsBase},
		{name: "trailing bytes", payload: claimsBase + `} x`},
		{name: "second object", payload: claimsBase + `}{}`},
		{name: "trailing comma", payload: claimsBase + `,}`},
		{name: "trailing NUL", payload: claimsBase + "}\x00"},
		{name: "BOM", payload: "\xef\xbb\xbf" + claimsBase + `}`},
		{name: "single quotes", payload: `{'sub':'u','exp':1795000900}`},
		{name: "comment", payload: claimsBase + `/* */}`},

		// Duplicate keys, anywhere.
		{name: "duplicate sub", payload: claimsBase + `,"sub":"u"}`},
		{name: "duplicate exp", payload: claimsBase + `,"exp":1795000900}`},
		{name: "duplicate through an escape", payload: claimsBase + `,"s\u0075b":"v"}`},
		{name: "duplicate unknown claim", payload: claimsBase + `,"x":1,"x":2}`},
		{name: "duplicate in unknown object", payload: claimsBase + `,"x":{"a":1,"a":2}}`},
		{name: "duplicate deep in unknown", payload: claimsBase + `,"x":[{"a":{"b":1,"c":[],"b":1}}]}`},
		{name: "duplicate after many keys", payload: claimsBase + `,"x":{"a":1,"b":1,"c":1,"d":1,"e":1,"f":1,"g":1,"h":1,"i":1,"j":1,"a":1}}`},
		{name: "duplicate permissions", payload: claimsBase + `,"permissions":[],"permissions":[]}`},
		{name: "duplicate admin", payload: claimsBase + `,"admin":true,"admin":true}`},
		{name: "duplicate group in permission", payload: claimsBase + `,"permissions":[{"group":1,"group":2,"role":"member"}]}`},
		{name: "duplicate role in permission", payload: claimsBase + `,"permissions":[{"group":1,"role":"member","role":"admin"}]}`},

		// Invalid UTF-8 and escapes.
		{name: "invalid UTF-8 in sub", payload: `{"sub":"a` + "\xff" + `","exp":1795000900}`},
		{name: "invalid UTF-8 in unknown claim", payload: claimsBase + `,"x":"` + "\xc3" + `"}`},
		{name: "invalid UTF-8 in key", payload: claimsBase + `,"` + "\xff" + `":1}`},
		{name: "overlong UTF-8", payload: claimsBase + `,"x":"` + "\xc0\xaf" + `"}`},
		{name: "UTF-8 encoded surrogate", payload: claimsBase + `,"x":"` + "\xed\xa0\x80" + `"}`},
		{name: "lone high surrogate escape", payload: claimsBase + `,"x":"\ud800"}`},
		{name: "lone low surrogate escape", payload: claimsBase + `,"x":"\udc00"}`},
		{name: "high surrogate then non-surrogate", payload: claimsBase + `,"x":"\ud800\u0041"}`},
		{name: "surrogate in sub", payload: `{"sub":"\udfff","exp":1795000900}`},
		{name: "bad escape", payload: claimsBase + `,"x":"\x41"}`},
		{name: "short unicode escape", payload: claimsBase + `,"x":"\u12"}`},
		{name: "raw control character", payload: claimsBase + ",\"x\":\"a\x01\"}"},
		{name: "raw newline", payload: claimsBase + ",\"x\":\"a\nb\"}"},
		{name: "NUL escape in sub", payload: `{"sub":"a\u0000","exp":1795000900}`},

		// Registered claims of the wrong type or range.
		{name: "sub null", payload: `{"sub":null,"exp":1795000900}`},
		{name: "sub number", payload: `{"sub":1,"exp":1795000900}`},
		{name: "iss array", payload: claimsBase + `,"iss":["a"]}`},
		{name: "jti bool", payload: claimsBase + `,"jti":true}`},
		{name: "aud number", payload: claimsBase + `,"aud":1}`},
		{name: "aud null", payload: claimsBase + `,"aud":null}`},
		{name: "aud object", payload: claimsBase + `,"aud":{"a":1}}`},
		{name: "aud array of numbers", payload: claimsBase + `,"aud":[1]}`},
		{name: "aud array with null", payload: claimsBase + `,"aud":["a",null]}`},
		{name: "exp missing", payload: `{"sub":"u"}`},
		{name: "exp zero", payload: `{"exp":0}`},
		{name: "exp negative", payload: `{"exp":-1}`},
		{name: "exp negative zero", payload: `{"exp":-0}`},
		{name: "exp fraction", payload: `{"exp":1795000900.5}`},
		{name: "exp integral fraction", payload: `{"exp":1795000900.0}`},
		{name: "exp exponent", payload: `{"exp":1.7950009e9}`},
		{name: "exp string", payload: `{"exp":"1795000900"}`},
		{name: "exp null", payload: `{"exp":null}`},
		{name: "exp beyond year 9999", payload: `{"exp":253402300800}`},
		{name: "exp beyond int64", payload: `{"exp":99999999999999999999}`},
		{name: "exp leading zero", payload: `{"exp":01795000900}`},
		{name: "exp plus sign", payload: `{"exp":+1795000900}`},
		{name: "iat fraction", payload: claimsBase + `,"iat":1.5}`},
		{name: "iat string", payload: claimsBase + `,"iat":"1"}`},
		{name: "iat negative", payload: claimsBase + `,"iat":-1}`},
		{name: "nbf exponent", payload: claimsBase + `,"nbf":1e3}`},
		{name: "nbf null", payload: claimsBase + `,"nbf":null}`},
		{name: "admin string", payload: claimsBase + `,"admin":"true"}`},
		{name: "admin string false", payload: claimsBase + `,"admin":"false"}`},
		{name: "admin number", payload: claimsBase + `,"admin":1}`},
		{name: "admin null", payload: claimsBase + `,"admin":null}`},
		{name: "admin truthy prefix", payload: claimsBase + `,"admin":truex}`},

		// Permissions.
		{name: "permissions object", payload: claimsBase + `,"permissions":{}}`},
		{name: "permissions null", payload: claimsBase + `,"permissions":null}`},
		{name: "permission not an object", payload: claimsBase + `,"permissions":[1]}`},
		{name: "permission without role", payload: claimsBase + `,"permissions":[{"group":1}]}`},
		{name: "permission without group", payload: claimsBase + `,"permissions":[{"role":"member"}]}`},
		{name: "permission empty", payload: claimsBase + `,"permissions":[{}]}`},
		{name: "permission unknown member", payload: claimsBase + `,"permissions":[{"group":1,"role":"member","scope":"x"}]}`},
		{name: "unknown role", payload: claimsBase + `,"permissions":[{"group":1,"role":"owner"}]}`},
		{name: "reserved role none", payload: claimsBase + `,"permissions":[{"group":1,"role":"none"}]}`},
		{name: "role in another case", payload: claimsBase + `,"permissions":[{"group":1,"role":"Member"}]}`},
		{name: "role null", payload: claimsBase + `,"permissions":[{"group":1,"role":null}]}`},
		{name: "role number", payload: claimsBase + `,"permissions":[{"group":1,"role":1}]}`},
		{name: "float group 1.0", payload: claimsBase + `,"permissions":[{"group":1.0,"role":"member"}]}`},
		{name: "float group 1e3", payload: claimsBase + `,"permissions":[{"group":1e3,"role":"member"}]}`},
		{name: "float group 1E3", payload: claimsBase + `,"permissions":[{"group":1E3,"role":"member"}]}`},
		{name: "group beyond int64", payload: claimsBase + `,"permissions":[{"group":9223372036854775808,"role":"member"}]}`},
		{name: "group below int64", payload: claimsBase + `,"permissions":[{"group":-9223372036854775809,"role":"member"}]}`},
		{name: "group far beyond int64", payload: claimsBase + `,"permissions":[{"group":184467440737095516150,"role":"member"}]}`},
		{name: "group as string for int64", payload: claimsBase + `,"permissions":[{"group":"1","role":"member"}]}`},
		{name: "group negative zero", payload: claimsBase + `,"permissions":[{"group":-0,"role":"member"}]}`},
		{name: "group leading zero", payload: claimsBase + `,"permissions":[{"group":01,"role":"member"}]}`},
		{name: "group null", payload: claimsBase + `,"permissions":[{"group":null,"role":"member"}]}`},
		{name: "group bool", payload: claimsBase + `,"permissions":[{"group":true,"role":"member"}]}`},
		{name: "group object", payload: claimsBase + `,"permissions":[{"group":{},"role":"member"}]}`},
		{name: "uuid group as number", kind: capability.KindUUID, payload: claimsBase + `,"permissions":[{"group":1,"role":"member"}]}`},
		{name: "uuid group not a uuid", kind: capability.KindUUID, payload: claimsBase + `,"permissions":[{"group":"0b8e6a6c3f1c4d8e9a512f1f0c3f8a10","role":"member"}]}`},
		{name: "uuid group with braces", kind: capability.KindUUID, payload: claimsBase + `,"permissions":[{"group":"{0b8e6a6c-3f1c-4d8e-9a51-2f1f0c3f8a10}","role":"member"}]}`},
		{name: "text group empty", kind: capability.KindText, payload: claimsBase + `,"permissions":[{"group":"","role":"member"}]}`},
		{name: "text group NUL", kind: capability.KindText, payload: claimsBase + `,"permissions":[{"group":"a\u0000","role":"member"}]}`},
		{name: "text group number", kind: capability.KindText, payload: claimsBase + `,"permissions":[{"group":1,"role":"member"}]}`},
		{name: "text group too long", kind: capability.KindText, payload: claimsBase + `,"permissions":[{"group":"` + strings.Repeat("x", capability.MaxTextGroupLen+1) + `","role":"member"}]}`},
		{name: "both profiles", payload: claimsBase + `,"permissions":[],"grants":{}}`},
		{name: "too many grants", payload: claimsBase + `,"permissions":[{"group":1,"role":"member"},{"group":2,"role":"member"},{"group":3,"role":"member"},{"group":4,"role":"member"}]}`, want: ErrTooManyGrants},
		{name: "too many grants, third malformed", payload: claimsBase + `,"permissions":[{"group":1,"role":"member"},{"group":2,"role":"member"},{"group":3,"role":"member"},` + "\xff", want: ErrTooManyGrants}, // the count comes first
		{name: "too many compact grants", payload: claimsBase + `,"grants":{"member":"BAI"}}`, want: ErrTooManyGrants},

		// Unknown claims must still be strict JSON.
		{name: "unknown claim too deep", payload: claimsBase + `,"x":` + strings.Repeat("[", maxClaimsDepth) + strings.Repeat("]", maxClaimsDepth) + `}`},
		{name: "unknown object too deep", payload: claimsBase + `,"x":` + strings.Repeat(`{"a":`, maxClaimsDepth) + `1` + strings.Repeat("}", maxClaimsDepth) + `}`},
		{name: "unknown claim leading zero", payload: claimsBase + `,"x":01}`},
		{name: "unknown claim bare dot", payload: claimsBase + `,"x":1.}`},
		{name: "unknown claim minus", payload: claimsBase + `,"x":-}`},
		{name: "unknown claim plus", payload: claimsBase + `,"x":+1}`},
		{name: "unknown claim empty exponent", payload: claimsBase + `,"x":1e}`},
		{name: "unknown claim NaN", payload: claimsBase + `,"x":NaN}`},
		{name: "unknown claim truncated literal", payload: claimsBase + `,"x":tru}`},
		{name: "unknown claim missing value", payload: claimsBase + `,"x":}`},
		{name: "unknown claim missing colon", payload: claimsBase + `,"x" 1}`},
		{name: "unknown claim non-string key", payload: claimsBase + `,1:1}`},
		{name: "unknown claim trailing comma in array", payload: claimsBase + `,"x":[1,]}`},
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
			o := claimsOpts(t, kind, 3)
			got, err := decodeClaims([]byte(tt.payload), o)
			if !errors.Is(err, want) || !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("got %+v, %v; want %v", got.params, err, want)
			}
			var te *TokenError
			if !errors.As(err, &te) {
				t.Fatalf("got %T, want *TokenError", err)
			}
			if !utf8.ValidString(err.Error()) {
				t.Errorf("error message is not valid UTF-8: %q", err.Error())
			}
			if !reflect.DeepEqual(got, decodedClaims{}) {
				t.Errorf("got %+v with the error, want the zero value", got)
			}
		})
	}
}

func TestDecodeClaimsErrorHidesValues(t *testing.T) {
	payload := `{"sub":"SECRET-SUB","exp":1795000900,"permissions":[{"group":1,"role":"SECRET-ROLE"}],"SECRET-CLAIM":[1,}`
	for _, p := range []string{payload, `{"sub":"SECRET-SUB","exp":1795000900,"permissions":[{"group":1,"role":"SECRET-ROLE"}]}`} {
		_, err := decodeClaims([]byte(p), claimsOpts(t, capability.KindInt64, 10))
		if err == nil {
			t.Fatalf("decodeClaims(%s) = nil error, want one", p)
		}
		if strings.Contains(err.Error(), "SECRET") {
			t.Errorf("got error %q, want no claim values in it", err)
		}
	}
}

func TestDecodeClaimsAccepts(t *testing.T) {
	u := [16]byte{0x0b, 0x8e, 0x6a, 0x6c, 0x3f, 0x1c, 0x4d, 0x8e, 0x9a, 0x51, 0x2f, 0x1f, 0x0c, 0x3f, 0x8a, 0x10}
	tests := []struct {
		name    string
		kind    capability.GroupKind
		payload string
		want    decodedClaims
	}{
		{
			name:    "minimal",
			payload: `{"exp":1795000900}`,
			want:    decodedClaims{params: capability.Params{Expiry: claimsExp}},
		},
		{
			name:    "admin false is accepted and means no admin",
			payload: `{"exp":1795000900,"admin":false}`,
			want:    decodedClaims{params: capability.Params{Expiry: claimsExp}},
		},
		{
			name:    "admin true",
			payload: `{"exp":1795000900,"admin":true}`,
			want:    decodedClaims{params: capability.Params{Expiry: claimsExp, Admin: true}},
		},
		{
			name: "all registered claims, whitespace, escaped key, unknown claims ignored",
			payload: " \t\r\n{ \"s\\u0075b\" : \"al\\\"ice\\u00e9\\ud83d\\ude00\" , \"iss\":\"i\",\"aud\":[\"a\",\"b\"],\"jti\":\"j\",\"iat\":1795000000,\"nbf\":1795000001,\"exp\":1795000900," +
				`"x":{"deep":[1,-0.5e-3,2E+10,true,false,null,"s",{"a":{}}]},"y":null,"permissions" : [ { "role" : "member" , "group" : 5 } ] } ` + "\n",
			want: decodedClaims{
				params: capability.Params{
					Subject: "al\"iceé😀", Issuer: "i", Audience: []string{"a", "b"}, ID: "j",
					IssuedAt: claimsIat, Expiry: claimsExp, Grants: []capability.Grant{{Group: capability.Int64Group(5), Role: "member"}},
				},
				notBefore: time.Unix(1795000001, 0).UTC(),
				hasIAT:    true,
			},
		},
		{
			name:    "empty audience array",
			payload: `{"exp":1795000900,"aud":[]}`,
			want:    decodedClaims{params: capability.Params{Expiry: claimsExp}},
		},
		{
			name:    "int64 bounds are exact",
			payload: `{"exp":1795000900,"permissions":[{"group":9223372036854775807,"role":"member"},{"group":-9223372036854775808,"role":"admin"},{"group":9007199254740993,"role":"member"}]}`,
			want: decodedClaims{params: capability.Params{Expiry: claimsExp, Grants: []capability.Grant{
				{Group: capability.Int64Group(math.MaxInt64), Role: "member"}, {Group: capability.Int64Group(math.MinInt64), Role: "admin"}, {Group: capability.Int64Group(1<<53 + 1), Role: "member"},
			}}},
		},
		{
			name:    "uppercase uuid in the default profile",
			kind:    capability.KindUUID,
			payload: `{"exp":1795000900,"permissions":[{"group":"0B8E6A6C-3F1C-4D8E-9A51-2F1F0C3F8A10","role":"member"}]}`,
			want:    decodedClaims{params: capability.Params{Expiry: claimsExp, Grants: []capability.Grant{{Group: capability.UUIDGroup(u), Role: "member"}}}},
		},
		{
			name:    "text group with escapes",
			kind:    capability.KindText,
			payload: `{"exp":1795000900,"permissions":[{"group":"a\"b\u00e9","role":"member"}]}`,
			want:    decodedClaims{params: capability.Params{Expiry: claimsExp, Grants: []capability.Grant{{Group: capability.TextGroup("a\"bé"), Role: "member"}}}},
		},
		{
			name:    "exp at the upper bound",
			payload: `{"exp":253402300799}`,
			want:    decodedClaims{params: capability.Params{Expiry: time.Unix(maxNumericDate, 0).UTC()}},
		},
		{
			name:    "iat zero is a time",
			payload: `{"exp":1795000900,"iat":0}`,
			want:    decodedClaims{params: capability.Params{Expiry: claimsExp, IssuedAt: time.Unix(0, 0).UTC()}, hasIAT: true},
		},
		{
			name:    "unknown claim nested just within the depth limit",
			payload: `{"exp":1795000900,"x":` + strings.Repeat("[", maxClaimsDepth-1) + strings.Repeat("]", maxClaimsDepth-1) + `}`,
			want:    decodedClaims{params: capability.Params{Expiry: claimsExp}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind := tt.kind
			if kind == 0 {
				kind = capability.KindInt64
			}
			got, err := decodeClaims([]byte(tt.payload), claimsOpts(t, kind, 10))
			if err != nil {
				t.Fatalf("decodeClaims: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeClaimsMisconfigured(t *testing.T) {
	r := forumRoles(t)
	for _, o := range []decodeOptions{
		{kind: capability.KindInt64, maxGrants: 1},
		{roles: r, maxGrants: 1},
		{roles: r, kind: capability.KindInt64},
	} {
		if _, err := decodeClaims([]byte(`{"exp":1795000900}`), o); !errors.Is(err, ErrClaims) {
			t.Errorf("decodeClaims with %+v: got %v, want ErrClaims", o, err)
		}
	}
}

// TestInt64Bounds encodes and decodes the extreme int64 ids, next to
// neighbours whose gaps are extreme too, in both profiles.
func TestInt64Bounds(t *testing.T) {
	o := claimsOpts(t, capability.KindInt64, 1000)
	sets := [][]int64{
		{math.MaxInt64},
		{math.MinInt64},
		{math.MinInt64, math.MaxInt64},
		{math.MinInt64, -1, 0, 1, math.MaxInt64},
		{math.MaxInt64 - 1, math.MaxInt64},
		{math.MinInt64, math.MinInt64 + 1},
		{1<<53 + 1, 1<<53 + 3},
		{0},
	}
	for _, ids := range sets {
		for _, prof := range []Profile{ProfileDefault, ProfileCompact} {
			p := capability.Params{Expiry: claimsExp}
			for _, id := range ids {
				p.Grants = append(p.Grants, capability.Grant{Group: capability.Int64Group(id), Role: "member"}, capability.Grant{Group: capability.Int64Group(id), Role: "admin"})
			}
			b, err := encodeClaims(p, capability.KindInt64, prof)
			if err != nil {
				t.Fatalf("encodeClaims(%v, %d): %v", ids, prof, err)
			}
			got, err := decodeClaims(b, o)
			if err != nil {
				t.Fatalf("decodeClaims(%s): %v", b, err)
			}
			if want := canonicalGrants(p.Grants); !slices.Equal(got.params.Grants, want) {
				t.Errorf("profile %d: got %v, want %v (payload %s)", prof, got.params.Grants, want, b)
			}
		}
	}
}

// randomClaimsParams returns random params of the given kind, with grants of
// the forum roles (and some of RoleNone), duplicates, extreme ids and
// strings that need escaping.
func randomClaimsParams(rng *rand.Rand, kind capability.GroupKind) capability.Params {
	strs := []string{"", "alice", "a\"b\\c", "tab\tnl\nctl\x01\x1f", "é😀\u2028", "x/y<z>&", strings.Repeat("long", 40)}
	p := capability.Params{
		Subject: strs[rng.IntN(len(strs))],
		Issuer:  strs[rng.IntN(len(strs))],
		ID:      strs[rng.IntN(len(strs))],
		Expiry:  time.Unix(1+rng.Int64N(maxNumericDate), rng.Int64N(1e9)),
		Admin:   rng.IntN(4) == 0,
	}
	if rng.IntN(3) > 0 {
		p.IssuedAt = time.Unix(rng.Int64N(maxNumericDate+1), rng.Int64N(1e9))
	}
	for range rng.IntN(4) {
		p.Audience = append(p.Audience, strs[rng.IntN(len(strs))])
	}
	roles := []string{"member", "moderator", "admin", capability.RoleNone}
	n := rng.IntN(60)
	if rng.IntN(10) == 0 {
		n = 1000
	}
	base := rng.Int64()
	for range n {
		var g capability.Group
		switch kind {
		case capability.KindInt64:
			switch rng.IntN(6) {
			case 0:
				g = capability.Int64Group([]int64{math.MinInt64, math.MinInt64 + 1, -1, 0, 1, math.MaxInt64 - 1, math.MaxInt64}[rng.IntN(7)])
			case 1:
				g = capability.Int64Group(rng.Int64() - rng.Int64())
			case 2:
				g = capability.Int64Group(rng.Int64N(1e6))
			default:
				g = capability.Int64Group(base + rng.Int64N(5000))
			}
		case capability.KindUUID:
			var u [16]byte
			for i := range u {
				u[i] = byte(rng.IntN(4)) // few distinct values: duplicates
			}
			g = capability.UUIDGroup(u)
		case capability.KindText:
			g = capability.TextGroup([]string{"a", "b", "é", "a\"b", "x\\y", "😀", "ctl\x01", strings.Repeat("z", capability.MaxTextGroupLen-2)}[rng.IntN(8)] + fmt.Sprint(rng.IntN(20)))
		}
		p.Grants = append(p.Grants, capability.Grant{Group: g, Role: roles[rng.IntN(len(roles))]})
	}
	return p
}

// wantDecoded is what decoding the encoding of p must give.
func wantDecoded(p capability.Params) decodedClaims {
	want := decodedClaims{params: capability.Params{
		Subject: p.Subject, Issuer: p.Issuer, ID: p.ID, Admin: p.Admin,
		Expiry: time.Unix(p.Expiry.Unix(), 0).UTC(),
		Grants: canonicalGrants(p.Grants),
	}}
	if len(p.Audience) > 0 {
		want.params.Audience = p.Audience
	}
	if len(want.params.Grants) == 0 {
		want.params.Grants = nil
	}
	if !p.IssuedAt.IsZero() {
		want.params.IssuedAt = time.Unix(p.IssuedAt.Unix(), 0).UTC()
		want.hasIAT = true
	}
	return want
}

func TestClaimsRoundTrip(t *testing.T) {
	seed := uint64(20261124)
	if s := os.Getenv("KEYHOLE_SEED"); s != "" { // to explore: KEYHOLE_SEED=$RANDOM
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("KEYHOLE_SEED: %v", err)
		}
		seed = n
	}
	t.Logf("seed %d (set KEYHOLE_SEED to change)", seed)
	rng := rand.New(rand.NewPCG(seed, 42))
	for _, kind := range []capability.GroupKind{capability.KindInt64, capability.KindUUID, capability.KindText} {
		for _, prof := range []Profile{ProfileDefault, ProfileCompact} {
			o := claimsOpts(t, kind, 1000)
			for i := range 100 {
				p := randomClaimsParams(rng, kind)
				b, err := encodeClaims(p, kind, prof)
				if err != nil {
					t.Fatalf("seed %d: %v/%d #%d: encodeClaims: %v", seed, kind, prof, i, err)
				}
				got, err := decodeClaims(b, o)
				if err != nil {
					t.Fatalf("seed %d: %v/%d #%d: decodeClaims(%s): %v", seed, kind, prof, i, b, err)
				}
				if want := wantDecoded(p); !reflect.DeepEqual(got, want) {
					t.Fatalf("seed %d: %v/%d #%d:\ngot  %+v\nwant %+v", seed, kind, prof, i, got, want)
				}
				// The encoding is canonical: encoding what was decoded gives
				// the same bytes.
				again, err := encodeClaims(got.params, kind, prof)
				if err != nil || string(again) != string(b) {
					t.Fatalf("seed %d: re-encoding: got %s, %v; want %s", seed, again, err, b)
				}
				// And New accepts it.
				if _, err := capability.New(o.roles, kind, got.params); err != nil {
					t.Fatalf("seed %d: New: %v", seed, err)
				}
			}
		}
	}
}

// TestParseHeaderStrict: a header that is not one strict JSON object is
// malformed (the scanner itself is tested in internal/strictjson).
func TestParseHeaderStrict(t *testing.T) {
	invalid := []string{
		``, ` `, `[]`, `"x"`, `1`, `null`,
		`{"alg":"EdDSA","alg":"none"}`,
		`{"alg":"EdDSA","\u0061lg":"none"}`,
		`{"alg":"EdDSA","x5c":{"b":1,"b":2}}`,
		`{"alg":"EdDSA"}x`,
		`{"alg":"EdDSA"}{}`,
		`{"alg":"EdDSA"`,
		"{\"alg\":\"Ed\xffDSA\"}",
		`{"alg":"\udc00"}`,
		`{"alg":"EdDSA","x5c":[[1]]}`,
		`{"alg":"EdDSA","jwk":{"d":{}}}`,
		`{"alg":"EdDSA",}`,
	}
	for _, s := range invalid {
		_, err := parseHeader([]byte(s))
		if err == nil {
			t.Errorf("parseHeader(%q): got nil, want ErrMalformed", s)
			continue
		}
		if !errors.Is(err, ErrMalformed) || !errors.Is(err, ErrInvalidToken) {
			t.Errorf("parseHeader(%q): got %v, want ErrMalformed", s, err)
		}
		if err.Error() != "token: invalid token: malformed token: header is not a strict JSON object" {
			t.Errorf("parseHeader(%q): got %v, want the strict JSON error first", s, err)
		}
	}
}

// TestFastGrantObject checks that the fast path for canonical permissions
// takes exactly the canonical ones and agrees with grantObject on them.
func TestFastGrantObject(t *testing.T) {
	tests := []struct {
		kind capability.GroupKind
		in   string
		fast bool
	}{
		{capability.KindInt64, `{"group":123,"role":"member"}`, true},
		{capability.KindInt64, `{"group":999999999999999999,"role":"admin"}`, true},
		{capability.KindInt64, `{"group":9223372036854775807,"role":"admin"}`, true},
		{capability.KindInt64, `{"group":-5,"role":"moderator"}`, true},
		{capability.KindInt64, `{"group":0,"role":"member"}`, true},
		{capability.KindUUID, `{"group":"0b8e6a6c-3f1c-4d8e-9a51-2f1f0c3f8a10","role":"member"}`, true},
		{capability.KindText, `{"group":"a\"b","role":"member"}`, true},
		{capability.KindInt64, `{"group": 123,"role":"member"}`, false},
		{capability.KindInt64, `{"group":123, "role":"member"}`, false},
		{capability.KindInt64, `{"role":"member","group":123}`, false},
		{capability.KindInt64, `{"group":123,"role":"member" }`, false},
		{capability.KindInt64, `{"group":123,"role":"mem\u0062er"}`, false},
		{capability.KindInt64, `{"group":1.5,"role":"member"}`, false},
		{capability.KindInt64, `{"group":12345678901234567890,"role":"member"}`, false},
		{capability.KindInt64, `{"group":"1","role":"member"}`, false},
		{capability.KindInt64, `{"group":1,"role":"member","x":1}`, false},
		{capability.KindInt64, `{"group":1,"role":"Member"}`, false},
		{capability.KindInt64, `{"group":1,"role":"member"`, false},
	}
	for _, tt := range tests {
		d := claimsDecoder{s: strictjson.Scanner{Data: []byte(tt.in + `]`), MaxDepth: maxClaimsDepth}, o: claimsOpts(t, tt.kind, 10)}
		g, ok, err := d.fastGrantObject()
		if ok != tt.fast || err != nil {
			t.Errorf("fastGrantObject(%s): got ok=%v err=%v, want ok=%v", tt.in, ok, err, tt.fast)
			continue
		}
		if !ok {
			if d.s.Pos != 0 {
				t.Errorf("fastGrantObject(%s) moved to %d without reading", tt.in, d.s.Pos)
			}
			continue
		}
		slow := claimsDecoder{s: strictjson.Scanner{Data: []byte(tt.in + `]`), MaxDepth: maxClaimsDepth}, o: d.o}
		want, err := slow.grantObject(false)
		if err != nil || g != want || d.s.Pos != slow.s.Pos {
			t.Errorf("fastGrantObject(%s) = %v at %d; grantObject = %v, %v at %d", tt.in, g, d.s.Pos, want, err, slow.s.Pos)
		}
	}
}

// TestDecodeClaimsDetail pins the reason and detail of some rejections, so
// that a rejection for the wrong reason does not pass unnoticed.
func TestDecodeClaimsDetail(t *testing.T) {
	tests := []struct {
		payload string
		want    string
	}{
		{`{"exp":1.5}`, "invalid claims: exp: not an integer"},
		{`{"exp":1e9}`, "invalid claims: exp: not an integer"},
		{`{"exp":0}`, "invalid claims: exp: out of range"},
		{`{"sub":"u"}`, "invalid claims: exp: missing"},
		{`{"sub":null,"exp":1}`, "invalid claims: sub: not a string"},
		{`{"exp":1,"admin":"true"}`, "invalid claims: admin: not a boolean"},
		{`{"exp":1,"aud":1}`, "invalid claims: aud: wrong type"},
		{`{"exp":1,"permissions":[{"group":1.0,"role":"member"}]}`, "invalid claims: permissions: not an integer"},
		{`{"exp":1,"permissions":[{"group":"1","role":"member"}]}`, "invalid claims: permissions: wrong type"},
		{`{"exp":1,"permissions":[{"group":9223372036854775808,"role":"member"}]}`, "invalid claims: permissions: integer out of range"},
		{`{"exp":1,"permissions":[{"group":1,"role":"owner"}]}`, "invalid claims: permissions: unknown role"},
		{`{"exp":1,"permissions":[{"group":1,"role":"member","x":1}]}`, "invalid claims: permissions: unknown member"},
		{`{"exp":1,"x":"\ud800"}`, "invalid claims: unknown claim: invalid surrogate escape"},
		{`{"exp":1,"x":1,"x":1}`, "invalid claims: unknown claim: duplicate key"},
		{`{"exp":1,"sub":"a","sub":"a"}`, "invalid claims: sub: duplicate key"},
		{`{"exp":1} x`, "invalid claims: trailing data after JSON"},
		{`{"exp":1,"permissions":[],"grants":{}}`, `invalid claims: both "permissions" and "grants" present`},
		{`{"exp":1,"grants":{"member":"AYIA"}}`, "invalid claims: grants: non-canonical compact encoding"},
		{`{"exp":1,"grants":{"moderator":"AQI","member":"AQI"}}`, "invalid claims: grants: not in strictly ascending order"},
		{`{"exp":1,"permissions":[{"group":1,"role":"member"},{"group":2,"role":"member"}]}`, "too many grants: permissions: more grants than allowed"},
	}
	for _, tt := range tests {
		_, err := decodeClaims([]byte(tt.payload), claimsOpts(t, capability.KindInt64, 1))
		if want := "token: invalid token: " + tt.want; err == nil || err.Error() != want {
			t.Errorf("decodeClaims(%s):\ngot  %v\nwant %s", tt.payload, err, want)
		}
	}
}

// TestTooManyGrantsAllocatesLittle: the grant count is checked before
// anything is allocated for the grants beyond the limit.
func TestTooManyGrantsAllocatesLittle(t *testing.T) {
	var many strings.Builder
	many.WriteString(`{"exp":1795000900,"permissions":[`)
	for i := range 5000 {
		if i > 0 {
			many.WriteByte(',')
		}
		fmt.Fprintf(&many, `{"group":%d,"role":"member"}`, i)
	}
	many.WriteString(`]}`)
	huge := riceString(func(w *rice.Writer) {
		w.Uvarint(1 << 40)
		w.Uvarint(0)
	})
	for _, payload := range []string{
		many.String(),
		`{"exp":1795000900,"grants":{"member":"` + huge + `"}}`,
	} {
		o := claimsOpts(t, capability.KindInt64, 10)
		b := []byte(payload)
		per := uint64(math.MaxUint64)
		for range 3 { // the least of three: other goroutines allocate too
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for range 10 {
				if _, err := decodeClaims(b, o); !errors.Is(err, ErrTooManyGrants) {
					t.Fatalf("got %v, want ErrTooManyGrants", err)
				}
			}
			runtime.ReadMemStats(&after)
			per = min(per, (after.TotalAlloc-before.TotalAlloc)/10)
		}
		if per > 4096 {
			t.Errorf("got %d bytes allocated per rejected decode of a %d-byte payload, want at most 4096", per, len(payload))
		}
	}
}
