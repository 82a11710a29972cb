package proc

import (
	"errors"
	"fmt"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// Privileges limit what a child, and everything it execs, can hold or gain
// beyond its user.
type Privileges struct {
	// RestrictBounding makes Bounding the child's whole capability
	// bounding set, and trims its inheritable set to it: no execve of the
	// child or its descendants, setuid-root and file-capability binaries
	// included, gives a capability outside it (capabilities(7)).
	RestrictBounding bool
	// Bounding is the capability numbers kept when RestrictBounding is set.
	// Ambient capabilities must be among them.
	Bounding []uintptr
	// NoNewPrivs sets PR_SET_NO_NEW_PRIVS: setuid and setgid bits and file
	// capabilities give nothing at execve (prctl(2)).
	NoNewPrivs bool
}

func (p Privileges) none() bool { return !p.RestrictBounding && !p.NoNewPrivs }

// Attr is how a child starts: syscall.ProcAttr, whose Files are the
// child's only descriptors (see ForkExec), and its Privileges.
type Attr struct {
	syscall.ProcAttr
	Privileges
}

// ForkExec is syscall.ForkExec with the Privileges applied, and the one way
// phpinit starts a process.
//
// Descriptors: the child gets exactly attr.Files, as its descriptors 0,
// 1, 2, ... (a -1 entry leaves that number closed). Nothing else reaches it:
// Go opens every descriptor close-on-exec, and MarkInheritedCloseOnExec
// does the same for those phpinit inherited. Whatever phpinit means to
// pass on is therefore an entry of attr.Files, listed where the child is
// spawned.
//
// Privileges: the bounding set and no_new_privs are attributes of a thread,
// inherited by what it forks (capabilities(7), prctl(2)), and
// syscall.SysProcAttr has no field for either. So the fork is made from a
// thread of its own (onDisposableThread), which restricts itself first and
// then ends. The child's setuid and ambient capabilities (SysProcAttr)
// still work: a capability dropped from the bounding set stays in the
// effective set until exec, and an ambient one must be in the bounding
// set, which Bounding says.
func ForkExec(path string, argv []string, attr *Attr) (int, error) {
	if attr.none() {
		return syscall.ForkExec(path, argv, &attr.ProcAttr)
	}
	var pid int
	var err error
	onDisposableThread(func() {
		if err = restrictThread(attr.Privileges); err == nil {
			pid, err = syscall.ForkExec(path, argv, &attr.ProcAttr)
		}
	})
	return pid, err
}

// onDisposableThread runs fn on an OS thread that ends when fn returns, so
// whatever fn changes about its thread reaches nothing else: a goroutine
// that exits locked to its thread takes the thread with it
// (runtime.LockOSThread), and the runtime never clones new threads from a
// locked one (golang/go#20676). The main thread is the exception: the
// runtime cannot end it and would park it for good, changed; so when fn's
// goroutine lands there, it holds the main thread, unchanged, while
// another goroutine (which therefore cannot land there) runs fn.
func onDisposableThread(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			onDisposableThread(fn)
			runtime.UnlockOSThread()
			return
		}
		fn()
		// No UnlockOSThread: the thread must end with this goroutine.
	}()
	<-done
}

// restrictThread applies p to the calling thread.
func restrictThread(p Privileges) error {
	if p.RestrictBounding {
		if err := restrictBounding(p.Bounding); err != nil {
			return err
		}
	}
	if p.NoNewPrivs {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("cannot set no_new_privs: %w", err)
		}
	}
	return nil
}

// restrictBounding drops every capability not in keep from the calling
// thread's bounding set, and from its inheritable set (which, for a root
// child, would otherwise give back at execve what the bounding set lost).
// It needs CAP_SETPCAP only when there is something to drop.
func restrictBounding(keep []uintptr) error {
	var want uint64
	for _, c := range keep {
		want |= 1 << c
	}
	for c := uintptr(0); c < 64; c++ {
		in, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, c, 0, 0, 0)
		if errors.Is(err, unix.EINVAL) {
			break // past CAP_LAST_CAP of this kernel
		}
		if err != nil {
			return fmt.Errorf("cannot read capability bounding set: %w", err)
		}
		if in == 0 || want&(1<<c) != 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, c, 0, 0, 0); err != nil {
			return fmt.Errorf("cannot drop capability %d from the bounding set: %w", c, err)
		}
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("cannot read capabilities: %w", err)
	}
	lo, hi := uint32(want), uint32(want>>32)
	if data[0].Inheritable&^lo == 0 && data[1].Inheritable&^hi == 0 {
		return nil
	}
	data[0].Inheritable &= lo
	data[1].Inheritable &= hi
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("cannot trim inheritable capabilities: %w", err)
	}
	return nil
}

// CanRestrictBounding reports whether this process may drop capabilities
// from its bounding set (CAP_SETPCAP is effective). Without it, only
// children whose bounding set is already within theirs can be started with
// RestrictBounding.
func CanRestrictBounding() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[0].Effective&(1<<unix.CAP_SETPCAP) != 0
}
