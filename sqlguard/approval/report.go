package approval

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/keyhole-go/keyhole/sqlguard"
)

// Report is the audit report of a registry: what every declared policy
// allows, for people (WriteText) and for tools (WriteJSON). It describes
// permissions, not SQL text.
//
// Policies that bypass the group guard are listed again in Reserved and
// flagged, the way an app store red-flags reserved permission groups: an
// Unguarded policy (with the reason the application gave) and every
// policy whose admin override lets the token's admin flag pass the group
// comparison in every group.
type Report struct {
	// Policies are the registry's policies, sorted by name.
	Policies []sqlguard.PolicyInfo
	Reserved []Reserved
}

// Reserved flags a policy that bypasses the group guard.
type Reserved struct {
	Name string `json:"name"`
	// Bypass is "unguarded" (no group guard at all), "admin-override"
	// (the admin flag passes the group comparison in every group) or
	// "admin-only" (no group guard, the admin flag alone).
	Bypass string `json:"bypass"`
	// Reason is the application's reason for an unguarded policy.
	Reason string `json:"reason,omitempty"`
	// Scope says what the bypass opens, e.g. "delete on threads".
	Scope string `json:"scope"`
}

// The bypasses of Reserved.
const (
	BypassUnguarded     = "unguarded"
	BypassAdminOverride = "admin-override"
	BypassAdminOnly     = "admin-only"
)

// NewReport returns the audit report of r's declared policies, sorted by
// name.
func NewReport(r *sqlguard.Registry) Report {
	rep := Report{Policies: r.Policies(), Reserved: []Reserved{}}
	for _, p := range rep.Policies {
		scope := string(p.Kind) + " on " + p.Table
		switch {
		case p.Unguarded != "":
			rep.Reserved = append(rep.Reserved, Reserved{Name: p.Name, Bypass: BypassUnguarded, Reason: p.Unguarded, Scope: scope})
		case p.AdminOnly:
			rep.Reserved = append(rep.Reserved, Reserved{Name: p.Name, Bypass: BypassAdminOnly, Scope: scope + ", no group"})
		case p.AdminOverride:
			rep.Reserved = append(rep.Reserved, Reserved{Name: p.Name, Bypass: BypassAdminOverride, Scope: scope + " in every group"})
		}
	}
	return rep
}

// jsonPolicy is a policy's row in WriteJSON: its field names are stable.
type jsonPolicy struct {
	Name              string        `json:"name"`
	Kind              sqlguard.Kind `json:"kind"`
	Table             string        `json:"table"`
	Role              string        `json:"role"`
	ReadRole          string        `json:"read_role,omitempty"`
	Group             string        `json:"group,omitempty"`
	Parents           []jsonParent  `json:"parents,omitempty"`
	Conditions        []string      `json:"conditions,omitempty"`
	AdminOverride     bool          `json:"admin_override"`
	OwnerColumn       string        `json:"owner_column,omitempty"`
	Set               []string      `json:"set,omitempty"`
	Write             []string      `json:"write,omitempty"`
	SubjectColumn     string        `json:"subject_column,omitempty"`
	Joins             []string      `json:"joins,omitempty"`
	DistinguishDenied bool          `json:"distinguish_denied,omitempty"`
	Unguarded         string        `json:"unguarded,omitempty"`
	LiveSession       bool          `json:"live_session,omitempty"`
	FreshMembership   bool          `json:"fresh_membership,omitempty"`
	FreshRoles        []string      `json:"fresh_roles,omitempty"`
}

type jsonParent struct {
	Column string `json:"column"`
	Table  string `json:"table"`
	Key    string `json:"key"`
}

// WriteJSON writes the report as indented JSON with stable field names:
// {"policies": [...], "reserved": [...]}. A policy holds name, kind,
// table, role, read_role, group (PolicyInfo.GroupPath), parents (column,
// table, key), conditions, admin_override, owner_column, set, write
// (PolicyInfo.WrittenColumns), subject_column, joins, distinguish_denied,
// unguarded, live_session, fresh_membership and fresh_roles; not the SQL
// text.
func (rep Report) WriteJSON(w io.Writer) error {
	out := struct {
		Policies []jsonPolicy `json:"policies"`
		Reserved []Reserved   `json:"reserved"`
	}{Policies: []jsonPolicy{}, Reserved: rep.Reserved}
	if out.Reserved == nil {
		out.Reserved = []Reserved{}
	}
	for _, p := range rep.Policies {
		jp := jsonPolicy{
			Name: p.Name, Kind: p.Kind, Table: p.Table,
			Role: p.Role, ReadRole: p.ReadRole, Group: p.GroupPath(),
			Conditions: p.Conditions, AdminOverride: p.AdminOverride, OwnerColumn: p.OwnerColumn,
			Set: p.Set, Write: p.WrittenColumns(), SubjectColumn: p.SubjectColumn, Joins: p.Joins,
			DistinguishDenied: p.DistinguishDenied, Unguarded: p.Unguarded,
			LiveSession: p.LiveSession, FreshMembership: p.FreshMembership, FreshRoles: p.FreshRoles,
		}
		for _, h := range p.Parents {
			key := h.Key
			if key == "" {
				key = "id"
			}
			jp.Parents = append(jp.Parents, jsonParent{Column: h.Column, Table: h.Table, Key: key})
		}
		out.Policies = append(out.Policies, jp)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("approval: audit report: %w", err)
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
		if p.AdminOnly {
			admin = "only"
		}
		conds := p.Conditions
		if p.LiveSession {
			conds = append(conds[:len(conds):len(conds)], "live session")
		}
		if p.FreshMembership {
			conds = append(conds[:len(conds):len(conds)], "fresh membership")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			p.Name, p.Kind, p.Table, dash(role), dash(p.ReadRole), dash(p.GroupPath()), dash(p.OwnerColumn),
			admin, dash(strings.Join(p.Set, ",")), dash(strings.Join(conds, " AND ")))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("approval: audit report: %w", err)
	}
	if len(rep.Reserved) == 0 {
		_, err := fmt.Fprintln(w, "\nRESERVED: none (every policy is confined to the groups of its role)")
		return err
	}
	fmt.Fprintf(w, "\nRESERVED: %d policies bypass the group guard\n", len(rep.Reserved))
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, p := range rep.Reserved {
		what := "the admin flag passes the group check"
		switch p.Bypass {
		case BypassUnguarded:
			what = "no group guard: " + p.Reason
		case BypassAdminOnly:
			what = "no group guard: the admin flag alone"
		}
		fmt.Fprintf(tw, "  !! %s\t%s\t%s\t%s\n", p.Name, p.Bypass, p.Scope, what)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("approval: audit report: %w", err)
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
