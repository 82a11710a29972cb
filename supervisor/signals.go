package supervisor

import (
	"os"
	"syscall"
)

// Which signals phpinit subscribes to, and why each list is what it is.
//
// A Go program that does not Notify a signal leaves it to the runtime
// (os/signal docs; runtime/sigtab_linux_generic.go): HUP, INT and TERM make
// it exit; QUIT, ILL, TRAP, ABRT, STKFLT and SYS, and BUS, FPE and SEGV
// when sent with kill(2), make it dump its goroutines and exit 2. The
// kernel shields a namespace's init only from signals it has no handler
// for, and the Go runtime installs handlers for nearly all, so as PID 1
// every one of them would end the container. Once Notified, a signal sent
// by kill(2) (SI_USER, SI_TKILL) is delivered on the channel instead; a real
// fault of phpinit's own still crashes it, as it should.
//
// Never subscribed: SIGURG (the runtime's preemption signal; golang/go#37942
// and runc's signals.go); SIGPROF, which the runtime takes for its profiler
// and drops otherwise (signal.Notify cannot have it); 32-34, which glibc
// and the runtime reserve and which the runtime leaves without a handler
// (32, 34: the kernel drops them for PID 1) or takes itself (33); SIGKILL
// and SIGSTOP, which the kernel never delivers to PID 1 from inside its
// namespace.

// rtSignals are the real-time signals 35 (glibc's SIGRTMIN) to 64.
func rtSignals() []os.Signal {
	var out []os.Signal
	for n := 35; n <= 64; n++ {
		out = append(out, syscall.Signal(n))
	}
	return out
}

// ignoredSignals are the signals supervise mode logs and ignores: nothing in
// a container has a reason to send them to PID 1, and none may end it.
// Job-control stops (TSTP, TTIN, TTOU) and CONT are left out on purpose: a
// Go program keeps their default disposition, which the kernel drops for
// PID 1 and which, when phpinit runs in a terminal, lets Ctrl-Z suspend it.
func ignoredSignals() []os.Signal {
	return append([]os.Signal{
		syscall.SIGUSR2, // would make nginx start a second master
		syscall.SIGPIPE, // also raised by a write to a closed stdout or stderr
		syscall.SIGABRT, syscall.SIGILL, syscall.SIGTRAP, syscall.SIGBUS,
		syscall.SIGFPE, syscall.SIGSEGV, syscall.SIGSTKFLT, syscall.SIGSYS,
		syscall.SIGALRM, syscall.SIGXCPU, syscall.SIGXFSZ, syscall.SIGVTALRM,
		syscall.SIGIO, syscall.SIGPWR, syscall.SIGWINCH,
	}, rtSignals()...)
}

// LoopSignals are the signals supervise mode subscribes to: those it acts on
// (see handleSignal) and those it ignores. Subscribe to them first thing
// (before the hooks) and hand the channel to Options.Signals, so that no
// signal finds phpinit without a subscription.
func LoopSignals() []os.Signal {
	return append([]os.Signal{
		syscall.SIGCHLD, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT,
		syscall.SIGHUP, syscall.SIGUSR1,
	}, ignoredSignals()...)
}

// ForwardSignals are what a one-off command gets from phpinit: every signal
// a process can catch but SIGCHLD (phpinit's, for reaping), SIGURG and
// SIGPROF (the Go runtime's) and 32-34 (reserved by glibc and the runtime).
// Job-control signals included: the command, not phpinit, decides what a
// TSTP does.
func ForwardSignals() []os.Signal {
	return append([]os.Signal{
		syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGILL,
		syscall.SIGTRAP, syscall.SIGABRT, syscall.SIGBUS, syscall.SIGFPE,
		syscall.SIGUSR1, syscall.SIGSEGV, syscall.SIGUSR2, syscall.SIGPIPE,
		syscall.SIGALRM, syscall.SIGTERM, syscall.SIGSTKFLT, syscall.SIGCONT,
		syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU, syscall.SIGXCPU,
		syscall.SIGXFSZ, syscall.SIGVTALRM, syscall.SIGWINCH, syscall.SIGIO,
		syscall.SIGPWR, syscall.SIGSYS,
	}, rtSignals()...)
}

// OneShotSignals are what one-off mode subscribes to: ForwardSignals and
// SIGCHLD.
func OneShotSignals() []os.Signal {
	return append([]os.Signal{syscall.SIGCHLD}, ForwardSignals()...)
}

// quietSignal: ignored signals logged at debug only, since they come in
// numbers for ordinary reasons (a terminal resized).
func quietSignal(sig syscall.Signal) bool { return sig == syscall.SIGWINCH }
