package token

import (
	"errors"
	"fmt"
	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/internal/strictjson"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// encodeClaims returns the JWT payload (JSON) for p in the given profile:
// sub, iss, aud (a string when there is one audience, an array otherwise),
// jti, sid, iat, exp (NumericDate integers), admin only when true, then the
// grants: "permissions" in the default profile, "grants" in the compact one
// (see the package documentation). In both profiles the grants are written
// in one canonical order (default: by group, then role; compact: by role,
// then group), duplicates merged. Empty sub, iss, jti and sid, an empty audience
// list and a zero IssuedAt are omitted. Grants of RoleNone hold nothing and
// are not written. Times are truncated to whole seconds.
//
// It rejects what decodeClaims would reject: strings that are not valid UTF-8
// or contain NUL, a zero or out-of-range expiry, groups of another kind,
// invalid role names or text ids. Roles are not checked against a hierarchy
// here; the Issuer validates the grants through New first.
func encodeClaims(p capability.Params, kind capability.GroupKind, profile Profile) ([]byte, error) {
	if !kind.Valid() {
		return nil, fmt.Errorf("%w: unknown group kind %v", capability.ErrBadCapability, kind)
	}
	if profile != ProfileDefault && profile != ProfileCompact {
		return nil, fmt.Errorf("%w: unknown claims profile %d", capability.ErrBadCapability, profile)
	}
	for _, f := range [...]struct{ name, v string }{{"subject", p.Subject}, {"issuer", p.Issuer}, {"token id", p.ID}, {"session id", p.SessionID}} {
		if err := encodableString(f.v); err != nil {
			return nil, fmt.Errorf("%w: %s %w", capability.ErrBadCapability, f.name, err)
		}
	}
	for _, a := range p.Audience {
		if err := encodableString(a); err != nil {
			return nil, fmt.Errorf("%w: audience %w", capability.ErrBadCapability, err)
		}
	}
	if p.Expiry.IsZero() {
		return nil, fmt.Errorf("%w: no expiry", capability.ErrBadCapability)
	}
	exp := p.Expiry.Unix()
	if exp <= 0 || exp > maxNumericDate {
		return nil, fmt.Errorf("%w: expiry out of range", capability.ErrBadCapability)
	}
	var iat int64
	if !p.IssuedAt.IsZero() {
		iat = p.IssuedAt.Unix()
		if iat < 0 || iat > maxNumericDate {
			return nil, fmt.Errorf("%w: issued-at out of range", capability.ErrBadCapability)
		}
	}
	for _, g := range p.Grants {
		if g.Role == capability.RoleNone {
			continue
		}
		if g.Group.Kind() != kind {
			return nil, fmt.Errorf("%w: group %s is %v, want %v", capability.ErrBadCapability, g.Group, g.Group.Kind(), kind)
		}
		if !capability.ValidRoleName(g.Role) {
			return nil, fmt.Errorf("%w: invalid role name %q", capability.ErrBadCapability, g.Role)
		}
		if kind == capability.KindText {
			if _, err := capability.ParseGroup(capability.KindText, g.Group.Key()); err != nil {
				return nil, fmt.Errorf("%w: %w", capability.ErrBadCapability, err)
			}
		}
	}

	b := make([]byte, 0, 160+len(p.Grants)*40)
	b = append(b, '{')
	sep := func() {
		if len(b) > 1 {
			b = append(b, ',')
		}
	}
	if p.Subject != "" {
		b = append(b, `"sub":`...)
		b = strictjson.AppendString(b, p.Subject)
	}
	if p.Issuer != "" {
		sep()
		b = append(b, `"iss":`...)
		b = strictjson.AppendString(b, p.Issuer)
	}
	switch len(p.Audience) {
	case 0:
	case 1:
		sep()
		b = append(b, `"aud":`...)
		b = strictjson.AppendString(b, p.Audience[0])
	default:
		sep()
		b = append(b, `"aud":[`...)
		for i, a := range p.Audience {
			if i > 0 {
				b = append(b, ',')
			}
			b = strictjson.AppendString(b, a)
		}
		b = append(b, ']')
	}
	if p.ID != "" {
		sep()
		b = append(b, `"jti":`...)
		b = strictjson.AppendString(b, p.ID)
	}
	if p.SessionID != "" {
		sep()
		b = append(b, `"sid":`...)
		b = strictjson.AppendString(b, p.SessionID)
	}
	if !p.IssuedAt.IsZero() {
		sep()
		b = append(b, `"iat":`...)
		b = strconv.AppendInt(b, iat, 10)
	}
	sep()
	b = append(b, `"exp":`...)
	b = strconv.AppendInt(b, exp, 10)
	if p.Admin {
		b = append(b, `,"admin":true`...)
	}
	if profile == ProfileCompact {
		b = append(b, `,"`+claimGrants+`":`...)
		b = appendCompactGrants(b, p.Grants, kind)
	} else {
		b = append(b, `,"`+claimPermissions+`":[`...)
		for i, g := range canonicalGrants(p.Grants) {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"group":`...)
			b = appendGroupJSON(b, g.Group)
			b = append(b, `,"role":"`...)
			b = append(b, g.Role...) // validRoleName: no escaping needed
			b = append(b, `"}`...)
		}
		b = append(b, ']')
	}
	return append(b, '}'), nil
}

// canonicalGrants returns the grants in the order New keeps them, by group
// then role, without duplicates and without grants of RoleNone. It does not
// modify gs.
func canonicalGrants(gs []capability.Grant) []capability.Grant {
	out := make([]capability.Grant, 0, len(gs))
	for _, g := range gs {
		if g.Role != capability.RoleNone {
			out = append(out, g)
		}
	}
	if !slices.IsSortedFunc(out, capability.CompareGrants) {
		slices.SortFunc(out, capability.CompareGrants)
	}
	return slices.Compact(out)
}

func encodableString(s string) error {
	if !utf8.ValidString(s) {
		return errors.New("is not valid UTF-8")
	}
	if strings.IndexByte(s, 0) >= 0 {
		return errors.New("contains NUL")
	}
	return nil
}

// appendGroupJSON appends g as a JSON number (int64) or string.
func appendGroupJSON(b []byte, g capability.Group) []byte {
	switch g.Kind() {
	case capability.KindInt64:
		n, _ := g.Int64()
		return strconv.AppendInt(b, n, 10)
	case capability.KindUUID:
		b = append(b, '"')
		b = appendUUID(b, g.Key())
		return append(b, '"')
	}
	return strictjson.AppendString(b, g.Key())
}

// appendUUID appends the canonical lowercase form of the 16 raw bytes in s.
func appendUUID(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	for i := 0; i < 16; i++ {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexDigits[s[i]>>4], hexDigits[s[i]&0xF])
	}
	return b
}
