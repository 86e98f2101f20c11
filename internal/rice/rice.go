// Package rice is the bit codec of the compact claims profile of
// capability/token: a bit stream written most significant bit first, of
// LEB128 varints and Rice codes, read straight from its base64url form.
//
// A list of n strictly ascending int64 ids is the stream
//
//	uvarint(n) uvarint(zigzag(first)) [k, n-1 Rice codes of gap-1] zero padding
//
// where k (8 bits) is [K] of the gaps, so that a list has exactly one
// encoding. The reader trusts nothing in its input and fails closed: a
// stream that is not the one canonical encoding of its ids is an [Error].
// The format, and why each rule exists, is documented with the compact
// profile in capability/token.
package rice

import "math/bits"

// Error is a fixed-vocabulary description of a stream error. It never
// holds input bytes, and a constant Error stored in an error interface does
// not allocate.
type Error string

// Error returns the description.
func (e Error) Error() string { return string(e) }

// The errors of the reader.
const (
	ErrCompact      Error = "invalid compact encoding"
	ErrNonCanonical Error = "non-canonical compact encoding"
	ErrIntRange     Error = "integer out of range"
)

// K is the Rice parameter of a list whose m gaps (each minus one) sum to
// sum: floor(log2(floor(sum/m))), 0 when that mean is 0. Encoder and decoder
// both derive it from the ids, so that a set of ids has exactly one encoding.
func K(sum, m uint64) uint {
	mean := sum / m
	if mean == 0 {
		return 0
	}
	return uint(bits.Len64(mean) - 1)
}

// Writer writes a bit stream most significant bit first. The zero value is
// an empty stream.
type Writer struct {
	buf []byte
	acc uint64 // the low n bits are pending
	n   uint   // < 8 between calls
}

// Write writes the low k bits of v, k <= 64.
func (w *Writer) Write(v uint64, k uint) {
	if k > 32 {
		w.Write(v>>32, k-32)
		k = 32
	}
	w.acc = w.acc<<k | v&(1<<k-1)
	w.n += k
	for w.n >= 8 {
		w.n -= 8
		w.buf = append(w.buf, byte(w.acc>>w.n))
	}
}

// Zeros writes q zero bits.
func (w *Writer) Zeros(q uint64) {
	for ; q >= 32; q -= 32 {
		w.Write(0, 32)
	}
	w.Write(0, uint(q))
}

// Uvarint writes x as an unsigned LEB128 varint, one byte per 7 bits.
func (w *Writer) Uvarint(x uint64) {
	for x >= 0x80 {
		w.Write(x&0x7F|0x80, 8)
		x >>= 7
	}
	w.Write(x, 8)
}

// Flush pads the stream with zero bits to a byte boundary and returns it.
func (w *Writer) Flush() []byte {
	if w.n > 0 {
		w.buf = append(w.buf, byte(w.acc<<(8-w.n)))
		w.n = 0
	}
	return w.buf
}

// AppendIDs writes the stream of ids, a non-empty, strictly ascending list.
func (w *Writer) AppendIDs(ids []int64) {
	w.Uvarint(uint64(len(ids)))
	first := ids[0]
	w.Uvarint(uint64(first<<1) ^ uint64(first>>63))
	if len(ids) == 1 {
		return
	}
	m := uint64(len(ids) - 1)
	sum := uint64(ids[len(ids)-1]) - uint64(first) - m // the gaps minus one, summed
	k := K(sum, m)
	w.Write(uint64(k), 8)
	prev := first
	for _, n := range ids[1:] {
		d := uint64(n) - uint64(prev) - 1
		w.Zeros(d >> k)
		w.Write(1, 1)
		w.Write(d, k)
		prev = n
	}
}
