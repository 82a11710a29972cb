package proc

import (
	"fmt"
	"os"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"
)

// MarkInheritedCloseOnExec sets close-on-exec on every descriptor above 2
// that lacks it, and returns them in order. Call it first thing: then such
// descriptors are exactly the ones phpinit inherited (a launcher's
// `5</secret`, a leaked socket), since Go opens its own close-on-exec. From
// then on no child gets them unless it is spawned with them in its Files
// (see ForkExec).
func MarkInheritedCloseOnExec() ([]int, error) {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, fmt.Errorf("cannot list inherited descriptors: %w", err)
	}
	var marked []int
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd <= 2 {
			continue
		}
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil || flags&unix.FD_CLOEXEC != 0 {
			// EBADF: the directory's own descriptor, closed by now.
			continue
		}
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, flags|unix.FD_CLOEXEC); err != nil {
			return marked, fmt.Errorf("cannot set close-on-exec on descriptor %d: %w", fd, err)
		}
		marked = append(marked, fd)
	}
	slices.Sort(marked)
	return marked, nil
}

// PassThrough returns Files for a child that gets 0, 1, 2 and the
// descriptors fds at their own numbers (the numbers between stay closed).
func PassThrough(fds []int) []uintptr {
	files := []uintptr{0, 1, 2}
	for _, fd := range fds {
		for len(files) < fd {
			files = append(files, ^uintptr(0))
		}
		files = append(files, uintptr(fd))
	}
	return files
}
