package app

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
)

// Shipped defaults, copied into an empty mounted config directory: a bind
// mount or a fresh volume hides the image's own files.
const (
	DefaultsDir = "/usr/share/phpinit/defaults"
	ConfDir     = "/data/conf"
)

// SeedDefaults copies from/<name>/* into to/<name> (phpinit passes
// DefaultsDir and ConfDir) for every name whose target exists and is
// empty. A directory with any entry (a ConfigMap's ..data included) is
// never touched.
func SeedDefaults(logger *slog.Logger, from, to string) {
	names, err := os.ReadDir(from)
	if err != nil {
		return // not in the image: nothing to seed
	}
	for _, n := range names {
		if !n.IsDir() {
			continue
		}
		target := filepath.Join(to, n.Name())
		entries, err := os.ReadDir(target)
		if err != nil || len(entries) > 0 {
			continue
		}
		copied, err := copyDir(filepath.Join(from, n.Name()), target)
		if err != nil {
			logger.Warn("cannot seed empty config directory", "dir", target, "err", err)
			continue
		}
		logger.Info("seeded empty config directory with the shipped defaults", "dir", target, "files", copied)
	}
}

// copyDir copies the regular files of src into dst, keeping modes; the
// new files take dst's owner, so a volume owned by www stays www's.
func copyDir(src, dst string) (int, error) {
	entries, err := os.ReadDir(src)
	if err != nil {
		return 0, err
	}
	var st os.FileInfo
	if st, err = os.Stat(dst); err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if err := copyFile(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name()), st); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func copyFile(src, dst string, dir os.FileInfo) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, info.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("cannot copy %s: %w", src, err)
	}
	if err := out.Close(); err != nil {
		return err
	}
	chownLike(dst, dir)
	return nil
}
