package capability

import (
	"errors"
	"math"
	"strconv"
	"testing"
)

func TestParseGroup(t *testing.T) {
	tests := []struct {
		kind GroupKind
		in   string
		ok   bool
	}{
		{KindInt64, "7", true},
		{KindInt64, "0", true},
		{KindInt64, "-7", true},
		{KindInt64, strconv.FormatInt(math.MaxInt64, 10), true},
		{KindInt64, strconv.FormatInt(math.MinInt64, 10), true},
		{KindInt64, "9223372036854775808", false},
		{KindInt64, "07", false},
		{KindInt64, "+7", false},
		{KindInt64, "-0", false},
		{KindInt64, "-07", false},
		{KindInt64, "7.0", false},
		{KindInt64, "1e3", false},
		{KindInt64, "", false},
		{KindInt64, " 7", false},
		{KindUUID, "0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b", true},
		{KindUUID, "0190A5B2-7C3D-7E4F-8A9B-0C1D2E3F4A5B", true},
		{KindUUID, "0190a5b27c3d7e4f8a9b0c1d2e3f4a5b", false},
		{KindUUID, "{0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b}", false},
		{KindUUID, "0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5g", false},
		{KindText, "general", true},
		{KindText, "", false},
		{KindText, "a\x00b", false},
		{KindText, "\xff", false},
		{KindText, string(make([]byte, MaxTextGroupLen+1)), false},
		{GroupKind(9), "7", false},
	}
	for _, tt := range tests {
		g, err := ParseGroup(tt.kind, tt.in)
		if tt.ok {
			if err != nil {
				t.Errorf("ParseGroup(%v, %q): %v", tt.kind, tt.in, err)
				continue
			}
			back, err := ParseGroup(tt.kind, g.String())
			if err != nil || back != g {
				t.Errorf("round trip of %q: got %v, %v; want %v", tt.in, back, err, g)
			}
			continue
		}
		if !errors.Is(err, ErrBadGroup) {
			t.Errorf("ParseGroup(%v, %q) = %v, %v; want ErrBadGroup", tt.kind, tt.in, g, err)
		}
	}
}

func TestGroupSet(t *testing.T) {
	s := newGroupSet(KindInt64, []Group{Int64Group(5), Int64Group(1), Int64Group(5), Int64Group(3)})
	if got, want := s.Len(), 3; got != want {
		t.Fatalf("Len = %d, want %d", got, want)
	}
	for _, n := range []int64{1, 3, 5} {
		if !s.Contains(Int64Group(n)) {
			t.Errorf("Contains(%d) = false", n)
		}
	}
	for _, g := range []Group{Int64Group(2), TextGroup("1"), {}} {
		if s.Contains(g) {
			t.Errorf("Contains(%v) = true", g)
		}
	}
	ids := s.Int64s()
	ids[0] = 99 // a copy: must not change the set
	if !s.Contains(Int64Group(1)) || s.Contains(Int64Group(99)) {
		t.Error("Int64s returned the set's own slice")
	}
	var nilSet *GroupSet
	if nilSet.Len() != 0 || nilSet.Contains(Int64Group(1)) || nilSet.Int64s() == nil || nilSet.UUIDs() == nil || nilSet.Texts() == nil {
		t.Error("nil set must be empty with non-nil slices")
	}
	u := [16]byte{1, 2, 3}
	us := newGroupSet(KindUUID, []Group{UUIDGroup(u)})
	if !us.Contains(UUIDGroup(u)) || us.Contains(UUIDGroup([16]byte{9})) {
		t.Error("uuid set membership wrong")
	}
}

func TestGroupSetMemo(t *testing.T) {
	type key struct{}
	s := newGroupSet(KindInt64, []Group{Int64Group(1)})
	calls := 0
	build := func(g *GroupSet) any { calls++; return g.Len() }
	for range 3 {
		if got := s.Memo(key{}, build); got != 1 {
			t.Fatalf("Memo = %v, want 1", got)
		}
	}
	if calls != 1 {
		t.Errorf("build called %d times, want 1", calls)
	}
}
