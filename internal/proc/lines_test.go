package proc

import (
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

func TestCopyLines(t *testing.T) {
	tests := []struct {
		name, in string
		max      int
		want     []string
	}{
		{"empty", "", 10, nil},
		{"lines", "a\nbb\n\nc", 10, []string{"a\n", "bb\n", "\n", "c\n"}},
		{"exactly max", "0123456789\n", 10, []string{"0123456789\n"}},
		{"split", "0123456789abcdefghijXY\nz", 10, []string{"0123456789\n", "abcdefghij\n", "XY\n", "z\n"}},
		{"long", strings.Repeat("x", 200000) + "\n", 1 << 20, []string{strings.Repeat("x", 200000) + "\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var w recorder
			// One byte per read: lines must be assembled across reads.
			CopyLines(&w, iotest.OneByteReader(strings.NewReader(tc.in)), tc.max)
			if got := w.Writes(); !slices.Equal(got, tc.want) {
				t.Errorf("writes = %.40q, want %.40q", got, tc.want)
			}
		})
	}
}

// A read error other than EOF ends the copy after flushing what was read.
func TestCopyLinesReadError(t *testing.T) {
	var w recorder
	r := io.MultiReader(strings.NewReader("a\nb"), iotest.ErrReader(io.ErrUnexpectedEOF))
	CopyLines(&w, r, 10)
	if got := w.Writes(); !slices.Equal(got, []string{"a\n", "b\n"}) {
		t.Errorf("writes = %q", got)
	}
}
