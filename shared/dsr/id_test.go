package dsr

import (
	"encoding/hex"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// newID's ids keep their format (prefix, 32 hex digits), start with their
// creation time in milliseconds, so ids made later sort after earlier ones,
// and differ within one millisecond.
func TestNewIDIsTimeOrdered(t *testing.T) {
	t.Parallel()
	format := regexp.MustCompile(`^dsr_[0-9a-f]{32}$`)
	at := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 50 {
		now := at.Add(time.Duration(i/5) * time.Millisecond) // five ids per millisecond
		id := newIDAt("dsr_", now)
		if !format.MatchString(id) {
			t.Fatalf("id %q does not match %s", id, format)
		}
		b, err := hex.DecodeString(strings.TrimPrefix(id, "dsr_")[:12])
		if err != nil {
			t.Fatal(err)
		}
		var ms int64
		for _, c := range b {
			ms = ms<<8 | int64(c)
		}
		if ms != now.UnixMilli() {
			t.Fatalf("id %q starts with %d, want the creation time %d", id, ms, now.UnixMilli())
		}
		ids = append(ids, id)
	}
	for i := 5; i < len(ids); i++ {
		if ids[i-5] >= ids[i] {
			t.Errorf("id %q of a later millisecond sorts before or with %q", ids[i], ids[i-5])
		}
	}
	slices.Sort(ids)
	if n := len(slices.Compact(ids)); n != 50 {
		t.Errorf("%d distinct ids of 50", n)
	}
}

func TestShortID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		prefix string
		n      int
		want   *regexp.Regexp
	}{
		{"key_", 6, regexp.MustCompile(`^key_[0-9a-f]{12}$`)},
		{"hold_", 8, regexp.MustCompile(`^hold_[0-9a-f]{16}$`)},
	} {
		a, b := shortID(tc.prefix, tc.n), shortID(tc.prefix, tc.n)
		if !tc.want.MatchString(a) || !tc.want.MatchString(b) {
			t.Errorf("shortID(%q, %d) = %q, %q; want %s", tc.prefix, tc.n, a, b, tc.want)
		}
		if a == b {
			t.Errorf("shortID(%q, %d) gave %q twice", tc.prefix, tc.n, a)
		}
	}
}
