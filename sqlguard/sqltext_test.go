package sqlguard

import (
	"testing"
)

// FuzzCheckCondition: the scanner never panics, and a condition it
// accepts stays one balanced expression when wrapped: "(" + cond + ")"
// is accepted too and closes exactly at its last byte.
func FuzzCheckCondition(f *testing.F) {
	for _, s := range []string{
		`NOT locked) OR (TRUE`, `a = 'x)'`, `a = E'\')'`, `a = $q$)$q$`, `"a)" = 1`,
		`a -- b`, `a /* b`, `a; b`, `x = 1.5e-3`, `a = '\'' ) OR (TRUE OR '`, `$1 = $$`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if checkCondition(s) != nil {
			return
		}
		toks, err := lexSQL("(" + s + ")")
		if err != nil {
			t.Fatalf("accepted %q, but not wrapped: %v", s, err)
		}
		for _, tok := range toks[1 : len(toks)-1] {
			if tok.depth < 1 {
				t.Fatalf("accepted %q reaches depth 0 at byte %d", s, tok.pos)
			}
		}
		if last := toks[len(toks)-1]; last.text != ")" || last.pos != len(s)+1 {
			t.Fatalf("accepted %q: the wrapping does not close last", s)
		}
	})
}
