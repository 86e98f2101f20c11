package strictjson

import (
	"errors"
	"testing"
)

func TestCheckObject(t *testing.T) {
	valid := []string{
		`{}`,
		` {"alg":"EdDSA","kid":"k1","typ":"JWT"} `,
		`{"a":{"b":[1,2,{"c":null}]},"b":"\ud83d\ude00"}`,
		`{"a":{"a":1},"b":{"a":1}}`, // the same key in sibling objects is fine
	}
	for _, s := range valid {
		if err := CheckObject([]byte(s), 4); err != nil {
			t.Errorf("CheckObject(%s): got %v, want nil", s, err)
		}
	}
	invalid := []string{
		``, ` `, `[]`, `"x"`, `1`, `null`,
		`{"alg":"EdDSA","alg":"none"}`,
		`{"alg":"EdDSA","\u0061lg":"none"}`,
		`{"a":{"b":1,"b":2}}`,
		`{"alg":"EdDSA"}x`,
		`{"alg":"EdDSA"}{}`,
		`{"alg":"EdDSA"`,
		"{\"alg\":\"Ed\xffDSA\"}",
		`{"alg":"\udc00"}`,
		`{"a":[[[[[1]]]]]}`,
		`{"a":{"b":{"c":{"d":{}}}}}`,
		`{"a":1,}`,
	}
	for _, s := range invalid {
		err := CheckObject([]byte(s), 4)
		var e Error
		if !errors.As(err, &e) {
			t.Errorf("CheckObject(%q): got %v, want an Error", s, err)
		}
	}
}

// TestObjectDuplicates: Object rejects a repeated key, compared decoded, and
// more than the first few keys are compared too.
func TestObjectDuplicates(t *testing.T) {
	tests := []struct {
		in   string
		want error
	}{
		{`{"a":1,"b":2}`, nil},
		{`{"a":1,"a":2}`, ErrDupKey},
		{`{"a":1,"\u0061":2}`, ErrDupKey},
		{`{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9}`, nil},
		{`{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k3":3}`, ErrDupKey},
		{`{"a" 1}`, ErrSyntax},
		{`{1:1}`, ErrSyntax},
		{`[]`, ErrNotObjectVal},
	}
	for _, tt := range tests {
		s := Scanner{Data: []byte(tt.in), MaxDepth: 2}
		var keys []string
		err := s.Object(func(k []byte) error {
			keys = append(keys, string(k))
			return s.SkipValue(1)
		})
		if err != tt.want {
			t.Errorf("Object(%s): got %v, want %v", tt.in, err, tt.want)
		}
	}
}

// TestObjectUnchecked: the caller sees every key, repeated ones included.
func TestObjectUnchecked(t *testing.T) {
	s := Scanner{Data: []byte(`{"a":1, "a" : 2 ,"b":3}`), MaxDepth: 2}
	var got string
	err := s.ObjectUnchecked(func(k []byte) error {
		got += string(k)
		return s.SkipValue(1)
	})
	if err != nil || got != "aab" || s.End() != nil {
		t.Errorf("got %q, %v; want \"aab\", nil", got, err)
	}
}

func TestInt64(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  error
	}{
		{"0", 0, nil},
		{"-1", -1, nil},
		{"9223372036854775807", 1<<63 - 1, nil},
		{"-9223372036854775808", -1 << 63, nil},
		{"9223372036854775808", 0, ErrIntRange},
		{"18446744073709551616", 0, ErrIntRange},
		{"-0", 0, ErrNegZero},
		{"01", 0, ErrNumber},
		{"1.0", 0, ErrNotInteger},
		{"1e3", 0, ErrNotInteger},
		{"-", 0, ErrEOF},
		{"\"1\"", 0, ErrNotInteger},
	}
	for _, tt := range tests {
		s := Scanner{Data: []byte(tt.in)}
		got, err := s.Int64()
		if got != tt.want || err != tt.err {
			t.Errorf("Int64(%s): got %d, %v; want %d, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{"", "plain", "q\"b\\", "\n\r\t\x00\x1f", "é😀"} {
		b := AppendString(nil, s)
		sc := Scanner{Data: b}
		got, err := sc.Bytes()
		if err != nil || string(got) != s || sc.Pos != len(b) {
			t.Errorf("AppendString(%q) = %s, which reads back as %q, %v", s, b, got, err)
		}
	}
}
