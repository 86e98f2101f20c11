package sqlguard

import (
	"fmt"
	"strconv"
	"strings"

	sq "github.com/Masterminds/squirrel"
)

// A slot says what one placeholder binds at call time. Guards and fragments
// emit slots as their arguments; at declaration every '?' of the finished
// statement is numbered once, and identical capability slots share one
// number, so that a 1,000-element array is bound (and parsed by PostgreSQL)
// once even when the statement compares it twice.
type slot struct {
	kind slotKind
	i    int    // call value index (slotValue, slotGroupMatch), constant index (slotConst)
	role string // slotGroups, slotGroupMatch, slotGroupsList
}

type slotKind uint8

const (
	slotValue      slotKind = iota + 1 // the call's value i
	slotConst                          // a constant from the declaration
	slotGroups                         // the capability's groups for role, one typed array
	slotGroupMatch                     // groups for role ∩ {value i}: value i, or NULL when not in them
	slotGroupsList                     // the capability's groups for role as delimited text ",1,2,3,"
	slotAdmin                          // the capability's admin flag
	slotSubject                        // the capability's subject, NULL when empty
	slotSession                        // the capability's session id, NULL when empty
	slotIssuedAt                       // the capability's issued-at time, NULL when zero
)

// frag is a piece of SQL with '?' placeholders whose args are slots. It is
// the building block of every guard and statement.
type frag struct {
	sql  string
	args []any
}

func (f frag) ToSql() (string, []any, error) { return f.sql, f.args, nil }

var (
	_ sq.Sqlizer = frag{}
	_ sq.Sqlizer = groupGuard{}
	_ sq.Sqlizer = matchGuard{}
	_ sq.Sqlizer = parentGuard{}
	_ sq.Sqlizer = rowGuard{}
)

// buf accumulates SQL text and slot args.
type buf struct {
	b    strings.Builder
	args []any
}

func (b *buf) s(parts ...string) *buf {
	for _, p := range parts {
		b.b.WriteString(p)
	}
	return b
}

func (b *buf) slot(s slot) *buf {
	b.b.WriteByte('?')
	b.args = append(b.args, s)
	return b
}

func (b *buf) frag(f frag) *buf {
	b.b.WriteString(f.sql)
	b.args = append(b.args, f.args...)
	return b
}

func (b *buf) done() frag { return frag{b.b.String(), b.args} }

// render is ToSql for our own Sqlizers, which never fail.
func render(s sq.Sqlizer) frag {
	sql, args, err := s.ToSql()
	if err != nil {
		panic("sqlguard: internal guard failed to render: " + err.Error())
	}
	return frag{sql, args}
}

// groupGuard is the row predicate on a group column:
//
//	(col = ANY(?::int8[]) OR ?admin OR owner = ?subject)
//
// with the admin and owner alternatives only when declared. It always
// renders the group comparison: it is never empty and never (1=1). A NULL
// group id compares as NULL, so the row is refused (unless the declared
// admin override is bound true: the override replaces the group
// comparison).
//
// With list (see listable), the group comparison is instead a search in
// the groups' delimited text:
//
//	(strpos(?::text, ',' || col::int8::text || ',') > 0 OR ?admin)
type groupGuard struct {
	col       string // quoted, qualified group column
	arrayType string // int8[], uuid[] or text[]
	role      string
	admin     bool   // OR ?admin
	owner     string // quoted, qualified owner column, or ""
	fresh     *fresh // AND a membership row of the subject in the group
	list      bool   // compare with the delimited text, see listable
}

// listable reports whether groups of arrayType may be compared as
// delimited text (",1,2,3,"): int8 and uuid ids, whose text forms hold no
// comma and are canonical on both sides (strconv's and int8out's
// decimals; lowercase hyphenated UUIDs from sqlguard and uuid_out), so
// that ",id," occurs in the text exactly when id is one of the groups. Text
// ids may hold commas: they stay arrays.
//
// Why: the parent guard of a child insert
// compares the group of one parent row, found by key, with the
// capability's groups. Bound as an int8[] of 1,000 groups, PostgreSQL
// decodes the array (array_recv, one call of int8recv per element) before
// the statement runs: measured at about 60 µs of a 130 µs child insert,
// most of the gap to the plain insert (BenchmarkInsert, child vs
// plainchild at groups=1000). Bound as text, the parameter is copied,
// not decoded, and the comparison is one strpos over about 5 kB. The list
// form is only used where one row is compared: a guard on many rows keeps
// the array, which an index scan can use.
func listable(arrayType string) bool { return arrayType == "int8[]" || arrayType == "uuid[]" }

func (g groupGuard) ToSql() (string, []any, error) {
	var b buf
	if g.list && listable(g.arrayType) {
		// col::int8::text (or ::uuid::text): the canonical text of the
		// kind, and an error, not a text comparison, for a column of
		// another type.
		b.s("(strpos(").slot(slot{kind: slotGroupsList, role: g.role}).s("::text, ',' || ", g.col, "::", strings.TrimSuffix(g.arrayType, "[]"), "::text || ',') > 0")
	} else {
		b.s("(", g.col, " = ANY(").slot(slot{kind: slotGroups, role: g.role}).s("::", g.arrayType, ")")
	}
	if g.fresh != nil {
		b.s(" AND ").frag(g.fresh.frag(frag{sql: g.col}))
	}
	if g.admin {
		b.s(" OR ").slot(slot{kind: slotAdmin})
	}
	if g.owner != "" {
		b.s(" OR ", g.owner, " = ").slot(slot{kind: slotSubject})
	}
	b.s(")")
	f := b.done()
	return f.sql, f.args, nil
}

// matchGuard is the predicate on a group given as a call value (a direct
// insert, the target group of a move):
//
//	(? = ?::int8 OR ?admin)
//
// where the second parameter is the capability's groups for role
// intersected with {value}, bound as a scalar of the column's type: the
// value itself when the capability holds it, SQL NULL otherwise. A NULL
// makes the comparison NULL, which selects no row (fail closed) and which
// the status branches read through COALESCE(…, FALSE). PostgreSQL still
// compares, on one value instead of an array of them.
type matchGuard struct {
	value    int
	elemType string // int8, uuid, text
	role     string
	admin    bool
	fresh    *fresh
}

func (g matchGuard) ToSql() (string, []any, error) {
	var b buf
	b.s("(").slot(slot{kind: slotValue, i: g.value}).s(" = ").
		slot(slot{kind: slotGroupMatch, i: g.value, role: g.role}).s("::", g.elemType)
	if g.fresh != nil {
		var v buf
		v.slot(slot{kind: slotValue, i: g.value}).s("::", g.elemType)
		b.s(" AND ").frag(g.fresh.frag(v.done()))
	}
	if g.admin {
		b.s(" OR ").slot(slot{kind: slotAdmin})
	}
	b.s(")")
	f := b.done()
	return f.sql, f.args, nil
}

// hop is a validated, quoted Parent.
type hop struct {
	column, table, key, alias string // quoted
	raw                       Parent
}

// chain renders the FROM of a parent chain and the first hop's key column:
//
//	"threads" AS "p1" JOIN "groups" AS "p2" ON "p2"."id" = "p1"."group_ref"
func chain(hops []hop) (from, firstKey, last string) {
	var b strings.Builder
	for i, h := range hops {
		if i > 0 {
			b.WriteString(" JOIN ")
		}
		b.WriteString(h.table + " AS " + h.alias)
		if i > 0 {
			b.WriteString(" ON " + h.alias + "." + h.key + " = " + hops[i-1].alias + "." + h.column)
		}
	}
	return b.String(), hops[0].alias + "." + hops[0].key, hops[len(hops)-1].alias
}

// parentGuard is the predicate on a group reached through parent rows:
//
//	EXISTS (SELECT 1 FROM "threads" AS "p1" WHERE "p1"."id" = <ref>
//	        AND ("p1"."group_id" = ANY(?::int8[]) OR ?admin) [AND cond] [FOR SHARE])
//
// ref is the row's reference column, or a call value (child insert, move).
type parentGuard struct {
	hops  []hop
	ref   frag // "t"."thread_id" or a value slot
	group groupGuard
	conds []frag
	lock  Lock
}

func (g parentGuard) ToSql() (string, []any, error) {
	from, key, _ := chain(g.hops)
	var b buf
	b.s("EXISTS (SELECT 1 FROM ", from, " WHERE ", key, " = ").frag(g.ref).s(" AND ").frag(render(g.group))
	for _, c := range g.conds {
		b.s(" AND ").frag(c)
	}
	if g.lock != LockNone {
		b.s(" ", g.lock.String())
	}
	b.s(")")
	f := b.done()
	return f.sql, f.args, nil
}

// rowGuard is the guard of an existing row: a groupGuard on its own group
// column, or a parentGuard with the owner alternative outside the EXISTS.
type rowGuard struct {
	direct *groupGuard
	parent *parentGuard
	owner  string // for parent guards: quoted, qualified owner column
}

func (g rowGuard) ToSql() (string, []any, error) {
	if g.direct != nil {
		return g.direct.ToSql()
	}
	if g.owner == "" {
		return g.parent.ToSql()
	}
	var b buf
	b.s("(").frag(render(*g.parent)).s(" OR ", g.owner, " = ").slot(slot{kind: slotSubject}).s(")")
	f := b.done()
	return f.sql, f.args, nil
}

// bindings turns the args of a rendered user piece (a condition, the
// caller's query) into slots: our own slots stay, Arg takes the next call
// value, Subject the capability's subject, anything else is a constant.
type bindings struct {
	next   int   // next call value index for Arg
	consts []any // constant values by index
}

func (bd *bindings) slots(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case slot:
			out[i] = v
		case Placeholder:
			switch v.p {
			case phArg:
				out[i] = slot{kind: slotValue, i: bd.next}
				bd.next++
			case phSubject:
				out[i] = slot{kind: slotSubject}
			default:
				out[i] = slot{kind: slotConst, i: bd.constant(a)}
			}
		case *Placeholder:
			// A pointer is a mistake that would bind as a constant pointer.
			out[i] = slot{kind: slotConst, i: bd.constant(a)}
		default:
			out[i] = slot{kind: slotConst, i: bd.constant(a)}
		}
	}
	return out
}

func (bd *bindings) constant(v any) int {
	bd.consts = append(bd.consts, v)
	return len(bd.consts) - 1
}

// number replaces each '?' of f by $n, once, at declaration: the statement
// is the outermost builder, so numbering happens here and nowhere else.
// It follows squirrel's Dollar format ("??" is a literal '?'), and gives
// equal slots (other than constants) the same number.
func number(f frag) (string, []slot, error) {
	var out strings.Builder
	var slots []slot
	seen := make(map[slot]int)
	ai := 0
	sql := f.sql
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		if c != '?' {
			out.WriteByte(c)
			continue
		}
		if i+1 < len(sql) && sql[i+1] == '?' {
			out.WriteByte('?')
			i++
			continue
		}
		if ai >= len(f.args) {
			return "", nil, fmt.Errorf("more placeholders than values in %q", sql)
		}
		s, ok := f.args[ai].(slot)
		if !ok {
			return "", nil, fmt.Errorf("value %d is not bound by sqlguard", ai)
		}
		ai++
		n, ok := seen[s]
		if !ok || s.kind == slotConst {
			slots = append(slots, s)
			n = len(slots)
			seen[s] = n
		}
		out.WriteString("$" + strconv.Itoa(n))
	}
	if ai != len(f.args) {
		return "", nil, fmt.Errorf("%d values for %d placeholders in %q", len(f.args), ai, sql)
	}
	return out.String(), slots, nil
}
