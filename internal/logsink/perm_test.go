package logsink

import (
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A program running as another user cannot open phpinit's stdout by path
// when it is a root-owned file or terminal: it gets a relay pipe, and its
// lines arrive unchanged.
func TestInheritRelaysForOtherUser(t *testing.T) {
	dir := t.TempDir()
	out, err := os.OpenFile(filepath.Join(dir, "stdout"), os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	h := NewHub(out, out, slog.New(slog.DiscardHandler))
	same, err := h.Open(Spec{Program: "a", Stream: "stdout", Mode: "inherit"})
	if err != nil {
		t.Fatal(err)
	}
	if same.File() != out {
		t.Error("same user: inherit must hand over phpinit's own file")
	}
	s, err := h.Open(Spec{Program: "b", Stream: "stdout", Mode: "inherit", UID: 65534})
	if err != nil {
		t.Fatal(err)
	}
	if s.File() == out || !isFIFO(s.File()) {
		t.Fatal("other user on a regular file: want a relay pipe")
	}
	var st syscall.Stat_t
	syscall.Fstat(int(s.File().Fd()), &st)
	if st.Mode&0o002 == 0 {
		t.Errorf("relay pipe mode %o: not writable by the program's user", st.Mode&0o777)
	}
	s.File().Write([]byte("as written | no prefix\n"))
	if err := s.Close(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "stdout"))
	if string(got) != "as written | no prefix\n" {
		t.Errorf("relayed %q", got)
	}
}

// stdout and stderr on one pipe share one lock: a stderr line never lands
// inside a long stdout line.
func TestSharedPipeOneLock(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	h := NewHub(w, w, nil)
	if h.out != h.errs {
		t.Error("stdout and stderr on one pipe must share one destination")
	}
	f, _ := os.Create(filepath.Join(t.TempDir(), "other"))
	defer f.Close()
	if h2 := NewHub(w, f, nil); h2.out == h2.errs {
		t.Error("different files must not share a destination")
	}
}
