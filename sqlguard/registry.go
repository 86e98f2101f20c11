package sqlguard

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/keyhole-go/keyhole/capability"
)

// ErrDeclaration is wrapped by every error of a policy declaration.
var ErrDeclaration = errors.New("sqlguard: invalid policy")

// Registry holds an application's policies, declared once for one role
// hierarchy and one kind of group id. It is owned by the application (there
// is no global registry), safe for concurrent use, and usually filled by
// package-level declarations with the Must methods.
type Registry struct {
	roles *capability.Roles
	kind  capability.GroupKind

	// equalRoles holds the *capability.Roles found Equal to roles (keys
	// only), lastRoles the last one: see matches.
	equalRoles sync.Map
	lastRoles  atomic.Pointer[capability.Roles]

	mu       sync.Mutex
	byName   map[string]*compiled
	approval func(PolicyInfo) error
}

// NewRegistry returns an empty registry for capabilities built on roles
// with group ids of kind. Group columns are compared as kind's PostgreSQL
// type: int8 (KindInt64), uuid (KindUUID) or text (KindText).
func NewRegistry(roles *capability.Roles, kind capability.GroupKind) (*Registry, error) {
	if roles == nil {
		return nil, fmt.Errorf("%w: no role hierarchy", ErrDeclaration)
	}
	if !kind.Valid() {
		return nil, fmt.Errorf("%w: unknown group kind %v", ErrDeclaration, kind)
	}
	return &Registry{roles: roles, kind: kind, byName: make(map[string]*compiled)}, nil
}

// MustNewRegistry is NewRegistry for package-level declarations: it panics
// on error.
func MustNewRegistry(roles *capability.Roles, kind capability.GroupKind) *Registry {
	r, err := NewRegistry(roles, kind)
	if err != nil {
		panic(err)
	}
	return r
}

// Kind is the kind of a policy's statement.
type Kind string

// The statement kinds.
const (
	KindInsert      Kind = "insert"       // insert, the group among the inserted values
	KindInsertChild Kind = "insert-child" // insert, the group from parent rows
	KindUpdate      Kind = "update"
	KindDelete      Kind = "delete"
	KindSelectList  Kind = "select-list"
	KindSelectOne   Kind = "select-one"
	KindUpsert      Kind = "upsert"
)

// PolicyInfo describes a declared policy: everything an audit report, an
// approval lock file or generated row-level security needs. It is a copy:
// changing it changes nothing.
type PolicyInfo struct {
	Name  string
	Kind  Kind
	Table string
	Alias string
	// Role is the role needed in the row's group; ReadRole the role that
	// may read it (denied versus not found), "" if none.
	Role     string
	ReadRole string
	// GroupColumn is the group column, of Table or of the last parent.
	GroupColumn string
	// Parents is the chain from Table to the row holding GroupColumn.
	Parents []Parent
	// Lock is the lock taken on the parents ("", "FOR KEY SHARE", "FOR SHARE").
	Lock string
	// OwnerColumn is the column whose value equal to the capability's
	// subject also allows the row.
	OwnerColumn string
	// SubjectColumn is the inserted column bound to the capability's subject.
	SubjectColumn string
	// Conditions are the extra conditions, as declared: '?' for a call
	// value or a constant, <subject> for the placeholder Subject.
	Conditions []string
	// SubjectBindings counts the placeholders Subject in the conditions
	// and, for List and Get, in the caller's query: the lock file records
	// it, since a Subject turned into an Arg takes from the request what
	// came from the capability.
	SubjectBindings int
	// Joins are the relations the caller's query (List, Get) reads besides
	// Table: joined, or in its subqueries; a function is written name().
	Joins         []string
	AdminOverride bool
	// Unguarded is the declared reason of a statement without group guard.
	Unguarded string
	// Columns, Key, Set and Returning as declared.
	Columns   []string
	Key       []string
	Set       []string
	Returning []string
	// DistinguishDenied is set for a Get that tells denied from not found.
	DistinguishDenied bool
	// Values names the call's values in order.
	Values []string
	// SQL is the statement's text and Params what each $n binds. For a
	// list with AdminOverride, AdminSQL and AdminParams are the text used
	// for admin capabilities (without the group comparison, still bound to
	// the admin flag).
	SQL         string
	Params      []ParamInfo
	AdminSQL    string
	AdminParams []ParamInfo
}

// ParamInfo says what one parameter $N of a policy binds.
type ParamInfo struct {
	N int // $N
	// Source is one of "value" (the call's value Value), "constant"
	// (Constant, from the declaration), "groups" (the capability's groups
	// for Role, a typed array), "group-match" (those groups intersected
	// with the call's value Value, bound as a scalar of the group column's
	// type: the value when the capability holds it for Role, else NULL),
	// "admin" (the admin flag), "subject".
	Source   string
	Value    int
	Role     string
	Constant string
}

// SetApproval installs a check that every policy must pass before it may
// run: approve is called once per policy, now for those already declared
// and at declaration for later ones, and a policy it refuses answers every
// call with an error wrapping ErrNotApproved and approve's error, before
// touching the database. A nil approve approves everything (the default).
// A typical approve compares the PolicyInfo with a checked-in lock file.
// approve runs with the registry locked: it must not call the registry.
func (r *Registry) SetApproval(approve func(PolicyInfo) error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.approval = approve
	for _, c := range r.byName {
		c.approve(approve)
	}
}

// Policies returns the declared policies sorted by name.
func (r *Registry) Policies() []PolicyInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]PolicyInfo, 0, len(r.byName))
	for _, c := range r.byName {
		out = append(out, c.info.clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Policy returns the description of the policy named name.
func (r *Registry) Policy(name string) (PolicyInfo, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.byName[name]
	if !ok {
		return PolicyInfo{}, false
	}
	return c.info.clone(), true
}

func (r *Registry) add(c *compiled) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.byName[c.info.Name]; dup {
		return fmt.Errorf("%w: %s: declared twice", ErrDeclaration, c.info.Name)
	}
	c.approve(r.approval)
	r.byName[c.info.Name] = c
	return nil
}

func (p PolicyInfo) clone() PolicyInfo {
	p.Parents = slices.Clone(p.Parents)
	p.Conditions = slices.Clone(p.Conditions)
	p.Joins = slices.Clone(p.Joins)
	p.Columns = slices.Clone(p.Columns)
	p.Key = slices.Clone(p.Key)
	p.Set = slices.Clone(p.Set)
	p.Returning = slices.Clone(p.Returning)
	p.Values = slices.Clone(p.Values)
	p.Params = slices.Clone(p.Params)
	p.AdminParams = slices.Clone(p.AdminParams)
	return p
}

// approvalState is the outcome of the registry's approval for one policy.
type approvalState struct{ err error }

func (c *compiled) approve(approve func(PolicyInfo) error) {
	if approve == nil {
		c.approval.Store(nil)
		return
	}
	err := approve(c.info.clone())
	if err == nil {
		c.approval.Store(nil)
		return
	}
	c.approval.Store(&approvalState{err: err})
}

func (c *compiled) approved() error {
	if st := c.approval.Load(); st != nil {
		return &policyError{policy: c.info.Name, err: ErrNotApproved, cause: st.err}
	}
	return nil
}

// compiled is a declared policy: its texts and bindings, built once.
type compiled struct {
	reg      *Registry
	info     PolicyInfo
	approval atomic.Pointer[approvalState]

	text      statement  // the statement
	adminText *statement // lists with AdminOverride: the text for admins
	nvalues   int
	groupVals []bool // call value i is a group id
	consts    []any
	shape     shape
	nret      int // returned columns (without status columns)
	// directGroup is the call value holding the group of a direct insert
	// (its Need names it), -1 otherwise.
	directGroup int
	// checkGroup is the call value holding the new group of an update that
	// moves the row, or the new parent, -1 otherwise.
	checkGroup int
	conds      bool // the policy has extra conditions
}

// statement is one SQL text with what each $n binds.
type statement struct {
	sql   string
	slots []slot
}

// shape says how a statement reports its outcome.
type shape uint8

const (
	shapeExec           shape = iota + 1 // Exec; no row touched -> failure
	shapeRows                            // Query with RETURNING; no row -> failure
	shapeStatus                          // Query; leading status columns (status int, group text)
	shapeGet                             // Query; no row -> ErrNotFound
	shapeGetDistinguish                  // Query; leading (found bool, ok bool)
	shapeList                            // Query; rows as they come
)

func paramInfos(st statement, consts []any) []ParamInfo {
	out := make([]ParamInfo, len(st.slots))
	for i, s := range st.slots {
		p := ParamInfo{N: i + 1, Value: -1}
		switch s.kind {
		case slotValue:
			p.Source, p.Value = "value", s.i
		case slotConst:
			p.Source, p.Constant = "constant", fmt.Sprintf("%v", consts[s.i])
		case slotGroups:
			p.Source, p.Role = "groups", s.role
		case slotGroupMatch:
			p.Source, p.Role, p.Value = "group-match", s.role, s.i
		case slotAdmin:
			p.Source = "admin"
		case slotSubject:
			p.Source = "subject"
		}
		out[i] = p
	}
	return out
}

// describe renders a condition's declared text for PolicyInfo: '?' for
// a call value or a constant, <subject> for the placeholder Subject.
func describe(sql string, args []any) string {
	var b strings.Builder
	ai := 0
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		if c == '?' {
			if i+1 < len(sql) && sql[i+1] == '?' {
				b.WriteString("??")
				i++
				continue
			}
			if ai < len(args) && args[ai] == Subject {
				b.WriteString("<subject>")
				ai++
				continue
			}
			ai++
		}
		b.WriteByte(c)
	}
	return strings.TrimSpace(b.String())
}

// countSubjects counts the placeholders Subject among args.
func countSubjects(args []any) int {
	n := 0
	for _, a := range args {
		if a == Subject {
			n++
		}
	}
	return n
}
