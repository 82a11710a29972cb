package watch

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// k8sVolume lays out dir as Kubernetes' atomic writer does for a ConfigMap
// with the key site.conf, and returns the name of the timestamped directory.
func k8sVolume(t *testing.T, dir, content string) string {
	t.Helper()
	ts := "..2026_11_27_10_00_00.123456789"
	write(t, filepath.Join(dir, ts, "site.conf"), content)
	symlink(t, ts, filepath.Join(dir, "..data"))
	symlink(t, "..data/site.conf", filepath.Join(dir, "site.conf"))
	return ts
}

// k8sUpdate performs an atomic-writer update: new timestamped dir, ..data_tmp
// symlink, rename over ..data, removal of the old dir.
func k8sUpdate(t *testing.T, dir, old, ts, content string) {
	t.Helper()
	write(t, filepath.Join(dir, ts, "site.conf"), content)
	symlink(t, ts, filepath.Join(dir, "..data_tmp"))
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, old)); err != nil {
		t.Fatal(err)
	}
}

func TestScanKubernetesVolumeCountsVisibleNamesOnce(t *testing.T) {
	dir := t.TempDir()
	k8sVolume(t, dir, "a")
	m := scan([]string{dir})
	if got, want := slices.Sorted(maps.Keys(m)), []string{filepath.Join(dir, "site.conf")}; !slices.Equal(got, want) {
		t.Fatalf("scan paths = %q, want %q", got, want)
	}
}

func TestScanIgnoresMetadataAndFollowsLinks(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "a.conf")
	write(t, f, "x")
	before := scan([]string{dir}).sum()

	if err := os.Chmod(f, 0o600); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(f, later, later); err != nil {
		t.Fatal(err)
	}
	write(t, f, "x")
	if got := scan([]string{dir}).sum(); got != before {
		t.Fatal("hash changed on chmod, touch and identical rewrite")
	}

	write(t, f, "y")
	if got := scan([]string{dir}).sum(); got == before {
		t.Fatal("hash unchanged after a content change")
	}
}

func TestScanSurvivesLoopsFIFOsAndDanglingLinks(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "sub", "a.conf"), "x")
	symlink(t, "..", filepath.Join(dir, "sub", "loop"))
	symlink(t, "nowhere", filepath.Join(dir, "dangling"))
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan manifest)
	go func() { done <- scan([]string{dir}) }()
	select {
	case m := <-done:
		if m[filepath.Join(dir, "dangling")] != "!dangling" {
			t.Errorf("dangling symlink: got %q", m[filepath.Join(dir, "dangling")])
		}
		if _, ok := m[filepath.Join(dir, "fifo")]; ok {
			t.Error("a FIFO was hashed")
		}
		if _, ok := m[filepath.Join(dir, "sub", "a.conf")]; !ok {
			t.Error("sub/a.conf missing")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("scan hangs")
	}
}

func TestScanMissingPathIsEmpty(t *testing.T) {
	if m := scan([]string{filepath.Join(t.TempDir(), "missing")}); len(m) != 0 {
		t.Fatalf("scan of a missing path = %v", m)
	}
}

func TestDiff(t *testing.T) {
	old := manifest{"a": "1", "b": "2", "c": "3"}
	cur := manifest{"a": "1", "b": "9", "d": "4"}
	if got, want := diff(old, cur), []string{"b", "c", "d"}; !slices.Equal(got, want) {
		t.Fatalf("diff = %q, want %q", got, want)
	}
}
