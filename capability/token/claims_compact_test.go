package token

import (
	"encoding/base64"
	"errors"
	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/internal/rice"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestCompactGolden pins the worked example of the package documentation.
func TestCompactGolden(t *testing.T) {
	p := capability.Params{Expiry: claimsExp}
	for _, id := range []int64{1, 2, 3, 5, 8, 13, 21, 1000} {
		p.Grants = append(p.Grants, capability.Grant{Group: capability.Int64Group(id), Role: "member"})
	}
	p.Grants = append(p.Grants, capability.Grant{Group: capability.Int64Group(7), Role: "moderator"}, capability.Grant{Group: capability.Int64Group(-3), Role: "admin"}, capability.Grant{Group: capability.Int64Group(8), Role: "member"})
	got, err := encodeClaims(p, capability.KindInt64, ProfileCompact)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"exp":1795000900,"grants":{"admin":"AQU","member":"CAIHgICBgoSHAaQ","moderator":"AQ4"}}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	u1 := [16]byte{15: 1}
	u2 := [16]byte{0: 0xab, 15: 2}
	p = capability.Params{Expiry: claimsExp, Grants: []capability.Grant{{Group: capability.UUIDGroup(u2), Role: "member"}, {Group: capability.UUIDGroup(u1), Role: "member"}, {Group: capability.UUIDGroup(u1), Role: "admin"}}}
	got, err = encodeClaims(p, capability.KindUUID, ProfileCompact)
	if err != nil {
		t.Fatal(err)
	}
	const wantUUID = `{"exp":1795000900,"grants":{"admin":["00000000-0000-0000-0000-000000000001"],` +
		`"member":["00000000-0000-0000-0000-000000000001","ab000000-0000-0000-0000-000000000002"]}}`
	if string(got) != wantUUID {
		t.Errorf("got  %s\nwant %s", got, wantUUID)
	}
}

// riceString returns the base64url form of the bytes a rice.Writer produced
// from fn, for building (non-)canonical streams by hand.
func riceString(fn func(w *rice.Writer)) string {
	var w rice.Writer
	fn(&w)
	return base64.RawURLEncoding.EncodeToString(w.Flush())
}

func zigzag(v int64) uint64 { return uint64(v<<1) ^ uint64(v>>63) }

func TestCompactRejects(t *testing.T) {
	// ids {1,2,3}: n=3, first 1, k=0, two codes "1".
	canonical := riceString(func(w *rice.Writer) {
		w.Uvarint(3)
		w.Uvarint(zigzag(1))
		w.Write(0, 8)
		w.Write(0b11, 2)
	})
	if canonical != "AwIAwA" {
		t.Fatalf("canonical stream: got %s, want AwIAwA", canonical)
	}
	tests := []struct {
		name  string
		kind  capability.GroupKind // 0: KindInt64
		value string               // the "grants" object
		want  error                // ErrClaims unless set
	}{
		{name: "not an object", value: `[]`},
		{name: "null", value: `null`},
		{name: "ids as an array for int64", value: `{"member":[1,2]}`},
		{name: "ids as a number", value: `{"member":1}`},
		{name: "empty ids string", value: `{"member":""}`},
		{name: "unknown role", value: `{"owner":"` + canonical + `"}`},
		{name: "reserved role none", value: `{"none":"` + canonical + `"}`},
		{name: "roles out of order", value: `{"moderator":"` + canonical + `","member":"` + canonical + `"}`},
		{name: "duplicate role", value: `{"member":"` + canonical + `","member":"` + canonical + `"}`},
		{name: "padding", value: `{"member":"` + canonical + `=="}`},
		{name: "standard alphabet", value: `{"member":"` + strings.ReplaceAll(canonical, "A", "+") + `"}`},
		{name: "escaped character", value: `{"member":"\u0041wIAwA"}`},
		{name: "whitespace inside", value: `{"member":"AwIA wA"}`},
		{name: "newline escape inside", value: `{"member":"AwIA\nwA"}`},
		{name: "trailing zero character", value: `{"member":"` + canonical + `A"}`},
		{name: "trailing zero byte", value: `{"member":"` + riceString(func(w *rice.Writer) {
			w.Uvarint(3)
			w.Uvarint(zigzag(1))
			w.Write(0, 8)
			w.Write(0b11, 2)
			w.Write(0, 8)
		}) + `"}`},
		{name: "non-zero padding bits", value: `{"member":"` + riceString(func(w *rice.Writer) {
			w.Uvarint(3)
			w.Uvarint(zigzag(1))
			w.Write(0, 8)
			w.Write(0b111, 3)
		}) + `"}`},
		{name: "non-zero base64 trailing bits", value: `{"member":"AQJ"}`}, // "AQI" is the canonical form of 01 02
		{name: "count zero", value: `{"member":"AA"}`},
		{name: "count as a non-minimal varint", value: `{"member":"` + riceString(func(w *rice.Writer) {
			w.Write(0x83, 8)
			w.Write(0x00, 8)
			w.Uvarint(zigzag(1))
			w.Write(0, 8)
			w.Write(0b11, 2)
		}) + `"}`},
		{name: "first id as a non-minimal varint", value: `{"member":"` + riceString(func(w *rice.Writer) {
			w.Uvarint(1)
			w.Write(0x82, 8)
			w.Write(0x00, 8)
		}) + `"}`},
		{name: "varint beyond 64 bits", value: `{"member":"` + riceString(func(w *rice.Writer) {
			w.Uvarint(1)
			for range 9 {
				w.Write(0xFF, 8)
			}
			w.Write(0x02, 8)
		}) + `"}`},
		{name: "varint longer than 10 bytes", value: `{"member":"` + riceString(func(w *rice.Writer) {
			w.Uvarint(1)
			for range 11 {
				w.Write(0x80, 8)
			}
			w.Write(0x01, 8)
		}) + `"}`},
		{name: "Rice parameter not the canonical one", value: `{"member":"` + riceString(func(w *rice.Writer) {
			w.Uvarint(3)
			w.Uvarint(zigzag(1))
			w.Write(1, 8)      // k=1, where the ids give k=0
			w.Write(0b1010, 4) // the same gaps with k=1
		}) + `"}`},
		{name: "Rice parameter above 63", value: `{"member":"` + riceString(func(w *rice.Writer) {
			w.Uvarint(2)
			w.Uvarint(zigzag(1))
			w.Write(64, 8)
			w.Write(1, 1)
			w.Write(0, 64)
		}) + `"}`},
		{name: "gap beyond int64", value: `{"member":"` + riceString(func(w *rice.Writer) {
			w.Uvarint(2)
			w.Uvarint(zigzag(math.MaxInt64))
			w.Write(0, 8)
			w.Write(1, 1) // gap 1: MaxInt64 + 1
		}) + `"}`},
		{name: "gap overflowing 64 bits", value: `{"member":"` + riceString(func(w *rice.Writer) {
			w.Uvarint(2)
			w.Uvarint(zigzag(math.MinInt64))
			w.Write(63, 8)
			w.Zeros(2) // q=2 with k=63 is 2^64
			w.Write(1, 1)
			w.Write(0, 63)
		}) + `"}`},
		{name: "truncated stream", value: `{"member":"` + riceString(func(w *rice.Writer) {
			w.Uvarint(3)
			w.Uvarint(zigzag(1))
			w.Write(0, 8)
			w.Write(0b1, 1)
		}) + `"}`},
		{name: "only zero bits after the count", value: `{"member":"` + riceString(func(w *rice.Writer) {
			w.Uvarint(3)
			w.Uvarint(zigzag(1))
			w.Write(0, 8)
			w.Write(0, 32)
		}) + `"}`},
		{name: "more ids than allowed", value: `{"member":"` + riceString(func(w *rice.Writer) {
			w.Uvarint(11)
			w.Uvarint(zigzag(1))
		}) + `"}`, want: ErrTooManyGrants},
		{name: "a huge count", value: `{"member":"` + riceString(func(w *rice.Writer) {
			w.Uvarint(1 << 62)
			w.Uvarint(zigzag(1))
		}) + `"}`, want: ErrTooManyGrants},
		{name: "more ids than allowed over two roles", value: `{"admin":"` + riceString(func(w *rice.Writer) {
			w.Uvarint(6)
			w.Uvarint(zigzag(1))
			w.Write(0, 8)
			w.Write(0b11111, 5)
		}) + `","member":"` + riceString(func(w *rice.Writer) {
			w.Uvarint(5)
			w.Uvarint(zigzag(1))
			w.Write(0, 8)
			w.Write(0b1111, 4)
		}) + `"}`, want: ErrTooManyGrants},

		{name: "uuid ids as a string", kind: capability.KindUUID, value: `{"member":"AQI"}`},
		{name: "uuid empty list", kind: capability.KindUUID, value: `{"member":[]}`},
		{name: "uuid uppercase", kind: capability.KindUUID, value: `{"member":["AB000000-0000-0000-0000-000000000002"]}`},
		{name: "uuid out of order", kind: capability.KindUUID, value: `{"member":["ab000000-0000-0000-0000-000000000002","00000000-0000-0000-0000-000000000001"]}`},
		{name: "uuid duplicate", kind: capability.KindUUID, value: `{"member":["00000000-0000-0000-0000-000000000001","00000000-0000-0000-0000-000000000001"]}`},
		{name: "uuid number", kind: capability.KindUUID, value: `{"member":[1]}`},
		{name: "text out of order", kind: capability.KindText, value: `{"member":["b","a"]}`},
		{name: "text duplicate through an escape", kind: capability.KindText, value: `{"member":["a","\u0061"]}`},
		{name: "text empty id", kind: capability.KindText, value: `{"member":[""]}`},
		{name: "text null", kind: capability.KindText, value: `{"member":[null]}`},
		{name: "text too many", kind: capability.KindText, value: `{"admin":["a","b","c","d","e","f"],"member":["a","b","c","d","e"]}`, want: ErrTooManyGrants},
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
			payload := `{"exp":1795000900,"grants":` + tt.value + `}`
			got, err := decodeClaims([]byte(payload), claimsOpts(t, kind, 10))
			if !errors.Is(err, want) {
				t.Fatalf("decodeClaims(%s): got %+v, %v; want %v", payload, got.params.Grants, err, want)
			}
		})
	}
}

// TestCompactOneEncoding checks that every set of ids has exactly one
// accepted encoding: flipping any bit of a canonical string, or adding or
// removing a character, makes the decoder either reject it or read other
// ids.
func TestCompactOneEncoding(t *testing.T) {
	o := claimsOpts(t, capability.KindInt64, 1000)
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for range 30 {
		p := capability.Params{Expiry: claimsExp}
		for range 1 + rng.IntN(30) {
			p.Grants = append(p.Grants, capability.Grant{Group: capability.Int64Group(rng.Int64N(1 << uint(1+rng.IntN(62)))), Role: "member"})
		}
		b, err := encodeClaims(p, capability.KindInt64, ProfileCompact)
		if err != nil {
			t.Fatal(err)
		}
		want := canonicalGrants(p.Grants)
		s := string(b)
		start := strings.Index(s, `"member":"`) + len(`"member":"`)
		end := start + strings.IndexByte(s[start:], '"')
		ids := s[start:end]
		variants := []string{ids + "A", ids[:len(ids)-1], "A" + ids}
		for i := range ids { // every single-bit flip of the stream
			v := strings.IndexByte(alphabet, ids[i])
			for bit := 1; bit < 64; bit <<= 1 {
				variants = append(variants, ids[:i]+string(alphabet[v^bit])+ids[i+1:])
			}
		}
		for _, v := range variants {
			got, err := decodeClaims([]byte(s[:start]+v+s[end:]), o)
			if err == nil && slices.Equal(got.params.Grants, want) {
				t.Fatalf("ids %s and %s both decode to %v", ids, v, want)
			}
		}
	}
}

// signedSize is the length of a compact JWS with this payload, signed with
// EdDSA (an 86-character signature) under a header with a 32-byte kid.
func signedSize(payload []byte) int {
	header := `{"alg":"EdDSA","kid":"` + strings.Repeat("k", 32) + `","typ":"JWT"}`
	enc := base64.RawURLEncoding
	return enc.EncodedLen(len(header)) + 1 + enc.EncodedLen(len(payload)) + 1 + 86
}

// TestCompactFitsCookie: a token with 1,000 grants of serial ids below 10^6
// is at most 4 KiB, signed, whatever the ids and however the grants split
// over roles.
func TestCompactFitsCookie(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	uniform := func(n int) []int64 {
		seen := map[int64]bool{}
		var ids []int64
		for len(ids) < n {
			id := 1 + rng.Int64N(999_999)
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
		return ids
	}
	consecutive := make([]int64, 1000)
	spread := make([]int64, 1000)
	skewed := make([]int64, 1000)
	for i := range 1000 {
		consecutive[i] = int64(1 + i)
		spread[i] = int64(1 + i*1000) // the largest even gaps that fit below 10^6
		skewed[i] = int64(1 + i)
	}
	skewed[999] = 999_999 // one huge gap after many tiny ones
	tests := []struct {
		name  string
		ids   []int64
		roles []string
	}{
		{"consecutive, one role", consecutive, []string{"member"}},
		{"evenly spread, one role", spread, []string{"member"}},
		{"uniform random, one role", uniform(1000), []string{"member"}},
		{"uniform random, three roles", uniform(1000), []string{"member", "moderator", "admin"}},
		{"evenly spread, three roles", spread, []string{"member", "moderator", "admin"}},
		{"skewed, one role", skewed, []string{"member"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := capability.Params{
				Subject:  "user-8f14e45f-ceea-467f-a9f5-7c1d8a1b2c3d",
				Issuer:   "https://auth.example.com",
				Audience: []string{"forum"},
				ID:       "Xy3vQ0m8R2WkT5nB7cD9eA",
				IssuedAt: claimsIat,
				Expiry:   claimsExp,
				Admin:    true,
			}
			for i, id := range tt.ids {
				p.Grants = append(p.Grants, capability.Grant{Group: capability.Int64Group(id), Role: tt.roles[i%len(tt.roles)]})
			}
			payload, err := encodeClaims(p, capability.KindInt64, ProfileCompact)
			if err != nil {
				t.Fatal(err)
			}
			size := signedSize(payload)
			t.Logf("payload %d bytes, signed token %d bytes", len(payload), size)
			if size > 4096 {
				t.Errorf("got a %d-byte token, want at most 4096", size)
			}
			got, err := decodeClaims(payload, claimsOpts(t, capability.KindInt64, 1000))
			if err != nil {
				t.Fatal(err)
			}
			if len(got.params.Grants) != 1000 {
				t.Errorf("got %d grants, want 1000", len(got.params.Grants))
			}
		})
	}
}
