package sqlguard

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// Report is the audit report of a registry: what every declared policy
// allows, for people (WriteText) and for tools (WriteJSON). It is built
// from Registry.Policies, so it describes permissions, not SQL text.
//
// Policies that bypass the group guard are listed again in Reserved and
// flagged, the way an app store red-flags reserved permission groups: an
// Unguarded policy (with the reason the application gave) and every
// policy whose admin override lets the token's admin flag pass the group
// comparison in every group.
type Report struct {
	Policies []ReportPolicy   `json:"policies"`
	Reserved []ReservedPolicy `json:"reserved"`
}

// ReportPolicy is one row of the audit report. Its JSON field names are
// stable.
type ReportPolicy struct {
	Name  string `json:"name"`
	Kind  Kind   `json:"kind"`
	Table string `json:"table"`
	// Role is the role needed in the row's group ("" for an unguarded
	// policy); ReadRole the role that may tell denied from not found.
	Role     string `json:"role"`
	ReadRole string `json:"read_role,omitempty"`
	// Group is the group the guard compares: "group_id" on the table
	// itself, or the parent chain "thread_id>threads.group_id" (see
	// PermissionGroup).
	Group string `json:"group,omitempty"`
	// Parents is the chain from Table to the row holding the group.
	Parents []ReportParent `json:"parents,omitempty"`
	// Conditions are the extra conditions ANDed with the guard, as
	// declared, with <subject> for the placeholder Subject. They only
	// narrow; the lock file holds their number and their Subject count.
	Conditions    []string `json:"conditions,omitempty"`
	AdminOverride bool     `json:"admin_override"`
	OwnerColumn   string   `json:"owner_column,omitempty"`
	// Set are the columns an update (or an upsert's update) may change;
	// Write the columns an insert writes (SubjectColumn included).
	Set   []string `json:"set,omitempty"`
	Write []string `json:"write,omitempty"`
	// SubjectColumn is the inserted column bound to the capability's
	// subject (it is in Write too).
	SubjectColumn string `json:"subject_column,omitempty"`
	// Joins are the relations a read's query reads besides Table.
	Joins []string `json:"joins,omitempty"`
	// DistinguishDenied: a Get that reveals that a key exists.
	DistinguishDenied bool `json:"distinguish_denied,omitempty"`
	// Unguarded is the reason of a policy without group guard.
	Unguarded string `json:"unguarded,omitempty"`
}

// ReportParent is one hop of a parent chain.
type ReportParent struct {
	Column string `json:"column"`
	Table  string `json:"table"`
	Key    string `json:"key"`
}

// ReservedPolicy flags a policy that bypasses the group guard.
type ReservedPolicy struct {
	Name string `json:"name"`
	// Bypass is "unguarded" (no group guard at all) or "admin-override"
	// (the admin flag passes the group comparison in every group).
	Bypass string `json:"bypass"`
	// Reason is the application's reason for an unguarded policy.
	Reason string `json:"reason,omitempty"`
	// Scope says what the bypass opens, e.g. "delete on threads".
	Scope string `json:"scope"`
}

// The bypasses of ReservedPolicy.
const (
	BypassUnguarded     = "unguarded"
	BypassAdminOverride = "admin-override"
)

// Report returns the audit report of the declared policies, sorted by
// name.
func (r *Registry) Report() Report {
	rep := Report{Policies: []ReportPolicy{}, Reserved: []ReservedPolicy{}}
	for _, p := range r.Policies() {
		rp := ReportPolicy{
			Name: p.Name, Kind: p.Kind, Table: p.Table,
			Role: p.Role, ReadRole: p.ReadRole, Group: PermissionGroup(p),
			Conditions: p.Conditions, AdminOverride: p.AdminOverride, OwnerColumn: p.OwnerColumn,
			Set: p.Set, Write: writtenColumns(p), SubjectColumn: p.SubjectColumn, Joins: p.Joins,
			DistinguishDenied: p.DistinguishDenied,
			Unguarded:         p.Unguarded,
		}
		for _, h := range p.Parents {
			rp.Parents = append(rp.Parents, ReportParent{Column: h.Column, Table: h.Table, Key: parentKey(h)})
		}
		rep.Policies = append(rep.Policies, rp)
		scope := string(p.Kind) + " on " + p.Table
		switch {
		case p.Unguarded != "":
			rep.Reserved = append(rep.Reserved, ReservedPolicy{Name: p.Name, Bypass: BypassUnguarded, Reason: p.Unguarded, Scope: scope})
		case p.AdminOverride:
			rep.Reserved = append(rep.Reserved, ReservedPolicy{Name: p.Name, Bypass: BypassAdminOverride, Scope: scope + " in every group"})
		}
	}
	return rep
}

// WriteJSON writes the report as indented JSON with stable field names:
// {"policies": [...], "reserved": [...]}.
func (rep Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return fmt.Errorf("sqlguard: audit report: %w", err)
	}
	return nil
}

// WriteText writes the report for people: an aligned table of every
// policy, then the RESERVED section of the policies that bypass the group
// guard. An empty cell is "-".
func (rep Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "POLICY\tKIND\tTABLE\tROLE\tREAD\tGROUP\tOWNER\tADMIN\tSET\tCONDITIONS")
	for _, p := range rep.Policies {
		role := p.Role
		if p.Unguarded != "" {
			role = "UNGUARDED"
		}
		admin := "no"
		if p.AdminOverride {
			admin = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			p.Name, p.Kind, p.Table, dash(role), dash(p.ReadRole), dash(p.Group), dash(p.OwnerColumn),
			admin, dash(strings.Join(p.Set, ",")), dash(strings.Join(p.Conditions, " AND ")))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("sqlguard: audit report: %w", err)
	}
	if len(rep.Reserved) == 0 {
		_, err := fmt.Fprintln(w, "\nRESERVED: none (every policy is confined to the groups of its role)")
		return err
	}
	fmt.Fprintf(w, "\nRESERVED: %d policies bypass the group guard\n", len(rep.Reserved))
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, p := range rep.Reserved {
		what := "the admin flag passes the group check"
		if p.Bypass == BypassUnguarded {
			what = "no group guard: " + p.Reason
		}
		fmt.Fprintf(tw, "  !! %s\t%s\t%s\t%s\n", p.Name, p.Bypass, p.Scope, what)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("sqlguard: audit report: %w", err)
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// PermissionGroup renders where a policy's guard finds the group: the
// group column of the table itself ("group_id"), or the parent chain from
// the table's reference column through each parent table to the group
// column ("thread_id>threads.group_id", two hops
// "post_id>posts.thread_id>threads.group_id"; a parent key other than id
// shows as "threads[uid]"). It is "" for an unguarded policy.
func PermissionGroup(p PolicyInfo) string {
	if p.Unguarded != "" || p.GroupColumn == "" {
		return ""
	}
	var b strings.Builder
	for i, h := range p.Parents {
		if i == 0 {
			b.WriteString(h.Column)
		} else {
			b.WriteString("." + h.Column)
		}
		b.WriteString(">" + h.Table)
		if k := parentKey(h); k != "id" {
			b.WriteString("[" + k + "]")
		}
	}
	if len(p.Parents) > 0 {
		b.WriteString(".")
	}
	b.WriteString(p.GroupColumn)
	return b.String()
}

func parentKey(h Parent) string {
	if h.Key == "" {
		return "id"
	}
	return h.Key
}

// requestColumns are the columns an insert or upsert takes from the
// call's values.
func requestColumns(p PolicyInfo) []string {
	if p.Kind != KindInsert && p.Kind != KindInsertChild && p.Kind != KindUpsert {
		return nil
	}
	return slices.Clone(p.Columns)
}

// writtenColumns are the columns an insert or upsert writes.
func writtenColumns(p PolicyInfo) []string {
	if p.Kind != KindInsert && p.Kind != KindInsertChild && p.Kind != KindUpsert {
		return nil
	}
	out := append([]string(nil), p.Columns...)
	if p.SubjectColumn != "" {
		out = append(out, p.SubjectColumn)
	}
	return out
}
