package sqlguard

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Approval lock file
//
// A lock file lists the approved permissions of an application, one line
// per policy, sorted by name:
//
//	posts.delete  delete  posts  role=moderator  read=member  group=thread_id>threads.group_id  admin=yes
//	posts.edit  update  posts  role=member  group=thread_id>threads.group_id  owner=author  admin=no  set=content,edited_at
//
// A line holds what decides who may do what to which rows, and nothing of
// the SQL text: rewording a query, a condition or a returned column inside
// the same permission changes no line. The fields, and when a change
// widens access (and so needs approval):
//
//	name kind table   a change of kind or table is a different permission
//	role=R            the role needed in the row's group: a role that R does not include is wider
//	read=R            the role that may tell denied from not found: added or lowered is wider
//	group=G           where the group comes from (PermissionGroup): any change needs approval
//	owner=C           the owner column whose subject may also act: added or changed is wider
//	admin=yes|no      the admin override: yes is wider
//	set=a,b           the columns an update may change: a new column is wider
//	write=a,b         the columns an insert takes from the call's values: a new column is wider
//	subject=C         the column an insert takes from the capability's subject
//	                  (SubjectColumn): any change, and its removal, is wider (a
//	                  column moved from subject= to write= comes from the request)
//	distinguish=yes   a Get that tells a denied key from a missing one: wider
//	conds=N           the number of extra conditions (Policy.Where): fewer is wider
//	subj=N            the number of Subject placeholders in the conditions (and,
//	                  for List and Get, in the query): fewer is wider (a Subject
//	                  turned into an Arg takes the value from the request)
//	joins=a,b         the relations a List's or Get's query reads besides its table
//	                  (joins, subqueries; a function as name()): a new one is wider
//	unguarded=yes     no group guard at all: the widest
//
// Extra conditions only narrow what the guard allows: each is checked at
// declaration to be one balanced expression (see Policy.Where), so no
// rewording can reach around the key or the guard. Their text is SQL and
// may be reworded freely, so the lock holds only their number and how many
// values they take from the capability: dropping a condition
// ("posts.author = Subject") or binding it to a call value instead of the
// subject needs approval; rewording one does not, and neither does
// replacing one by a weaker one (the audit report shows their text, with
// <subject> for Subject). An unguarded policy's reason is written as a
// comment above its line: rewording it is visible in the diff and needs no
// approval.

// Permission is one approved permission: a line of the lock file.
type Permission struct {
	Name        string
	Kind        Kind
	Table       string
	Role        string // "" when Unguarded
	ReadRole    string
	Group       string // PermissionGroup
	Owner       string
	Admin       bool
	Set         []string // sorted
	Write       []string // sorted: the columns taken from the call's values
	Subject     string   // the column taken from the capability's subject
	Distinguish bool
	Conditions  int // the number of extra conditions
	// SubjectBindings is the number of Subject placeholders in the
	// conditions (and a read's query).
	SubjectBindings int
	// Joins are the other relations a read's query reads, sorted.
	Joins     []string
	Unguarded bool
	// Reason is an unguarded policy's reason (a comment of the lock file,
	// not compared).
	Reason string
}

// PermissionOf returns the permission a declared policy asks for.
func PermissionOf(p PolicyInfo) Permission {
	perm := Permission{
		Name: p.Name, Kind: p.Kind, Table: p.Table, Role: p.Role, ReadRole: p.ReadRole,
		Group: PermissionGroup(p), Owner: p.OwnerColumn, Admin: p.AdminOverride,
		Set: sortedCopy(p.Set), Write: sortedCopy(requestColumns(p)), Subject: p.SubjectColumn,
		Distinguish: p.DistinguishDenied, Conditions: len(p.Conditions),
		SubjectBindings: p.SubjectBindings, Joins: sortedCopy(p.Joins),
		Unguarded: p.Unguarded != "", Reason: p.Unguarded,
	}
	if perm.Unguarded {
		perm.Role, perm.ReadRole, perm.Group, perm.Owner, perm.Admin = "", "", "", "", false
	}
	return perm
}

func sortedCopy(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	out := slices.Clone(s)
	sort.Strings(out)
	return out
}

// String returns the permission's line in the lock file.
func (p Permission) String() string {
	var b strings.Builder
	field := func(s string) {
		b.WriteString("  ")
		b.WriteString(s)
	}
	b.WriteString(p.Name)
	field(string(p.Kind))
	field(p.Table)
	if p.Unguarded {
		field("unguarded=yes")
	} else {
		field("role=" + p.Role)
		if p.ReadRole != "" {
			field("read=" + p.ReadRole)
		}
		field("group=" + p.Group)
		if p.Owner != "" {
			field("owner=" + p.Owner)
		}
		if p.Admin {
			field("admin=yes")
		} else {
			field("admin=no")
		}
	}
	if len(p.Set) > 0 {
		field("set=" + strings.Join(p.Set, ","))
	}
	if len(p.Write) > 0 {
		field("write=" + strings.Join(p.Write, ","))
	}
	if p.Subject != "" {
		field("subject=" + p.Subject)
	}
	if p.Distinguish {
		field("distinguish=yes")
	}
	if p.Conditions > 0 {
		field("conds=" + strconv.Itoa(p.Conditions))
	}
	if p.SubjectBindings > 0 {
		field("subj=" + strconv.Itoa(p.SubjectBindings))
	}
	if len(p.Joins) > 0 {
		field("joins=" + strings.Join(p.Joins, ","))
	}
	return b.String()
}

// summary is a short description for added and removed permissions.
func (p Permission) summary() string {
	s := string(p.Kind) + " on " + p.Table
	if p.Unguarded {
		return s + ", unguarded"
	}
	s += ", role " + p.Role
	if p.Admin {
		s += ", admin override"
	}
	if p.Owner != "" {
		s += ", owner " + p.Owner
	}
	return s
}

const lockHeader = `# keyhole approval lock: the approved permissions of this application's
# sqlguard policies, one line per policy (see sqlguard.Permission).
# A new or widened permission fails the application's lock test until this
# file is regenerated (go test -run Lock -update) and the diff is reviewed.
`

// LockFile returns the lock file of the declared policies: a header
// comment, then one line per policy sorted by name. The same policies give
// the same bytes.
func (r *Registry) LockFile() []byte {
	var b bytes.Buffer
	b.WriteString(lockHeader)
	for _, p := range r.Policies() {
		perm := PermissionOf(p)
		if perm.Unguarded {
			b.WriteString("# " + perm.Name + " is unguarded: " + oneLine(perm.Reason) + "\n")
		}
		b.WriteString(perm.String())
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// Approved is a parsed lock file: the approved permissions by name. It is
// immutable and safe for concurrent use. The zero value (and nil) approves
// nothing.
type Approved struct {
	perms map[string]Permission
}

// ErrLockFile is wrapped by the errors of ParseLockFile.
var ErrLockFile = errors.New("sqlguard: invalid lock file")

// ParseLockFile parses a lock file written by LockFile. Blank lines and
// lines starting with '#' are comments. Any line it does not understand
// (an unknown field, a duplicate policy, a missing role) is an error: a
// lock that cannot be read approves nothing.
func ParseLockFile(data []byte) (*Approved, error) {
	a := &Approved{perms: make(map[string]Permission)}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p, err := parsePermission(line)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrLockFile, i+1, err)
		}
		if _, dup := a.perms[p.Name]; dup {
			return nil, fmt.Errorf("%w: line %d: policy %s twice", ErrLockFile, i+1, p.Name)
		}
		a.perms[p.Name] = p
	}
	return a, nil
}

var knownKinds = []Kind{KindInsert, KindInsertChild, KindUpdate, KindDelete, KindSelectList, KindSelectOne, KindUpsert}

func parsePermission(line string) (Permission, error) {
	f := strings.Fields(line)
	if len(f) < 4 {
		return Permission{}, fmt.Errorf("want name, kind, table and fields, got %q", line)
	}
	p := Permission{Name: f[0], Kind: Kind(f[1]), Table: f[2]}
	if !validName(p.Name) {
		return p, fmt.Errorf("invalid policy name %q", p.Name)
	}
	if !slices.Contains(knownKinds, p.Kind) {
		return p, fmt.Errorf("%s: unknown kind %q", p.Name, p.Kind)
	}
	if _, err := ident(p.Table); err != nil {
		return p, fmt.Errorf("%s: table: %v", p.Name, err)
	}
	seen := map[string]bool{}
	for _, kv := range f[3:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || v == "" {
			return p, fmt.Errorf("%s: field %q is not key=value", p.Name, kv)
		}
		if seen[k] {
			return p, fmt.Errorf("%s: field %s twice", p.Name, k)
		}
		seen[k] = true
		yes := func() (bool, error) {
			switch v {
			case "yes":
				return true, nil
			case "no":
				return false, nil
			}
			return false, fmt.Errorf("%s: %s=%s, want yes or no", p.Name, k, v)
		}
		var err error
		switch k {
		case "role":
			p.Role = v
		case "read":
			p.ReadRole = v
		case "group":
			p.Group = v
		case "owner":
			p.Owner = v
		case "admin":
			p.Admin, err = yes()
		case "set":
			p.Set = sortedCopy(strings.Split(v, ","))
		case "write":
			p.Write = sortedCopy(strings.Split(v, ","))
		case "subject":
			p.Subject = v
		case "joins":
			p.Joins = sortedCopy(strings.Split(v, ","))
		case "distinguish":
			p.Distinguish, err = yes()
		case "unguarded":
			p.Unguarded, err = yes()
		case "conds":
			p.Conditions, err = strconv.Atoi(v)
			if err != nil || p.Conditions < 0 || strconv.Itoa(p.Conditions) != v {
				err = fmt.Errorf("%s: conds=%s, want a count", p.Name, v)
			}
		case "subj":
			p.SubjectBindings, err = strconv.Atoi(v)
			if err != nil || p.SubjectBindings < 0 || strconv.Itoa(p.SubjectBindings) != v {
				err = fmt.Errorf("%s: subj=%s, want a count", p.Name, v)
			}
		default:
			return p, fmt.Errorf("%s: unknown field %q", p.Name, k)
		}
		if err != nil {
			return p, err
		}
	}
	if p.Unguarded {
		if p.Role != "" || p.ReadRole != "" || p.Group != "" || p.Owner != "" || p.Admin {
			return p, fmt.Errorf("%s: an unguarded permission has no role, read, group, owner or admin", p.Name)
		}
	} else if p.Role == "" || p.Group == "" {
		return p, fmt.Errorf("%s: role= and group= are required (or unguarded=yes)", p.Name)
	}
	return p, nil
}

// Permissions returns the approved permissions sorted by name.
func (a *Approved) Permissions() []Permission {
	if a == nil {
		return nil
	}
	out := make([]Permission, 0, len(a.perms))
	for _, p := range a.perms {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// LockDiff is the difference between the declared policies and an
// approved lock. Added and Widened need approval; Narrowed and Removed are
// safe and only reported.
type LockDiff struct {
	Added    []LockChange
	Widened  []LockChange
	Narrowed []LockChange
	Removed  []LockChange
}

// NeedsApproval reports whether the declared policies ask for anything
// the lock does not approve.
func (d LockDiff) NeedsApproval() bool { return len(d.Added) > 0 || len(d.Widened) > 0 }

// Empty reports whether the declared policies are exactly the approved ones.
func (d LockDiff) Empty() bool {
	return !d.NeedsApproval() && len(d.Narrowed) == 0 && len(d.Removed) == 0
}

// LockChange is one difference of one policy.
type LockChange struct {
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
func (c LockChange) String() string {
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

func (a *Approved) lookup(name string) (Permission, bool) {
	if a == nil {
		return Permission{}, false
	}
	p, ok := a.perms[name]
	return p, ok
}

// Diff compares the declared policies of r with the approved lock.
func (a *Approved) Diff(r *Registry) LockDiff {
	var d LockDiff
	declared := map[string]bool{}
	for _, p := range r.Policies() {
		declared[p.Name] = true
		wide, narrow := a.compare(r, PermissionOf(p))
		if _, ok := a.lookup(p.Name); !ok {
			d.Added = append(d.Added, wide...)
			continue
		}
		d.Widened = append(d.Widened, wide...)
		d.Narrowed = append(d.Narrowed, narrow...)
	}
	for _, p := range a.Permissions() {
		if !declared[p.Name] {
			d.Removed = append(d.Removed, LockChange{Policy: p.Name, Table: p.Table, Field: "policy", Approved: p.summary(), kind: changeRemoved})
		}
	}
	return d
}

// compare returns the widening and narrowing changes of cur against the
// approved permission of the same name (one added change if none).
func (a *Approved) compare(r *Registry, cur Permission) (wide, narrow []LockChange) {
	app, ok := a.lookup(cur.Name)
	if !ok {
		return []LockChange{{Policy: cur.Name, Table: cur.Table, Field: "policy", What: cur.summary(), Approved: "none", kind: changeAdded}}, nil
	}
	ch := func(field, what, approved string) LockChange {
		return LockChange{Policy: cur.Name, Table: cur.Table, Field: field, What: what, Approved: approved}
	}
	widen := func(c LockChange) { c.kind = changeWidened; wide = append(wide, c) }
	nar := func(c LockChange) { c.kind = changeNarrowed; narrow = append(narrow, c) }
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
	case cur.Unguarded && !app.Unguarded:
		widen(ch("unguarded", "running without group guard", "role "+app.Role))
	case !cur.Unguarded && app.Unguarded:
		nar(ch("unguarded", "role "+cur.Role, "unguarded"))
	case !cur.Unguarded:
		roles := r.roles
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

// ApprovalError is the error of a policy that an approved lock does not
// cover: it is new, or it asks for more than was approved. It matches
// ErrNotApproved.
type ApprovalError struct {
	Policy  string
	Changes []LockChange // the added or widened changes
}

// Error reads like `policy "posts.delete" needs role member on posts;
// approved: moderator`.
func (e *ApprovalError) Error() string {
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

// Unwrap returns ErrNotApproved.
func (e *ApprovalError) Unwrap() error { return ErrNotApproved }

// Check returns nil if the approved lock covers policy p (p is in it and
// asks for no more than approved: narrower is fine), else an
// *ApprovalError naming what p asks for.
func (a *Approved) Check(r *Registry, p PolicyInfo) error {
	wide, _ := a.compare(r, PermissionOf(p))
	if len(wide) == 0 {
		return nil
	}
	return &ApprovalError{Policy: p.Name, Changes: wide}
}

// Approve makes r refuse to execute any policy that a is not approving:
// a policy missing from the lock or wider than approved answers every
// call with an error wrapping ErrNotApproved (and an *ApprovalError)
// before anything is sent to the database. It applies to the policies
// already declared and to those declared later. Approve(nil) is an error;
// to lift the check call r.SetApproval(nil).
func (r *Registry) Approve(a *Approved) error {
	if a == nil {
		return fmt.Errorf("%w: no approved lock", ErrLockFile)
	}
	r.SetApproval(func(p PolicyInfo) error { return a.Check(r, p) })
	return nil
}
