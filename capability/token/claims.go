package token

import (
	"bytes"
	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/internal/strictjson"
	"time"
)

// Claim names of the default and compact profiles.
const (
	claimPermissions = "permissions" // default profile
	claimGrants      = "grants"      // compact profile
)

// maxNumericDate is the largest NumericDate keyhole reads or writes:
// 9999-12-31T23:59:59Z. Larger values are rejected rather than clamped.
const maxNumericDate = 253402300799

// claimsError is a fixed-vocabulary description of a claims error, like
// strictjson.Error: it never holds input bytes and does not allocate.
type claimsError string

func (e claimsError) Error() string { return string(e) }

// maxClaimsDepth bounds the nesting of a claims payload (the top-level
// object is depth 1).
const maxClaimsDepth = 32

// errTooMany is mapped to ErrTooManyGrants.
const errTooMany claimsError = "more grants than allowed"

// Claims errors of the decoder (the scanner's are strictjson.Error).
const (
	errMissing       claimsError = "missing"
	errRange         claimsError = "out of range"
	errUnknownRole   claimsError = "unknown role"
	errUnknownMember claimsError = "unknown member"
	errBadGroup      claimsError = "invalid group id"
	errWrongType     claimsError = "wrong type"
	errBothProfiles  claimsError = "both \"permissions\" and \"grants\" present"
	errNUL           claimsError = "NUL in string"
)

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
	// issuer and audience, when set, are the expected values: a claim
	// equal to one of them shares its string (and, for a single audience,
	// the slice: audience is []string{aud}, never modified) instead of
	// allocating a copy.
	issuer   string
	audience []string
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
	s     strictjson.Scanner
	o     decodeOptions
	out   decodedClaims
	field string // the claim being read, for error details (never a value)
	// lastRole is the role of the previous grant: grants of one role tend
	// to follow each other.
	lastRole string
	lastIdx  int // the index of lastRole in Roles.names
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
	d := claimsDecoder{s: strictjson.Scanner{Data: payload, MaxDepth: maxClaimsDepth}, o: o}
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
	if s.Next() != '{' {
		return strictjson.ErrNotObject
	}
	var seen uint16
	var unknown strictjson.Keys
	m := d.o.mapping
	// Known claims are told apart by a bit each, unknown ones by name.
	err := s.ObjectUnchecked(func(k []byte) error {
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
			if !unknown.Add(k) {
				return strictjson.ErrDupKey
			}
			return s.SkipValue(1)
		}
		if seen&bit != 0 {
			return strictjson.ErrDupKey
		}
		seen |= bit
		if seen&seenPermissions != 0 && seen&seenGrants != 0 {
			d.field = ""
			return errBothProfiles
		}
		if err := d.claim(bit); err != nil {
			return err
		}
		d.field = ""
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.End(); err != nil {
		return err
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
		p.Subject, err = d.text()
	case seenIss:
		p.Issuer, err = d.textOr(d.o.issuer)
	case seenJti:
		p.ID, err = d.text()
	case seenSid:
		p.SessionID, err = d.text()
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
		p.Admin, err = s.Bool()
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

// text reads a string claim. NUL is rejected: no claim keyhole reads may
// contain it (PostgreSQL text cannot).
func (d *claimsDecoder) text() (string, error) { return d.textOr("") }

// textOr is text that returns known itself, not a copy, when the claim
// equals it.
func (d *claimsDecoder) textOr(known string) (string, error) {
	raw, err := d.s.Bytes()
	if err != nil {
		return "", err
	}
	if bytes.IndexByte(raw, 0) >= 0 {
		return "", errNUL
	}
	if known != "" && string(raw) == known {
		return known, nil
	}
	return string(raw), nil
}

// numericDate reads an integer NumericDate in [0, maxNumericDate].
func (d *claimsDecoder) numericDate() (time.Time, error) {
	c := d.s.Peek()
	if c != '-' && (c < '0' || c > '9') {
		return time.Time{}, strictjson.ErrNotInteger
	}
	n, err := d.s.Int64()
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
	switch s.Peek() {
	case '"':
		var known string
		if len(d.o.audience) == 1 {
			known = d.o.audience[0]
		}
		a, err := d.textOr(known)
		if err != nil {
			return err
		}
		if known != "" && a == known {
			d.out.params.Audience = d.o.audience
		} else {
			d.out.params.Audience = []string{a}
		}
		return nil
	case '[':
		has, err := s.OpenArray()
		for has && err == nil {
			var a string
			if a, err = d.text(); err != nil {
				return err
			}
			d.out.params.Audience = append(d.out.params.Audience, a)
			has, err = s.More(']')
		}
		return err
	}
	return errWrongType
}
