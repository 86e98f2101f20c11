package main

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/keyhole-go/keyhole/middleware"
)

// The strict JSON decoder of the API's request bodies. It lived in package
// middleware; it is the forum's now, because an authentication middleware
// has no business decoding bodies, and the forum is its only user. It is
// kept whole (not a call to encoding/json alone) because what
// encoding/json lets through is exactly what a permission check must not
// see twice: a repeated key ({"group":1,"group":2}: which one did the
// check read?), a key matched regardless of case, and text that is not
// UTF-8, which encoding/json silently replaces with U+FFFD.

// errUnsupportedMediaType is matched by decodeJSON's error for a body that
// is not declared as application/json; the forum's classifier answers it
// with 415.
var errUnsupportedMediaType = errors.New("forum: unsupported media type")

// decodeJSON decodes r's body, which must be one JSON value declared as
// application/json, into v, strictly: unknown object fields, an object key
// that appears twice in the same object (at any depth, compared after
// unescaping), a key that matches a struct field's JSON name only when case
// is ignored (encoding/json would accept "GROUP" for "group"), text that is
// not UTF-8 (a raw invalid byte, or a \u escape of a lone surrogate, which
// encoding/json would both store as U+FFFD), trailing data after the
// value, an empty body and a body over maxBytes are errors. Field names
// follow encoding/json: the name of the `json:"name"` tag, else the Go
// field name; "-" fields are absent; the fields of embedded structs are
// promoted. Map keys have no case rule, and a value decoded by its own
// json.Unmarshaler or encoding.TextUnmarshaler is checked for duplicate
// keys only. Requiring the media type also keeps a cross-site HTML form,
// which cannot send application/json without a CORS preflight, from
// posting to a cookie-authenticated API.
//
// Its errors are *middleware.ClientError values whose detail says what is
// wrong for the client (`unknown field "titel"`, `field "group_id": want
// an integer`), never encoding/json's error text, which stays in Err for
// the log: 400 (matching middleware.ErrBadRequest), 413 for an oversize
// body (matching *http.MaxBytesError), or 415 (matching
// errUnsupportedMediaType). A nil or non-pointer v is a programming error,
// reported as is (500).
func decodeJSON(w http.ResponseWriter, r *http.Request, v any, maxBytes int64) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return &middleware.ClientError{Status: http.StatusUnsupportedMediaType,
			Detail: "Content-Type: want application/json", Err: errUnsupportedMediaType}
	}
	if rv := reflect.ValueOf(v); rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("forum: decodeJSON: %w", &json.InvalidUnmarshalError{Type: reflect.TypeOf(v)})
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &middleware.ClientError{Status: http.StatusRequestEntityTooLarge,
				Detail: fmt.Sprintf("body: larger than %d bytes", mbe.Limit), Err: err}
		}
		return middleware.BadRequest("body: could not be read", err)
	}
	if err := checkUTF8(body); err != nil {
		return bodyError(err)
	}
	// One pass over the first value for what encoding/json lets through:
	// repeated keys and keys matched regardless of case.
	if err := checkKeys(body, reflect.TypeOf(v)); err != nil {
		return bodyError(err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bodyError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return middleware.BadRequest("body: data after the JSON value", err)
	}
	return nil
}

// inputError is an error of checkUTF8 or checkKeys whose text is written
// for the client (a key it quotes is bounded by quoteKey).
type inputError string

func (e inputError) Error() string { return string(e) }

// bodyError is the 400 answer to a body that checkUTF8, checkKeys or the
// decoder refused: the detail is an inputError's text, or written here for
// the decoder's error, whose own text (Go types, internal offsets) is only
// logged.
func bodyError(err error) error {
	var ie inputError
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	detail := "body: not valid JSON"
	switch {
	case errors.As(err, &ie):
		detail = string(ie)
	case errors.Is(err, io.EOF):
		detail = "body: empty"
	case errors.Is(err, io.ErrUnexpectedEOF):
		detail = "body: the JSON value ends early"
	case errors.As(err, &se):
		detail = fmt.Sprintf("body: not valid JSON (at byte %d)", se.Offset)
	case errors.As(err, &te) && te.Field != "":
		detail = fmt.Sprintf("field %s: want %s", quoteKey(te.Field), jsonKind(te.Type))
	case errors.As(err, &te):
		detail = "body: want " + jsonKind(te.Type)
	}
	return middleware.BadRequest(detail, err)
}

// jsonKind names the JSON value that decodes into t, for a client.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "another type"
}

// checkUTF8 reports body's text that is not UTF-8: an invalid byte
// sequence anywhere, or, inside a string, a \u escape of a surrogate
// (U+D800..U+DFFF) that is not a high surrogate immediately followed by
// the \u escape of a low one. encoding/json replaces both with U+FFFD
// without an error. The rest of the syntax is the decoder's to check: on a
// body that is not JSON, checkUTF8 only has to stop.
func checkUTF8(body []byte) error {
	if !utf8.Valid(body) {
		return inputError("body: not valid UTF-8")
	}
	in := false // inside a string
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case !in:
			in = c == '"'
		case c == '"':
			in = false
		case c == '\\':
			if i+1 >= len(body) {
				return nil
			}
			if body[i+1] != 'u' {
				i++ // a one-character escape
				continue
			}
			r, ok := hex4(body, i+2)
			if !ok {
				return nil // malformed: the decoder refuses it
			}
			i += 5 // the \uXXXX
			switch {
			case utf16.IsSurrogate(r) && r < 0xDC00: // high: a low must follow
				if i+6 < len(body) && body[i+1] == '\\' && body[i+2] == 'u' {
					if lo, ok := hex4(body, i+3); ok && lo >= 0xDC00 && lo <= 0xDFFF {
						i += 6
						continue
					}
				}
				return inputError(fmt.Sprintf("body: lone surrogate \\u%04X in a string", r))
			case utf16.IsSurrogate(r):
				return inputError(fmt.Sprintf("body: lone surrogate \\u%04X in a string", r))
			}
		}
	}
	return nil
}

// hex4 returns the rune of the four hex digits at body[i:].
func hex4(body []byte, i int) (rune, bool) {
	if i+4 > len(body) {
		return 0, false
	}
	var r rune
	for _, c := range body[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// jsonFrame is an object or array being scanned by checkKeys.
type jsonFrame struct {
	obj    bool
	key    bool         // object: the next token is a key or '}'
	fields *fieldTable  // object decoded into a struct: its exact names
	elem   reflect.Type // map value or array element; nil: no rule below
	seen   []string     // the object's keys so far (small objects)
	seenM  map[string]struct{}
}

// maxJSONDepth bounds the nesting of a body, as encoding/json's decoder
// does (its Token method does not), so that a body of brackets cannot make
// checkKeys hold more frames than that.
const maxJSONDepth = 10000

// maxSeenSlice is the number of keys of one object checked for repeats by
// a linear search before a map is built.
const maxSeenSlice = 16

// checkKeys scans the first JSON value of body (io.EOF when there is none)
// and reports a key repeated within an object, or a key of an object
// decoded into a struct type that is not exactly one of its fields' JSON
// names. t is the type the value is decoded into (a pointer is followed).
func checkKeys(body []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // numbers are not converted, only skipped
	var stack []jsonFrame
	next := t // the type of the next value
	for {
		tok, err := dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) && len(stack) > 0 {
				return io.ErrUnexpectedEOF // inside a value: not an empty body
			}
			return err
		}
		n := len(stack)
		if n > 0 && stack[n-1].obj && stack[n-1].key {
			f := &stack[n-1]
			k, ok := tok.(string)
			if !ok { // '}': Token accepts nothing else here
				stack = stack[:n-1]
			} else {
				if f.repeated(k) {
					return inputError(fmt.Sprintf("key %s appears twice in an object", quoteKey(k)))
				}
				switch {
				case f.fields != nil:
					ft, ok := f.fields.byName[k]
					if !ok {
						return inputError(fmt.Sprintf("unknown field %s", quoteKey(k)))
					}
					next = ft
				default:
					next = f.elem
				}
				f.key = false
				continue
			}
		} else {
			if n > 0 && !stack[n-1].obj {
				next = stack[n-1].elem
			}
			switch tok {
			case json.Delim('{'):
				if n >= maxJSONDepth {
					return errTooDeep
				}
				f := jsonFrame{obj: true, key: true}
				switch st := keySchema(next); {
				case st == nil:
				case st.Kind() == reflect.Struct:
					f.fields = fieldsOf(st)
				case st.Kind() == reflect.Map:
					f.elem = st.Elem()
				}
				stack = append(stack, f)
				continue
			case json.Delim('['):
				if n >= maxJSONDepth {
					return errTooDeep
				}
				f := jsonFrame{}
				if st := keySchema(next); st != nil && (st.Kind() == reflect.Slice || st.Kind() == reflect.Array) {
					f.elem = st.Elem()
				}
				stack = append(stack, f)
				continue
			case json.Delim(']'):
				stack = stack[:n-1]
			}
		}
		// A value is complete.
		if len(stack) == 0 {
			return nil
		}
		if top := &stack[len(stack)-1]; top.obj {
			top.key = true
		}
	}
}

// repeated records k and reports whether f already had it.
func (f *jsonFrame) repeated(k string) bool {
	if f.seenM != nil {
		if _, ok := f.seenM[k]; ok {
			return true
		}
		f.seenM[k] = struct{}{}
		return false
	}
	for _, s := range f.seen {
		if s == k {
			return true
		}
	}
	if len(f.seen) < maxSeenSlice {
		f.seen = append(f.seen, k)
		return false
	}
	f.seenM = make(map[string]struct{}, 2*maxSeenSlice)
	for _, s := range f.seen {
		f.seenM[s] = struct{}{}
	}
	f.seenM[k] = struct{}{}
	f.seen = nil
	return false
}

var errTooDeep = inputError(fmt.Sprintf("body: JSON nested deeper than %d", maxJSONDepth))

// quoteKey quotes an untrusted key for an error message, cut to 64 bytes.
func quoteKey(k string) string {
	if len(k) <= 64 {
		return strconv.Quote(k)
	}
	return strconv.Quote(k[:64]) + "..."
}

var (
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// keySchema returns the type whose shape rules the keys of a value decoded
// into t: t without its pointers, or nil when there is no rule (an
// interface, a type that decodes itself, no type).
func keySchema(t reflect.Type) reflect.Type {
	for t != nil {
		if t.Implements(jsonUnmarshalerType) || t.Implements(textUnmarshalerType) {
			return nil
		}
		if t.Kind() != reflect.Pointer {
			break
		}
		t = t.Elem()
	}
	if t == nil || t.Kind() == reflect.Interface {
		return nil
	}
	if reflect.PointerTo(t).Implements(jsonUnmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return nil
	}
	return t
}

// fieldTable maps the JSON names of a struct type's fields, as
// encoding/json decodes them, to the fields' types.
type fieldTable struct {
	byName map[string]reflect.Type
}

// fieldTables caches fieldTable per struct type: computed once per type,
// like encoding/json's own field cache.
var fieldTables sync.Map // reflect.Type -> *fieldTable

func fieldsOf(t reflect.Type) *fieldTable {
	if ft, ok := fieldTables.Load(t); ok {
		return ft.(*fieldTable)
	}
	ft, _ := fieldTables.LoadOrStore(t, buildFieldTable(t))
	return ft.(*fieldTable)
}

// buildFieldTable follows encoding/json's rules: a field's name is its tag
// name, else its Go name; "-" is skipped; unexported fields are skipped
// except embedded structs, whose fields are promoted; a name at a shallower
// depth hides deeper ones, and two at the same depth hide each other unless
// exactly one is tagged.
func buildFieldTable(t reflect.Type) *fieldTable {
	type cand struct {
		typ    reflect.Type
		depth  int
		tagged bool
		n      int // candidates at this depth
	}
	found := map[string]*cand{}
	type level struct {
		t     reflect.Type
		depth int
	}
	queue := []level{{t, 0}}
	visited := map[reflect.Type]bool{}
	for len(queue) > 0 {
		l := queue[0]
		queue = queue[1:]
		if visited[l.t] {
			continue
		}
		visited[l.t] = true
		for i := range l.t.NumField() {
			sf := l.t.Field(i)
			tag := sf.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			if sf.Anonymous {
				ft := sf.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if !sf.IsExported() && ft.Kind() != reflect.Struct {
					continue
				}
				if name == "" && ft.Kind() == reflect.Struct {
					queue = append(queue, level{ft, l.depth + 1})
					continue
				}
			} else if !sf.IsExported() {
				continue
			}
			tagged := name != ""
			if !tagged {
				name = sf.Name
			}
			c := found[name]
			switch {
			case c == nil:
				found[name] = &cand{typ: sf.Type, depth: l.depth, tagged: tagged, n: 1}
			case c.depth < l.depth:
				// hidden by a shallower field
			case tagged && !c.tagged:
				*c = cand{typ: sf.Type, depth: l.depth, tagged: true, n: 1}
			case tagged == c.tagged:
				c.n++
			}
		}
	}
	ft := &fieldTable{byName: make(map[string]reflect.Type, len(found))}
	for name, c := range found {
		if c.n == 1 {
			ft.byName[name] = c.typ
		}
	}
	return ft
}
