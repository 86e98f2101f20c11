package sqlguard

import (
	"encoding/binary"
	"fmt"
	"io"
	"reflect"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/keyhole-go/keyhole/capability"
)

// A capability's group array is bound, on execution, as a *wireArray: the
// array in PostgreSQL's binary form, encoded once per capability and role,
// and its text form, encoded on first use. pgx sends it in binary
// (array_send's form, which PostgreSQL reads with array_recv: a length and
// 8 bytes per int8, 16 per UUID, where array_in parses text; measured at
// 1,000 elements: about 15 µs less server time per call for int8, 280 µs
// less for UUIDs, even for texts) in the query modes that know the
// parameter's type from the statement's description (cache_statement,
// cache_describe, describe_exec), and as its text in the others (exec,
// simple_protocol), where the SQL text's cast ($1::int8[]) types it.
// Either way the bytes are copied, not encoded.
//
// pgx has no way for a value to hand it pre-encoded binary bytes: an
// array parameter is encoded by the ArrayCodec element by element. So
// RegisterTypes (pgxtypes.go), called once per connection from
// pgxpool.Config.AfterConnect (ConfigurePool) or after pgx.Connect,
// prepends tryWrapWireArray to the connection's
// pgtype.Map.TryWrapEncodePlanFuncs. tryWrapWireArray only ever matches a
// *wireArray, an unexported type, so nothing else the connection encodes
// changes, and the statement's text and arguments are exactly what the
// policy binds (a query tracer sees the parameters and nothing else).
// On a connection that was not set up, pgx finds no binary plan for a
// *wireArray and falls back, as it does for any value, to the text
// format: the statement still runs, correctly and more slowly (pgx plans,
// and fails, the binary form on every call, then sends the text form,
// which PostgreSQL parses with array_in). TypesRegistered tells the two
// apart.
//
// Binding the wrong array type cannot go unnoticed: the binary form names
// its element type, and array_recv refuses an array whose element type is
// not the parameter's ("wrong element type").
type wireArray struct {
	arrays *groupArrays // for the text form
	bin    []byte       // array_send's form
	next   any          // a value of which pgx knows the binary encoding, see tryWrapWireArray
}

func (a *wireArray) textForm() string { return a.arrays.textArg().(string) }

// TextValue makes a *wireArray a pgtype.TextValuer: in the text format
// (query modes exec and simple_protocol) pgx copies the text form.
func (a *wireArray) TextValue() (pgtype.Text, error) {
	return pgtype.Text{String: a.textForm(), Valid: true}, nil
}

// Format prints the text form (for query tracers and loggers). A
// *wireArray is deliberately not a fmt.Stringer: pgx would try to encode
// a Stringer through its String method.
func (a *wireArray) Format(f fmt.State, verb rune) {
	_, _ = io.WriteString(f, a.textForm())
}

// newWireArray encodes g's non-empty set in binary.
func newWireArray(g *groupArrays) *wireArray {
	s := g.set
	a := &wireArray{arrays: g}
	var elem uint32
	size := 20
	switch s.Kind() {
	case capability.KindInt64:
		elem, size, a.next = pgtype.Int8OID, size+s.Len()*12, []int64(nil)
	case capability.KindUUID:
		elem, size, a.next = pgtype.UUIDOID, size+s.Len()*20, [][16]byte(nil)
	default:
		elem, a.next = pgtype.TextOID, []string(nil)
		for _, t := range s.Texts() {
			size += 4 + len(t)
		}
	}
	// array_send: dimensions, has-nulls flag, element type, then the one
	// dimension (length, lower bound 1), then each element as its length
	// and its bytes.
	b := make([]byte, 0, size)
	b = binary.BigEndian.AppendUint32(b, 1)
	b = binary.BigEndian.AppendUint32(b, 0)
	b = binary.BigEndian.AppendUint32(b, elem)
	b = binary.BigEndian.AppendUint32(b, uint32(s.Len()))
	b = binary.BigEndian.AppendUint32(b, 1)
	switch s.Kind() {
	case capability.KindInt64:
		for _, n := range s.Int64s() {
			b = binary.BigEndian.AppendUint32(b, 8)
			b = binary.BigEndian.AppendUint64(b, uint64(n))
		}
	case capability.KindUUID:
		for _, u := range s.UUIDs() {
			b = binary.BigEndian.AppendUint32(b, 16)
			b = append(b, u[:]...)
		}
	default:
		for _, t := range s.Texts() {
			b = binary.BigEndian.AppendUint32(b, uint32(len(t)))
			b = append(b, t...)
		}
	}
	a.bin = b
	return a
}

// tryWrapWireArray is a pgtype.TryWrapEncodePlanFunc: for a *wireArray it
// returns the plan that copies the binary form. pgx only reaches it for
// the binary format (a TextValuer in the text format is copied before any
// wrapper is tried). pgx requires the wrapper's "next" value to have a
// plan of its own for the parameter's type: a nil slice of the element
// type, never encoded.
func tryWrapWireArray(value any) (pgtype.WrappedEncodePlanNextSetter, any, bool) {
	a, ok := value.(*wireArray)
	if !ok || a == nil {
		return nil, nil, false
	}
	return wirePlan{}, a.next, true
}

// wirePlan copies a *wireArray's binary form.
type wirePlan struct{}

func (wirePlan) SetNext(pgtype.EncodePlan) {}

func (wirePlan) Encode(value any, buf []byte) ([]byte, error) {
	return append(buf, value.(*wireArray).bin...), nil
}

// registerWireArrays makes m encode a *wireArray in binary by copying it.
// The function is prepended once per map, and never twice (if a function
// the application prepended later claimed *wireArray, its plan would be
// used).
func registerWireArrays(m *pgtype.Map) {
	if wireRegistered(m) {
		return
	}
	m.TryWrapEncodePlanFuncs = append([]pgtype.TryWrapEncodePlanFunc{tryWrapWireArray}, m.TryWrapEncodePlanFuncs...)
}

// wireRegistered reports whether m holds tryWrapWireArray. It only reads
// the map (no plan is memoized).
func wireRegistered(m *pgtype.Map) bool {
	ours := reflect.ValueOf(tryWrapWireArray).Pointer()
	for _, f := range m.TryWrapEncodePlanFuncs {
		if reflect.ValueOf(f).Pointer() == ours {
			return true
		}
	}
	return false
}
