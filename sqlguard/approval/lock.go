package approval

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/keyhole-go/keyhole/sqlguard"
)

// line is one approved permission: a line of the lock file.
type line struct {
	Name        string
	Kind        sqlguard.Kind
	Table       string
	Role        string // "" when Unguarded
	ReadRole    string
	Group       string // PolicyInfo.GroupPath
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
	// Live: the statement requires a live session; Fresh: its group
	// comparison requires a fresh membership row.
	Live  bool
	Fresh bool
	// AdminOnly: no group guard, the admin flag alone (admin=only).
	AdminOnly bool
	// Reason is an unguarded policy's reason (a comment of the lock file,
	// not compared).
	Reason string
}

// lineOf returns the permission a declared policy asks for.
func lineOf(p sqlguard.PolicyInfo) line {
	perm := line{
		Name: p.Name, Kind: p.Kind, Table: p.Table, Role: p.Role, ReadRole: p.ReadRole,
		Group: p.GroupPath(), Owner: p.OwnerColumn, Admin: p.AdminOverride,
		Set: sortedCopy(p.Set), Write: sortedCopy(p.RequestColumns()), Subject: p.SubjectColumn,
		Distinguish: p.DistinguishDenied, Conditions: len(p.Conditions),
		SubjectBindings: p.SubjectBindings, Joins: sortedCopy(p.Joins),
		Unguarded: p.Unguarded != "", Reason: p.Unguarded,
		Live: p.LiveSession, Fresh: p.FreshMembership, AdminOnly: p.AdminOnly,
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
func (p line) String() string {
	var b strings.Builder
	field := func(s string) {
		b.WriteString("  ")
		b.WriteString(s)
	}
	b.WriteString(p.Name)
	field(string(p.Kind))
	field(p.Table)
	switch {
	case p.Unguarded:
		field("unguarded=yes")
	case p.AdminOnly:
		field("admin=only")
	default:
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
	if p.Live {
		field("session=live")
	}
	if p.Fresh {
		field("fresh=yes")
	}
	return b.String()
}

// summary is a short description for added and removed permissions.
func (p line) summary() string {
	s := string(p.Kind) + " on " + p.Table
	if p.Unguarded {
		return s + ", unguarded"
	}
	if p.AdminOnly {
		return s + ", admin only"
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

// lockHeader opens every lock file. It is kept byte for byte as earlier
// versions wrote it (the permission type it names is now this package's
// lock line): checked-in lock files stay unchanged.
const lockHeader = `# keyhole approval lock: the approved permissions of this application's
# sqlguard policies, one line per policy (see sqlguard.Permission).
# A new or widened permission fails the application's lock test until this
# file is regenerated (go test -run Lock -update) and the diff is reviewed.
`

// File returns the lock file of r's declared policies: a header comment,
// then one line per policy sorted by name. The same policies give the same
// bytes.
func File(r *sqlguard.Registry) []byte {
	var b bytes.Buffer
	b.WriteString(lockHeader)
	for _, p := range r.Policies() {
		perm := lineOf(p)
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

// Lock is a parsed lock file: the approved permissions by name. It is
// immutable and safe for concurrent use. The zero value (and nil) approves
// nothing.
type Lock struct {
	perms map[string]line
}

// ErrLockFile is wrapped by the errors of Parse.
var ErrLockFile = errors.New("approval: invalid lock file")

// Parse parses a lock file written by File. Blank lines and
// lines starting with '#' are comments. Any line it does not understand
// (an unknown field, a duplicate policy, a missing role) is an error: a
// lock that cannot be read approves nothing.
func Parse(data []byte) (*Lock, error) {
	a := &Lock{perms: make(map[string]line)}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p, err := parseLine(line)
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

var knownKinds = []sqlguard.Kind{sqlguard.KindInsert, sqlguard.KindInsertChild, sqlguard.KindUpdate, sqlguard.KindDelete, sqlguard.KindSelectList, sqlguard.KindSelectOne, sqlguard.KindUpsert}

func parseLine(text string) (line, error) {
	f := strings.Fields(text)
	if len(f) < 4 {
		return line{}, fmt.Errorf("want name, kind, table and fields, got %q", text)
	}
	p := line{Name: f[0], Kind: sqlguard.Kind(f[1]), Table: f[2]}
	if !validName(p.Name) {
		return p, fmt.Errorf("invalid policy name %q", p.Name)
	}
	if !slices.Contains(knownKinds, p.Kind) {
		return p, fmt.Errorf("%s: unknown kind %q", p.Name, p.Kind)
	}
	if !validIdent(p.Table) {
		return p, fmt.Errorf("%s: table: identifier %q must match ^[a-z_][a-z0-9_]*$ (1..63 bytes)", p.Name, p.Table)
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
			if v == "only" {
				p.AdminOnly = true
			} else {
				p.Admin, err = yes()
			}
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
		case "session":
			if v != "live" {
				err = fmt.Errorf("%s: session=%s, want live", p.Name, v)
			}
			p.Live = true
		case "fresh":
			p.Fresh, err = yes()
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
	switch {
	case p.Unguarded || p.AdminOnly:
		if p.Role != "" || p.ReadRole != "" || p.Group != "" || p.Owner != "" || p.Admin || p.Unguarded && p.AdminOnly {
			return p, fmt.Errorf("%s: an unguarded or admin-only permission has no role, read, group, owner or admin override", p.Name)
		}
	case p.Role == "" || p.Group == "":
		return p, fmt.Errorf("%s: role= and group= are required (or unguarded=yes, or admin=only)", p.Name)
	}
	return p, nil
}

// Permissions returns the approved permissions sorted by name.
func (a *Lock) lines() []line {
	if a == nil {
		return nil
	}
	out := make([]line, 0, len(a.perms))
	for _, p := range a.perms {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// validName reports whether s is a policy name, as sqlguard accepts it.
func validName(s string) bool {
	if s == "" || len(s) > 128 {
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

// validIdent reports whether s is an identifier as sqlguard accepts it:
// ^[a-z_][a-z0-9_]*$, at most 63 bytes.
func validIdent(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || 'a' <= c && c <= 'z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// Names returns the names of the approved policies, sorted.
func (a *Lock) Names() []string {
	var out []string
	for _, p := range a.lines() {
		out = append(out, p.Name)
	}
	return out
}
