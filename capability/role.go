package capability

import (
	"errors"
	"fmt"
	"slices"
)

// RoleNone is the reserved role of nothing: a capability narrowed to it can
// do nothing, and no application role may take its name.
const RoleNone = "none"

// MaxRoles bounds the number of roles an application may declare.
const MaxRoles = 64

// ErrBadRoles is returned when a role hierarchy cannot be built.
var ErrBadRoles = errors.New("capability: invalid role hierarchy")

// RoleSpec declares one role and the roles it directly includes. A role
// includes the rights of every role it includes, transitively.
type RoleSpec struct {
	Name     string
	Includes []string
}

// Roles is an application's role hierarchy, declared once. It is immutable
// and safe for concurrent use.
type Roles struct {
	names []string
	index map[string]int
	// incl[i][j]: role i includes role j (every role includes itself).
	incl [][]bool
}

// Chain declares a linear hierarchy: each role includes every role before it.
// Chain("member", "moderator", "admin") is the forum's member < moderator < admin.
func Chain(names ...string) (*Roles, error) {
	specs := make([]RoleSpec, len(names))
	for i, n := range names {
		specs[i].Name = n
		if i > 0 {
			specs[i].Includes = []string{names[i-1]}
		}
	}
	return NewRoles(specs...)
}

// MustChain is Chain for hierarchies fixed in the program's source: it
// panics if Chain returns an error.
func MustChain(names ...string) *Roles {
	r, err := Chain(names...)
	if err != nil {
		panic(err)
	}
	return r
}

// MustRoles is NewRoles for hierarchies fixed in the program's source: it
// panics if NewRoles returns an error.
func MustRoles(specs ...RoleSpec) *Roles {
	r, err := NewRoles(specs...)
	if err != nil {
		panic(err)
	}
	return r
}

// NewRoles builds a hierarchy from specs. It reports empty, invalid or
// duplicate names, the reserved name "none", unknown included roles and
// cycles.
func NewRoles(specs ...RoleSpec) (*Roles, error) {
	if len(specs) == 0 {
		return nil, fmt.Errorf("%w: no roles declared", ErrBadRoles)
	}
	if len(specs) > MaxRoles {
		return nil, fmt.Errorf("%w: %d roles declared, at most %d", ErrBadRoles, len(specs), MaxRoles)
	}
	r := &Roles{index: make(map[string]int, len(specs))}
	for i, s := range specs {
		if !ValidRoleName(s.Name) {
			return nil, fmt.Errorf("%w: role name %q must be 1..64 of [a-z0-9_.-] starting with a letter", ErrBadRoles, s.Name)
		}
		if s.Name == RoleNone {
			return nil, fmt.Errorf("%w: role name %q is reserved", ErrBadRoles, RoleNone)
		}
		if _, dup := r.index[s.Name]; dup {
			return nil, fmt.Errorf("%w: role %q declared twice", ErrBadRoles, s.Name)
		}
		r.index[s.Name] = i
		r.names = append(r.names, s.Name)
	}
	n := len(specs)
	direct := make([][]int, n)
	for i, s := range specs {
		for _, inc := range s.Includes {
			j, ok := r.index[inc]
			if !ok {
				return nil, fmt.Errorf("%w: role %q includes unknown role %q", ErrBadRoles, s.Name, inc)
			}
			direct[i] = append(direct[i], j)
		}
	}
	// Cycle detection by depth-first search, then the transitive closure.
	const (
		white = iota
		grey
		black
	)
	color := make([]int, n)
	var visit func(i int) error
	visit = func(i int) error {
		color[i] = grey
		for _, j := range direct[i] {
			switch color[j] {
			case grey:
				return fmt.Errorf("%w: roles %q and %q include each other", ErrBadRoles, r.names[i], r.names[j])
			case white:
				if err := visit(j); err != nil {
					return err
				}
			}
		}
		color[i] = black
		return nil
	}
	for i := range n {
		if color[i] == white {
			if err := visit(i); err != nil {
				return nil, err
			}
		}
	}
	r.incl = make([][]bool, n)
	for i := range n {
		r.incl[i] = make([]bool, n)
		stack := []int{i}
		for len(stack) > 0 {
			k := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if r.incl[i][k] {
				continue
			}
			r.incl[i][k] = true
			stack = append(stack, direct[k]...)
		}
	}
	return r, nil
}

// ValidRoleName reports whether s is a well-formed role name: 1..64 of
// [a-z0-9_.-] starting with a letter. ("none" is well-formed but reserved.)
func ValidRoleName(s string) bool {
	if len(s) == 0 || len(s) > 64 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// Names returns the declared role names in declaration order.
func (r *Roles) Names() []string {
	if r == nil {
		return nil
	}
	return slices.Clone(r.names)
}

// Len returns the number of declared roles.
func (r *Roles) Len() int {
	if r == nil {
		return 0
	}
	return len(r.names)
}

// Name returns the i-th declared role (0 <= i < Len()), without copying
// the list as Names does. It panics when i is out of range.
func (r *Roles) Name(i int) string { return r.names[i] }

// Index returns the position of the role name in declaration order.
func (r *Roles) Index(name string) (int, bool) {
	if r == nil {
		return 0, false
	}
	i, ok := r.index[name]
	return i, ok
}

// Equal reports whether r and o declare the same roles, in the same order,
// with the same inclusions. Two hierarchies built separately from the same
// declarations are Equal, so the side that verifies tokens and the side that
// runs policies need not share one pointer. Nil equals only nil.
func (r *Roles) Equal(o *Roles) bool {
	if r == o {
		return true
	}
	if r == nil || o == nil || !slices.Equal(r.names, o.names) {
		return false
	}
	for i := range r.incl {
		if !slices.Equal(r.incl[i], o.incl[i]) {
			return false
		}
	}
	return true
}

// String returns the hierarchy's roles in declaration order, each with the
// roles it includes directly or not, e.g. "member, moderator>member".
func (r *Roles) String() string {
	if r == nil {
		return "<nil>"
	}
	var b []byte
	for i, n := range r.names {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, n...)
		sep := byte('>')
		for j, m := range r.names {
			if j != i && r.incl[i][j] {
				b = append(b, sep)
				b = append(b, m...)
				sep = '+'
			}
		}
	}
	return string(b)
}

// Known reports whether name is a declared role.
func (r *Roles) Known(name string) bool {
	if r == nil {
		return false
	}
	_, ok := r.index[name]
	return ok
}

// Includes reports whether holding role a gives the rights of role b. Every
// role includes itself; "none" and unknown roles include nothing and are
// included by nothing.
func (r *Roles) Includes(a, b string) bool {
	if r == nil {
		return false
	}
	i, ok1 := r.index[a]
	j, ok2 := r.index[b]
	return ok1 && ok2 && r.incl[i][j]
}

// commonBelow returns the maximal roles included by both a and b.
func (r *Roles) commonBelow(a, b string) []string {
	var common []string
	for _, c := range r.names {
		if r.Includes(a, c) && r.Includes(b, c) {
			common = append(common, c)
		}
	}
	var out []string
	for _, c := range common {
		maximal := true
		for _, d := range common {
			if d != c && r.Includes(d, c) {
				maximal = false
				break
			}
		}
		if maximal {
			out = append(out, c)
		}
	}
	return out
}
