package token

import (
	"bytes"
	"encoding/base64"
	"github.com/keyhole-go/keyhole/capability"
	"math"
	"math/bits"
	"slices"
)

// The compact profile: "grants": {"<role>": <ids>, ...}, role names in
// ascending byte order, each with a non-empty, strictly ascending set of
// group ids. For KindInt64 the ids are one base64url string of a Rice-coded
// bit stream; for KindUUID and KindText they are an array of strings. The
// exact format, and why each rule exists, is in the package documentation
// (doc.go, "Compact profile"); this file is its only implementation.

const (
	errCompact      scanError = "invalid compact encoding"
	errNonCanonical scanError = "non-canonical compact encoding"
	errOrder        scanError = "not in strictly ascending order"
	errEmptyList    scanError = "empty group list"
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

// riceK is the Rice parameter of a list whose m gaps (each minus one) sum to
// sum: floor(log2(floor(sum/m))), 0 when that mean is 0. Encoder and decoder
// both derive it from the ids, so that a set of ids has exactly one encoding.
func riceK(sum, m uint64) uint {
	mean := sum / m
	if mean == 0 {
		return 0
	}
	return uint(bits.Len64(mean) - 1)
}

// appendCompactGrants appends the compact "grants" object for grants.
// Grants of RoleNone are skipped; duplicates are merged.
func appendCompactGrants(b []byte, grants []capability.Grant, kind capability.GroupKind) []byte {
	byRole := make(map[string][]capability.Group)
	for _, g := range grants {
		if g.Role != capability.RoleNone {
			byRole[g.Role] = append(byRole[g.Role], g.Group)
		}
	}
	roles := make([]string, 0, len(byRole))
	for r := range byRole {
		roles = append(roles, r)
	}
	slices.Sort(roles)
	b = append(b, '{')
	for i, r := range roles {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, r...) // a valid role name needs no escaping
		b = append(b, '"', ':')
		gs := byRole[r]
		slices.SortFunc(gs, capability.CompareGroups)
		gs = slices.Compact(gs)
		if kind == capability.KindInt64 {
			b = append(b, '"')
			b = appendRiceIDs(b, gs)
			b = append(b, '"')
			continue
		}
		b = append(b, '[')
		for j, g := range gs {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendGroupJSON(b, g)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendRiceIDs appends the base64url form of the bit stream of gs, a
// non-empty, strictly ascending list of KindInt64 groups:
//
//	uvarint(n) uvarint(zigzag(first)) [k, n-1 Rice codes of gap-1] zero padding
func appendRiceIDs(b []byte, gs []capability.Group) []byte {
	var w bitWriter
	w.uvarint(uint64(len(gs)))
	first := groupInt(gs[0])
	w.uvarint(uint64(first<<1) ^ uint64(first>>63))
	if len(gs) > 1 {
		m := uint64(len(gs) - 1)
		sum := uint64(groupInt(gs[len(gs)-1])) - uint64(first) - m // the gaps minus one, summed
		k := riceK(sum, m)
		w.write(uint64(k), 8)
		prev := first
		for _, g := range gs[1:] {
			n := groupInt(g)
			d := uint64(n) - uint64(prev) - 1
			w.zeros(d >> k)
			w.write(1, 1)
			w.write(d, k)
			prev = n
		}
	}
	raw := w.flush()
	n := base64.RawURLEncoding.EncodedLen(len(raw))
	b = slices.Grow(b, n)
	base64.RawURLEncoding.Encode(b[len(b):len(b)+n], raw)
	return b[:len(b)+n]
}

// bitWriter writes a bit stream most significant bit first.
type bitWriter struct {
	buf []byte
	acc uint64 // the low n bits are pending
	n   uint   // < 8 between calls
}

// write writes the low k bits of v, k <= 64.
func (w *bitWriter) write(v uint64, k uint) {
	if k > 32 {
		w.write(v>>32, k-32)
		k = 32
	}
	w.acc = w.acc<<k | v&(1<<k-1)
	w.n += k
	for w.n >= 8 {
		w.n -= 8
		w.buf = append(w.buf, byte(w.acc>>w.n))
	}
}

func (w *bitWriter) zeros(q uint64) {
	for ; q >= 32; q -= 32 {
		w.write(0, 32)
	}
	w.write(0, uint(q))
}

func (w *bitWriter) uvarint(x uint64) {
	for x >= 0x80 {
		w.write(x&0x7F|0x80, 8)
		x >>= 7
	}
	w.write(x, 8)
}

// flush pads the stream with zero bits to a byte boundary.
func (w *bitWriter) flush() []byte {
	if w.n > 0 {
		w.buf = append(w.buf, byte(w.acc<<(8-w.n)))
		w.n = 0
	}
	return w.buf
}

// b64BitReader reads the bit stream of a base64url string (already checked
// to hold only alphabet characters) most significant bit first, without
// decoding it to bytes first.
type b64BitReader struct {
	src []byte
	pos int    // next character of src
	acc uint64 // the top n bits are unread; the bits below them are zero
	n   uint
}

func (r *b64BitReader) refill() {
	for r.n <= 58 && r.pos < len(r.src) {
		r.acc |= uint64(b64url[r.src[r.pos]]) << (58 - r.n)
		r.n += 6
		r.pos++
	}
}

// read reads k <= 32 bits.
func (r *b64BitReader) read(k uint) (uint64, bool) {
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
func (r *b64BitReader) readLong(k uint) (uint64, bool) {
	if k <= 32 {
		return r.read(k)
	}
	hi, ok1 := r.read(k - 32)
	lo, ok2 := r.read(32)
	return hi<<32 | lo, ok1 && ok2
}

// unary counts zero bits up to and including the next one bit.
func (r *b64BitReader) unary() (uint64, bool) {
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

// uvarint reads a minimal unsigned LEB128 varint of at most 10 bytes.
func (r *b64BitReader) uvarint() (uint64, error) {
	var x uint64
	for i, shift := 0, uint(0); i < 10; i, shift = i+1, shift+7 {
		c, ok := r.read(8)
		if !ok {
			return 0, errCompact
		}
		if c < 0x80 {
			if i == 9 && c > 1 {
				return 0, errCompact // overflows 64 bits
			}
			if c == 0 && i > 0 {
				return 0, errNonCanonical // a redundant zero group
			}
			return x | c<<shift, nil
		}
		x |= (c & 0x7F) << shift
	}
	return 0, errCompact
}

// end checks that the stream ends here: only zero padding up to the next
// byte boundary, and exactly as many characters as that many bytes take.
func (r *b64BitReader) end() error {
	consumed := 6*uint64(r.pos) - uint64(r.n)
	nbytes := (consumed + 7) / 8
	if uint64(len(r.src)) != (8*nbytes+5)/6 {
		return errNonCanonical
	}
	if r.acc != 0 {
		return errNonCanonical
	}
	for _, c := range r.src[r.pos:] {
		if c != 'A' { // 'A' is 0
			return errNonCanonical
		}
	}
	return nil
}

// roleSegment is one role's ids in the compact decoder's scratch slice.
type roleSegment struct {
	role       string
	start, end int
}

// compactGrants reads the compact profile's "grants" object. Each role's ids
// are decoded into a scratch slice, then merged into grants ordered by group
// then role, the order New sorts into (so that its sort finds them sorted).
func (d *claimsDecoder) compactGrants() error {
	s := &d.s
	has, err := s.openObject()
	if err != nil {
		return err
	}
	var (
		segBuf [4]roleSegment
		segs   = segBuf[:0]
		ids    []int64            // KindInt64
		groups []capability.Group // KindUUID, KindText
		prev   []byte
	)
	for first := true; has; first = false {
		s.ws()
		k, err := s.key()
		if err != nil {
			return err
		}
		if !first && bytes.Compare(prev, k) >= 0 {
			return errOrder // also catches a repeated role
		}
		prev = k
		role, ok := d.lookupRole(k)
		if !ok {
			return errUnknownRole
		}
		if err := s.colon(); err != nil {
			return err
		}
		seg := roleSegment{role: role}
		if d.o.kind == capability.KindInt64 {
			seg.start = len(ids)
			ids, err = d.compactInts(ids)
			seg.end = len(ids)
		} else {
			seg.start = len(groups)
			groups, err = d.compactStrings(groups)
			seg.end = len(groups)
		}
		if err != nil {
			return err
		}
		segs = append(segs, seg)
		if has, err = s.more('}'); err != nil {
			return err
		}
	}
	switch {
	case d.o.byRole:
		d.out.held, err = d.heldOf(segs, ids, groups)
		return err
	case len(segs) == 0:
	case d.o.kind == capability.KindInt64:
		d.out.params.Grants = mergeInts(ids, segs)
	default:
		d.out.params.Grants = mergeGroups(groups, segs)
	}
	return nil
}

// heldOf returns the segments of ids (KindInt64) or groups as per-role
// lists for newFromHeld, sharing ids (a copy of the ids of groups).
func (d *claimsDecoder) heldOf(segs []roleSegment, ids []int64, groups []capability.Group) ([]capability.RoleGroups, error) {
	held := make([]capability.RoleGroups, len(segs))
	var strs []string
	if d.o.kind != capability.KindInt64 {
		strs = make([]string, len(groups))
		for i, g := range groups {
			strs[i] = g.Key()
		}
	}
	for i, sg := range segs {
		r, ok := d.findRole([]byte(sg.role))
		if !ok {
			return nil, errUnknownRole // not reached: sg.role is a declared role
		}
		held[i].Role = d.o.roles.Name(r)
		if d.o.kind == capability.KindInt64 {
			held[i].Int64s = ids[sg.start:sg.end:sg.end]
		} else {
			held[i].Keys = strs[sg.start:sg.end:sg.end]
		}
	}
	return held, nil
}

// mergeInts merges the sorted segments of ids into grants ordered by group,
// then role (segments are in ascending role order, so ties keep theirs).
func mergeInts(ids []int64, segs []roleSegment) []capability.Grant {
	out := make([]capability.Grant, 0, len(ids))
	if len(segs) == 1 {
		for _, id := range ids {
			out = append(out, capability.Grant{Group: capability.Int64Group(id), Role: segs[0].role})
		}
		return out
	}
	for {
		best := -1
		var lo int64
		for j := range segs {
			if sg := &segs[j]; sg.start < sg.end && (best < 0 || ids[sg.start] < lo) {
				best, lo = j, ids[sg.start]
			}
		}
		if best < 0 {
			return out
		}
		out = append(out, capability.Grant{Group: capability.Int64Group(lo), Role: segs[best].role})
		segs[best].start++
	}
}

// mergeGroups is mergeInts for UUID and text groups.
func mergeGroups(groups []capability.Group, segs []roleSegment) []capability.Grant {
	out := make([]capability.Grant, 0, len(groups))
	for {
		best := -1
		for j := range segs {
			if sg := &segs[j]; sg.start < sg.end && (best < 0 || capability.CompareGroups(groups[sg.start], groups[segs[best].start]) < 0) {
				best = j
			}
		}
		if best < 0 {
			return out
		}
		out = append(out, capability.Grant{Group: groups[segs[best].start], Role: segs[best].role})
		segs[best].start++
	}
}

// compactInts reads one role's Rice-coded KindInt64 ids and appends them to
// ids.
func (d *claimsDecoder) compactInts(ids []int64) ([]int64, error) {
	s := &d.s
	if s.peek() != '"' {
		return ids, errWrongType
	}
	s.i++
	start := s.i
	for s.i < len(s.b) && b64url[s.b[s.i]] != 0xFF {
		s.i++
	}
	if s.i >= len(s.b) {
		return ids, errEOF
	}
	if s.b[s.i] != '"' {
		return ids, errCompact // not base64url, or escaped
	}
	r := b64BitReader{src: s.b[start:s.i]}
	s.i++

	n, err := r.uvarint()
	if err != nil {
		return ids, err
	}
	if n == 0 {
		return ids, errEmptyList
	}
	if n > uint64(d.o.maxGrants-len(ids)) {
		return ids, errTooMany // before allocating anything for them
	}
	if ids == nil {
		// One allocation for all roles' ids: their counts lead each role's
		// stream; countCompactInts bounds the sum by maxGrants.
		ids = make([]int64, 0, min(d.o.maxGrants, int(n)+d.countCompactInts()))
	}
	z, err := r.uvarint()
	if err != nil {
		return ids, err
	}
	prev := int64(z>>1) ^ -int64(z&1) // zigzag
	ids = append(ids, prev)
	if n > 1 {
		kk, ok := r.read(8)
		if !ok || kk > 63 {
			return ids, errCompact
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
					return ids, errCompact
				}
				if k > 0 && q>>(64-k) != 0 {
					return ids, errIntRange
				}
				low, ok := r.readLong(k)
				if !ok {
					return ids, errCompact
				}
				gap = q<<k | low
			}
			// prev + gap + 1 must not exceed MaxInt64 (unsigned arithmetic:
			// MaxInt64 - prev fits in a uint64 for any int64 prev).
			if gap >= uint64(math.MaxInt64)-uint64(prev) {
				return ids, errIntRange
			}
			prev = int64(uint64(prev) + gap + 1)
			sum += gap
			ids = append(ids, prev)
		}
		if k != riceK(sum, n-1) {
			return ids, errNonCanonical
		}
	}
	return ids, r.end()
}

// countCompactInts returns the sum of the ids counts of the roles after the
// current one in the "grants" object, read from the start of each string,
// capped at maxGrants; 0 if the rest does not look well-formed (the main pass
// then reports the error, and only the preallocation is lost). It is called
// with s.i just after the current role's string.
func (d *claimsDecoder) countCompactInts() int {
	s := d.s // a copy: the position is not moved
	total := 0
	for total <= d.o.maxGrants {
		if !s.consume(',') {
			break
		}
		s.ws()
		if _, _, err := s.str(); err != nil || s.colon() != nil || s.peek() != '"' {
			break
		}
		s.i++
		start := s.i
		for s.i < len(s.b) && b64url[s.b[s.i]] != 0xFF {
			s.i++
		}
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			break
		}
		r := b64BitReader{src: s.b[start:s.i]}
		s.i++
		n, err := r.uvarint()
		if err != nil || n > uint64(d.o.maxGrants) {
			break
		}
		total += int(n)
	}
	return min(total, d.o.maxGrants)
}

// compactStrings reads one role's array of UUID or text ids and appends
// them to groups.
func (d *claimsDecoder) compactStrings(groups []capability.Group) ([]capability.Group, error) {
	s := &d.s
	has, err := s.openArray()
	if err != nil {
		return groups, errWrongType
	}
	if !has {
		return groups, errEmptyList
	}
	if groups == nil {
		// The shortest element, "a" and a comma, takes 4 bytes.
		groups = make([]capability.Group, 0, min(d.o.maxGrants, (len(s.b)-s.i)/4+1))
	}
	var prev []byte
	for first := true; has; first = false {
		if len(groups) >= d.o.maxGrants {
			return groups, errTooMany
		}
		raw, esc, err := s.str()
		if err != nil {
			if err == errNotString {
				err = errWrongType
			}
			return groups, err
		}
		if esc {
			raw = unescape(nil, raw)
		}
		if !first && bytes.Compare(prev, raw) >= 0 {
			return groups, errOrder
		}
		prev = raw
		g, err := parseGroupBytes(d.o.kind, raw, true)
		if err != nil {
			return groups, err
		}
		groups = append(groups, g)
		if has, err = s.more(']'); err != nil {
			return groups, err
		}
	}
	return groups, nil
}

// groupInt returns the id of a KindInt64 group.
func groupInt(g capability.Group) int64 {
	n, _ := g.Int64()
	return n
}
