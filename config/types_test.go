package config

import (
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseSignal(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    syscall.Signal
		wantErr string
	}{
		{in: "QUIT", want: syscall.SIGQUIT},
		{in: "SIGQUIT", want: syscall.SIGQUIT},
		{in: "quit", want: syscall.SIGQUIT},
		{in: "sigusr2", want: syscall.SIGUSR2},
		{in: "3", want: syscall.SIGQUIT},
		{in: "HUP", want: syscall.SIGHUP},
		{in: "TERM", want: syscall.SIGTERM},
		{in: "USR1", want: syscall.SIGUSR1},
		{in: "WINCH", want: syscall.SIGWINCH},
		{in: "IOT", want: syscall.SIGABRT},
		{in: "64", want: 64},
		{in: "QUITE", wantErr: `unknown signal "QUITE"`},
		{in: "SIG", wantErr: `unknown signal "SIG"`},
		{in: "0", wantErr: `unknown signal "0"`},
		{in: "65", wantErr: `unknown signal "65"`},
		{in: "-3", wantErr: `unknown signal "-3"`},
		{in: "", wantErr: `unknown signal ""`},
	} {
		got, err := ParseSignal(tc.in)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("ParseSignal(%q) error = %v, want %s", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseSignal(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestSignalString(t *testing.T) {
	for sig, want := range map[Signal]string{
		0: "", Signal(syscall.SIGQUIT): "QUIT", Signal(syscall.SIGUSR2): "USR2",
		Signal(syscall.SIGHUP): "HUP", 34: "34",
	} {
		if got := sig.String(); got != want {
			t.Errorf("Signal(%d).String() = %q, want %q", sig, got, want)
		}
	}
	if Signal(syscall.SIGTERM).Sys() != syscall.SIGTERM {
		t.Error("Sys() changed the number")
	}
	// Every name parses back to its number.
	for n := Signal(1); n <= sigRTMax; n++ {
		if got, err := ParseSignal(n.String()); err != nil || Signal(got) != n {
			t.Errorf("ParseSignal(%q) = %d, %v; want %d", n.String(), got, err, n)
		}
	}
}

func TestSignalText(t *testing.T) {
	var s Signal
	if err := s.UnmarshalText([]byte("SIGHUP")); err != nil || s != Signal(syscall.SIGHUP) {
		t.Errorf("UnmarshalText(SIGHUP) = %d, %v", s, err)
	}
	if err := s.UnmarshalText(nil); err != nil || s != 0 {
		t.Errorf("UnmarshalText(\"\") = %d, %v; want 0", s, err)
	}
	if err := s.UnmarshalText([]byte("nope")); err == nil {
		t.Error("UnmarshalText(nope) succeeded")
	}
	if b, _ := Signal(syscall.SIGQUIT).MarshalText(); string(b) != "QUIT" {
		t.Errorf("MarshalText = %q", b)
	}
}

func TestParseByteSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ByteSize
		ok   bool
	}{
		{"1048576", 1 << 20, true},
		{"0", 0, true},
		{"10MiB", 10 << 20, true},
		{"10mib", 10 << 20, true},
		{"10M", 10 << 20, true},
		{"512KB", 512000, true},
		{"512KiB", 512 << 10, true},
		{"512K", 512 << 10, true},
		{"1GB", 1e9, true},
		{"1GiB", 1 << 30, true},
		{"2TiB", 2 << 40, true},
		{"10 MiB", 10 << 20, true},
		{"100B", 100, true},
		{"", 0, false},
		{"MiB", 0, false},
		{"1.5MiB", 0, false},
		{"-1", 0, false},
		{"10XB", 0, false},
		{"9223372036854775807", 1<<63 - 1, true},
		{"9223372036854775807K", 0, false},
	} {
		got, err := ParseByteSize(tc.in)
		if tc.ok != (err == nil) || got != tc.want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
	if _, err := ParseByteSize("ten"); err == nil || err.Error() != `invalid size "ten"` {
		t.Errorf("ParseByteSize(ten) error = %v", err)
	}
}

func TestByteSizeString(t *testing.T) {
	for size, want := range map[ByteSize]string{
		0: "0", 1: "1", 1000: "1KB", 1024: "1KiB", 10 << 20: "10MiB", 1e9: "1GB",
		1 << 30: "1GiB", 1500: "1500", 1 << 40: "1TiB", 1024000: "1000KiB",
	} {
		if got := size.String(); got != want {
			t.Errorf("ByteSize(%d).String() = %q, want %q", size, got, want)
		}
		if back, err := ParseByteSize(size.String()); err != nil || back != size {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", size.String(), back, err, size)
		}
	}
	var s ByteSize
	if err := s.UnmarshalText([]byte("2MB")); err != nil || s != 2e6 {
		t.Errorf("UnmarshalText(2MB) = %d, %v", s, err)
	}
	if b, _ := ByteSize(10 << 20).MarshalText(); string(b) != "10MiB" {
		t.Errorf("MarshalText = %q", b)
	}
}

func TestCapabilityNumber(t *testing.T) {
	if len(capabilityNames) != unix.CAP_LAST_CAP+1 {
		t.Errorf("table has %d capabilities, kernel headers %d", len(capabilityNames), unix.CAP_LAST_CAP+1)
	}
	for name, want := range map[string]int{
		"NET_BIND_SERVICE": unix.CAP_NET_BIND_SERVICE, "cap_net_bind_service": unix.CAP_NET_BIND_SERVICE,
		"CAP_CHOWN": unix.CAP_CHOWN, "sys_ptrace": unix.CAP_SYS_PTRACE, "SETUID": unix.CAP_SETUID,
		"AUDIT_READ": unix.CAP_AUDIT_READ, "PERFMON": unix.CAP_PERFMON, "BPF": unix.CAP_BPF,
		"CHECKPOINT_RESTORE": unix.CAP_CHECKPOINT_RESTORE, "SYS_ADMIN": unix.CAP_SYS_ADMIN,
	} {
		if got, ok := CapabilityNumber(name); !ok || got != uintptr(want) {
			t.Errorf("CapabilityNumber(%q) = %d, %v; want %d", name, got, ok, want)
		}
	}
	for _, name := range []string{"NET_BIND", "CAP_", "", "ALL"} {
		if _, ok := CapabilityNumber(name); ok {
			t.Errorf("CapabilityNumber(%q) ok", name)
		}
	}
}

func TestFieldError(t *testing.T) {
	for _, tc := range []struct {
		e    FieldError
		want string
	}{
		{FieldError{"/etc/phpinit/phpinit.yaml", "programs.nginx.stop_signal", `unknown signal "QUITE"`},
			`/etc/phpinit/phpinit.yaml: programs.nginx.stop_signal: unknown signal "QUITE"`},
		{FieldError{"", "http.listen", `"x" is not host:port`}, `http.listen: "x" is not host:port`},
		{FieldError{"/f.yaml", "", "line 3: did not find expected key"}, "/f.yaml: line 3: did not find expected key"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}
