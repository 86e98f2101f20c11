package sqlguard

import (
	"errors"
	"fmt"
	"sort"
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

	// lastRoles is the last *capability.Roles found Equal to roles: see
	// matches.
	lastRoles atomic.Pointer[capability.Roles]

	mu       sync.Mutex
	byName   map[string]*compiled
	approval func(PolicyInfo) error
	live     *liveness   // see Sessions
	members  *membership // see Memberships

	retryPolicy atomic.Pointer[Retry] // nil: Retry{}
}

// SetRetry sets how the registry's policies retry a statement that runs on
// its own (see Write.Exec); the zero Retry is the default. Attempts 1
// turns retries off.
func (r *Registry) SetRetry(rt Retry) { r.retryPolicy.Store(&rt) }

// retry returns the registry's Retry.
func (r *Registry) retry() Retry {
	if p := r.retryPolicy.Load(); p != nil {
		return *p
	}
	return Retry{}
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

// Roles returns the role hierarchy the registry was declared for.
func (r *Registry) Roles() *capability.Roles { return r.roles }

// GroupKind returns the kind of group id the registry was declared for.
func (r *Registry) GroupKind() capability.GroupKind { return r.kind }

// Unapproved describes the declared policies that the registry's approval
// (SetApproval) refuses, "name: reason", sorted by name; none without an
// approval. The second wall (package wall) refuses to grant them.
func (r *Registry) Unapproved() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for name, c := range r.byName {
		if st := c.approval.Load(); st != nil {
			out = append(out, name+": "+st.err.Error())
		}
	}
	sort.Strings(out)
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
	// live: the registry's sessions when the policy requires a live
	// session: its refusals ask them why (see compiled.refused).
	live *liveness
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
