package rice

import (
	"math"
	"math/bits"
)

// b64url maps a base64url character to its 6-bit value, 0xFF for bytes
// outside the alphabet (including '=' padding).
var b64url = func() (t [256]byte) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range t {
		t[i] = 0xFF
	}
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// Alphabet returns the length of the longest prefix of b made of base64url
// characters (no padding).
func Alphabet(b []byte) int {
	for i, c := range b {
		if b64url[c] == 0xFF {
			return i
		}
	}
	return len(b)
}

// Reader reads the bit stream of a base64url string most significant bit
// first, without decoding it to bytes first.
type Reader struct {
	src []byte
	pos int    // next character of src
	acc uint64 // the top n bits are unread; the bits below them are zero
	n   uint
}

// NewReader returns a reader of src, which must hold only base64url
// characters (see [Alphabet]).
func NewReader(src []byte) Reader { return Reader{src: src} }

func (r *Reader) refill() {
	for r.n <= 58 && r.pos < len(r.src) {
		r.acc |= uint64(b64url[r.src[r.pos]]) << (58 - r.n)
		r.n += 6
		r.pos++
	}
}

// read reads k <= 32 bits.
func (r *Reader) read(k uint) (uint64, bool) {
	if k == 0 {
		return 0, true
	}
	if r.n < k {
		r.refill()
		if r.n < k {
			return 0, false
		}
	}
	v := r.acc >> (64 - k)
	r.acc <<= k
	r.n -= k
	return v, true
}

// readLong reads k <= 64 bits.
func (r *Reader) readLong(k uint) (uint64, bool) {
	if k <= 32 {
		return r.read(k)
	}
	hi, ok1 := r.read(k - 32)
	lo, ok2 := r.read(32)
	return hi<<32 | lo, ok1 && ok2
}

// unary counts zero bits up to and including the next one bit.
func (r *Reader) unary() (uint64, bool) {
	var q uint64
	for {
		if r.n == 0 {
			r.refill()
			if r.n == 0 {
				return 0, false
			}
		}
		if r.acc == 0 { // every unread bit in acc is zero
			q += uint64(r.n)
			r.n = 0
			continue
		}
		lz := uint(bits.LeadingZeros64(r.acc)) // < r.n
		q += uint64(lz)
		r.acc <<= lz + 1
		r.n -= lz + 1
		return q, true
	}
}

// Uvarint reads a minimal unsigned LEB128 varint of at most 10 bytes.
func (r *Reader) Uvarint() (uint64, error) {
	var x uint64
	for i, shift := 0, uint(0); i < 10; i, shift = i+1, shift+7 {
		c, ok := r.read(8)
		if !ok {
			return 0, ErrCompact
		}
		if c < 0x80 {
			if i == 9 && c > 1 {
				return 0, ErrCompact // overflows 64 bits
			}
			if c == 0 && i > 0 {
				return 0, ErrNonCanonical // a redundant zero group
			}
			return x | c<<shift, nil
		}
		x |= (c & 0x7F) << shift
	}
	return 0, ErrCompact
}

// AppendIDs reads the rest of a list of n >= 1 ids whose count the reader
// has just read, appends the ids to dst, and checks that the stream ends
// there: the first id, the Rice parameter (which must be K of the gaps) and
// the gaps, then only zero padding.
func (r *Reader) AppendIDs(dst []int64, n uint64) ([]int64, error) {
	z, err := r.Uvarint()
	if err != nil {
		return dst, err
	}
	prev := int64(z>>1) ^ -int64(z&1) // zigzag
	dst = append(dst, prev)
	if n > 1 {
		kk, ok := r.read(8)
		if !ok || kk > 63 {
			return dst, ErrCompact
		}
		k := uint(kk)
		var sum uint64
		for i := uint64(1); i < n; i++ {
			var gap uint64
			if r.n < 48 {
				r.refill()
			}
			// Fast path: the whole code is in the accumulator.
			if lz := uint(bits.LeadingZeros64(r.acc)); r.acc != 0 && k <= 32 && lz+1+k <= r.n {
				acc := r.acc << (lz + 1)
				gap = uint64(lz)<<k | acc>>(63-k)>>1 // k == 0: 0
				r.acc = acc << k
				r.n -= lz + 1 + k
			} else {
				q, ok := r.unary()
				if !ok {
					return dst, ErrCompact
				}
				if k > 0 && q>>(64-k) != 0 {
					return dst, ErrIntRange
				}
				low, ok := r.readLong(k)
				if !ok {
					return dst, ErrCompact
				}
				gap = q<<k | low
			}
			// prev + gap + 1 must not exceed MaxInt64 (unsigned arithmetic:
			// MaxInt64 - prev fits in a uint64 for any int64 prev).
			if gap >= uint64(math.MaxInt64)-uint64(prev) {
				return dst, ErrIntRange
			}
			prev = int64(uint64(prev) + gap + 1)
			sum += gap
			dst = append(dst, prev)
		}
		if k != K(sum, n-1) {
			return dst, ErrNonCanonical
		}
	}
	return dst, r.end()
}

// end checks that the stream ends here: only zero padding up to the next
// byte boundary, and exactly as many characters as that many bytes take.
func (r *Reader) end() error {
	consumed := 6*uint64(r.pos) - uint64(r.n)
	nbytes := (consumed + 7) / 8
	if uint64(len(r.src)) != (8*nbytes+5)/6 {
		return ErrNonCanonical
	}
	if r.acc != 0 {
		return ErrNonCanonical
	}
	for _, c := range r.src[r.pos:] {
		if c != 'A' { // 'A' is 0
			return ErrNonCanonical
		}
	}
	return nil
}
