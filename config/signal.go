package config

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
)

// sigRTMax is SIGRTMAX on Linux (glibc and musl): the highest signal number
// kill(2) accepts.
const sigRTMax = 64

// signalNames are the Linux names without SIG, in the form String prints.
var signalNames = map[syscall.Signal]string{
	syscall.SIGHUP: "HUP", syscall.SIGINT: "INT", syscall.SIGQUIT: "QUIT",
	syscall.SIGILL: "ILL", syscall.SIGTRAP: "TRAP", syscall.SIGABRT: "ABRT",
	syscall.SIGBUS: "BUS", syscall.SIGFPE: "FPE", syscall.SIGKILL: "KILL",
	syscall.SIGUSR1: "USR1", syscall.SIGSEGV: "SEGV", syscall.SIGUSR2: "USR2",
	syscall.SIGPIPE: "PIPE", syscall.SIGALRM: "ALRM", syscall.SIGTERM: "TERM",
	syscall.SIGSTKFLT: "STKFLT", syscall.SIGCHLD: "CHLD", syscall.SIGCONT: "CONT",
	syscall.SIGSTOP: "STOP", syscall.SIGTSTP: "TSTP", syscall.SIGTTIN: "TTIN",
	syscall.SIGTTOU: "TTOU", syscall.SIGURG: "URG", syscall.SIGXCPU: "XCPU",
	syscall.SIGXFSZ: "XFSZ", syscall.SIGVTALRM: "VTALRM", syscall.SIGPROF: "PROF",
	syscall.SIGWINCH: "WINCH", syscall.SIGIO: "IO", syscall.SIGPWR: "PWR",
	syscall.SIGSYS: "SYS",
}

// signalAliases are other names kill(1) accepts for the same numbers.
var signalAliases = map[string]syscall.Signal{
	"IOT": syscall.SIGABRT, "CLD": syscall.SIGCHLD, "POLL": syscall.SIGIO,
}

// ParseSignal reads a signal name with or without SIG, in any case
// ("QUIT", "SIGQUIT", "quit"), or its number ("3", 1 to 64).
func ParseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > sigRTMax {
			return 0, fmt.Errorf("unknown signal %q", s)
		}
		return syscall.Signal(n), nil
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if sig, ok := signalAliases[name]; ok {
		return sig, nil
	}
	for sig, n := range signalNames {
		if n == name {
			return sig, nil
		}
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}

// String is the name without SIG ("QUIT"), the number for a signal with
// no name (real-time signals), and "" for none.
func (s Signal) String() string {
	if s == 0 {
		return ""
	}
	if n, ok := signalNames[syscall.Signal(s)]; ok {
		return n
	}
	return strconv.Itoa(int(s))
}

// Sys is the signal for kill(2).
func (s Signal) Sys() syscall.Signal { return syscall.Signal(s) }

// MarshalText writes the name, so YAML and JSON show "QUIT" rather than 3.
func (s Signal) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText accepts what ParseSignal accepts, and "" for none.
func (s *Signal) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*s = 0
		return nil
	}
	sig, err := ParseSignal(string(b))
	if err != nil {
		return err
	}
	*s = Signal(sig)
	return nil
}
