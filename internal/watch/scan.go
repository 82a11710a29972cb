package watch

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
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

// errStop ends a walk early.
var errStop = errors.New("stop")

// walk calls visit for root and, when root is a directory, for everything below
// it, following symlinks so that visible names count for what they resolve to.
// err is the error of stat or of reading the directory at path. visit returns
// false to end the walk. A directory on a pseudo filesystem (/proc, /sys) is
// not entered: it is visited with errPseudoFS.
func walk(root string, visit func(path string, fi fs.FileInfo, err error) bool) {
	fi, err := os.Stat(root)
	if err == nil && fi.IsDir() {
		err = pseudoFS(root)
	}
	if !visit(root, fi, err) {
		return
	}
	if err == nil && fi.IsDir() {
		walkDir(root, fi, nil, visit)
	}
}

func walkDir(dir string, fi fs.FileInfo, parents []fileID, visit func(string, fs.FileInfo, error) bool) bool {
	id := idOf(fi)
	if slices.Contains(parents, id) {
		return true // a symlink back to an ancestor
	}
	parents = append(parents, id)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return visit(dir, nil, err)
	}
	for _, e := range entries {
		if internal(e.Name()) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		cfi, err := os.Stat(path)
		if err == nil && cfi.IsDir() && (e.Type()&fs.ModeSymlink != 0 || idOf(cfi).dev != id.dev) {
			// Another filesystem only through a symlink or a mount.
			err = pseudoFS(path)
		}
		if !visit(path, cfi, err) {
			return false
		}
		if err == nil && cfi.IsDir() && !walkDir(path, cfi, parents, visit) {
			return false
		}
	}
	return true
}

// Limits bound what one group's scan looks at.
type Limits struct {
	// MaxFiles bounds the files and directories visited; 0 means 10000.
	MaxFiles int
	// MaxBytes bounds the total size of the regular files hashed; 0 means
	// 64 MiB.
	MaxBytes int64
}

const (
	defaultMaxFiles = 10000
	defaultMaxBytes = 64 << 20
	// settleTime is how old a file's mtime and ctime must be for its hash to
	// be reused while its stat is unchanged: a write within the filesystem's
	// timestamp granularity of the last hash would otherwise go unseen
	// (git's "racily clean" entries).
	settleTime = 2 * time.Second
)

func (l Limits) orDefault() Limits {
	if l.MaxFiles <= 0 {
		l.MaxFiles = defaultMaxFiles
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = defaultMaxBytes
	}
	return l
}

// statKey is what must be unchanged for a file's previous hash to stand.
type statKey struct {
	dev, ino     uint64
	size         int64
	mtime, ctime int64
}

func keyOf(fi fs.FileInfo) (statKey, time.Time) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return statKey{}, time.Now()
	}
	m, c := time.Unix(st.Mtim.Unix()), time.Unix(st.Ctim.Unix())
	newest := m
	if c.After(m) {
		newest = c
	}
	return statKey{uint64(st.Dev), st.Ino, st.Size, m.UnixNano(), c.UnixNano()}, newest
}

type cached struct {
	key statKey
	sum string
}

// scanner hashes a group's content within Limits, hashing again only the
// files whose stat changed since the last scan (polling stays cheap).
type scanner struct {
	limits Limits
	cache  map[string]cached
	settle time.Duration // settleTime; a field for tests
}

func newScanner(l Limits) *scanner { return &scanner{limits: l.orDefault(), settle: settleTime} }

// limitError says a group's content is beyond Limits; the scan is not used.
type limitError struct{ What string }

func (e *limitError) Error() string { return e.What }

// scan reads the content of a group's paths. A path that does not exist
// contributes nothing; an empty directory is no content either. Beyond the
// limits it returns a *limitError and no manifest.
func (s *scanner) scan(paths []string) (manifest, error) {
	m := manifest{}
	next := map[string]cached{}
	files, bytes := 0, int64(0)
	var limitErr error
	now := time.Now()
	for _, root := range paths {
		walk(root, func(path string, fi fs.FileInfo, err error) bool {
			switch {
			case err != nil && path == root && errors.Is(err, fs.ErrNotExist):
				return true
			case err != nil:
				m[path] = marker(err)
				return true
			}
			if files++; files > s.limits.MaxFiles {
				limitErr = &limitError{fmt.Sprintf("more than %d files and directories under %s (watch.max_files)", s.limits.MaxFiles, strings.Join(paths, ", "))}
				return false
			}
			if !fi.Mode().IsRegular() {
				return true // directories, FIFOs, devices, sockets: never opened
			}
			if bytes += fi.Size(); bytes > s.limits.MaxBytes {
				limitErr = &limitError{fmt.Sprintf("more than %s of files under %s (watch.max_bytes)", byteSize(s.limits.MaxBytes), strings.Join(paths, ", "))}
				return false
			}
			key, changed := keyOf(fi)
			if c, ok := s.cache[path]; ok && c.key == key {
				m[path] = c.sum
			} else {
				m[path] = sumFile(path, fi.Size())
			}
			if now.Sub(changed) >= s.settle && !strings.HasPrefix(m[path], "!") {
				next[path] = cached{key: key, sum: m[path]}
			}
			return true
		})
		if limitErr != nil {
			return nil, limitErr
		}
	}
	s.cache = next
	return m, nil
}

// scan is a scan with the default limits and no cache.
func scan(paths []string) manifest {
	m, _ := newScanner(Limits{}).scan(paths)
	return m
}

func byteSize(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// errPseudoFS is a path on a filesystem whose files are not configuration:
// reading them may block (/proc/kmsg) or never end, and /proc holds more files
// than any watch should look at.
var errPseudoFS = errors.New("on a pseudo filesystem (proc, sysfs, ...)")

// pseudoFSTypes are statfs(2) f_type values (linux/magic.h).
var pseudoFSTypes = map[int64]bool{
	unix.PROC_SUPER_MAGIC: true, unix.SYSFS_MAGIC: true, unix.DEBUGFS_MAGIC: true,
	unix.TRACEFS_MAGIC: true, unix.SECURITYFS_MAGIC: true, unix.CGROUP_SUPER_MAGIC: true,
	unix.CGROUP2_SUPER_MAGIC: true, unix.DEVPTS_SUPER_MAGIC: true, unix.BPF_FS_MAGIC: true,
	unix.PSTOREFS_MAGIC: true, unix.EFIVARFS_MAGIC: true,
}

func pseudoFS(path string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return nil // the stat that follows reports what is wrong
	}
	return pseudoFSType(st)
}

func pseudoFSType(st unix.Statfs_t) error {
	if pseudoFSTypes[int64(st.Type)] {
		return errPseudoFS
	}
	return nil
}

// marker stands for a file that cannot be read. It names the kind of failure
// only, so that the hash stays stable while the failure lasts.
func marker(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "!dangling"
	case errors.Is(err, fs.ErrPermission):
		return "!denied"
	case errors.Is(err, errPseudoFS):
		return "!pseudo-fs"
	default:
		return "!unreadable"
	}
}

// sumFile hashes a regular file of about size bytes. It reads at most size
// bytes and a little more: a file that grows while it is read (a log in a
// config dir) cannot keep the hash going.
func sumFile(path string, size int64) string {
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
	// A regular file reached through a symlink may be /proc/kmsg, whose
	// read blocks.
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil || pseudoFSType(st) != nil {
		return "!pseudo-fs"
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.LimitReader(f, size+readSlack)); err != nil {
		return marker(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// readSlack is how much more than its stat'ed size a file may be read.
const readSlack = 64 << 10

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
