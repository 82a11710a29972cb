package config

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLoadRefusesSpecialFiles: a FIFO must be an error at once, not an open
// that waits for a writer; a device must not be read until memory runs out.
func TestLoadRefusesSpecialFiles(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "phpinit.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		fifo:        "not a regular file (a FIFO)",
		"/dev/zero": "not a regular file (a device)",
	} {
		done := make(chan error, 1)
		go func() {
			_, err := Load(Options{Path: path, Offline: true})
			done <- err
		}()
		select {
		case err := <-done:
			wantFull(t, err, path+": cannot read config: "+want)
		case <-time.After(10 * time.Second):
			t.Fatalf("Load(%s) still reading", path)
		}
	}
}

func TestLoadRefusesHugeFile(t *testing.T) {
	path := writeConfig(t, "log: {level: info}\n"+strings.Repeat("# padding\n", MaxFileSize/10+1))
	_, err := Load(Options{Path: path, Offline: true})
	wantFull(t, err, path+": cannot read config: 1048599 bytes is larger than the limit of 1MiB")
	// Size exactly at the limit is fine.
	body := "log: {level: info}\n"
	body += strings.Repeat("#", MaxFileSize-len(body)-1) + "\n"
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(Options{Path: path, Offline: true}); err != nil {
		t.Errorf("a file of exactly %d bytes: %v", MaxFileSize, err)
	}
}

// TestRequirePrograms: every way of leaving no program is refused alike when
// programs are required, and accepted when not (one-off commands).
func TestRequirePrograms(t *testing.T) {
	for _, body := range []string{"", "log:\n", "log: {level: debug}\n", "programs: {}\n", "programs:\n", "# nothing\n"} {
		path := writeConfig(t, body)
		_, err := Load(Options{Path: path, Offline: true, RequirePrograms: true})
		wantFull(t, err, path+": programs: no programs configured: phpinit refuses a config without programs (an emptied file?)")
		if _, err := Load(Options{Path: path, Offline: true}); err != nil {
			t.Errorf("%q without RequirePrograms: %v", body, err)
		}
	}
	path := writeConfig(t, "programs: {web: {command: [web]}}\n")
	if _, err := Load(Options{Path: path, Offline: true, RequirePrograms: true}); err != nil {
		t.Errorf("one program: %v", err)
	}
}

func TestWatchLimitsValidated(t *testing.T) {
	_, err := loadOffline(t, "watch: {max_files: -1, max_bytes: -5}\n")
	wantProblems(t, err, `watch.max_bytes: invalid size "-5"`, "watch.max_files: must be at least 0, got -1")
	c, err := loadOffline(t, "watch: {max_files: 50, max_bytes: 1MiB}\n")
	if err != nil || c.Watch.MaxFiles != 50 || c.Watch.MaxBytes != 1<<20 {
		t.Errorf("watch = %+v, %v", c.Watch, err)
	}
}
