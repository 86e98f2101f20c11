package token

import (
	"bytes"
	"unicode/utf8"
)

// This file holds a small strict JSON scanner: it reads exactly RFC 8259 JSON
// over a byte slice, without reflection or generic maps, and it rejects what
// encoding/json tolerates or silently repairs: invalid UTF-8 (raw or as a
// lone surrogate escape), duplicate object keys at any depth, trailing bytes,
// excessive nesting. The claims decoder (claims.go) drives it field by field;
// checkStrictJSONObject uses it to validate a JOSE header.

// maxClaimsDepth bounds the nesting of a claims payload (the top-level
// object is depth 1).
const maxClaimsDepth = 32

// scanError is a fixed-vocabulary description of a JSON or claims error. It
// never holds input bytes. Being a string type, a constant scanError stored
// in an error interface does not allocate.
type scanError string

func (e scanError) Error() string { return string(e) }

const (
	errSyntax       scanError = "malformed JSON"
	errEOF          scanError = "unexpected end of JSON"
	errTrailing     scanError = "trailing data after JSON"
	errDepth        scanError = "JSON nested too deeply"
	errDupKey       scanError = "duplicate key"
	errUTF8         scanError = "invalid UTF-8"
	errSurrogate    scanError = "invalid surrogate escape"
	errControl      scanError = "control character in string"
	errEscape       scanError = "invalid escape"
	errNotObject    scanError = "not a JSON object"
	errNotInteger   scanError = "not an integer"
	errIntRange     scanError = "integer out of range"
	errNegZero      scanError = "negative zero"
	errNumber       scanError = "malformed number"
	errNotString    scanError = "not a string"
	errNUL          scanError = "NUL in string"
	errNotBool      scanError = "not a boolean"
	errNotArray     scanError = "not an array"
	errNotObjectVal scanError = "not an object"
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

type scanner struct {
	b        []byte
	i        int
	maxDepth int
}

// ws skips JSON whitespace.
func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next byte, 0 at the end of input (0 never starts a JSON
// token, so callers need no separate end check).
func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// next skips whitespace and returns the next byte without consuming it.
func (s *scanner) next() byte {
	s.ws()
	return s.peek()
}

// consume skips whitespace and consumes c, reporting whether it was there.
func (s *scanner) consume(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// str scans a JSON string at s.i (which must be '"') and returns its raw
// content between the quotes and whether it contains escapes. It validates
// UTF-8, control characters and escapes, including surrogate pairs.
func (s *scanner) str() (raw []byte, escaped bool, err error) {
	if s.peek() != '"' {
		return nil, false, errNotString
	}
	s.i++
	start := s.i
	b := s.b
	i := s.i
	for {
		// Fast path: plain ASCII.
		for i < len(b) && charClass[b[i]] != 0 {
			i++
		}
		if i >= len(b) {
			return nil, false, errEOF
		}
		switch c := b[i]; {
		case c == '"':
			s.i = i + 1
			return b[start:i], escaped, nil
		case c == '\\':
			escaped = true
			n, err := checkEscape(b[i:])
			if err != nil {
				return nil, false, err
			}
			i += n
		case c < 0x20:
			return nil, false, errControl
		default: // >= 0x80
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size <= 1 {
				return nil, false, errUTF8
			}
			i += size
		}
	}
}

// checkEscape validates the escape sequence at the start of b (b[0] == '\\')
// and returns its length.
func checkEscape(b []byte) (int, error) {
	if len(b) < 2 {
		return 0, errEOF
	}
	switch b[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, nil
	case 'u':
		r, ok := hex4(b[2:])
		if !ok {
			return 0, errEscape
		}
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return 0, errSurrogate // a low surrogate without a high one
		case r >= 0xD800 && r <= 0xDBFF:
			if len(b) < 12 || b[6] != '\\' || b[7] != 'u' {
				return 0, errSurrogate
			}
			lo, ok := hex4(b[8:])
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return 0, errSurrogate
			}
			return 12, nil
		}
		return 6, nil
	}
	return 0, errEscape
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

// unescape appends the decoded form of raw, a string body already validated
// by str, to dst.
func unescape(dst, raw []byte) []byte {
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

// stringValue scans a JSON string and returns its decoded value. NUL is
// rejected: no claim keyhole reads may contain it (PostgreSQL text cannot).
func (s *scanner) stringValue() (string, error) {
	raw, esc, err := s.str()
	if err != nil {
		return "", err
	}
	if esc {
		raw = unescape(make([]byte, 0, len(raw)), raw)
	}
	if bytes.IndexByte(raw, 0) >= 0 {
		return "", errNUL
	}
	return string(raw), nil
}

// key scans an object key and returns its decoded bytes (a sub-slice of the
// input when it holds no escapes).
func (s *scanner) key() ([]byte, error) {
	raw, esc, err := s.str()
	if err != nil {
		if err == errNotString {
			return nil, errSyntax
		}
		return nil, err
	}
	if esc {
		raw = unescape(nil, raw)
	}
	return raw, nil
}

// colon consumes the ':' after a key and the whitespace after it.
func (s *scanner) colon() error {
	if !s.consume(':') {
		return errSyntax
	}
	s.ws()
	return nil
}

// more is called after an object member or array element: it consumes ','
// (true) or the closing byte (false).
func (s *scanner) more(closing byte) (bool, error) {
	if s.i+1 < len(s.b) && s.b[s.i] == ',' && s.b[s.i+1] > ' ' {
		s.i++ // the common case: a comma and no whitespace
		return true, nil
	}
	s.ws()
	if s.i < len(s.b) {
		switch s.b[s.i] {
		case ',':
			s.i++
			s.ws()
			return true, nil
		case closing:
			s.i++
			return false, nil
		}
		return false, errSyntax
	}
	return false, errEOF
}

// openObject consumes '{' and reports whether the object has members.
func (s *scanner) openObject() (bool, error) {
	if s.peek() != '{' {
		return false, errNotObjectVal
	}
	s.i++
	if s.consume('}') {
		return false, nil
	}
	return true, nil
}

// openArray consumes '[' and reports whether the array has elements.
func (s *scanner) openArray() (bool, error) {
	if s.peek() != '[' {
		return false, errNotArray
	}
	s.i++
	if s.consume(']') {
		return false, nil
	}
	s.ws()
	return true, nil
}

// int64Value scans a JSON number that must be an integer in int64 range,
// written without fraction or exponent, and not as -0. The digits are
// converted exactly, never through float64.
func (s *scanner) int64Value() (int64, error) {
	b := s.b
	i := s.i
	neg := false
	if i < len(b) && b[i] == '-' {
		neg = true
		i++
	}
	if i >= len(b) || b[i] < '0' || b[i] > '9' {
		if i >= len(b) && neg {
			return 0, errEOF
		}
		if neg || i < len(b) && b[i] == '.' {
			return 0, errNumber
		}
		return 0, errNotInteger
	}
	var u uint64
	if b[i] == '0' {
		i++
		if i < len(b) && b[i] >= '0' && b[i] <= '9' {
			return 0, errNumber // leading zero
		}
		if neg && !(i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E')) {
			return 0, errNegZero
		}
	} else {
		const cutoff = (1<<64 - 1) / 10
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			d := uint64(b[i] - '0')
			if u > cutoff || u*10 > 1<<64-1-d {
				return 0, errIntRange
			}
			u = u*10 + d
			i++
		}
	}
	if i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E') {
		return 0, errNotInteger
	}
	s.i = i
	if neg {
		if u > 1<<63 {
			return 0, errIntRange
		}
		return int64(-u), nil //nolint:gosec // -2^63 wraps exactly
	}
	if u > 1<<63-1 {
		return 0, errIntRange
	}
	return int64(u), nil
}

// boolValue scans true or false.
func (s *scanner) boolValue() (bool, error) {
	b := s.b[s.i:]
	switch {
	case bytes.HasPrefix(b, []byte("true")):
		s.i += 4
		return true, nil
	case bytes.HasPrefix(b, []byte("false")):
		s.i += 5
		return false, nil
	}
	return false, errNotBool
}

// skipNumber validates and skips a JSON number of any form.
func (s *scanner) skipNumber() error {
	b := s.b
	i := s.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return errEOF
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return errNumber
	}
	if i < len(b) && b[i] == '.' {
		i++
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == j {
			return errNumber
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
			return errNumber
		}
	}
	s.i = i
	return nil
}

// skipValue validates and skips any JSON value, checking objects for
// duplicate keys. depth is the nesting depth of the value's container.
func (s *scanner) skipValue(depth int) error {
	switch c := s.peek(); c {
	case '"':
		_, _, err := s.str()
		return err
	case '{':
		return s.skipObject(depth + 1)
	case '[':
		if depth+1 > s.maxDepth {
			return errDepth
		}
		s.i++
		if s.consume(']') {
			return nil
		}
		for {
			s.ws()
			if err := s.skipValue(depth + 1); err != nil {
				return err
			}
			more, err := s.more(']')
			if err != nil || !more {
				return err
			}
		}
	case 't':
		if bytes.HasPrefix(s.b[s.i:], []byte("true")) {
			s.i += 4
			return nil
		}
	case 'f':
		if bytes.HasPrefix(s.b[s.i:], []byte("false")) {
			s.i += 5
			return nil
		}
	case 'n':
		if bytes.HasPrefix(s.b[s.i:], []byte("null")) {
			s.i += 4
			return nil
		}
	case 0:
		if s.i >= len(s.b) {
			return errEOF
		}
	default:
		if c == '-' || c >= '0' && c <= '9' {
			return s.skipNumber()
		}
	}
	return errSyntax
}

// skipObject validates and skips an object at s.i at the given depth.
func (s *scanner) skipObject(depth int) error {
	if depth > s.maxDepth {
		return errDepth
	}
	has, err := s.openObject()
	if err != nil || !has {
		return err
	}
	var keys keyList
	for {
		s.ws()
		k, err := s.key()
		if err != nil {
			return err
		}
		if !keys.add(k) {
			return errDupKey
		}
		if err := s.colon(); err != nil {
			return err
		}
		if err := s.skipValue(depth); err != nil {
			return err
		}
		more, err := s.more('}')
		if err != nil || !more {
			return err
		}
	}
}

// keyList detects duplicate object keys: linear over the first few keys,
// then a map, so that an object with many keys costs O(n), not O(n²).
type keyList struct {
	n     int
	small [8][]byte
	m     map[string]struct{}
}

// add records k and reports false if it was already present. k must not be
// modified afterwards.
func (l *keyList) add(k []byte) bool {
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

// checkStrictJSONObject validates that b is exactly one JSON object (with
// optional surrounding whitespace): valid UTF-8, no lone surrogate escapes,
// no duplicate keys at any depth, nesting at most maxDepth (the object
// itself is depth 1), and nothing after it. It is used for the JOSE header.
// The error is a *TokenError with reason ErrMalformed.
func checkStrictJSONObject(b []byte, maxDepth int) error {
	s := scanner{b: b, maxDepth: maxDepth}
	if s.next() != '{' {
		return tokenError(ErrMalformed, "header: "+string(errNotObject))
	}
	if err := s.skipObject(1); err != nil {
		return tokenError(ErrMalformed, "header: "+err.Error())
	}
	s.ws()
	if s.i != len(b) {
		return tokenError(ErrMalformed, "header: "+string(errTrailing))
	}
	return nil
}

// appendJSONString appends s as a JSON string. s must be valid UTF-8.
func appendJSONString(dst []byte, s string) []byte {
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
