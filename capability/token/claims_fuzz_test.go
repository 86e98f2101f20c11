package token

import (
	"encoding/json"
	"errors"
	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/internal/captest"
	"github.com/keyhole-go/keyhole/internal/strictjson"
	"math/rand/v2"
	"reflect"
	"testing"
)

var fuzzMapping = &ClaimMapping{
	GroupsClaim: "groups", DefaultRole: "member",
	RolesPath: []string{"realm_access", "roles"}, AdminRole: "forum-admin", IgnoreOtherRoles: true,
}

// FuzzDecodeClaims checks that decodeClaims never panics, that whatever it
// accepts is strict JSON, builds a capability, stays within maxGrants, and
// survives re-encoding in both profiles unchanged (up to the canonical
// order of grants).
//
//	go test -run XXX -fuzz FuzzDecodeClaims -fuzztime 60s ./capability/
func FuzzDecodeClaims(f *testing.F) {
	rng := rand.New(rand.NewPCG(5, 6))
	for kind := capability.KindInt64; kind <= capability.KindText; kind++ {
		for _, prof := range []Profile{ProfileDefault, ProfileCompact} {
			for range 3 {
				p := randomClaimsParams(rng, kind)
				if len(p.Grants) > 50 {
					p.Grants = p.Grants[:50]
				}
				b, err := encodeClaims(p, kind, prof)
				if err != nil {
					f.Fatal(err)
				}
				f.Add(b, uint8(kind-1)|2<<2)
			}
		}
	}
	for _, s := range []string{
		claimsBase + `}`,
		claimsBase + `,"admin":false,"aud":[],"iat":0,"nbf":1}`,
		claimsBase + `,"permissions":[{"group":9223372036854775807,"role":"member"},{"group":-9223372036854775808,"role":"admin"}]}`,
		claimsBase + `,"grants":{"admin":"AQU","member":"CAIHgICBgoSHAaQ","moderator":"AQ4"}}`,
		claimsBase + `,"grants":{"member":"AwIAwA"}}`,
		claimsBase + `,"permissions":[{"group":1.0,"role":"member"}]}`,
		claimsBase + `,"x":{"a":[1,-2.5e+3,true,null,"\ud83d\ude00"]},"s\u0075b":"v"}`,
		claimsBase + `,"x":"\ud800"}`,
		claimsBase + "," + `"x":"` + "\xff" + `"}`,
		claimsBase + `,"groups":["1",2],"realm_access":{"roles":["moderator:3","forum-admin","offline_access",{"group":"4","role":"admin"}]}}`,
		`{"exp":1795000900,"groups":["0b8e6a6c-3f1c-4d8e-9a51-2f1f0c3f8a10"]}`,
		`{"exp":1795000900,"grants":{"member":["0b8e6a6c-3f1c-4d8e-9a51-2f1f0c3f8a10"]}}`,
		`{"exp":1795000900,"grants":{"member":["a","b\u00e9"]}}`,
		`{"exp":1795000900} x`,
		`[`, `{`, `{"`, `{"exp":`, `{"exp":-`, `{"exp":1e`, ``,
	} {
		for sel := range uint8(3) {
			f.Add([]byte(s), sel|2<<2)
			f.Add([]byte(s), sel|2<<2|0x80)
		}
	}
	roles, err := capability.Chain("member", "moderator", "admin")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, payload []byte, sel uint8) {
		kind := capability.GroupKind(sel%3 + 1)
		maxGrants := []int{1, 3, 1000, 7}[(sel>>2)%4]
		o := decodeOptions{roles: roles, kind: kind, maxGrants: maxGrants}
		if sel&0x80 != 0 {
			o.mapping = fuzzMapping
		}
		got, err := decodeClaims(payload, o)
		// The verifier's per-role path accepts and rejects the same payloads
		// for the same reasons, and builds the same capability (below).
		ob := o
		ob.byRole = true
		byRole, errByRole := decodeClaims(payload, ob)
		if (err == nil) != (errByRole == nil) || err != nil && err.Error() != errByRole.Error() {
			t.Fatalf("decodeClaims: got %v, with byRole %v", err, errByRole)
		}
		if err != nil {
			var te *TokenError
			if !errors.As(err, &te) || !(errors.Is(err, ErrClaims) || errors.Is(err, ErrTooManyGrants)) {
				t.Fatalf("got error %v (%T), want a *TokenError with ErrClaims or ErrTooManyGrants", err, err)
			}
			return
		}
		if !json.Valid(payload) {
			t.Fatalf("accepted invalid JSON %q", payload)
		}
		if err := strictjson.CheckObject(payload, maxClaimsDepth); err != nil {
			t.Fatalf("accepted %q, which strictjson.CheckObject rejects: %v", payload, err)
		}
		if n := len(got.params.Grants); n > maxGrants {
			t.Fatalf("got %d grants, want at most %d", n, maxGrants)
		}
		p := got.params
		p.MaxGrants = maxGrants
		want, err := capability.New(roles, kind, p)
		if err != nil {
			t.Fatalf("New(decoded): %v", err)
		}
		bp := byRole.params
		bp.MaxGrants = maxGrants
		var fromHeld *capability.Capability
		if byRole.held != nil {
			if bp.Grants != nil {
				t.Fatalf("byRole: got both held %v and grants %v", byRole.held, bp.Grants)
			}
			fromHeld, err = newFromHeld(roles, kind, bp, byRole.held)
		} else {
			fromHeld, err = capability.New(roles, kind, bp)
		}
		if err != nil {
			t.Fatalf("byRole: building the capability: %v", err)
		}
		captest.CheckSameCapability(t, fromHeld, want, p.Grants)
		o.mapping = nil
		for _, prof := range []Profile{ProfileDefault, ProfileCompact} {
			b, err := encodeClaims(got.params, kind, prof)
			if err != nil {
				t.Fatalf("encodeClaims(decoded, %d): %v", prof, err)
			}
			again, err := decodeClaims(b, o)
			if err != nil {
				t.Fatalf("decodeClaims(encodeClaims(decoded, %d) = %s): %v", prof, b, err)
			}
			if want := wantDecoded(got.params); !reflect.DeepEqual(again, want) {
				t.Fatalf("profile %d round trip:\ngot  %+v\nwant %+v", prof, again, want)
			}
		}
	})
}
