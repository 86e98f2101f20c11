//go:build goexperiment.jsonv2

package strictjson

// Differential fuzzing against encoding/json/jsontext (GOEXPERIMENT=jsonv2),
// a second, independent strict JSON reader, configured as strictly as it
// goes: duplicate names rejected, invalid UTF-8 rejected (both its
// defaults, set explicitly here).
//
//	GOEXPERIMENT=jsonv2 go test -run '^$' -fuzz FuzzCheckObjectOracle -fuzztime 30s ./internal/strictjson
//	GOEXPERIMENT=jsonv2 go test -run '^$' -fuzz FuzzStringOracle -fuzztime 30s ./internal/strictjson
//
// Principled differences, allowed below and nowhere else:
//   - Depth: CheckObject refuses nesting beyond its maxDepth (a bound on the
//     work an attacker can ask for); jsontext's own bound is 10000. With
//     ErrDepth the oracle may accept.
//   - What is accepted: CheckObject takes exactly one object; jsontext reads
//     any value and a stream of them. The oracle therefore reads one value,
//     requires it to be an object, and requires the end of input after it.
//
// Both directions are checked: what CheckObject accepts jsontext accepts,
// and what jsontext accepts CheckObject accepts (short of the depth bound).

import (
	"bytes"
	"encoding/json/jsontext"
	"errors"
	"io"
	"testing"
)

const oracleDepth = 16

// oracleObject reports whether jsontext reads b as exactly one object.
func oracleObject(b []byte) (bool, error) {
	d := jsontext.NewDecoder(bytes.NewReader(b), jsontext.AllowDuplicateNames(false), jsontext.AllowInvalidUTF8(false))
	v, err := d.ReadValue()
	if err != nil {
		return false, err
	}
	if v.Kind() != '{' {
		return false, errors.New("not an object")
	}
	if _, err := d.ReadToken(); err != io.EOF {
		return false, errors.New("trailing data")
	}
	return true, nil
}

func FuzzCheckObjectOracle(f *testing.F) {
	for _, s := range []string{
		`{}`, ` {"alg":"EdDSA","kid":"k1","typ":"JWT"} `,
		`{"a":{"b":[1,2,{"c":null}]},"b":"\ud83d\ude00"}`,
		`{"a":{"a":1},"b":{"a":1}}`, `{"a":1,"\u0061":2}`, `{"a":1,"a":2}`,
		`{"x":"\ud800"}`, `{"x":"\udc00\ud800"}`, "{\"x\":\"\xff\"}", "{\"x\":\"\xed\xa0\x80\"}",
		`{"n":-0.5e+10,"m":0,"o":-0,"p":01}`, `{"a":1,}`, `{"a":[1,]}`, `{"a":tru}`,
		`{"exp":1795000900,"permissions":[{"group":1,"role":"member"}]}`,
		`{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k0":9}`,
		"{\"a\":\"\x7f\",\"b\":\"\t\"}", `{"a":"\/\b\f\n\r\t\"\\"}`, `{"a":"\x"}`,
		`{} {}`, `{}x`, "{}\n", `[]`, `"x"`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := CheckObject(b, oracleDepth)
		ok, oerr := oracleObject(b)
		switch {
		case err == nil && !ok:
			t.Fatalf("CheckObject accepts %q, jsontext rejects it: %v", b, oerr)
		case err != nil && ok && err != ErrDepth:
			t.Fatalf("CheckObject rejects %q (%v), jsontext accepts it", b, err)
		}
		var e Error
		if err != nil && !errors.As(err, &e) {
			t.Fatalf("CheckObject(%q): got %T, want an Error", b, err)
		}
	})
}

// FuzzStringOracle checks the string reader against jsontext on one JSON
// string: the same acceptance, and the same decoded bytes.
func FuzzStringOracle(f *testing.F) {
	for _, s := range []string{
		`""`, `"a"`, `"\u0061"`, `"\ud83d\ude00"`, `"\ud800"`, `"\ud800\u0041"`, `"\udc00"`,
		`"\/\b\f\n\r\t\"\\"`, `"\x"`, "\"\xff\"", "\"\x00\"", "\"\x1f\"", "\"\x7f\"", `"é"`, `"a`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := Scanner{Data: b}
		got, err := s.Bytes()
		if err == nil && s.Pos != len(b) {
			err = ErrTrailing
		}
		want, oerr := jsontext.AppendUnquote(nil, b)
		switch {
		case err == nil && oerr != nil:
			t.Fatalf("Bytes accepts %q as %q, jsontext rejects it: %v", b, got, oerr)
		case err != nil && oerr == nil:
			t.Fatalf("Bytes rejects %q (%v), jsontext reads %q", b, err, want)
		case err == nil && !bytes.Equal(got, want):
			t.Fatalf("Bytes reads %q as %q, jsontext as %q", b, got, want)
		}
		if err == nil {
			// And AppendString writes what reads back the same.
			again := AppendString(nil, string(got))
			if back, err := jsontext.AppendUnquote(nil, again); err != nil || !bytes.Equal(back, got) {
				t.Fatalf("AppendString(%q) = %q, which jsontext reads as %q, %v", got, again, back, err)
			}
		}
	})
}
