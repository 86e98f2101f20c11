package approval

import (
	"fmt"
	"slices"
	"strings"

	"github.com/keyhole-go/keyhole/sqlguard"
)

// Diff is the difference between the declared policies and an
// approved lock. Added and Widened need approval; Narrowed and Removed are
// safe and only reported.
type Diff struct {
	Added    []Change
	Widened  []Change
	Narrowed []Change
	Removed  []Change
}

// NeedsApproval reports whether the declared policies ask for anything
// the lock does not approve.
func (d Diff) NeedsApproval() bool { return len(d.Added) > 0 || len(d.Widened) > 0 }

// Empty reports whether the declared policies are exactly the approved ones.
func (d Diff) Empty() bool {
	return !d.NeedsApproval() && len(d.Narrowed) == 0 && len(d.Removed) == 0
}

// Change is one difference of one policy.
type Change struct {
	Policy string
	Table  string
	// Field is the lock field that changed ("role", "admin", "set", ...),
	// or "policy" for an added or removed policy.
	Field string
	// What is the permission asked for now ("role member"), Approved what
	// the lock approved ("moderator").
	What     string
	Approved string
	kind     changeKind
}

type changeKind uint8

const (
	changeAdded changeKind = iota + 1
	changeWidened
	changeNarrowed
	changeRemoved
)

// String reads like "posts.delete now allows role member; approved:
// moderator".
func (c Change) String() string {
	switch c.kind {
	case changeAdded:
		return c.Policy + " is a new permission (" + c.What + "); not approved"
	case changeRemoved:
		return c.Policy + " is no longer declared; approved: " + c.Approved
	case changeNarrowed:
		return c.Policy + " narrowed to " + c.What + "; approved: " + c.Approved
	}
	return c.Policy + " now allows " + c.What + "; approved: " + c.Approved
}

func (a *Lock) lookup(name string) (line, bool) {
	if a == nil {
		return line{}, false
	}
	p, ok := a.perms[name]
	return p, ok
}

// Diff compares the declared policies of r with the approved lock.
func (a *Lock) Diff(r *sqlguard.Registry) Diff {
	var d Diff
	declared := map[string]bool{}
	for _, p := range r.Policies() {
		declared[p.Name] = true
		wide, narrow := a.compare(r, lineOf(p))
		if _, ok := a.lookup(p.Name); !ok {
			d.Added = append(d.Added, wide...)
			continue
		}
		d.Widened = append(d.Widened, wide...)
		d.Narrowed = append(d.Narrowed, narrow...)
	}
	for _, p := range a.lines() {
		if !declared[p.Name] {
			d.Removed = append(d.Removed, Change{Policy: p.Name, Table: p.Table, Field: "policy", Approved: p.summary(), kind: changeRemoved})
		}
	}
	return d
}

// compare returns the widening and narrowing changes of cur against the
// approved permission of the same name (one added change if none).
func (a *Lock) compare(r *sqlguard.Registry, cur line) (wide, narrow []Change) {
	app, ok := a.lookup(cur.Name)
	if !ok {
		return []Change{{Policy: cur.Name, Table: cur.Table, Field: "policy", What: cur.summary(), Approved: "none", kind: changeAdded}}, nil
	}
	ch := func(field, what, approved string) Change {
		return Change{Policy: cur.Name, Table: cur.Table, Field: field, What: what, Approved: approved}
	}
	widen := func(c Change) { c.kind = changeWidened; wide = append(wide, c) }
	nar := func(c Change) { c.kind = changeNarrowed; narrow = append(narrow, c) }
	orNone := func(s string) string {
		if s == "" {
			return "none"
		}
		return s
	}
	if cur.Kind != app.Kind {
		widen(ch("kind", "kind "+string(cur.Kind), string(app.Kind)))
	}
	if cur.Table != app.Table {
		widen(ch("table", "table "+cur.Table, app.Table))
	}
	switch {
	case cur.AdminOnly || app.AdminOnly:
		switch {
		case cur.AdminOnly && app.AdminOnly:
		case cur.AdminOnly && (app.Unguarded || app.Admin):
			nar(ch("admin", "the admin flag only", orNone(app.Role)))
		case cur.AdminOnly:
			widen(ch("admin", "the admin flag without any group role", "role "+app.Role+" without admin override"))
		case cur.Unguarded:
			widen(ch("unguarded", "running without group guard", "admin only"))
		default:
			widen(ch("role", "role "+cur.Role, "admin only"))
		}
	case cur.Unguarded && !app.Unguarded:
		widen(ch("unguarded", "running without group guard", "role "+app.Role))
	case !cur.Unguarded && app.Unguarded:
		nar(ch("unguarded", "role "+cur.Role, "unguarded"))
	case !cur.Unguarded:
		roles := r.Roles()
		switch {
		case cur.Role == app.Role:
		case !roles.Known(app.Role) || !roles.Includes(cur.Role, app.Role):
			// Some holder of cur.Role does not hold app.Role.
			widen(ch("role", "role "+cur.Role, app.Role))
		default:
			nar(ch("role", "role "+cur.Role, app.Role))
		}
		switch {
		case cur.ReadRole == app.ReadRole:
		case cur.ReadRole == "":
			nar(ch("read", "no read role", "read role "+app.ReadRole))
		case app.ReadRole == "" || !roles.Known(app.ReadRole) || !roles.Includes(cur.ReadRole, app.ReadRole):
			widen(ch("read", "telling denied from not found to role "+cur.ReadRole, orNone(app.ReadRole)))
		default:
			nar(ch("read", "read role "+cur.ReadRole, app.ReadRole))
		}
		if cur.Group != app.Group {
			widen(ch("group", "group "+cur.Group, app.Group))
		}
		switch {
		case cur.Owner == app.Owner:
		case cur.Owner == "":
			nar(ch("owner", "no owner column", "owner "+app.Owner))
		default:
			widen(ch("owner", "the row's owner (column "+cur.Owner+")", orNone(app.Owner)))
		}
		switch {
		case cur.Admin && !app.Admin:
			widen(ch("admin", "the admin override", "no admin override"))
		case !cur.Admin && app.Admin:
			nar(ch("admin", "no admin override", "admin override"))
		}
	}
	cols := func(field, verb, noun string, now, was []string) {
		var added, removed []string
		for _, c := range now {
			if !slices.Contains(was, c) {
				added = append(added, c)
			}
		}
		for _, c := range was {
			if !slices.Contains(now, c) {
				removed = append(removed, c)
			}
		}
		if len(added) > 0 {
			widen(ch(field, verb+" "+noun+" "+strings.Join(added, ","), orNone(strings.Join(was, ","))))
		}
		if len(removed) > 0 && len(added) == 0 {
			nar(ch(field, field+" "+noun+" "+orNone(strings.Join(now, ",")), strings.Join(was, ",")))
		}
	}
	cols("set", "setting", "columns", cur.Set, app.Set)
	cols("write", "writing", "columns", cur.Write, app.Write)
	if cur.Subject != app.Subject {
		// Removed, the column (if still written) comes from the request;
		// changed, another column is written.
		widen(ch("subject", "the subject in column "+orNone(cur.Subject), orNone(app.Subject)))
	}
	cols("joins", "reading", "relations", cur.Joins, app.Joins)
	switch {
	case cur.Distinguish && !app.Distinguish:
		widen(ch("distinguish", "telling a denied key from a missing one", "not found for both"))
	case !cur.Distinguish && app.Distinguish:
		nar(ch("distinguish", "not found for a denied key", "distinguish"))
	}
	switch {
	case !cur.Live && app.Live:
		widen(ch("session", "running without the live-session check (a revoked or signed-out token keeps working until it expires)", "live session required"))
	case cur.Live && !app.Live:
		nar(ch("session", "a live session required", "no live-session check"))
	}
	switch {
	case !cur.Fresh && app.Fresh:
		widen(ch("fresh", "the token's grants without the fresh membership check (a removed member keeps writing until the token expires)", "fresh membership required"))
	case cur.Fresh && !app.Fresh:
		nar(ch("fresh", "a fresh membership required", "no fresh membership check"))
	}
	switch {
	case cur.Conditions < app.Conditions:
		widen(ch("conds", fmt.Sprintf("%d extra conditions", cur.Conditions), fmt.Sprintf("%d", app.Conditions)))
	case cur.Conditions > app.Conditions:
		nar(ch("conds", fmt.Sprintf("%d extra conditions", cur.Conditions), fmt.Sprintf("%d", app.Conditions)))
	}
	switch {
	case cur.SubjectBindings < app.SubjectBindings:
		widen(ch("subj", fmt.Sprintf("%d subject bindings in its conditions", cur.SubjectBindings), fmt.Sprintf("%d", app.SubjectBindings)))
	case cur.SubjectBindings > app.SubjectBindings:
		nar(ch("subj", fmt.Sprintf("%d subject bindings in its conditions", cur.SubjectBindings), fmt.Sprintf("%d", app.SubjectBindings)))
	}
	return wide, narrow
}

// Error is the error of a policy that an approved lock does not
// cover: it is new, or it asks for more than was approved. It matches
// sqlguard.ErrNotApproved.
type Error struct {
	Policy  string
	Changes []Change // the added or widened changes
}

// Error reads like `policy "posts.delete" needs role member on posts;
// approved: moderator`.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(fmt.Sprintf("policy %q ", e.Policy))
	for i, c := range e.Changes {
		if i > 0 {
			b.WriteString("; and ")
		}
		if c.kind == changeAdded {
			b.WriteString("is not in the approved lock (" + c.What + ")")
			continue
		}
		b.WriteString("needs " + c.What + " on " + c.Table + "; approved: " + c.Approved)
	}
	return b.String()
}

// Unwrap returns sqlguard.ErrNotApproved.
func (e *Error) Unwrap() error { return sqlguard.ErrNotApproved }

// Check returns nil if the approved lock covers policy p (p is in it and
// asks for no more than approved: narrower is fine), else an
// *Error naming what p asks for.
func (a *Lock) Check(r *sqlguard.Registry, p sqlguard.PolicyInfo) error {
	wide, _ := a.compare(r, lineOf(p))
	if len(wide) == 0 {
		return nil
	}
	return &Error{Policy: p.Name, Changes: wide}
}

// Enforce makes r refuse to execute any policy that a is not approving:
// a policy missing from the lock or wider than approved answers every
// call with an error wrapping sqlguard.ErrNotApproved (and an *Error)
// before anything is sent to the database. It applies to the policies
// already declared and to those declared later. Enforce with a nil lock is
// an error; to lift the check call r.SetApproval(nil).
func Enforce(r *sqlguard.Registry, a *Lock) error {
	if a == nil {
		return fmt.Errorf("%w: no approved lock", ErrLockFile)
	}
	r.SetApproval(func(p sqlguard.PolicyInfo) error { return a.Check(r, p) })
	return nil
}
