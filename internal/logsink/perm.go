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

// openableByOthers lets a program running as uid open the pipe f by path
// (/dev/stdout, /proc/self/fd/2): opening through /proc re-checks the pipe
// inode's owner and mode, 0600 and root's, which is EACCES for www and makes
// php-fpm exit 78. runc does the same for its one process
// (fixStdioPermissions). Only pipes are changed; uid 0 needs nothing.
func openableByOthers(f *os.File, uid uint32) error {
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
