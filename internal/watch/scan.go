package watch

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// manifest maps every visible file of a group to the SHA-256 of its content,
// or to a marker starting with "!" when the file cannot be read.
type manifest map[string]string

// fileID names an inode; it tells a recreated directory from the old one at the
// same path, and a symlink loop from a real subdirectory.
type fileID struct{ dev, ino uint64 }

func idOf(fi fs.FileInfo) fileID {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}
	}
	return fileID{dev: uint64(st.Dev), ino: st.Ino}
}

// internal reports the names Kubernetes' atomic writer keeps for itself
// (..data, ..data_tmp, ..2026_11_27_10_00_00.123456789): walking them would
// count every file twice, once under its visible name and once inside them.
func internal(name string) bool { return strings.HasPrefix(name, "..") }

// walk calls visit for root and, when root is a directory, for everything below
// it, following symlinks so that visible names count for what they resolve to.
// err is the error of stat or of reading the directory at path.
func walk(root string, visit func(path string, fi fs.FileInfo, err error)) {
	fi, err := os.Stat(root)
	visit(root, fi, err)
	if err == nil && fi.IsDir() {
		walkDir(root, fi, nil, visit)
	}
}

func walkDir(dir string, fi fs.FileInfo, parents []fileID, visit func(string, fs.FileInfo, error)) {
	id := idOf(fi)
	if slices.Contains(parents, id) {
		return // a symlink back to an ancestor
	}
	parents = append(parents, id)
	entries, err := os.ReadDir(dir)
	if err != nil {
		visit(dir, nil, err)
		return
	}
	for _, e := range entries {
		if internal(e.Name()) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		cfi, err := os.Stat(path)
		visit(path, cfi, err)
		if err == nil && cfi.IsDir() {
			walkDir(path, cfi, parents, visit)
		}
	}
}

// scan reads the content of a group's paths. A path that does not exist
// contributes nothing; an empty directory is no content either.
func scan(paths []string) manifest {
	m := manifest{}
	for _, root := range paths {
		walk(root, func(path string, fi fs.FileInfo, err error) {
			switch {
			case err != nil && path == root && errors.Is(err, fs.ErrNotExist):
			case err != nil:
				m[path] = marker(err)
			case fi.Mode().IsRegular():
				m[path] = sumFile(path)
			}
		})
	}
	return m
}

// marker stands for a file that cannot be read. It names the kind of failure
// only, so that the hash stays stable while the failure lasts.
func marker(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "!dangling"
	case errors.Is(err, fs.ErrPermission):
		return "!denied"
	default:
		return "!unreadable"
	}
}

func sumFile(path string) string {
	// O_NONBLOCK: if a FIFO replaced the file since it was stat'ed, opening it
	// must not wait for a writer (open(2), fifo(7)).
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return marker(err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return "!unreadable"
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return marker(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// sum is the hash of the whole content: paths and file sums, in path order.
func (m manifest) sum() string {
	h := sha256.New()
	for _, path := range slices.Sorted(maps.Keys(m)) {
		io.WriteString(h, path)
		h.Write([]byte{0})
		io.WriteString(h, m[path])
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// diff lists the paths added, removed or modified between old and cur.
func diff(old, cur manifest) []string {
	var paths []string
	for path, sum := range cur {
		if prev, ok := old[path]; !ok || prev != sum {
			paths = append(paths, path)
		}
	}
	for path := range old {
		if _, ok := cur[path]; !ok {
			paths = append(paths, path)
		}
	}
	slices.Sort(paths)
	return paths
}
