package rice

import (
	"encoding/base64"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// roundTrip writes ids and reads them back from the base64url form.
func roundTrip(t *testing.T, ids []int64) {
	t.Helper()
	var w Writer
	w.AppendIDs(ids)
	src := []byte(base64.RawURLEncoding.EncodeToString(w.Flush()))
	if Alphabet(src) != len(src) {
		t.Fatalf("%s: not base64url", src)
	}
	r := NewReader(src)
	n, err := r.Uvarint()
	if err != nil || n != uint64(len(ids)) {
		t.Fatalf("count: got %d, %v; want %d", n, err, len(ids))
	}
	got, err := r.AppendIDs(nil, n)
	if err != nil || !slices.Equal(got, ids) {
		t.Fatalf("got %v, %v; want %v", got, err, ids)
	}
}

func TestRoundTrip(t *testing.T) {
	roundTrip(t, []int64{0})
	roundTrip(t, []int64{math.MinInt64})
	roundTrip(t, []int64{math.MaxInt64})
	roundTrip(t, []int64{math.MinInt64, math.MaxInt64})
	roundTrip(t, []int64{-3, -2, -1, 0, 1, 2, 3})
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		n := 1 + rng.IntN(300)
		spread := int64(1) << rng.IntN(62)
		set := map[int64]bool{}
		for range n {
			set[rng.Int64N(spread)-spread/2] = true
		}
		var ids []int64
		for id := range set {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		roundTrip(t, ids)
	}
}

func TestK(t *testing.T) {
	tests := []struct {
		sum, m uint64
		want   uint
	}{{0, 1, 0}, {1, 1, 0}, {2, 1, 1}, {3, 1, 1}, {4, 1, 2}, {1000, 10, 6}, {math.MaxUint64, 1, 63}}
	for _, tt := range tests {
		if got := K(tt.sum, tt.m); got != tt.want {
			t.Errorf("K(%d, %d) = %d, want %d", tt.sum, tt.m, got, tt.want)
		}
	}
}

func TestReaderRejects(t *testing.T) {
	enc := func(fn func(w *Writer)) []byte {
		var w Writer
		fn(&w)
		return []byte(base64.RawURLEncoding.EncodeToString(w.Flush()))
	}
	tests := []struct {
		name string
		src  []byte
		want error
	}{
		{"empty", nil, ErrCompact},
		{"non-minimal count", enc(func(w *Writer) { w.Write(0x81, 8); w.Write(0, 8) }), ErrNonCanonical},
		{"count beyond 64 bits", enc(func(w *Writer) {
			for range 9 {
				w.Write(0xFF, 8)
			}
			w.Write(2, 8)
		}), ErrCompact},
	}
	for _, tt := range tests {
		r := NewReader(tt.src)
		if _, err := r.Uvarint(); err != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, err, tt.want)
		}
	}
	// A trailing non-zero character after a one-id list.
	src := append(enc(func(w *Writer) { w.AppendIDs([]int64{5}) }), 'B')
	r := NewReader(src)
	n, _ := r.Uvarint()
	if _, err := r.AppendIDs(nil, n); err != ErrNonCanonical {
		t.Errorf("trailing data: got %v, want ErrNonCanonical", err)
	}
}
