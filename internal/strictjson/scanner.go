// Package strictjson is a small strict JSON scanner: it reads exactly RFC
// 8259 JSON over a byte slice, without reflection or generic maps, and it
// rejects what encoding/json tolerates or silently repairs: invalid UTF-8
// (raw or as a lone surrogate escape), duplicate object keys at any depth,
// trailing bytes, excessive nesting.
//
// It trusts nothing in its input and fails closed: every method either
// consumes a complete, valid token or returns an [Error], a fixed-vocabulary
// description that never holds input bytes. The claims decoder of
// capability/token drives a [Scanner] field by field; [CheckObject]
// validates a whole object (the JOSE header).
package strictjson

import (
	"bytes"
	"unicode/utf8"
)

// Error is a fixed-vocabulary description of a JSON error. It never holds
// input bytes. Being a string type, a constant Error stored in an error
// interface does not allocate.
type Error string

// Error returns the description.
func (e Error) Error() string { return string(e) }

// The errors of the scanner.
const (
	ErrSyntax       Error = "malformed JSON"
	ErrEOF          Error = "unexpected end of JSON"
	ErrTrailing     Error = "trailing data after JSON"
	ErrDepth        Error = "JSON nested too deeply"
	ErrDupKey       Error = "duplicate key"
	ErrUTF8         Error = "invalid UTF-8"
	ErrSurrogate    Error = "invalid surrogate escape"
	ErrControl      Error = "control character in string"
	ErrEscape       Error = "invalid escape"
	ErrNotObject    Error = "not a JSON object"
	ErrNotInteger   Error = "not an integer"
	ErrIntRange     Error = "integer out of range"
	ErrNegZero      Error = "negative zero"
	ErrNumber       Error = "malformed number"
	ErrNotString    Error = "not a string"
	ErrNotBool      Error = "not a boolean"
	ErrNotArray     Error = "not an array"
	ErrNotObjectVal Error = "not an object"
)

// charClass[c] is 1 for bytes that may appear unescaped in a JSON string and
// need no further check: printable ASCII other than '"' and '\\'.
var charClass = func() (t [256]uint8) {
	for c := 0x20; c < 0x80; c++ {
		if c != '"' && c != '\\' {
			t[c] = 1
		}
	}
	return t
}()

// Scanner reads JSON from Data, starting at Pos. Callers that read a
// common shape faster than the scanner would (the claims decoder's
// canonical grants) may read Data and move Pos themselves.
type Scanner struct {
	Data []byte
	Pos  int
	// MaxDepth bounds the nesting of the values SkipValue and SkipObject
	// read; the depth of a value is that of its container plus one.
	MaxDepth int
}

// WS skips JSON whitespace.
func (s *Scanner) WS() {
	for s.Pos < len(s.Data) {
		switch s.Data[s.Pos] {
		case ' ', '\t', '\n', '\r':
			s.Pos++
		default:
			return
		}
	}
}

// Peek returns the next byte, 0 at the end of input (0 never starts a JSON
// token, so callers need no separate end check).
func (s *Scanner) Peek() byte {
	if s.Pos < len(s.Data) {
		return s.Data[s.Pos]
	}
	return 0
}

// Next skips whitespace and returns the next byte without consuming it.
func (s *Scanner) Next() byte {
	s.WS()
	return s.Peek()
}

// Consume skips whitespace and consumes c, reporting whether it was there.
func (s *Scanner) Consume(c byte) bool {
	s.WS()
	if s.Pos < len(s.Data) && s.Data[s.Pos] == c {
		s.Pos++
		return true
	}
	return false
}

// End skips whitespace and reports ErrTrailing unless the input ends there.
func (s *Scanner) End() error {
	s.WS()
	if s.Pos != len(s.Data) {
		return ErrTrailing
	}
	return nil
}

// Str scans a JSON string at Pos (which must be '"') and returns its raw
// content between the quotes and whether it contains escapes. It validates
// UTF-8, control characters and escapes, including surrogate pairs.
func (s *Scanner) Str() (raw []byte, escaped bool, err error) {
	if s.Peek() != '"' {
		return nil, false, ErrNotString
	}
	s.Pos++
	start := s.Pos
	b := s.Data
	i := s.Pos
	for {
		// Fast path: plain ASCII.
		for i < len(b) && charClass[b[i]] != 0 {
			i++
		}
		if i >= len(b) {
			return nil, false, ErrEOF
		}
		switch c := b[i]; {
		case c == '"':
			s.Pos = i + 1
			return b[start:i], escaped, nil
		case c == '\\':
			escaped = true
			n, err := checkEscape(b[i:])
			if err != nil {
				return nil, false, err
			}
			i += n
		case c < 0x20:
			return nil, false, ErrControl
		default: // >= 0x80
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size <= 1 {
				return nil, false, ErrUTF8
			}
			i += size
		}
	}
}

// checkEscape validates the escape sequence at the start of b (b[0] == '\\')
// and returns its length.
func checkEscape(b []byte) (int, error) {
	if len(b) < 2 {
		return 0, ErrEOF
	}
	switch b[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, nil
	case 'u':
		r, ok := hex4(b[2:])
		if !ok {
			return 0, ErrEscape
		}
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return 0, ErrSurrogate // a low surrogate without a high one
		case r >= 0xD800 && r <= 0xDBFF:
			if len(b) < 12 || b[6] != '\\' || b[7] != 'u' {
				return 0, ErrSurrogate
			}
			lo, ok := hex4(b[8:])
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return 0, ErrSurrogate
			}
			return 12, nil
		}
		return 6, nil
	}
	return 0, ErrEscape
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		var v byte
		switch {
		case '0' <= c && c <= '9':
			v = c - '0'
		case 'a' <= c && c <= 'f':
			v = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			v = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(v)
	}
	return r, true
}

// Unescape appends the decoded form of raw, a string body already validated
// by Str, to dst.
func Unescape(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			j := bytes.IndexByte(raw[i:], '\\')
			if j < 0 {
				return append(dst, raw[i:]...)
			}
			dst = append(dst, raw[i:i+j]...)
			i += j
			continue
		}
		switch raw[i+1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, _ := hex4(raw[i+2:])
			if r >= 0xD800 && r <= 0xDBFF {
				lo, _ := hex4(raw[i+8:])
				r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
				i += 6
			}
			dst = utf8.AppendRune(dst, r)
			i += 6
			continue
		default: // '"', '\\', '/'
			dst = append(dst, raw[i+1])
		}
		i += 2
	}
	return dst
}

// Bytes scans a JSON string and returns its decoded bytes: a sub-slice of
// the input when it holds no escapes, a new slice otherwise.
func (s *Scanner) Bytes() ([]byte, error) {
	raw, esc, err := s.Str()
	if err != nil {
		return nil, err
	}
	if esc {
		raw = Unescape(make([]byte, 0, len(raw)), raw)
	}
	return raw, nil
}

// Key scans an object key and returns its decoded bytes (a sub-slice of the
// input when it holds no escapes). A value that is not a string is
// ErrSyntax.
func (s *Scanner) Key() ([]byte, error) {
	k, err := s.Bytes()
	if err == ErrNotString {
		return nil, ErrSyntax
	}
	return k, err
}

// Colon consumes the ':' after a key and the whitespace after it.
func (s *Scanner) Colon() error {
	if !s.Consume(':') {
		return ErrSyntax
	}
	s.WS()
	return nil
}

// More is called after an object member or array element: it consumes ','
// and the whitespace after it (true) or the closing byte (false).
func (s *Scanner) More(closing byte) (bool, error) {
	if s.Pos+1 < len(s.Data) && s.Data[s.Pos] == ',' && s.Data[s.Pos+1] > ' ' {
		s.Pos++ // the common case: a comma and no whitespace
		return true, nil
	}
	s.WS()
	if s.Pos < len(s.Data) {
		switch s.Data[s.Pos] {
		case ',':
			s.Pos++
			s.WS()
			return true, nil
		case closing:
			s.Pos++
			return false, nil
		}
		return false, ErrSyntax
	}
	return false, ErrEOF
}

// OpenObject consumes '{' and reports whether the object has members.
func (s *Scanner) OpenObject() (bool, error) {
	if s.Peek() != '{' {
		return false, ErrNotObjectVal
	}
	s.Pos++
	if s.Consume('}') {
		return false, nil
	}
	s.WS()
	return true, nil
}

// OpenArray consumes '[' and reports whether the array has elements.
func (s *Scanner) OpenArray() (bool, error) {
	if s.Peek() != '[' {
		return false, ErrNotArray
	}
	s.Pos++
	if s.Consume(']') {
		return false, nil
	}
	s.WS()
	return true, nil
}

// Object reads the object at Pos (ErrNotObjectVal if there is none): for
// each member it reads the key, rejects a key seen before in this object
// (ErrDupKey), consumes the colon, and calls fn with the decoded key and
// Pos at the value, which fn must consume. An error of fn ends the object.
func (s *Scanner) Object(fn func(key []byte) error) error {
	var keys Keys
	return s.object(&keys, fn)
}

// ObjectUnchecked is Object without the duplicate-key check: fn must
// reject repeated keys itself, for example with a bit set over the keys
// it knows and a [Keys] for the others. It exists for decoders that
// already tell their keys apart, so that they do not compare them twice.
func (s *Scanner) ObjectUnchecked(fn func(key []byte) error) error {
	return s.object(nil, fn)
}

func (s *Scanner) object(keys *Keys, fn func(key []byte) error) error {
	has, err := s.OpenObject()
	for has && err == nil {
		var k []byte
		if k, err = s.Key(); err != nil {
			return err
		}
		if keys != nil && !keys.Add(k) {
			return ErrDupKey
		}
		if err = s.Colon(); err != nil {
			return err
		}
		if err = fn(k); err != nil {
			return err
		}
		has, err = s.More('}')
	}
	return err
}

// Array reads the array at Pos (ErrNotArray if there is none), calling fn
// with Pos at each element, which fn must consume.
func (s *Scanner) Array(fn func() error) error {
	has, err := s.OpenArray()
	for has && err == nil {
		if err = fn(); err != nil {
			return err
		}
		has, err = s.More(']')
	}
	return err
}
