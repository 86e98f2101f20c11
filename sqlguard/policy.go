package sqlguard

import (
	sq "github.com/Masterminds/squirrel"
)

// Policy declares one guarded statement. It is a plain value: fill in the
// fields that the statement kind uses and hand it to one of the Registry's
// declaring methods (Insert, Update, Delete, Upsert, List, Get), which
// validate it, build the SQL text once and return the executable policy.
// A field that the kind does not use is an error, not silently ignored.
//
// Identifiers (tables, aliases, columns) must match ^[a-z_][a-z0-9_]*$ and
// be at most 63 bytes; they are always quoted in the SQL text. No value of a
// call ever reaches the SQL text: call values and capability values are
// bound as parameters.
type Policy struct {
	// Name identifies the policy in the registry, in errors and in the
	// audit report, e.g. "threads.create". Required and unique.
	Name string
	// Table is the table the statement writes or reads. Required.
	Table string
	// Alias, if set, names Table in the statement ("t"): conditions and
	// queries refer to the row as Alias. Otherwise they use Table's name.
	Alias string

	// Role is the role the capability must hold, or include, in the row's
	// group. Required unless Unguarded is set.
	Role string
	// ReadRole is the role with which a caller may read the row. When it
	// is set, a write that touches no row tells apart a row the caller may
	// read but not change (*DeniedError) from one it may not read or that
	// does not exist (ErrNotFound), inside the same statement. Unset, every
	// such write answers ErrNotFound (a direct insert always answers
	// *DeniedError: the caller named the group). Role must include it.
	ReadRole string
	// GroupColumn is the group column: of Table, or, when Parents are set,
	// of the last parent. Its type is fixed by the registry's GroupKind.
	GroupColumn string
	// Parents is the chain from the row to the row that holds the group:
	// post -> thread is one hop, comment -> post -> thread two.
	Parents []Parent
	// Lock locks the parent rows that the guard reads (writes only).
	Lock Lock
	// OwnerColumn, if set, is a column of the row holding the subject that
	// may also act on the row, whatever its group role: "the author may
	// edit their own post, or a moderator of its group". The subject is
	// bound from the capability (Capability.Subject), never from the call;
	// an empty subject matches no row.
	OwnerColumn string
	// AdminOverride lets a capability with the admin flag pass the group
	// comparison. It is off by default. The override sits inside the row
	// predicate: it never widens the statement beyond the rows its key and
	// conditions select, and it never replaces a parent that does not
	// exist.
	AdminOverride bool
	// Unguarded declares a statement without a group guard; the reason is
	// required and shows in the audit report. Role, ReadRole, GroupColumn,
	// Parents, OwnerColumn and AdminOverride must then be empty.
	Unguarded string
	// AdminOnly declares a statement without a group guard that only a
	// capability with the admin flag may run, for rows that belong to no
	// group (a user's sign-out, a membership): the statement carries
	// AND ($admin), bound from the capability, so PostgreSQL still decides.
	// A capability without the flag touches no row: a write answers
	// ErrNotFound (the statement cannot tell a refused admin action from a
	// missing row), a list is empty. Role, ReadRole, GroupColumn, Parents,
	// Lock, OwnerColumn, AdminOverride and Unguarded must then be empty.
	// The audit report lists it among the reserved policies.
	AdminOnly bool

	// Columns are the inserted columns (Insert, Upsert), bound from the
	// call's values in this order. A direct insert must include
	// GroupColumn; a child insert must include the first parent's Column.
	Columns []string
	// SubjectColumn is an inserted column (Insert, Upsert) bound from the
	// capability's subject, never from the call: "created_by".
	SubjectColumn string
	// Key selects the row: Update, Delete and Get bind the call's first
	// len(Key) values to it; for Upsert it is the conflict target, a subset
	// of Columns.
	Key []string
	// Set are the columns an Update sets, bound from the call's values
	// after Key, or the columns an Upsert takes from the proposed row on
	// conflict (a subset of Columns). When Set holds the group column (or
	// the first parent's Column), the new group is checked too.
	Set []string
	// Where are extra conditions ANDed with the guard: conditions on the
	// row (Update, Delete, List, Get), on the proposed values (Insert,
	// Upsert), or on the parents inside the parent check of a child insert
	// (parents are named p1..pn, or by their Alias). Values in them are
	// constants, or Arg (the next call value) or Subject. A condition can
	// only narrow what the guard allows: each is wrapped in parentheses
	// and ANDed, and is checked at declaration to be one balanced
	// expression. A condition whose parentheses close more than they open
	// or do not all close, whose string, quoted identifier or
	// dollar-quoted block does not end, or that holds ';', "--" or "/*"
	// outside those, is refused (ErrDeclaration naming the policy):
	// "NOT locked) OR (TRUE" would otherwise OR around the key and the
	// guard. Parentheses inside strings ('a)'), E-strings, quoted
	// identifiers and $tag$ blocks are text, not structure. The lock file
	// records the number of conditions and of their Subject placeholders,
	// not their text.
	Where []sq.Sqlizer
	// Returning are columns the write returns (Write.QueryRow).
	Returning []string

	// Query is the caller's select (List, Get): its result columns, joins,
	// Where, OrderBy, Limit. Its FROM is replaced by a derived table of
	// Table (and Alias) that holds the guard, the key and the conditions,
	// so nothing in the caller's WHERE can reach rows around them. Its
	// placeholders must be '?' values: constants, Arg or Subject.
	//
	// The rendered query is checked at declaration, like a condition, and
	// refused (ErrDeclaration) unless it is balanced (parentheses, strings,
	// quoted identifiers, dollar quotes; no ';', "--" or "/*"), starts with
	// SELECT (a Prefix is refused: a WITH could shadow the table), takes its
	// rows from the guarded table (its first top-level FROM is sqlguard's),
	// has no UNION, INTERSECT, EXCEPT, INTO, FOR or FETCH at the top level,
	// no RIGHT or FULL JOIN at the top level (it would keep rows of the
	// joined table that match no guarded row), and ends, after a top-level
	// LIMIT or OFFSET, with nothing else than LIMIT and OFFSET of a
	// placeholder, a number or ALL: Suffix("LIMIT ?", sqlguard.Arg) is
	// fine, Suffix("UNION SELECT ...") is not. The relations it and the
	// read's conditions read besides Table (joins, subqueries, TABLE t) are
	// listed in PolicyInfo.Joins and in the lock file: a new one needs
	// approval. Built-in functions that read relations named by a string
	// or run a query given as text (query_to_xml, table_to_xml, ts_stat,
	// crosstab, dblink, large objects, server files) are refused, in the
	// query and in every condition: the audit could not see what they
	// read.
	Query sq.SelectBuilder
	// DistinguishDenied (Get) answers *DeniedError instead of ErrNotFound
	// for a row that exists but that the caller may not read. It reveals
	// that the key exists, so it is off by default.
	DistinguishDenied bool

	// LiveSession requires the capability's session to be live, in the
	// same statement: a row of the registry's sessions table (see
	// Registry.Sessions) not revoked, and the subject's cut-off, if
	// declared, not after the token's issued-at time. A statement whose
	// session ended reads and writes nothing and answers ErrSessionEnded,
	// whatever the row (a call that did nothing runs the registry's
	// liveness query to tell; see PolicyInfo.LiveSQL). The registry's
	// SessionTable.Required sets it for every policy.
	LiveSession bool
	// FreshMembership requires, besides the token's grant, a row of the
	// registry's membership table (see Registry.Memberships) for the
	// subject in the row's group with a role that includes Role: removing
	// a member takes effect on their next statement though their token
	// still lists the group. It applies to the group comparison of the
	// statement's Role; the admin override (an admin is not a member) and
	// the owner alternative do not need it, and the read role that tells
	// denied from not found (ReadRole) is read from the token alone, so a
	// removed member is answered *DeniedError for a row they could read.
	FreshMembership bool
}

// Parent is one hop from a row to its parent row.
type Parent struct {
	// Column is the column of the child (the row, or the previous parent)
	// that references the parent, e.g. "thread_id".
	Column string
	// Table is the parent table, e.g. "threads".
	Table string
	// Key is the parent's referenced column, default "id".
	Key string
	// Alias names the parent in conditions; default "p1", "p2", ...
	Alias string
}

// Lock says how a write locks the parent rows its guard reads.
type Lock uint8

const (
	// LockNone takes no lock: a parent may be moved to another group
	// between the guard's read and the commit.
	LockNone Lock = iota
	// LockKeyShare (FOR KEY SHARE) serializes with a concurrent delete of
	// the parent or a change of its key, not with a move to another group
	// (an UPDATE of a non-key column does not conflict with KEY SHARE).
	LockKeyShare
	// LockShare (FOR SHARE) serializes with every concurrent update of the
	// parent, a move included: the insert lands before the move, or it
	// waits and re-checks the guard on the moved parent.
	LockShare
)

func (l Lock) String() string {
	switch l {
	case LockNone:
		return ""
	case LockKeyShare:
		return "FOR KEY SHARE"
	case LockShare:
		return "FOR SHARE"
	}
	return "Lock(?)"
}

// Placeholder is a value in a declared condition or query that is bound at
// call time rather than at declaration.
type Placeholder struct{ p placeholder }

type placeholder uint8

const (
	phArg placeholder = iota + 1
	phSubject
)

var (
	// Arg stands for the next call value: the n-th Arg of a policy (in the
	// order of its SQL text, after the Key values) takes the call's value
	// at that position.
	Arg = Placeholder{phArg}
	// Subject stands for the capability's subject (NULL for an empty
	// subject, so that it matches nothing).
	Subject = Placeholder{phSubject}
)
