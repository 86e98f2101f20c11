package middleware

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
	"strings"
	"sync"
)

// DefaultMaxBodyBytes is DecodeJSON's bound on a body when maxBytes is 0.
const DefaultMaxBodyBytes = 1 << 20

// DecodeJSON decodes r's body, which must be one JSON value declared as
// application/json, into v, strictly: unknown object fields, an object key
// that appears twice in the same object (at any depth, compared after
// unescaping), a key that matches a struct field's JSON name only when case
// is ignored (encoding/json would accept "GROUP" for "group"), trailing data
// after the value, an empty body and a body over maxBytes (0:
// DefaultMaxBodyBytes) are errors. Field names follow encoding/json: the
// name of the `json:"name"` tag, else the Go field name; "-" fields are
// absent; the fields of embedded structs are promoted. Map keys have no
// case rule, and a value decoded by its own json.Unmarshaler or
// encoding.TextUnmarshaler is checked for duplicate keys only. Requiring
// the media type also keeps a cross-site HTML form, which cannot send
// application/json without a CORS preflight, from posting to a
// cookie-authenticated API.
//
// Its errors match ErrBadRequest (WriteError: 400), additionally
// *http.MaxBytesError for an oversize body (413), or ErrUnsupportedMediaType
// (415). A nil or non-pointer v is a programming error, reported as is
// (500).
func DecodeJSON(w http.ResponseWriter, r *http.Request, v any, maxBytes int64) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return fmt.Errorf("%w: Content-Type must be application/json", ErrUnsupportedMediaType)
	}
	if rv := reflect.ValueOf(v); rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("middleware: DecodeJSON: %w", &json.InvalidUnmarshalError{Type: reflect.TypeOf(v)})
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBodyBytes
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBytes))
	if err != nil {
		return fmt.Errorf("%w: reading the body: %w", ErrBadRequest, err)
	}
	// One pass over the first value for what encoding/json lets through:
	// repeated keys and keys matched regardless of case.
	if err := checkKeys(body, reflect.TypeOf(v)); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: empty body", ErrBadRequest)
		}
		return fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: data after the JSON value", ErrBadRequest)
	}
	return nil
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
					return fmt.Errorf("key %s appears twice in an object", quoteKey(k))
				}
				switch {
				case f.fields != nil:
					ft, ok := f.fields.byName[k]
					if !ok {
						return fmt.Errorf("unknown field %s (field names are case-sensitive)", quoteKey(k))
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
				switch st := schema(next); {
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
				if st := schema(next); st != nil && (st.Kind() == reflect.Slice || st.Kind() == reflect.Array) {
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

var errTooDeep = fmt.Errorf("JSON nested deeper than %d", maxJSONDepth)

func quoteKey(k string) string { return quoteBounded(k, 64) }

var (
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// schema returns the type whose shape rules the keys of a value decoded
// into t: t without its pointers, or nil when there is no rule (an
// interface, a type that decodes itself, no type).
func schema(t reflect.Type) reflect.Type {
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
