package strictjson

import "bytes"

// Int64 scans a JSON number that must be an integer in int64 range,
// written without fraction or exponent, and not as -0. The digits are
// converted exactly, never through float64.
func (s *Scanner) Int64() (int64, error) {
	b := s.Data
	i := s.Pos
	neg := false
	if i < len(b) && b[i] == '-' {
		neg = true
		i++
	}
	if i >= len(b) || b[i] < '0' || b[i] > '9' {
		if i >= len(b) && neg {
			return 0, ErrEOF
		}
		if neg || i < len(b) && b[i] == '.' {
			return 0, ErrNumber
		}
		return 0, ErrNotInteger
	}
	var u uint64
	if b[i] == '0' {
		i++
		if i < len(b) && b[i] >= '0' && b[i] <= '9' {
			return 0, ErrNumber // leading zero
		}
		if neg && !(i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E')) {
			return 0, ErrNegZero
		}
	} else {
		const cutoff = (1<<64 - 1) / 10
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			d := uint64(b[i] - '0')
			if u > cutoff || u*10 > 1<<64-1-d {
				return 0, ErrIntRange
			}
			u = u*10 + d
			i++
		}
	}
	if i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E') {
		return 0, ErrNotInteger
	}
	s.Pos = i
	if neg {
		if u > 1<<63 {
			return 0, ErrIntRange
		}
		return int64(-u), nil //nolint:gosec // -2^63 wraps exactly
	}
	if u > 1<<63-1 {
		return 0, ErrIntRange
	}
	return int64(u), nil
}

// Bool scans true or false.
func (s *Scanner) Bool() (bool, error) {
	b := s.Data[s.Pos:]
	switch {
	case bytes.HasPrefix(b, []byte("true")):
		s.Pos += 4
		return true, nil
	case bytes.HasPrefix(b, []byte("false")):
		s.Pos += 5
		return false, nil
	}
	return false, ErrNotBool
}

// skipNumber validates and skips a JSON number of any form.
func (s *Scanner) skipNumber() error {
	b := s.Data
	i := s.Pos
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return ErrEOF
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return ErrNumber
	}
	if i < len(b) && b[i] == '.' {
		i++
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == j {
			return ErrNumber
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == j {
			return ErrNumber
		}
	}
	s.Pos = i
	return nil
}

// SkipValue validates and skips any JSON value, checking objects for
// duplicate keys. depth is the nesting depth of the value's container.
func (s *Scanner) SkipValue(depth int) error {
	switch c := s.Peek(); c {
	case '"':
		_, _, err := s.Str()
		return err
	case '{':
		return s.SkipObject(depth + 1)
	case '[':
		if depth+1 > s.MaxDepth {
			return ErrDepth
		}
		return s.Array(func() error { return s.SkipValue(depth + 1) })
	case 't':
		if bytes.HasPrefix(s.Data[s.Pos:], []byte("true")) {
			s.Pos += 4
			return nil
		}
	case 'f':
		if bytes.HasPrefix(s.Data[s.Pos:], []byte("false")) {
			s.Pos += 5
			return nil
		}
	case 'n':
		if bytes.HasPrefix(s.Data[s.Pos:], []byte("null")) {
			s.Pos += 4
			return nil
		}
	case 0:
		if s.Pos >= len(s.Data) {
			return ErrEOF
		}
	default:
		if c == '-' || c >= '0' && c <= '9' {
			return s.skipNumber()
		}
	}
	return ErrSyntax
}

// SkipObject validates and skips an object at Pos whose own depth is depth.
func (s *Scanner) SkipObject(depth int) error {
	if depth > s.MaxDepth {
		return ErrDepth
	}
	return s.Object(func([]byte) error { return s.SkipValue(depth) })
}

// Keys detects duplicate object keys: linear over the first few keys, then
// a map, so that an object with many keys costs O(n), not O(n²). The zero
// value is empty and ready to use.
type Keys struct {
	n     int
	small [8][]byte
	m     map[string]struct{}
}

// Add records k and reports false if it was already present. k must not be
// modified afterwards.
func (l *Keys) Add(k []byte) bool {
	if l.m != nil {
		if _, dup := l.m[string(k)]; dup {
			return false
		}
		l.m[string(k)] = struct{}{}
		return true
	}
	for _, o := range l.small[:l.n] {
		if bytes.Equal(o, k) {
			return false
		}
	}
	if l.n < len(l.small) {
		l.small[l.n] = k
		l.n++
		return true
	}
	l.m = make(map[string]struct{}, 2*len(l.small))
	for _, o := range l.small {
		l.m[string(o)] = struct{}{}
	}
	l.m[string(k)] = struct{}{}
	return true
}

// CheckObject validates that b is exactly one JSON object (with optional
// surrounding whitespace): valid UTF-8, no lone surrogate escapes, no
// duplicate keys at any depth, nesting at most maxDepth (the object itself
// is depth 1), and nothing after it.
func CheckObject(b []byte, maxDepth int) error {
	s := Scanner{Data: b, MaxDepth: maxDepth}
	if s.Next() != '{' {
		return ErrNotObject
	}
	if err := s.SkipObject(1); err != nil {
		return err
	}
	return s.End()
}

// AppendString appends s as a JSON string. s must be valid UTF-8.
func AppendString(dst []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
