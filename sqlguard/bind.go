package sqlguard

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/keyhole-go/keyhole/capability"
)

// Group arrays are cast in the SQL text to the column's array type
// ($1::int8[]) and bound in one of two forms, each encoded at most once per
// capability and role (memoized in its GroupSet) and boxed once, so that a
// call binds 1,000 groups without encoding or allocating anything:
//
//   - on execution, a *wireArray (bind_wire.go): the binary form in the
//     query modes that describe the statement, the text in the others;
//     built with the memo (about 9 µs for 1,000 int8);
//   - the text form ("{1,2,3}") in a Go string, which pgx sends as it is:
//     what Bind returns, what wall.WithCapability sets and what a *wireArray
//     sends in the text modes; built on first use (about 20 µs for 1,000
//     int8), so a capability used in the binary modes only never pays it.
//
// Neither is ever empty ("{}" for no group), so the array is never SQL
// NULL. An empty array is always bound as the text "{}".

// emptyArray is the array of no group. A package-level interface value:
// binding it allocates nothing.
var emptyArray any = "{}"

type arrayMemoKey struct{}

// groupArrays is what a GroupSet memoizes for sqlguard: its array in the
// two forms, each boxed once.
type groupArrays struct {
	set  *capability.GroupSet
	wire any // *wireArray, or emptyArray for an empty set

	once sync.Once
	text any // string, see textArg

	listOnce sync.Once
	list     any // string, see listArg
}

// emptyList is the delimited text of no group: it contains no ",id,".
var emptyList any = ","

var emptyArrays = &groupArrays{wire: emptyArray, text: emptyArray, list: emptyList}

func arrays(c *capability.Capability, role string) *groupArrays {
	if c == nil {
		return emptyArrays
	}
	return c.Groups(role).Memo(arrayMemoKey{}, encodeSet).(*groupArrays)
}

// textArg returns the text form, boxed, encoding it on first use.
func (g *groupArrays) textArg() any {
	if g == emptyArrays {
		return emptyArray
	}
	g.once.Do(func() { g.text = encodeText(g.set) })
	return g.text
}

// listArg returns the delimited text form (",1,2,3,", see listable),
// boxed, encoding it on first use.
func (g *groupArrays) listArg() any {
	if g == emptyArrays {
		return emptyList
	}
	g.listOnce.Do(func() { g.list = encodeList(g.set) })
	return g.list
}

// encodeList returns ",a,b,c," for a non-empty set of int8 or uuid ids,
// each in its canonical text (as PostgreSQL prints it). A set of text ids
// is never compared as a list: it gets "", which contains no ",id,"
// (fail closed).
func encodeList(s *capability.GroupSet) string {
	if s.Kind() == capability.KindText {
		return ""
	}
	b := make([]byte, 0, 2+s.Len()*9)
	b = append(b, ',')
	if s.Kind() == capability.KindInt64 {
		for _, n := range s.Int64s() {
			b = strconv.AppendInt(b, n, 10)
			b = append(b, ',')
		}
	} else {
		for _, g := range s.Groups() {
			b = appendElem(b, g)
			b = append(b, ',')
		}
	}
	return string(b)
}

func encodeSet(s *capability.GroupSet) any {
	if s.Len() == 0 {
		return emptyArrays
	}
	g := &groupArrays{set: s}
	g.wire = newWireArray(g)
	return g
}

// encodeText returns the text form of a non-empty set.
func encodeText(s *capability.GroupSet) string {
	b := make([]byte, 0, 2+s.Len()*8)
	b = append(b, '{')
	if s.Kind() == capability.KindInt64 {
		// Without Groups' copy of the set as []Group.
		for i, n := range s.Int64s() {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, n, 10)
		}
	} else {
		for i, g := range s.Groups() {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendElem(b, g)
		}
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

// matchArg returns groups(role) ∩ {g} as a bound scalar: v, the value
// groupValue returned for g (int64, or the text of a UUID or text id, as
// the call value itself is bound), when the capability holds g for role,
// else nil (SQL NULL, which the guard's comparison turns into "no row").
func matchArg(c *capability.Capability, role string, g capability.Group, v any) any {
	if !c.Groups(role).Contains(g) {
		return nil
	}
	return v
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

// bind returns the statement for c and the arguments of one execution:
// a capability's array is bound as its *wireArray (see bind_wire.go). It
// is the whole per-call work in Go: the text was built at declaration.
func (c *compiled) bind(cp *capability.Capability, values []any) (*statement, []any, error) {
	return c.bindArgs(cp, values, true)
}

// bindPlain returns the arguments as Bind shows them: the arrays as text.
func (c *compiled) bindPlain(cp *capability.Capability, values []any) (*statement, []any, error) {
	return c.bindArgs(cp, values, false)
}

func (c *compiled) bindArgs(cp *capability.Capability, values []any, wire bool) (*statement, []any, error) {
	if err := c.approved(); err != nil {
		return nil, nil, err
	}
	r := c.reg
	if cp != nil {
		if err := r.matches(cp); err != nil {
			return nil, nil, &policyError{policy: c.info.Name, err: ErrMisconfigured, cause: err}
		}
	}
	if len(values) != c.nvalues {
		return nil, nil, c.invalid(fmt.Errorf("%d values, want %d (%s)", len(values), c.nvalues, strings.Join(c.info.Values, ", ")))
	}
	st := &c.text
	admin := cp.Admin() && (c.info.AdminOverride || c.info.AdminOnly)
	if c.adminText != nil && admin {
		st = c.adminText
	}
	args := make([]any, len(st.slots))
	// The last group value converted: its index, bound value and group.
	gi, gv, gg := -1, any(nil), capability.Group{}
	for i, s := range st.slots {
		switch s.kind {
		case slotValue:
			v := values[s.i]
			if c.groupVals[s.i] {
				nv, g, err := r.groupValue(v)
				if err != nil {
					return nil, nil, c.invalid(fmt.Errorf("value %d (%s): %v", s.i, c.info.Values[s.i], err))
				}
				v = nv
				gi, gv, gg = s.i, nv, g
			}
			args[i] = v
		case slotConst:
			args[i] = c.consts[s.i]
		case slotGroups:
			a := arrays(cp, s.role)
			if wire {
				args[i] = a.wire
			} else {
				args[i] = a.textArg()
			}
		case slotGroupsList:
			args[i] = arrays(cp, s.role).listArg()
		case slotGroupMatch:
			// The value's slot comes first in every statement: bind the
			// same boxed value (no second boxing of a capability.Group).
			if gi != s.i {
				nv, g, err := r.groupValue(values[s.i])
				if err != nil {
					return nil, nil, c.invalid(fmt.Errorf("value %d (%s): %v", s.i, c.info.Values[s.i], err))
				}
				gi, gv, gg = s.i, nv, g
			}
			args[i] = matchArg(cp, s.role, gg, gv)
		case slotAdmin:
			args[i] = admin
		case slotSubject:
			if sub := cp.Subject(); sub != "" {
				args[i] = sub
			} else {
				args[i] = nil
			}
		case slotSession:
			args[i] = sessionArg(cp)
		case slotIssuedAt:
			args[i] = issuedAtArg(cp)
		}
	}
	return st, args, nil
}

func (c *compiled) invalid(err error) error {
	return &policyError{policy: c.info.Name, err: ErrInvalidInput, cause: err}
}

// GroupsList returns c's groups for role as text delimited by commas,
// ",1,2,3," ("," for none, and for a nil c), for groups of kind int8 or
// uuid, each id in the canonical text PostgreSQL prints (decimal; lowercase
// hyphenated UUID), encoded once per capability and role and memoized with
// the capability: the form the second wall (package wall) sets for those
// kinds, where its policies compare a row's group with
// strpos(list, ',' || group::text || ',') instead of parsing an array.
// For text ids (which may hold commas) it returns "", which holds no group.
func GroupsList(c *capability.Capability, role string) string {
	return arrays(c, role).listArg().(string)
}

// GroupsText returns c's groups for role as a PostgreSQL array literal
// ("{1,2,3}"; "{}" for none, and for a nil c), encoded once per capability
// and role and memoized with the capability: the form the second wall
// (package wall) sets as a transaction-local setting.
func GroupsText(c *capability.Capability, role string) string {
	return arrays(c, role).textArg().(string)
}
