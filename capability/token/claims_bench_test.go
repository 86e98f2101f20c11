package token

import (
	"fmt"
	"github.com/keyhole-go/keyhole/capability"
	"testing"
	"time"
)

// benchClaimsParams returns the params of a realistic token with n grants of
// serial ids below 10^6 spread over the forum's three roles.
func benchClaimsParams(n int) capability.Params {
	p := capability.Params{
		Subject:  "user-8f14e45f-ceea-467f-a9f5-7c1d8a1b2c3d",
		Issuer:   "https://auth.example.com",
		Audience: []string{"forum"},
		ID:       "Xy3vQ0m8R2WkT5nB7cD9eA",
		IssuedAt: time.Unix(1795000000, 0),
		Expiry:   time.Unix(1795000900, 0),
	}
	roles := []string{"member", "member", "member", "moderator", "admin"}
	for i := range n {
		p.Grants = append(p.Grants, capability.Grant{Group: capability.Int64Group(int64(1 + i*997%999983)), Role: roles[i%len(roles)]})
	}
	return p
}

func BenchmarkDecodeClaims(b *testing.B) {
	r, err := capability.Chain("member", "moderator", "admin")
	if err != nil {
		b.Fatal(err)
	}
	for _, prof := range []struct {
		name string
		p    Profile
	}{{"default", ProfileDefault}, {"compact", ProfileCompact}} {
		for _, n := range []int{3, 100, 1000} {
			payload, err := encodeClaims(benchClaimsParams(n), capability.KindInt64, prof.p)
			if err != nil {
				b.Fatal(err)
			}
			o := decodeOptions{roles: r, kind: capability.KindInt64, maxGrants: 1000}
			b.Run(fmt.Sprintf("%s/grants=%d", prof.name, n), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(payload)))
				for b.Loop() {
					if _, err := decodeClaims(payload, o); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(fmt.Sprintf("%s+New/grants=%d", prof.name, n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					dc, err := decodeClaims(payload, o)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := capability.New(r, capability.KindInt64, dc.params); err != nil {
						b.Fatal(err)
					}
				}
			})
			ob := o
			ob.byRole = true
			b.Run(fmt.Sprintf("%s+perRole/grants=%d", prof.name, n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					dc, err := decodeClaims(payload, ob)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := newFromHeld(r, capability.KindInt64, dc.params, dc.held); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkDecodeClaimsRatio alternates decodeClaims, decodeClaims followed
// by New, and the verifier's path (decodeClaims with byRole, then
// newFromHeld), and reports the two longer paths over decodeClaims alone:
// "x-decode" for decode+New, "perRole-x-decode" for the verifier's path (see
// verify_ratio_test.go for the method).
func BenchmarkDecodeClaimsRatio(b *testing.B) {
	r := forumRoles(b)
	for _, prof := range []struct {
		name string
		p    Profile
	}{{"default", ProfileDefault}, {"compact", ProfileCompact}} {
		for _, n := range []int{3, 100, 1000} {
			payload, err := encodeClaims(benchClaimsParams(n), capability.KindInt64, prof.p)
			if err != nil {
				b.Fatal(err)
			}
			o := decodeOptions{roles: r, kind: capability.KindInt64, maxGrants: 1000}
			ob := o
			ob.byRole = true
			b.Run(fmt.Sprintf("%s/grants=%d", prof.name, n), func(b *testing.B) {
				med := alternate(b,
					func() {
						if _, err := decodeClaims(payload, o); err != nil {
							b.Fatal(err)
						}
					},
					func() {
						dc, err := decodeClaims(payload, o)
						if err != nil {
							b.Fatal(err)
						}
						if _, err := capability.New(r, capability.KindInt64, dc.params); err != nil {
							b.Fatal(err)
						}
					},
					func() {
						dc, err := decodeClaims(payload, ob)
						if err != nil {
							b.Fatal(err)
						}
						if _, err := newFromHeld(r, capability.KindInt64, dc.params, dc.held); err != nil {
							b.Fatal(err)
						}
					})
				b.ReportMetric(ratio(med[1], med[0]), "x-decode")
				b.ReportMetric(ratio(med[2], med[0]), "perRole-x-decode")
				b.ReportMetric(float64(med[0].Nanoseconds()), "decode-ns")
			})
		}
	}
}
