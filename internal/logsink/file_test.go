package logsink

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestMegabytesRoundsUp(t *testing.T) {
	for size, want := range map[int64]int{1: 1, mib - 1: 1, mib: 1, mib + 1: 2, defaultMaxSize: 10} {
		if got := megabytes(size); got != want {
			t.Errorf("megabytes(%d) = %d, want %d", size, got, want)
		}
	}
}

// TestFileRotates writes 3 MB to a file sink whose MaxSize of 1 byte rounds up
// to lumberjack's 1 MiB, so it must rotate.
func TestFileRotates(t *testing.T) {
	h, _, _, _ := newTestHub(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "nginx.log")
	s := open(t, h, Spec{Program: "nginx", Stream: "stdout", Mode: path, MaxSize: 1, Backups: 2})
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("Open did not create the file: %v", err)
	}
	const line = "a file line that is padded to be exactly one hundred bytes long, newline included, CR too: ok.....\r"
	run(t, s, nil, `yes "$1" | head -c 3000000`, line)
	closeSink(t, s)

	backups, err := filepath.Glob(filepath.Join(dir, "nginx-*.log"))
	if err != nil {
		t.Fatal(err)
	}
	if len(backups) == 0 {
		t.Fatal("no rotated file")
	}
	for _, f := range append(backups, path) {
		checkWholeLines(t, f, line)
	}
	if len(h.files) != 0 {
		t.Errorf("the file is still held open after Close: %v", h.files)
	}
}

// checkWholeLines checks that a log file is at most 1 MiB and holds only
// copies of line, kept as written (a file sink keeps the CR).
func checkWholeLines(t *testing.T, path, line string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > mib {
		t.Errorf("%s holds %d bytes, over 1 MiB", path, len(b))
	}
	for l := range strings.Lines(string(b)) {
		if l != line+"\n" {
			t.Fatalf("%s holds %q, want whole copies of %q", path, l, line)
		}
	}
}

func TestFileSharedByStdoutAndStderr(t *testing.T) {
	h, _, _, _ := newTestHub(t)
	path := filepath.Join(t.TempDir(), "php.log")
	so := open(t, h, Spec{Program: "php-fpm", Stream: "stdout", Mode: path})
	se := open(t, h, Spec{Program: "php-fpm", Stream: "stderr", Mode: path + "/."})
	if so.dst != se.dst {
		t.Error("two sinks on one path got two destinations: two lumberjacks would rotate one file")
	}
	if _, err := h.Open(Spec{Program: "php-fpm", Stream: "stderr", Mode: path, MaxSize: 5 * mib}); err == nil ||
		!strings.Contains(err.Error(), "already open") {
		t.Errorf("Open with other rotation settings: %v, want an error", err)
	}
	run(t, so, se, `echo out; echo err >&2`)
	closeSink(t, so)
	closeSink(t, se)

	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b); got != "out\nerr\n" && got != "err\nout\n" {
		t.Errorf("file holds %q", got)
	}
}

// A discard sink hands the program /dev/null, the same file for every
// discard sink, and closing a sink leaves it open for the others.
func TestDiscardIsDevNull(t *testing.T) {
	h, out, errs, _ := newTestHub(t)
	so := open(t, h, Spec{Program: "cron", Stream: "stdout", Mode: "discard"})
	se := open(t, h, Spec{Program: "cron", Stream: "stderr", Mode: "discard"})
	if so.File() != se.File() {
		t.Error("two discard sinks got two files")
	}
	var null, got unix.Stat_t
	if err := unix.Stat(os.DevNull, &null); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fstat(int(so.File().Fd()), &got); err != nil {
		t.Fatal(err)
	}
	if got.Rdev != null.Rdev || got.Mode&unix.S_IFMT != unix.S_IFCHR {
		t.Errorf("the discard sink's file is not /dev/null: mode %o rdev %d", got.Mode, got.Rdev)
	}
	closeSink(t, so)
	run(t, nil, se, `echo gone >&2; echo gone`)
	if len(out.String())+len(errs.String()) != 0 {
		t.Errorf("discarded output reached phpinit: %q %q", out.String(), errs.String())
	}
}
