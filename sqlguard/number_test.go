package sqlguard

import (
	"testing"

	sq "github.com/Masterminds/squirrel"
)

// TestNumber: numbering is squirrel's Dollar format ("??" is a literal
// '?'), except that equal capability slots share one parameter.
func TestNumber(t *testing.T) {
	v0, v1 := slot{kind: slotValue, i: 0}, slot{kind: slotValue, i: 1}
	g := slot{kind: slotGroups, role: "member"}
	a := slot{kind: slotAdmin}
	c0, c1 := slot{kind: slotConst, i: 0}, slot{kind: slotConst, i: 1}

	f := frag{"a = ? AND b ?? c AND d = ? AND (e = ANY(?) OR ?)", []any{v0, c0, g, a}}
	got, slots, err := number(f)
	if err != nil {
		t.Fatal(err)
	}
	want, err := sq.Dollar.ReplacePlaceholders(f.sql)
	if err != nil {
		t.Fatal(err)
	}
	if got != want || len(slots) != 4 {
		t.Errorf("got %q (%d slots), want sq.Dollar's %q", got, len(slots), want)
	}

	got, slots, err = number(frag{"? ? ? ? ? ? ?", []any{g, v1, g, a, c0, c1, a}})
	if err != nil {
		t.Fatal(err)
	}
	if want := "$1 $2 $1 $3 $4 $5 $3"; got != want || len(slots) != 5 {
		t.Errorf("got %q (%v), want %q", got, slots, want)
	}
	if _, _, err := number(frag{"? ?", []any{g}}); err == nil {
		t.Error("more placeholders than values: no error")
	}
	if _, _, err := number(frag{"?", []any{g, g}}); err == nil {
		t.Error("more values than placeholders: no error")
	}
	if _, _, err := number(frag{"?", []any{"raw value"}}); err == nil {
		t.Error("a value not bound by sqlguard: no error")
	}
}

func TestGuardSQL(t *testing.T) {
	for _, tc := range []struct {
		g    sq.Sqlizer
		want string
		n    int
	}{
		{groupGuard{col: `"t"."g"`, arrayType: "int8[]", role: "member"}, `("t"."g" = ANY(?::int8[]))`, 1},
		{groupGuard{col: `"t"."g"`, arrayType: "uuid[]", role: "member", admin: true, owner: `"t"."author"`},
			`("t"."g" = ANY(?::uuid[]) OR ? OR "t"."author" = ?)`, 3},
		{matchGuard{value: 2, elemType: "text", role: "member", admin: true}, `(? = ?::text OR ?)`, 3},
		{matchGuard{value: 0, elemType: "int8", role: "member"}, `(? = ?::int8)`, 2},
	} {
		sql, args, err := tc.g.ToSql()
		if err != nil || sql != tc.want || len(args) != tc.n {
			t.Errorf("got %q %v %v, want %q with %d args", sql, args, err, tc.want, tc.n)
		}
	}
}
