package logsink

import (
	"fmt"
	"os"
	"syscall"
)

func isFIFO(f *os.File) bool {
	var st syscall.Stat_t
	return syscall.Fstat(int(f.Fd()), &st) == nil && st.Mode&syscall.S_IFMT == syscall.S_IFIFO
}

// OpenableBy lets a program running as uid open the pipe f by path
// (/dev/stdout, /proc/self/fd/2): opening through /proc re-checks the pipe
// inode's owner and mode, 0600 and root's, which is EACCES for www and makes
// php-fpm exit 78. runc does the same for its one process
// (fixStdioPermissions). Only pipes are changed; uid 0 needs nothing.
func OpenableBy(f *os.File, uid uint32) error {
	if uid == 0 {
		return nil
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("cannot stat %s: %w", f.Name(), err)
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFIFO || st.Uid == uid || st.Mode&0o002 != 0 {
		return nil
	}
	if err := syscall.Fchmod(int(f.Fd()), (st.Mode&0o777)|0o022); err != nil {
		return fmt.Errorf("cannot make %s writable for uid %d: %w", f.Name(), uid, err)
	}
	return nil
}

// handOver reports whether a program running as uid (0: phpinit's own) can
// be given std directly: it can open it by path, or std is a pipe of ours
// that can be made writable for it. Otherwise its output is relayed: a
// terminal, a root-owned file, or a pipe owned by another user (a non-root
// phpinit under a launcher that did not hand the pipe over as runc does).
func handOver(std *os.File, uid uint32) bool {
	if uid == 0 {
		uid = uint32(os.Geteuid())
	}
	if uid == 0 {
		return true
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(std.Fd()), &st); err != nil {
		return false
	}
	switch {
	case st.Uid == uid && st.Mode&0o200 != 0, st.Mode&0o002 != 0:
		return true
	case st.Mode&syscall.S_IFMT == syscall.S_IFIFO && st.Uid == uint32(os.Geteuid()):
		return OpenableBy(std, uid) == nil
	}
	return false
}

// sameFile reports whether a and b are the same open file (inode).
func sameFile(a, b *os.File) bool {
	if a == nil || b == nil {
		return false
	}
	var sa, sb syscall.Stat_t
	if syscall.Fstat(int(a.Fd()), &sa) != nil || syscall.Fstat(int(b.Fd()), &sb) != nil {
		return false
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino
}
