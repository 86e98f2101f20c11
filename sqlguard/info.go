package sqlguard

import (
	"fmt"
	"slices"
	"strings"
)

// PolicyInfo describes a declared policy: everything an audit report, an
// approval lock file (package approval) or the generated row-level
// security (package wall) needs. It is the one description of a policy
// that leaves the registry (Registry.Policies, Registry.Policy, the Info
// methods, SetApproval's callback); Policy is the declaration that goes
// in. It is a copy: changing it changes nothing.
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
	// Joins are the relations the caller's query (List, Get) and its
	// conditions read besides Table: joined, or in subqueries (TABLE t
	// too); a function is written name().
	Joins         []string
	AdminOverride bool
	// Unguarded is the declared reason of a statement without group guard.
	Unguarded string
	// AdminOnly is set for a statement that only the admin flag allows
	// (Policy.AdminOnly).
	AdminOnly bool
	// Columns, Key, Set and Returning as declared.
	Columns   []string
	Key       []string
	Set       []string
	Returning []string
	// DistinguishDenied is set for a Get that tells denied from not found.
	DistinguishDenied bool
	// LiveSession is set when the statement requires the capability's
	// session to be live (Policy.LiveSession, or the registry's
	// SessionTable.Required).
	LiveSession bool
	// LiveSQL, with LiveSession, is the registry's liveness query: a call
	// that did nothing (no row written, an empty list, no row for a Get,
	// a denial) runs it before it answers, to tell an ended session
	// (ErrSessionEnded) from its other refusals. It reads the sessions
	// (and subjects) tables only.
	LiveSQL string
	// FreshMembership is set when the group comparison also requires a
	// membership row in one of FreshRoles (the roles that include Role).
	FreshMembership bool
	FreshRoles      []string
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
	// for Role, a typed array), "groups-list" (the same groups as text
	// delimited by commas, ",1,2,3,", for int8 and uuid ids, where one
	// parent row's group is compared), "group-match" (those groups intersected
	// with the call's value Value, bound as a scalar of the group column's
	// type: the value when the capability holds it for Role, else NULL),
	// "admin" (the admin flag), "subject", "session" (the session id,
	// NULL for none), "issued-at" (the token's iat, NULL when zero).
	Source   string
	Value    int
	Role     string
	Constant string
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
	p.FreshRoles = slices.Clone(p.FreshRoles)
	return p
}

// GroupPath renders where the policy's guard finds the group: the group
// column of the table itself ("group_id"), or the parent chain from the
// table's reference column through each parent table to the group column
// ("thread_id>threads.group_id", two hops
// "post_id>posts.thread_id>threads.group_id"; a parent key other than id
// shows as "threads[uid]"). It is "" for an unguarded policy. The lock
// file's group= field and the audit report's group column hold it.
func (p PolicyInfo) GroupPath() string {
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
		if k := h.key(); k != "id" {
			b.WriteString("[" + k + "]")
		}
	}
	if len(p.Parents) > 0 {
		b.WriteString(".")
	}
	b.WriteString(p.GroupColumn)
	return b.String()
}

// key is the parent's referenced column, "id" by default.
func (h Parent) key() string {
	if h.Key == "" {
		return "id"
	}
	return h.Key
}

// RequestColumns are the columns an insert or an upsert takes from the
// call's values (Columns); nil for the other kinds.
func (p PolicyInfo) RequestColumns() []string {
	if !p.Kind.inserts() {
		return nil
	}
	return slices.Clone(p.Columns)
}

// WrittenColumns are the columns an insert or an upsert writes: Columns,
// then SubjectColumn; nil for the other kinds.
func (p PolicyInfo) WrittenColumns() []string {
	if !p.Kind.inserts() {
		return nil
	}
	out := slices.Clone(p.Columns)
	if p.SubjectColumn != "" {
		out = append(out, p.SubjectColumn)
	}
	return out
}

func (k Kind) inserts() bool { return k == KindInsert || k == KindInsertChild || k == KindUpsert }

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
		case slotGroupsList:
			p.Source, p.Role = "groups-list", s.role
		case slotAdmin:
			p.Source = "admin"
		case slotSubject:
			p.Source = "subject"
		case slotSession:
			p.Source = "session"
		case slotIssuedAt:
			p.Source = "issued-at"
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
