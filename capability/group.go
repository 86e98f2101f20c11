package capability

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// GroupKind says which type the application's group ids have in its schema.
// sqlguard binds a capability's groups as an array of the matching PostgreSQL
// type (int8[], uuid[] or text[]) so that the group column's index is used and
// no cast is needed.
type GroupKind uint8

const (
	// KindInt64 group ids are PostgreSQL bigint (int8) values.
	KindInt64 GroupKind = iota + 1
	// KindUUID group ids are PostgreSQL uuid values.
	KindUUID
	// KindText group ids are PostgreSQL text values.
	KindText
)

// MaxTextGroupLen bounds the length in bytes of a text group id.
const MaxTextGroupLen = 256

func (k GroupKind) String() string {
	switch k {
	case KindInt64:
		return "int64"
	case KindUUID:
		return "uuid"
	case KindText:
		return "text"
	}
	return "GroupKind(" + strconv.Itoa(int(k)) + ")"
}

// Valid reports whether k is one of the declared kinds.
func (k GroupKind) Valid() bool { return k >= KindInt64 && k <= KindText }

// ErrBadGroup is returned for a group id that does not parse as its kind.
var ErrBadGroup = errors.New("capability: invalid group id")

// Group is a typed group id. The zero Group is no group at all and is never
// granted anything. Groups are comparable and can be used as map keys.
type Group struct {
	kind GroupKind
	n    int64
	s    string // text, or the 16 raw bytes of a UUID
}

// Int64Group returns the group with integer id n.
func Int64Group(n int64) Group { return Group{kind: KindInt64, n: n} }

// UUIDGroup returns the group with UUID id u.
func UUIDGroup(u [16]byte) Group { return Group{kind: KindUUID, s: string(u[:])} }

// TextGroup returns the group with text id s. It does not validate s; use
// ParseGroup for untrusted input. New refuses a grant of an invalid one.
func TextGroup(s string) Group { return Group{kind: KindText, s: s} }

// ParseGroup parses s as a group id of the given kind: a base-10 int64, a
// UUID in its canonical 8-4-4-4-12 hex form, or a non-empty valid UTF-8 text of
// at most MaxTextGroupLen bytes without NUL.
func ParseGroup(kind GroupKind, s string) (Group, error) {
	switch kind {
	case KindInt64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || (len(s) > 1 && (s[0] == '0' || strings.HasPrefix(s, "-0") || s[0] == '+')) || s == "-0" {
			return Group{}, fmt.Errorf("%w: not a canonical int64", ErrBadGroup)
		}
		return Int64Group(n), nil
	case KindUUID:
		u, ok := parseUUID(s)
		if !ok {
			return Group{}, fmt.Errorf("%w: not a canonical uuid", ErrBadGroup)
		}
		return UUIDGroup(u), nil
	case KindText:
		if !validText(s) {
			return Group{}, fmt.Errorf("%w: text id must be 1..%d bytes of UTF-8 without NUL", ErrBadGroup, MaxTextGroupLen)
		}
		return TextGroup(s), nil
	}
	return Group{}, fmt.Errorf("%w: unknown kind %v", ErrBadGroup, kind)
}

// validText reports whether s is a valid text group id: 1 to
// MaxTextGroupLen bytes of UTF-8 without NUL.
func validText(s string) bool {
	return s != "" && len(s) <= MaxTextGroupLen && utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

func parseUUID(s string) (u [16]byte, ok bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	var buf [32]byte
	j := 0
	for i := 0; i < len(s); i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			continue
		}
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return u, false
		}
		buf[j] = c
		j++
	}
	if _, err := hex.Decode(u[:], buf[:]); err != nil {
		return u, false
	}
	return u, true
}

// Kind returns the group's kind, 0 for the zero Group.
func (g Group) Kind() GroupKind { return g.kind }

// IsZero reports whether g is the zero Group.
func (g Group) IsZero() bool { return g.kind == 0 }

// Int64 returns the integer id of a KindInt64 group.
func (g Group) Int64() (int64, bool) { return g.n, g.kind == KindInt64 }

// UUID returns the id of a KindUUID group.
func (g Group) UUID() (u [16]byte, ok bool) {
	if g.kind != KindUUID {
		return u, false
	}
	copy(u[:], g.s)
	return u, true
}

// Text returns the id of a KindText group.
func (g Group) Text() (string, bool) { return g.s, g.kind == KindText }

// Key returns the id as RoleGroups.Keys holds it: the text of a KindText
// group, the 16 raw bytes of a KindUUID group, and "" for KindInt64.
func (g Group) Key() string { return g.s }

// String returns the id in the form ParseGroup accepts.
func (g Group) String() string {
	switch g.kind {
	case KindInt64:
		return strconv.FormatInt(g.n, 10)
	case KindUUID:
		var b [36]byte
		hex.Encode(b[0:8], []byte(g.s[0:4]))
		b[8] = '-'
		hex.Encode(b[9:13], []byte(g.s[4:6]))
		b[13] = '-'
		hex.Encode(b[14:18], []byte(g.s[6:8]))
		b[18] = '-'
		hex.Encode(b[19:23], []byte(g.s[8:10]))
		b[23] = '-'
		hex.Encode(b[24:], []byte(g.s[10:16]))
		return string(b[:])
	case KindText:
		return g.s
	}
	return "<no group>"
}

// CompareGroups orders groups of one kind by id: numerically for KindInt64,
// by bytes for KindUUID and KindText. Groups of different kinds order by kind.
func CompareGroups(a, b Group) int {
	if a.kind != b.kind {
		return int(a.kind) - int(b.kind)
	}
	if a.kind == KindInt64 {
		switch {
		case a.n < b.n:
			return -1
		case a.n > b.n:
			return 1
		}
		return 0
	}
	return strings.Compare(a.s, b.s)
}

// GroupSet is an immutable, sorted set of groups of one kind: the groups in
// which a capability may act with some role. Its zero value and a nil
// *GroupSet are empty. A GroupSet is safe for concurrent use.
type GroupSet struct {
	kind  GroupKind
	ints  []int64
	uuids [][16]byte
	texts []string

	memo sync.Map // key -> value, see Memo
}

func newGroupSet(kind GroupKind, groups []Group) *GroupSet {
	s := &GroupSet{kind: kind}
	sorted := slices.Clone(groups)
	slices.SortFunc(sorted, CompareGroups)
	sorted = slices.Compact(sorted)
	switch kind {
	case KindInt64:
		s.ints = make([]int64, 0, len(sorted))
		for _, g := range sorted {
			s.ints = append(s.ints, g.n)
		}
	case KindUUID:
		s.uuids = make([][16]byte, 0, len(sorted))
		for _, g := range sorted {
			u, _ := g.UUID()
			s.uuids = append(s.uuids, u)
		}
	case KindText:
		s.texts = make([]string, 0, len(sorted))
		for _, g := range sorted {
			s.texts = append(s.texts, g.s)
		}
	}
	return s
}

// Kind returns the kind of the set's groups (0 for a nil set).
func (s *GroupSet) Kind() GroupKind {
	if s == nil {
		return 0
	}
	return s.kind
}

// Len returns the number of groups in the set.
func (s *GroupSet) Len() int {
	if s == nil {
		return 0
	}
	return len(s.ints) + len(s.uuids) + len(s.texts)
}

// Contains reports whether g is in the set.
func (s *GroupSet) Contains(g Group) bool {
	if s == nil || g.kind != s.kind {
		return false
	}
	switch s.kind {
	case KindInt64:
		_, ok := slices.BinarySearch(s.ints, g.n)
		return ok
	case KindUUID:
		u, _ := g.UUID()
		_, ok := slices.BinarySearchFunc(s.uuids, u, func(a, b [16]byte) int { return strings.Compare(string(a[:]), string(b[:])) })
		return ok
	case KindText:
		_, ok := slices.BinarySearch(s.texts, g.s)
		return ok
	}
	return false
}

// Groups returns a copy of the set's groups in ascending order.
func (s *GroupSet) Groups() []Group {
	out := make([]Group, 0, s.Len())
	if s == nil {
		return out
	}
	for _, n := range s.ints {
		out = append(out, Int64Group(n))
	}
	for _, u := range s.uuids {
		out = append(out, UUIDGroup(u))
	}
	for _, t := range s.texts {
		out = append(out, TextGroup(t))
	}
	return out
}

// Int64s returns a copy of the ids of a KindInt64 set, never nil.
func (s *GroupSet) Int64s() []int64 {
	if s == nil {
		return []int64{}
	}
	return append(make([]int64, 0, len(s.ints)), s.ints...)
}

// UUIDs returns a copy of the ids of a KindUUID set, never nil.
func (s *GroupSet) UUIDs() [][16]byte {
	if s == nil {
		return [][16]byte{}
	}
	return append(make([][16]byte, 0, len(s.uuids)), s.uuids...)
}

// Texts returns a copy of the ids of a KindText set, never nil.
func (s *GroupSet) Texts() []string {
	if s == nil {
		return []string{}
	}
	return append(make([]string, 0, len(s.texts)), s.texts...)
}

// Memo returns the value cached in the set under key, computing it with build
// on first use. Because a GroupSet never changes, a value derived from it (for
// example sqlguard's pre-encoded array parameter) can be computed once per
// capability rather than once per query. key should be a value of an
// unexported type of the caller's package, as with context keys. build may run
// more than once under contention; one result is kept. On a nil set Memo calls
// build on an empty set and caches nothing.
func (s *GroupSet) Memo(key any, build func(*GroupSet) any) any {
	if s == nil {
		return build(&GroupSet{})
	}
	if v, ok := s.memo.Load(key); ok {
		return v
	}
	v, _ := s.memo.LoadOrStore(key, build(s))
	return v
}
