package sqlguard

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/keyhole-go/keyhole/capability"
	"github.com/keyhole-go/keyhole/internal/testdb"
)

var wireArrayTypes = map[capability.GroupKind]struct {
	sql string
	oid uint32
}{
	capability.KindInt64: {"int8[]", pgtype.Int8ArrayOID},
	capability.KindUUID:  {"uuid[]", pgtype.UUIDArrayOID},
	capability.KindText:  {"text[]", pgtype.TextArrayOID},
}

// wireSets returns group sets of kind: one group, a few, 1,000, and for
// text the ids that the text form must quote or escape.
func wireSets(t testing.TB, kind capability.GroupKind) map[string]*capability.GroupSet {
	t.Helper()
	roles, err := capability.Chain("member")
	if err != nil {
		t.Fatal(err)
	}
	set := func(ids ...capability.Group) *capability.GroupSet {
		p := capability.Params{Subject: "s", Expiry: time.Now().Add(time.Hour), MaxGrants: 5000}
		for _, g := range ids {
			p.Grants = append(p.Grants, capability.Grant{Group: g, Role: "member"})
		}
		c, err := capability.New(roles, kind, p)
		if err != nil {
			t.Fatal(err)
		}
		return c.Groups("member")
	}
	id := func(n int64) capability.Group {
		switch kind {
		case capability.KindInt64:
			return capability.Int64Group(n)
		case capability.KindUUID:
			var u [16]byte
			for i := range u {
				u[i] = byte(n >> (8 * (i % 8)) * int64(i+1))
			}
			return capability.UUIDGroup(u)
		}
		return capability.TextGroup(fmt.Sprintf("g%d", n))
	}
	var many []capability.Group
	for n := int64(1); n <= 1000; n++ {
		many = append(many, id(n*7919-500000))
	}
	sets := map[string]*capability.GroupSet{
		"one":  set(id(-1)),
		"few":  set(id(1), id(2), id(9_000_000_000_000)),
		"1000": set(many...),
	}
	if kind == capability.KindText {
		var odd []capability.Group
		for _, s := range []string{`a"b`, `a\b`, `NULL`, `null`, `{x}`, `a,b`, ` lead`, `trail `, `ünï€😀`, `'`, "tab\tnl\n", `""`} {
			odd = append(odd, capability.TextGroup(s))
		}
		sets["odd"] = set(odd...)
	}
	return sets
}

// TestWireArrayEncoding: the binary form of every kind is byte for byte
// what pgx's own encoder makes of the set's Go values, and the text form
// is Bind's.
func TestWireArrayEncoding(t *testing.T) {
	m := pgtype.NewMap()
	for kind, typ := range wireArrayTypes {
		for name, s := range wireSets(t, kind) {
			ga := encodeSet(s).(*groupArrays)
			a := ga.wire.(*wireArray)
			if ga.text != nil {
				t.Errorf("%v %s: text form built before it was needed", kind, name)
			}
			if a.textForm() != encodeText(s) || ga.textArg() != ga.textArg() {
				t.Errorf("%v %s: text %q, want %q", kind, name, a.textForm(), encodeText(s))
			}
			var goValue any
			switch kind {
			case capability.KindInt64:
				goValue = s.Int64s()
			case capability.KindUUID:
				goValue = s.UUIDs()
			default:
				goValue = s.Texts()
			}
			want, err := m.Encode(typ.oid, pgtype.BinaryFormatCode, goValue, nil)
			if err != nil {
				t.Fatal(err)
			}
			if string(a.bin) != string(want) {
				t.Errorf("%v %s: binary form differs from pgx's encoding of %T", kind, name, goValue)
			}
			if cap(a.bin) != len(a.bin) {
				t.Errorf("%v %s: binary form sized %d, used %d", kind, name, cap(a.bin), len(a.bin))
			}
		}
	}
	if encodeSet(&capability.GroupSet{}) != any(emptyArrays) || arrays(nil, "member") != emptyArrays {
		t.Error("an empty set must bind the shared empty array")
	}
}

// TestWireArrayModes: in every pgx query mode (set up with RegisterTypes),
// and on a connection that was not set up (pgx falls back to the text
// format, and TypesRegistered says so), PostgreSQL reads the bound
// *wireArray as the same array as its text form; in the modes that
// describe the statement it was sent in binary; and the connection's map
// gains one wrapper function however often it is set up.
func TestWireArrayModes(t *testing.T) {
	db := testdb.New(t, "")
	ctx := t.Context()
	for kind, typ := range wireArrayTypes {
		sets := wireSets(t, kind)
		for _, mode := range []string{"cache_statement", "cache_describe", "describe_exec", "exec", "simple_protocol", "unregistered"} {
			url := db.URL
			if mode != "unregistered" {
				url += "&default_query_exec_mode=" + mode
			}
			conn, err := pgx.Connect(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			funcs := len(conn.TypeMap().TryWrapEncodePlanFuncs)
			if mode != "unregistered" {
				for range 2 {
					if err := RegisterTypes(ctx, conn); err != nil {
						t.Fatal(err)
					}
				}
			}
			sql := fmt.Sprintf("select $1::%[1]s = $2::%[1]s, cardinality($1::%[1]s), array_lower($1::%[1]s, 1), $1::%[1]s is null", typ.sql)
			for name, s := range sets {
				a := encodeSet(s).(*groupArrays)
				for round := 0; round < 2; round++ {
					args := []any{a.wire, a.textArg()}
					var (
						same, isNull bool
						n, lower     int32
					)
					if err := conn.QueryRow(ctx, sql, args...).Scan(&same, &n, &lower, &isNull); err != nil {
						t.Fatalf("%v %s %s: %v", kind, mode, name, err)
					}
					if !same || int(n) != s.Len() || lower != 1 || isNull {
						t.Errorf("%v %s %s: equal to the text form %v, %d elements (want %d), lower bound %d, null %v",
							kind, mode, name, same, n, s.Len(), lower, isNull)
					}
					// The empty array too, as it is bound: "{}", never NULL.
					var empty int32
					if err := conn.QueryRow(ctx, fmt.Sprintf("select cardinality($1::%s)", typ.sql), emptyArrays.wire).Scan(&empty); err != nil || empty != 0 {
						t.Errorf("%v %s: empty array: %d, %v", kind, mode, empty, err)
					}
				}
			}
			m := conn.TypeMap()
			_, registered := m.PlanEncode(pgtype.Int8ArrayOID, pgtype.BinaryFormatCode, wireProbe).(wirePlan)
			if want := mode != "unregistered"; registered != want || TypesRegistered(conn) != want {
				t.Errorf("%v %s: binary plan registered %v, TypesRegistered %v, want %v", kind, mode, registered, TypesRegistered(conn), want)
			}
			// What pgx sends for the array, given the statement's
			// description (the modes that describe it): the binary form,
			// once registered; the text form otherwise.
			sd, err := conn.Prepare(ctx, "", sql)
			if err != nil {
				t.Fatal(err)
			}
			a := encodeSet(sets["1000"]).(*groupArrays).wire.(*wireArray)
			var eqb pgx.ExtendedQueryBuilder
			if err := eqb.Build(m, sd, []any{a, a.textForm()}); err != nil {
				t.Fatal(err)
			}
			if registered && (eqb.ParamFormats[0] != pgtype.BinaryFormatCode || string(eqb.ParamValues[0]) != string(a.bin)) {
				t.Errorf("%v %s: the array is sent in format %d, not as its binary form", kind, mode, eqb.ParamFormats[0])
			}
			if !registered && (eqb.ParamFormats[0] != pgtype.TextFormatCode || string(eqb.ParamValues[0]) != a.textForm()) {
				t.Errorf("%v %s: unregistered, the array is sent in format %d, not as its text", kind, mode, eqb.ParamFormats[0])
			}
			want := funcs
			if mode != "unregistered" {
				want++
			}
			if got := len(m.TryWrapEncodePlanFuncs); got != want {
				t.Errorf("%v %s: %d wrapper functions after the calls, want %d", kind, mode, got, want)
			}
			if err := conn.Close(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestWireArrayOnlyClaimsItself: the wrapper matches *wireArray and
// nothing else, and a fresh map has no binary plan for it (so that,
// unregistered, pgx uses the text form instead of guessing).
func TestWireArrayOnlyClaimsItself(t *testing.T) {
	for _, v := range []any{nil, "{1}", []int64{1}, wireArray{}, (*wireArray)(nil), &struct{}{}} {
		if _, _, ok := tryWrapWireArray(v); ok {
			t.Errorf("tryWrapWireArray claims %#v", v)
		}
	}
	m := pgtype.NewMap()
	if _, err := m.Encode(pgtype.Int8ArrayOID, pgtype.BinaryFormatCode, wireProbe, nil); err == nil {
		t.Error("a fresh map encodes a *wireArray in binary")
	}
	if b, err := m.Encode(pgtype.Int8ArrayOID, pgtype.TextFormatCode, wireProbe, nil); err != nil || string(b) != "{}" {
		t.Errorf("text form on a fresh map: %q, %v", b, err)
	}
	registerWireArrays(m)
	registerWireArrays(m)
	n := len(m.TryWrapEncodePlanFuncs)
	if reflect.ValueOf(m.TryWrapEncodePlanFuncs[0]).Pointer() != reflect.ValueOf(tryWrapWireArray).Pointer() {
		t.Error("wrapper not first")
	}
	if n != len(pgtype.NewMap().TryWrapEncodePlanFuncs)+1 {
		t.Errorf("%d wrapper functions after registering twice", n)
	}
	if b, err := m.Encode(pgtype.Int8ArrayOID, pgtype.BinaryFormatCode, wireProbe, nil); err != nil || len(b) != 0 {
		t.Errorf("probe: %x, %v", b, err)
	}
	if got := fmt.Sprintf("%v %s %#v", wireProbe, wireProbe, wireProbe); got != "{} {} {}" {
		t.Errorf("formatted as %q", got)
	}
}

// BenchmarkWireArrayEncode: what pgx does with a bound group array per
// call, on a connection's map: copy the memoized binary form (registered
// map), copy the memoized text (the text modes), or encode the Go values
// element by element (pgx's own []int64 path).
func BenchmarkWireArrayEncode(b *testing.B) {
	m := pgtype.NewMap()
	registerWireArrays(m)
	for _, n := range []string{"few", "1000"} {
		s := wireSets(b, capability.KindInt64)[n]
		a := encodeSet(s).(*groupArrays).wire.(*wireArray)
		ints := s.Int64s()
		buf := make([]byte, 0, 64<<10)
		// Once per capability and role: the memo (the binary form), and
		// the text form on first use.
		b.Run(fmt.Sprintf("build-memo/groups=%d", s.Len()), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				encodeSet(s)
			}
		})
		b.Run(fmt.Sprintf("build-text/groups=%d", s.Len()), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				encodeText(s)
			}
		})
		for _, tc := range []struct {
			name   string
			format int16
			value  any
		}{
			{"memo-binary", pgtype.BinaryFormatCode, a},
			{"memo-text", pgtype.TextFormatCode, a},
			{"int64s-binary", pgtype.BinaryFormatCode, ints},
		} {
			b.Run(fmt.Sprintf("%s/groups=%d", tc.name, s.Len()), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := m.Encode(pgtype.Int8ArrayOID, tc.format, tc.value, buf[:0]); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestBindWireAllocs: binding for execution (the arrays as *wireArray)
// allocates no more than Bind (the arrays as text),
// and binds the memoized values themselves.
func TestBindWireAllocs(t *testing.T) {
	roles, err := capability.Chain("member")
	if err != nil {
		t.Fatal(err)
	}
	reg := MustNewRegistry(roles, capability.KindInt64)
	post := reg.MustInsert(Policy{Name: "posts.create", Table: "posts", Columns: []string{"content", "thread_id"},
		SubjectColumn: "author", Parents: []Parent{{Column: "thread_id", Table: "threads"}}, GroupColumn: "group_id", Role: "member"})
	p := capability.Params{Subject: "s", Expiry: time.Now().Add(time.Hour), MaxGrants: 5000}
	for n := int64(1); n <= 1000; n++ {
		p.Grants = append(p.Grants, capability.Grant{Group: capability.Int64Group(n), Role: "member"})
	}
	c, err := capability.New(roles, capability.KindInt64, p)
	if err != nil {
		t.Fatal(err)
	}
	// A delete through the parent compares the group of every row it
	// reads: the groups go as an array.
	del := reg.MustDelete(Policy{Name: "posts.delete", Table: "posts", Key: []string{"id"},
		Parents: []Parent{{Column: "thread_id", Table: "threads"}}, GroupColumn: "group_id", Role: "member"})
	values := []any{int64(1)}
	_, args, err := del.c.bind(c, values)
	if err != nil {
		t.Fatal(err)
	}
	if len(args) != 2 {
		t.Fatalf("execution args %v: want the 2 parameters and nothing else", args)
	}
	a, ok := args[1].(*wireArray)
	if !ok || a != arrays(c, "member").wire {
		t.Errorf("$2 bound as %T, want the memoized *wireArray", args[1])
	}
	_, plain, _ := del.c.bindPlain(c, values)
	if len(plain) != 2 || plain[1] != arrays(c, "member").textArg() {
		t.Errorf("Bind's args %v: want 2, the array as its text", plain)
	}
	wire := testing.AllocsPerRun(100, func() { _, _, _ = del.c.bind(c, values) })
	text := testing.AllocsPerRun(100, func() { _, _, _ = del.c.bindPlain(c, values) })
	if wire > text || wire > 2 {
		t.Errorf("bind for execution: %v allocations, Bind: %v", wire, text)
	}
	// Without a capability (or without groups) nothing is binary: "{}" is
	// text in every mode.
	_, args, _ = del.c.bind(nil, values)
	if len(args) != 2 || args[1] != emptyArray {
		t.Errorf("nil capability: args %v", args)
	}

	// A child insert compares one parent's group: the groups go as the
	// memoized delimited text, in both binds, allocating no more.
	cvals := []any{"p", int64(1)}
	_, args, _ = post.c.bind(c, cvals)
	_, plain, _ = post.c.bindPlain(c, cvals)
	list := arrays(c, "member").listArg()
	if len(args) != 4 || args[3] != list || len(plain) != 4 || plain[3] != list {
		t.Errorf("child insert: args %v, Bind's %v: want $4 the groups' delimited text", args, plain)
	}
	if s, _ := list.(string); !strings.HasPrefix(s, ",1,2,3,") || !strings.HasSuffix(s, ",999,1000,") {
		t.Errorf("delimited text %.20q…: want \",1,2,3,…,1000,\"", s)
	}
	if n := testing.AllocsPerRun(100, func() { _, _, _ = post.c.bind(c, cvals) }); n > 2 {
		t.Errorf("child insert: %v allocations", n)
	}
	_, args, _ = post.c.bind(nil, cvals)
	if len(args) != 4 || args[3] != emptyList {
		t.Errorf("nil capability: child insert args %v, want $4 %q", args, emptyList)
	}
}

// wireProbe is a *wireArray used to ask a map whether it knows wirePlan.
var wireProbe = &wireArray{arrays: emptyArrays, next: []int64(nil)}
