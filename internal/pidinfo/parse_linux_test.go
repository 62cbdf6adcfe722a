//go:build linux

package pidinfo

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestParseStat(t *testing.T) {
	// Fields 4..21 are numbers; field 22 (the start time) follows them.
	tail := " 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 424242 99 100\n"
	for _, c := range []struct {
		line    string
		start   uint64
		running bool
		bad     bool
	}{
		{"123 (go) S" + tail, 424242, true, false},
		{"123 (a) (b) c) R" + tail, 424242, true, false}, // a name holding ") "
		{"123 (x y) Z" + tail, 424242, false, false},     // a zombie
		{"123 (x) X" + tail, 424242, false, false},
		{"123 (x) S 1 2 3\n", 0, false, true}, // cut short
		{"123 no paren S 1 2", 0, false, true},
		{"", 0, false, true},
	} {
		start, running, err := parseStat([]byte(c.line), "test")
		if c.bad {
			if err == nil {
				t.Errorf("%q: no error", c.line)
			}
			continue
		}
		if err != nil || start != c.start || running != c.running {
			t.Errorf("%q: %d %v %v", c.line, start, running, err)
		}
	}
	// And this process's own line, read both ways.
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	start, running, err := stat(os.Getpid())
	if err != nil || !running || f[19] != strconv.FormatUint(start, 10) {
		t.Fatalf("stat: %d %v %v; /proc/self/stat field 22 is %s", start, running, err, f[19])
	}
}
