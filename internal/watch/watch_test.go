package watch

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"
)

const (
	testDebounce = 50 * time.Millisecond
	timeout      = 10 * time.Second
	// quiet is how long a test waits to conclude that no Change comes.
	quiet = 6 * testDebounce
)

type logWriter struct{ t *testing.T }

func (l logWriter) Write(p []byte) (int, error) {
	l.t.Helper()
	l.t.Log(string(p))
	return len(p), nil
}

func start(t *testing.T, groups map[string][]string, o Options) *Watcher {
	t.Helper()
	if o.Debounce == 0 {
		o.Debounce = testDebounce
	}
	o.Logger = slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	w, err := New(groups, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Error(err)
		}
	})
	return w
}

func next(t *testing.T, w *Watcher) Change {
	t.Helper()
	select {
	case c := <-w.Changes():
		return c
	case <-time.After(timeout):
		t.Fatal("no change reported")
		return Change{}
	}
}

func none(t *testing.T, w *Watcher) {
	t.Helper()
	select {
	case c := <-w.Changes():
		t.Fatalf("unexpected change: %+v", c)
	case <-time.After(quiet):
	}
}

// replace saves path the way editors do: write a temporary file, rename it over.
func replace(t *testing.T, path, content string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".swp")
	write(t, tmp, content)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// put writes path atomically: the content is written outside the watched trees
// and renamed into place, so no debounce can ever see a half-written file.
func put(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(t.TempDir(), "put")
	write(t, tmp, content)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// settle reads changes for group until one carries want: an in-place write is
// a truncate then a write, and a stalled test may see both.
func settle(t *testing.T, w *Watcher, group, want string) {
	t.Helper()
	for {
		if c := wantChange(t, w, group); c.Hash == want {
			return
		}
	}
}

func wantChange(t *testing.T, w *Watcher, group string, paths ...string) Change {
	t.Helper()
	c := next(t, w)
	if c.Group != group {
		t.Fatalf("change for group %q, want %q", c.Group, group)
	}
	if len(paths) > 0 && !slices.Equal(c.Paths, paths) {
		t.Fatalf("change paths = %q, want %q", c.Paths, paths)
	}
	if c.Hash == "" || c.Hash != w.Hash(group) {
		t.Fatalf("change hash %q, Hash(%q) = %q", c.Hash, group, w.Hash(group))
	}
	return c
}

func TestEditorRenameReplace(t *testing.T) {
	dir := t.TempDir()
	site := filepath.Join(dir, "site.conf")
	write(t, site, "a")
	w := start(t, map[string][]string{"nginx": {dir}}, Options{})
	base := w.Hash("nginx")

	replace(t, site, "b")
	if c := wantChange(t, w, "nginx", site); c.Hash == base {
		t.Fatal("hash did not change")
	}
	none(t, w)
}

func TestTouchAndChmodAreNotChanges(t *testing.T) {
	dir := t.TempDir()
	site := filepath.Join(dir, "site.conf")
	write(t, site, "a")
	w := start(t, map[string][]string{"nginx": {dir}}, Options{})

	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(site, later, later); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(site, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(site, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("a"), 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	replace(t, site, "a")
	none(t, w)
}

func TestKubernetesAtomicWriter(t *testing.T) {
	dir := t.TempDir()
	old := k8sVolume(t, dir, "a")
	site := filepath.Join(dir, "site.conf")
	w := start(t, map[string][]string{"dir": {dir}}, Options{})
	wf := start(t, map[string][]string{"file": {site}}, Options{})

	k8sUpdate(t, dir, old, "..2026_11_27_10_01_00.000000001", "b")
	wantChange(t, w, "dir", site)
	wantChange(t, wf, "file", site)
	none(t, w)
	none(t, wf)
}

func TestSingleFile(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "phpinit.yaml")
	later := filepath.Join(dir, "later.yaml")
	write(t, cfg, "a")
	w := start(t, map[string][]string{"cfg": {cfg}, "later": {later}}, Options{})

	put(t, filepath.Join(dir, "other.yaml"), "x")
	none(t, w)

	replace(t, cfg, "b")
	wantChange(t, w, "cfg", cfg)
	write(t, cfg, "c") // in place
	settle(t, w, "cfg", scan([]string{cfg}).sum())

	put(t, later, "x")
	wantChange(t, w, "later", later)
}

func TestNewSubdirectories(t *testing.T) {
	dir := t.TempDir()
	w := start(t, map[string][]string{"nginx": {dir}}, Options{})

	a := filepath.Join(dir, "conf.d", "a.conf")
	put(t, a, "1")
	wantChange(t, w, "nginx", a)
	put(t, a, "2")
	wantChange(t, w, "nginx", a)

	deep := filepath.Join(dir, "x", "y", "z", "deep.conf")
	put(t, deep, "1") // MkdirAll outruns the new watches
	wantChange(t, w, "nginx", deep)
	put(t, deep, "2")
	wantChange(t, w, "nginx", deep)
	write(t, deep, "3") // in place
	settle(t, w, "nginx", scan([]string{dir}).sum())
	none(t, w)
}

func TestDirectoryRemovedAndRecreated(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "nginx")
	site := filepath.Join(dir, "sub", "site.conf")
	write(t, site, "a")
	w := start(t, map[string][]string{"nginx": {dir}}, Options{})

	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	wantChange(t, w, "nginx", site)

	put(t, site, "b")
	wantChange(t, w, "nginx", site)
	put(t, site, "c")
	wantChange(t, w, "nginx", site)
}

func TestMissingAtStart(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "data", "conf", "nginx")
	w := start(t, map[string][]string{"nginx": {dir}}, Options{})

	site := filepath.Join(dir, "site.conf")
	put(t, site, "a")
	wantChange(t, w, "nginx", site)
	replace(t, site, "b")
	wantChange(t, w, "nginx", site)
}

func TestBurstIsDebounced(t *testing.T) {
	dir := t.TempDir()
	site := filepath.Join(dir, "site.conf")
	write(t, site, "0")
	w := start(t, map[string][]string{"nginx": {dir}}, Options{})

	for i := range 100 {
		write(t, site, string(rune('a'+i%26))+"-final?")
	}
	write(t, site, "final")
	n := 0
	last := next(t, w)
	for n = 1; ; n++ {
		select {
		case c := <-w.Changes():
			last = c
			continue
		case <-time.After(quiet):
		}
		break
	}
	if n > 2 {
		t.Errorf("%d changes for one burst, want 1 or 2", n)
	}
	if want := scan([]string{dir}).sum(); last.Hash != want {
		t.Errorf("last change hash %q, want the final content's %q", last.Hash, want)
	}
}

func TestPollingWithoutInotify(t *testing.T) {
	dir := t.TempDir()
	site := filepath.Join(dir, "site.conf")
	write(t, site, "a")
	w := start(t, map[string][]string{"nginx": {dir}}, Options{noInotify: true, PollInterval: testDebounce})

	put(t, site, "b")
	wantChange(t, w, "nginx", site)
	if w.Errors() != 0 {
		t.Errorf("Errors() = %d with inotify off by choice", w.Errors())
	}
}

func TestFallbackToPollingWhenWatchesRunOut(t *testing.T) {
	dir := t.TempDir()
	site := filepath.Join(dir, "site.conf")
	write(t, site, "a")
	w := start(t, map[string][]string{"nginx": {dir}}, Options{
		failAdd:      syscall.ENOSPC,
		fallbackPoll: testDebounce,
	})
	if w.Errors() == 0 {
		t.Fatal("ENOSPC not counted")
	}

	put(t, site, "b")
	wantChange(t, w, "nginx", site)
}

func TestSetGroups(t *testing.T) {
	root := t.TempDir()
	nginx, fpm, gone := filepath.Join(root, "nginx"), filepath.Join(root, "fpm"), filepath.Join(root, "gone")
	write(t, filepath.Join(nginx, "site.conf"), "a")
	write(t, filepath.Join(fpm, "www.conf"), "a")
	write(t, filepath.Join(gone, "x.conf"), "a")
	w := start(t, map[string][]string{"nginx": {nginx}, "gone": {gone}}, Options{})

	put(t, filepath.Join(nginx, "site.conf"), "b")
	wantChange(t, w, "nginx")
	kept := w.Hash("nginx")

	w.SetGroups(map[string][]string{"nginx": {nginx}, "php-fpm": {fpm}})
	if w.Hash("nginx") != kept {
		t.Error("unchanged group lost its hash")
	}
	if w.Hash("php-fpm") == "" || w.Hash("gone") != "" {
		t.Errorf("hashes after SetGroups: php-fpm %q, gone %q", w.Hash("php-fpm"), w.Hash("gone"))
	}
	none(t, w) // a new group's present content is its baseline

	put(t, filepath.Join(gone, "x.conf"), "b")
	put(t, filepath.Join(fpm, "www.conf"), "b")
	wantChange(t, w, "php-fpm", filepath.Join(fpm, "www.conf"))
	none(t, w)
}

func TestSlowConsumerGetsLatestPerGroup(t *testing.T) {
	root := t.TempDir()
	a, b := filepath.Join(root, "a", "f"), filepath.Join(root, "b", "f")
	write(t, a, "0")
	write(t, b, "0")
	w := start(t, map[string][]string{"a": {filepath.Dir(a)}, "b": {filepath.Dir(b)}}, Options{})

	for _, content := range []string{"1", "2", "3"} {
		put(t, a, content)
		want := scan([]string{filepath.Dir(a)}).sum()
		waitHash(t, w, "a", want)
	}
	put(t, b, "1")
	waitHash(t, w, "b", scan([]string{filepath.Dir(b)}).sum())

	first := wantChange(t, w, "a", a)
	if first.Hash != w.Hash("a") {
		t.Error("stale change delivered")
	}
	wantChange(t, w, "b", b)
	none(t, w)

	// Back to the delivered content before the consumer reads: nothing to say.
	put(t, a, "4")
	waitHash(t, w, "a", scan([]string{filepath.Dir(a)}).sum())
	put(t, a, "3")
	waitHash(t, w, "a", first.Hash)
	none(t, w)
}

// waitHash waits until the watcher has hashed group to want.
func waitHash(t *testing.T, w *Watcher, group, want string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for w.Hash(group) != want {
		if time.Now().After(deadline) {
			t.Fatalf("Hash(%q) never became %q", group, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRehash(t *testing.T) {
	dir := t.TempDir()
	site := filepath.Join(dir, "site.conf")
	write(t, site, "a")
	w := start(t, map[string][]string{"nginx": {dir}}, Options{noInotify: true})

	base, err := w.Rehash("nginx")
	if err != nil || base != w.Hash("nginx") {
		t.Fatalf("Rehash = %q, %v; Hash = %q", base, err, w.Hash("nginx"))
	}
	put(t, site, "b")
	h, err := w.Rehash("nginx")
	if err != nil || h == base {
		t.Fatalf("Rehash after a change = %q, %v", h, err)
	}
	wantChange(t, w, "nginx", site)
	if _, err := w.Rehash("nope"); !errors.Is(err, errUnknownGroup) {
		t.Errorf("Rehash of an unknown group: %v", err)
	}
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	dir := t.TempDir()
	site := filepath.Join(dir, "site.conf")
	write(t, site, "a")
	w, err := New(map[string][]string{"nginx": {dir}}, Options{Debounce: testDebounce, PollInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	put(t, site, "b")
	next(t, w)
	put(t, site, "c") // leave a debounce timer armed
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if _, ok := <-w.Changes(); ok {
		t.Error("Changes not closed")
	}
	w.SetGroups(nil)
	if _, err := w.Rehash("nginx"); !errors.Is(err, errClosed) {
		t.Errorf("Rehash after Close: %v", err)
	}

	deadline := time.Now().Add(timeout)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestUnendingWritesStillReport(t *testing.T) {
	dir := t.TempDir()
	w := start(t, map[string][]string{"nginx": {dir}}, Options{})

	stop := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		f, err := os.Create(filepath.Join(dir, "access.log"))
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		for {
			select {
			case <-stop:
				return
			case <-time.After(testDebounce / 5):
				f.WriteString("GET /\n")
			}
		}
	}()
	next(t, w) // reported within maxWaitFactor debounces, writes or not
	close(stop)
	<-stopped
}
