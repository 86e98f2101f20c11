package sqlguard

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"unsafe"

	"github.com/keyhole-go/keyhole/capability"
)

// Group arrays are bound as their PostgreSQL text form ("{1,2,3}") in a Go
// string, cast in the SQL text to the column's array type
// ($1::int8[]). pgx sends a string parameter as text as it is, so a
// capability's array is encoded once (memoized in its GroupSet, boxed in
// an interface once) and every later call binds it without allocating or
// encoding anything: for 1,000 groups pgx would otherwise encode a []int64
// element by element on each call. The string is never empty ("{}" for no
// group), so the array is never SQL NULL.

// emptyArray is the array of no group. A package-level interface value:
// binding it allocates nothing.
var emptyArray any = "{}"

type arrayMemoKey struct{}

// groupsArg returns the capability's groups for role as a bound array.
func groupsArg(c *capability.Capability, role string) any {
	if c == nil {
		return emptyArray
	}
	return c.Groups(role).Memo(arrayMemoKey{}, encodeSet)
}

func encodeSet(s *capability.GroupSet) any {
	if s.Len() == 0 {
		return emptyArray
	}
	b := make([]byte, 0, 2+s.Len()*8)
	b = append(b, '{')
	for i, g := range s.Groups() {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendElem(b, g)
	}
	b = append(b, '}')
	return string(b)
}

// appendElem appends g as an element of an array literal: integers and
// UUIDs as they are, texts double-quoted with '\' and '"' escaped (so that
// commas, braces, blanks and the word NULL stay data).
func appendElem(b []byte, g capability.Group) []byte {
	switch g.Kind() {
	case capability.KindInt64:
		n, _ := g.Int64()
		return strconv.AppendInt(b, n, 10)
	case capability.KindUUID:
		u, _ := g.UUID()
		var h [36]byte
		hex.Encode(h[0:8], u[0:4])
		h[8] = '-'
		hex.Encode(h[9:13], u[4:6])
		h[13] = '-'
		hex.Encode(h[14:18], u[6:8])
		h[18] = '-'
		hex.Encode(h[19:23], u[8:10])
		h[23] = '-'
		hex.Encode(h[24:], u[10:16])
		return append(b, h[:]...)
	default:
		s, _ := g.Text()
		b = append(b, '"')
		for i := 0; i < len(s); i++ {
			if s[i] == '"' || s[i] == '\\' {
				b = append(b, '\\')
			}
			b = append(b, s[i])
		}
		return append(b, '"')
	}
}

// matchArg returns groups(role) ∩ {g} as a bound array: "{g}" or "{}".
func matchArg(c *capability.Capability, role string, g capability.Group) any {
	if !c.Groups(role).Contains(g) {
		return emptyArray
	}
	if n, ok := g.Int64(); ok {
		// One allocation instead of two (the string's bytes, then its
		// header when boxed): the header and the bytes share a struct, and
		// a *string boxes without allocating; pgx binds a *string as the
		// string's text. The bytes are never written after s is set.
		m := new(singleton)
		b := append(m.b[:0], '{')
		b = strconv.AppendInt(b, n, 10)
		b = append(b, '}')
		m.s = unsafe.String(&m.b[0], len(b))
		return &m.s
	}
	b := append(make([]byte, 0, 48), '{')
	b = appendElem(b, g)
	b = append(b, '}')
	return string(b)
}

// singleton holds the text of a one-element int8 array and its string.
type singleton struct {
	s string
	b [22]byte // "{" + at most 20 bytes of int64 + "}"
}

// groupValue checks a call value that is a group id and returns the value
// to bind (int64, or the text of a UUID or text id) and the group.
func (r *Registry) groupValue(v any) (any, capability.Group, error) {
	switch x := v.(type) {
	case capability.Group:
		if x.Kind() != r.kind {
			return nil, capability.Group{}, fmt.Errorf("group %s is %v, want %v", x, x.Kind(), r.kind)
		}
		switch r.kind {
		case capability.KindInt64:
			n, _ := x.Int64()
			return n, x, nil
		case capability.KindUUID:
			// Bound as its canonical text: every pgx query mode (the simple
			// protocol and QueryExecModeExec send untyped parameters)
			// encodes a string, not all of them a [16]byte.
			return x.String(), x, nil
		default:
			s, _ := x.Text()
			return s, x, nil
		}
	case int64:
		if r.kind == capability.KindInt64 {
			return v, capability.Int64Group(x), nil
		}
	case [16]byte:
		if r.kind == capability.KindUUID {
			g := capability.UUIDGroup(x)
			return g.String(), g, nil
		}
	case string:
		if r.kind == capability.KindText {
			g, err := capability.ParseGroup(capability.KindText, x)
			if err != nil {
				return nil, capability.Group{}, err
			}
			return v, g, nil
		}
	}
	return nil, capability.Group{}, fmt.Errorf("group id of type %T, want a capability.Group of kind %v or its Go value", v, r.kind)
}

// bind returns the statement for c and the arguments of one call. It is
// the whole per-call work in Go: the text was built at declaration.
func (c *compiled) bind(cp *capability.Capability, values []any) (*statement, []any, error) {
	if err := c.approved(); err != nil {
		return nil, nil, err
	}
	r := c.reg
	if cp != nil {
		if cp.GroupKind() != r.kind {
			return nil, nil, c.invalid(fmt.Errorf("capability of group kind %v, the registry's is %v", cp.GroupKind(), r.kind))
		}
		if cp.Roles() != r.roles {
			return nil, nil, c.invalid(fmt.Errorf("capability built for another role hierarchy"))
		}
	}
	if len(values) != c.nvalues {
		return nil, nil, c.invalid(fmt.Errorf("%d values, want %d (%s)", len(values), c.nvalues, strings.Join(c.info.Values, ", ")))
	}
	st := &c.text
	admin := cp.Admin() && c.info.AdminOverride
	if c.adminText != nil && admin {
		st = c.adminText
	}
	args := make([]any, len(st.slots))
	for i, s := range st.slots {
		switch s.kind {
		case slotValue:
			v := values[s.i]
			if c.groupVals[s.i] {
				nv, _, err := r.groupValue(v)
				if err != nil {
					return nil, nil, c.invalid(fmt.Errorf("value %d (%s): %v", s.i, c.info.Values[s.i], err))
				}
				v = nv
			}
			args[i] = v
		case slotConst:
			args[i] = c.consts[s.i]
		case slotGroups:
			args[i] = groupsArg(cp, s.role)
		case slotGroupMatch:
			_, g, err := r.groupValue(values[s.i])
			if err != nil {
				return nil, nil, c.invalid(fmt.Errorf("value %d (%s): %v", s.i, c.info.Values[s.i], err))
			}
			args[i] = matchArg(cp, s.role, g)
		case slotAdmin:
			args[i] = admin
		case slotSubject:
			if sub := cp.Subject(); sub != "" {
				args[i] = sub
			} else {
				args[i] = nil
			}
		}
	}
	return st, args, nil
}

func (c *compiled) invalid(err error) error {
	return &policyError{policy: c.info.Name, err: ErrInvalidInput, cause: err}
}
