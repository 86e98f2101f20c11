package token

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/keyhole-go/keyhole/capability"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Claim names of the default and compact profiles.
const (
	claimPermissions = "permissions" // default profile
	claimGrants      = "grants"      // compact profile
)

// maxNumericDate is the largest NumericDate keyhole reads or writes:
// 9999-12-31T23:59:59Z. Larger values are rejected rather than clamped.
const maxNumericDate = 253402300799

// errTooMany is mapped to ErrTooManyGrants.
const errTooMany scanError = "more grants than allowed"

// Claims errors of the decoder (the scanner's errors are in strictjson.go).
const (
	errMissing       scanError = "missing"
	errRange         scanError = "out of range"
	errUnknownRole   scanError = "unknown role"
	errUnknownMember scanError = "unknown member"
	errBadGroup      scanError = "invalid group id"
	errWrongType     scanError = "wrong type"
	errBothProfiles  scanError = "both \"permissions\" and \"grants\" present"
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
		b = appendJSONString(b, p.Subject)
	}
	if p.Issuer != "" {
		sep()
		b = append(b, `"iss":`...)
		b = appendJSONString(b, p.Issuer)
	}
	switch len(p.Audience) {
	case 0:
	case 1:
		sep()
		b = append(b, `"aud":`...)
		b = appendJSONString(b, p.Audience[0])
	default:
		sep()
		b = append(b, `"aud":[`...)
		for i, a := range p.Audience {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, a)
		}
		b = append(b, ']')
	}
	if p.ID != "" {
		sep()
		b = append(b, `"jti":`...)
		b = appendJSONString(b, p.ID)
	}
	if p.SessionID != "" {
		sep()
		b = append(b, `"sid":`...)
		b = appendJSONString(b, p.SessionID)
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
	return appendJSONString(b, g.Key())
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

// decodeOptions configures decodeClaims. The verifier builds it once.
type decodeOptions struct {
	roles     *capability.Roles
	kind      capability.GroupKind
	mapping   *ClaimMapping // nil: default and compact profiles, auto-detected
	maxGrants int           // > 0
	// byRole asks for the grants of the default and compact profiles as
	// per-role lists (decodedClaims.held, for newFromHeld) instead of
	// params.Grants. Mapped claims always fill params.Grants.
	byRole bool
}

// decodedClaims is what decodeClaims read. params.MaxGrants is left 0.
type decodedClaims struct {
	params capability.Params
	// held, when not nil, holds the grants instead of params.Grants (which
	// is then nil): see decodeOptions.byRole.
	held      []capability.RoleGroups
	notBefore time.Time // zero if absent
	hasIAT    bool
}

// Bits of the claims seen, for duplicate detection of the known claims.
const (
	seenSub uint16 = 1 << iota
	seenIss
	seenAud
	seenJti
	seenIat
	seenExp
	seenNbf
	seenAdmin
	seenPermissions
	seenGrants
	seenGroupsClaim
	seenRolesClaim
	seenSid
)

type claimsDecoder struct {
	s     scanner
	o     decodeOptions
	out   decodedClaims
	field string // the claim being read, for error details (never a value)
	// lastRole is the role of the previous grant: grants of one role tend
	// to follow each other.
	lastRole string
	lastIdx  int // the index of lastRole in Roles.names

	// byRole scratch of the default profile: the role index and the id of
	// each permission, in token order (see heldOfPairs).
	permRoles []uint8
	permInts  []int64  // KindInt64
	permStrs  []string // KindUUID (16 raw bytes), KindText
}

// decodeClaims strictly decodes a verified payload straight into the typed
// claims, in one pass, without generic maps. Errors are *TokenError with
// reason ErrClaims or ErrTooManyGrants; their detail names the claim and the
// problem, never a claim value. Time checks other than the form of the
// NumericDates are the verifier's.
func decodeClaims(payload []byte, o decodeOptions) (decodedClaims, error) {
	if o.roles == nil || !o.kind.Valid() || o.maxGrants <= 0 {
		return decodedClaims{}, tokenError(ErrClaims, "decoder misconfigured")
	}
	d := claimsDecoder{s: scanner{b: payload, maxDepth: maxClaimsDepth}, o: o}
	if err := d.decode(); err != nil {
		reason := ErrClaims
		if err == errTooMany {
			reason = ErrTooManyGrants
		}
		detail := err.Error()
		if d.field != "" {
			detail = d.field + ": " + detail
		}
		return decodedClaims{}, tokenError(reason, detail)
	}
	return d.out, nil
}

func (d *claimsDecoder) decode() error {
	s := &d.s
	if s.next() != '{' {
		return errNotObject
	}
	var seen uint16
	var unknown keyList
	has, err := s.openObject()
	if err != nil {
		return err
	}
	m := d.o.mapping
	for has {
		s.ws()
		d.field = ""
		k, err := s.key()
		if err != nil {
			return err
		}
		if err := s.colon(); err != nil {
			return err
		}
		var bit uint16
		switch string(k) {
		case "sub":
			bit, d.field = seenSub, "sub"
		case "iss":
			bit, d.field = seenIss, "iss"
		case "aud":
			bit, d.field = seenAud, "aud"
		case "jti":
			bit, d.field = seenJti, "jti"
		case "sid":
			bit, d.field = seenSid, "sid"
		case "iat":
			bit, d.field = seenIat, "iat"
		case "exp":
			bit, d.field = seenExp, "exp"
		case "nbf":
			bit, d.field = seenNbf, "nbf"
		default:
			switch {
			case m != nil && m.GroupsClaim != "" && string(k) == m.GroupsClaim:
				bit, d.field = seenGroupsClaim, "groups claim"
			case m != nil && len(m.RolesPath) > 0 && string(k) == m.RolesPath[0]:
				bit, d.field = seenRolesClaim, "roles claim"
			case m == nil && string(k) == "admin":
				bit, d.field = seenAdmin, "admin"
			case m == nil && string(k) == claimPermissions:
				bit, d.field = seenPermissions, claimPermissions
			case m == nil && string(k) == claimGrants:
				bit, d.field = seenGrants, claimGrants
			}
		}
		if bit == 0 {
			// An unknown claim: ignored, but it must be strict JSON and its
			// name must not repeat. Its name is not echoed in errors.
			d.field = "unknown claim"
			if !unknown.add(k) {
				return errDupKey
			}
			if err := s.skipValue(1); err != nil {
				return err
			}
		} else {
			if seen&bit != 0 {
				return errDupKey
			}
			seen |= bit
			if seen&seenPermissions != 0 && seen&seenGrants != 0 {
				d.field = ""
				return errBothProfiles
			}
			if err := d.claim(bit); err != nil {
				return err
			}
		}
		if has, err = s.more('}'); err != nil {
			return err
		}
	}
	d.field = ""
	s.ws()
	if s.i != len(s.b) {
		return errTrailing
	}
	if seen&seenExp == 0 {
		d.field = "exp"
		return errMissing
	}
	d.out.hasIAT = seen&seenIat != 0
	return nil
}

// claim decodes the value of one known claim.
func (d *claimsDecoder) claim(bit uint16) error {
	s := &d.s
	p := &d.out.params
	var err error
	switch bit {
	case seenSub:
		p.Subject, err = s.stringValue()
	case seenIss:
		p.Issuer, err = s.stringValue()
	case seenJti:
		p.ID, err = s.stringValue()
	case seenSid:
		p.SessionID, err = s.stringValue()
	case seenAud:
		err = d.audience()
	case seenIat:
		var t time.Time
		t, err = d.numericDate()
		p.IssuedAt = t
	case seenNbf:
		d.out.notBefore, err = d.numericDate()
	case seenExp:
		var t time.Time
		if t, err = d.numericDate(); err == nil && t.Unix() == 0 {
			err = errRange
		}
		p.Expiry = t
	case seenAdmin:
		p.Admin, err = s.boolValue()
	case seenPermissions:
		err = d.permissions()
	case seenGrants:
		err = d.compactGrants()
	case seenGroupsClaim:
		err = d.mappedGroups()
	case seenRolesClaim:
		err = d.mappedRoles(d.o.mapping.RolesPath[1:], 1)
	}
	return err
}

// numericDate reads an integer NumericDate in [0, maxNumericDate].
func (d *claimsDecoder) numericDate() (time.Time, error) {
	c := d.s.peek()
	if c != '-' && (c < '0' || c > '9') {
		return time.Time{}, errNotInteger
	}
	n, err := d.s.int64Value()
	if err != nil {
		return time.Time{}, err
	}
	if n < 0 || n > maxNumericDate {
		return time.Time{}, errRange
	}
	return time.Unix(n, 0).UTC(), nil
}

// audience reads "aud": a string or an array of strings.
func (d *claimsDecoder) audience() error {
	s := &d.s
	switch s.peek() {
	case '"':
		a, err := s.stringValue()
		if err != nil {
			return err
		}
		d.out.params.Audience = []string{a}
		return nil
	case '[':
		has, err := s.openArray()
		for has && err == nil {
			var a string
			if a, err = s.stringValue(); err != nil {
				return err
			}
			d.out.params.Audience = append(d.out.params.Audience, a)
			has, err = s.more(']')
		}
		return err
	}
	return errWrongType
}

// permissions reads the default profile's array of {"group","role"} objects.
// With byRole it hands them over per role (d.out.held) instead.
func (d *claimsDecoder) permissions() error {
	s := &d.s
	has, err := s.openArray()
	if err != nil || !has {
		if err == nil && d.o.byRole {
			d.out.held = []capability.RoleGroups{}
		}
		return err
	}
	// The smallest element, {"group":0,"role":"a"}, and its comma take 23
	// bytes: one allocation of the right size, bounded by maxGrants.
	size := min(d.o.maxGrants, (len(s.b)-s.i)/23+1)
	switch {
	case !d.o.byRole:
		d.out.params.Grants = make([]capability.Grant, 0, size)
	case d.o.kind == capability.KindInt64:
		d.permRoles, d.permInts = make([]uint8, 0, size), make([]int64, 0, size)
	default:
		d.permRoles, d.permStrs = make([]uint8, 0, size), make([]string, 0, size)
	}
	n := 0
	for has {
		if n >= d.o.maxGrants {
			return errTooMany
		}
		g, ok, err := d.fastGrantObject()
		if err != nil {
			return err
		}
		if !ok {
			if g, err = d.grantObject(false); err != nil {
				return err
			}
		}
		n++
		if !d.o.byRole {
			d.out.params.Grants = append(d.out.params.Grants, g)
		} else {
			r, err := d.roleIndex(g.Role)
			if err != nil {
				return err
			}
			d.permRoles = append(d.permRoles, r)
			if d.o.kind == capability.KindInt64 {
				n, _ := g.Group.Int64()
				d.permInts = append(d.permInts, n)
			} else {
				d.permStrs = append(d.permStrs, g.Group.Key())
			}
		}
		if has, err = s.more(']'); err != nil {
			return err
		}
	}
	if d.o.byRole {
		if d.o.kind == capability.KindInt64 {
			d.out.held = heldOfPairs(d.o.roles, d.permRoles, d.permInts, func(h *capability.RoleGroups, v []int64) { h.Int64s = v })
		} else {
			d.out.held = heldOfPairs(d.o.roles, d.permRoles, d.permStrs, func(h *capability.RoleGroups, v []string) { h.Keys = v })
		}
	}
	return nil
}

// heldOfPairs groups the ids vals by their role indexes roles (a stable
// counting sort into one new slice), then sorts each role's ids that are not
// strictly ascending already and merges their duplicates: the per-role lists
// of newFromHeld, in role index order, one per role held.
func heldOfPairs[T cmp.Ordered](hierarchy *capability.Roles, roles []uint8, vals []T, set func(*capability.RoleGroups, []T)) []capability.RoleGroups {
	nroles := hierarchy.Len()
	var count [capability.MaxRoles + 1]int
	for _, r := range roles {
		count[r+1]++
	}
	held := 0
	for r := 1; r <= nroles; r++ {
		if count[r] > 0 {
			held++
		}
		count[r] += count[r-1] // count[r]: the start of role r's ids
	}
	out := make([]T, len(vals))
	next := count
	for i, r := range roles {
		out[next[r]] = vals[i]
		next[r]++
	}
	hs := make([]capability.RoleGroups, 0, held)
	for r := 0; r < nroles; r++ {
		seg := out[count[r]:count[r+1]:count[r+1]]
		if len(seg) == 0 {
			continue
		}
		if !strictlyAscending(seg) {
			slices.Sort(seg)
			seg = slices.Compact(seg)
			seg = seg[:len(seg):len(seg)]
		}
		hs = append(hs, capability.RoleGroups{Role: hierarchy.Name(r)})
		set(&hs[len(hs)-1], seg)
	}
	return hs
}

func strictlyAscending[T cmp.Ordered](s []T) bool {
	for i := 1; i < len(s); i++ {
		if !(s[i-1] < s[i]) {
			return false
		}
	}
	return true
}

// roleChar marks the bytes of a valid role name.
var roleChar = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	t['_'], t['.'], t['-'] = true, true, true
	return t
}()

// fastGrantObject reads a permission written exactly as encodeClaims writes
// it, {"group":<id>,"role":"<name>"} without whitespace or escapes, which is
// every permission of a keyhole-issued token. ok is false, with s.i
// unchanged, for anything else; grantObject then reads it (and reports any
// error). The checks are the same; this is only the common case made cheap.
func (d *claimsDecoder) fastGrantObject() (g capability.Grant, ok bool, err error) {
	s := &d.s
	b := s.b
	start := s.i
	// `{"group":` and `,"role":"`, compared 8 bytes and 1 byte at a time.
	const prefix8, middle8 = 0x3a2270756f726722, 0x223a22656c6f7222 // `"group":`, `"role":"` little-endian
	if len(b)-start < 9 || b[start] != '{' || binary.LittleEndian.Uint64(b[start+1:]) != prefix8 {
		return g, false, nil
	}
	i := start + 9
	// A positive int64 id of at most 18 digits cannot overflow: the common
	// case is parsed here, anything else by groupValue.
	if j := i; d.o.kind == capability.KindInt64 && j < len(b) && b[j] >= '1' && b[j] <= '9' {
		var v int64
		for j < len(b) && j-i < 18 && b[j] >= '0' && b[j] <= '9' {
			v = v*10 + int64(b[j]-'0')
			j++
		}
		if j < len(b) && b[j] == ',' {
			g.Group, s.i = capability.Int64Group(v), j
		}
	}
	if g.Group.Kind() == 0 {
		s.i = i
		if g.Group, err = d.groupValue(false); err != nil {
			s.i = start
			return capability.Grant{}, false, nil
		}
	}
	if len(b)-s.i < 9 || b[s.i] != ',' || binary.LittleEndian.Uint64(b[s.i+1:]) != middle8 {
		s.i = start
		return capability.Grant{}, false, nil
	}
	i = s.i + 9
	j := i
	for j < len(b) && roleChar[b[j]] {
		j++
	}
	if len(b)-j < 2 || b[j] != '"' || b[j+1] != '}' {
		s.i = start
		return capability.Grant{}, false, nil
	}
	var found bool
	if g.Role, found = d.lookupRole(b[i:j]); !found {
		return capability.Grant{}, false, errUnknownRole
	}
	s.i = j + 2
	return g, true, nil
}

// grantObject reads {"group": id, "role": "name"}: exactly these two
// members. intStrings allows a KindInt64 id as a canonical decimal string
// (claim mapping only).
func (d *claimsDecoder) grantObject(intStrings bool) (capability.Grant, error) {
	s := &d.s
	var g capability.Grant
	has, err := s.openObject()
	if err != nil {
		return g, err
	}
	var seen uint8
	for has {
		s.ws()
		raw, esc, err := s.str()
		if err != nil {
			if err == errNotString {
				err = errSyntax
			}
			return g, err
		}
		if esc {
			raw = unescape(nil, raw)
		}
		if err := s.colon(); err != nil {
			return g, err
		}
		switch string(raw) {
		case "group":
			if seen&1 != 0 {
				return g, errDupKey
			}
			seen |= 1
			if g.Group, err = d.groupValue(intStrings); err != nil {
				return g, err
			}
		case "role":
			if seen&2 != 0 {
				return g, errDupKey
			}
			seen |= 2
			if g.Role, err = d.roleValue(); err != nil {
				return g, err
			}
		default:
			return g, errUnknownMember
		}
		if has, err = s.more('}'); err != nil {
			return g, err
		}
	}
	if seen != 3 {
		return g, errMissing
	}
	return g, nil
}

// groupValue reads a group id of the decoder's kind: a JSON integer for
// KindInt64 (or, when intStrings, a canonical decimal string), a string
// otherwise.
func (d *claimsDecoder) groupValue(intStrings bool) (capability.Group, error) {
	s := &d.s
	c := s.peek()
	if d.o.kind == capability.KindInt64 && c != '"' {
		if c != '-' && (c < '0' || c > '9') {
			return capability.Group{}, errWrongType
		}
		n, err := s.int64Value()
		if err != nil {
			return capability.Group{}, err
		}
		return capability.Int64Group(n), nil
	}
	if c != '"' || d.o.kind == capability.KindInt64 && !intStrings {
		return capability.Group{}, errWrongType
	}
	raw, esc, err := s.str()
	if err != nil {
		return capability.Group{}, err
	}
	if esc {
		raw = unescape(nil, raw)
	}
	return parseGroupBytes(d.o.kind, raw, false)
}

// parseGroupBytes parses a group id as ParseGroup does, without converting
// int64 and UUID ids to a string first. canonical additionally requires a
// UUID in lowercase (the compact profile's single form).
func parseGroupBytes(kind capability.GroupKind, b []byte, canonical bool) (capability.Group, error) {
	switch kind {
	case capability.KindUUID:
		var u [16]byte
		if len(b) != 36 {
			return capability.Group{}, errBadGroup
		}
		j := 0
		for i := 0; i < 36; {
			if i == 8 || i == 13 || i == 18 || i == 23 {
				if b[i] != '-' {
					return capability.Group{}, errBadGroup
				}
				i++
				continue
			}
			hi, ok1 := unhex(b[i], canonical)
			lo, ok2 := unhex(b[i+1], canonical)
			if !ok1 || !ok2 {
				return capability.Group{}, errBadGroup
			}
			u[j] = hi<<4 | lo
			j++
			i += 2
		}
		return capability.UUIDGroup(u), nil
	case capability.KindInt64:
		if len(b) == 0 || len(b) > 20 {
			return capability.Group{}, errBadGroup
		}
		s := scanner{b: b}
		n, err := s.int64Value()
		if err != nil || s.i != len(b) {
			return capability.Group{}, errBadGroup
		}
		return capability.Int64Group(n), nil
	}
	g, err := capability.ParseGroup(capability.KindText, string(b))
	if err != nil {
		return capability.Group{}, errBadGroup
	}
	return g, nil
}

func unhex(c byte, lowerOnly bool) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F' && !lowerOnly:
		return c - 'A' + 10, true
	}
	return 0, false
}

// roleValue reads a role name, which must be a declared role.
func (d *claimsDecoder) roleValue() (string, error) {
	raw, esc, err := d.s.str()
	if err != nil {
		return "", err
	}
	if esc {
		raw = unescape(nil, raw)
	}
	r, ok := d.lookupRole(raw)
	if !ok {
		return "", errUnknownRole
	}
	return r, nil
}

// lookupRole returns the declared role named b (the hierarchy's own string,
// so decoding allocates nothing per grant for the role).
func (d *claimsDecoder) lookupRole(b []byte) (string, bool) {
	if string(b) == d.lastRole && d.lastRole != "" {
		return d.lastRole, true
	}
	i, ok := d.findRole(b)
	if !ok {
		return "", false
	}
	d.lastRole, d.lastIdx = d.o.roles.Name(i), i
	return d.lastRole, true
}

// findRole returns the index of the declared role named b.
func (d *claimsDecoder) findRole(b []byte) (int, bool) {
	r := d.o.roles
	if n := r.Len(); n <= 8 {
		for i := range n {
			if string(b) == r.Name(i) {
				return i, true
			}
		}
		return 0, false
	}
	return r.Index(string(b))
}

// roleIndex returns the index in Roles.names of role, a name lookupRole
// returned: usually the last one, found without a search.
func (d *claimsDecoder) roleIndex(role string) (uint8, error) {
	if r := d.o.roles; d.lastIdx < r.Len() && r.Name(d.lastIdx) == role {
		return uint8(d.lastIdx), nil
	}
	i, ok := d.findRole([]byte(role))
	if !ok {
		return 0, errUnknownRole // not reached: role is a declared role
	}
	return uint8(i), nil
}
