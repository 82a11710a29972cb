package hooks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// sourceWrapper runs as `SHELL -c sourceWrapper SCRIPT`, so $0 is the script
// (made absolute: `.` searches PATH for a name without a slash) and the
// script sees no positional parameters, as under start.sh. Fd 3 is a file of
// ours that receives the status of `.` on one line, then the exported
// environment NUL-separated, so values may hold newlines and '='.
//
//   - `{ ...; } 3>&-` hides fd 3 from the script, which may use fd 3 itself;
//     the shell restores ours afterwards from a close-on-exec copy, so no
//     daemon the script starts inherits it (bash and dash both; tested).
//   - The status of `.` (that of the script's last command) is reported, not
//     acted on: start.sh ignored it too. `exit N`, or a failure under the
//     script's own `set -e`, ends the shell and so fails the hook.
//   - `trap - EXIT`: a script's exit trap ran when start.sh ended, at
//     container stop, never right after sourcing.
//   - `env -0` (coreutils; an env without -0 fails) prints the exports. It
//     fails with 126 (E2BIG) when an exported value is over MAX_ARG_STRLEN;
//     bash then lists them itself (bashFallback) and capture names the
//     variable, dash can only say so (noEnv).
//     /proc/$$/environ would not do: it is the environment the shell started
//     with, before any export.
const sourceWrapper = `{ . "$0"; } 3>&-
printf '%d\n' "$?" >&3
set +eu
trap - EXIT
if command -v env >/dev/null 2>&1; then
	env -0 >&3 && exit 0
	__phpinit_env=$?
fi
`

// bashFallback prints the exports without env(1), from bash's own list of
// exported names; unlike env -0 it misses exported functions (BASH_FUNC_*).
const bashFallback = `if command -v compgen >/dev/null 2>&1; then
	compgen -e | while IFS= read -r __phpinit_name; do
		[ -n "${!__phpinit_name+x}" ] && printf '%s=%s\0' "$__phpinit_name" "${!__phpinit_name}"
	done >&3
	exit 0
fi
`

const noEnv = `if [ "${__phpinit_env:-}" = 126 ]; then
	echo "phpinit: cannot capture the exports of $0: env cannot be executed; an exported value over 128 KiB (MAX_ARG_STRLEN) makes every exec fail" >&2
	exit 126
fi
echo "phpinit: cannot capture the exports of $0: no env on PATH that supports -0" >&2
exit 127
`

// sourceScript sources Options.Script and, if it succeeds, sets res.Env and
// res.Exported from what it exported. On a failure that OnError lets pass,
// res keeps the base environment.
func (r *runner) sourceScript(ctx context.Context, res *Result) error {
	if r.o.Script == "" {
		return nil
	}
	script, err := filepath.Abs(r.o.Script)
	if err != nil {
		return fmt.Errorf("cannot source %s: %w", r.o.Script, err)
	}
	switch err := checkScript(script); {
	case errors.Is(err, fs.ErrNotExist):
		r.log.Debug("no script", "hook", script)
		return nil
	case err != nil:
		// bash would only warn and go on: `.` of an unreadable file or a
		// directory merely returns 1.
		return r.failed(&Error{Hook: script, Code: 126, Err: err})
	}
	shell, wrapper, err := r.wrapper()
	if err != nil {
		return r.failed(&Error{Hook: script, Code: 127, Err: err})
	}
	dump, err := newDumpFile()
	if err != nil {
		return r.failed(fmt.Errorf("cannot source %s: %w", script, err))
	}
	defer dump.Close()
	args := []string{shell, "-c", wrapper, script}
	if err := r.run(ctx, res, script, args, r.base, []*os.File{dump}); err != nil {
		return r.failed(err)
	}
	return r.capture(res, script, dump)
}

// checkScript says whether script can be sourced. Only a regular file is
// opened: opening a FIFO waits for a writer, and the shell would wait too.
func checkScript(script string) error {
	fi, err := os.Stat(script)
	if err != nil {
		return err
	}
	if err := sourceable(fi); err != nil {
		return err
	}
	f, err := os.OpenFile(script, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return err
	}
	return sourceable(fi)
}

func sourceable(fi fs.FileInfo) error {
	switch {
	case fi.IsDir():
		return errors.New("is a directory")
	case !fi.Mode().IsRegular():
		return fmt.Errorf("not a regular file (%s)", fi.Mode().Type())
	}
	return nil
}

// wrapper picks the shell (bash, else sh) and the script it runs.
func (r *runner) wrapper() (shell, script string, err error) {
	shell = r.shell
	if shell == "" {
		if shell, err = exec.LookPath("bash"); err != nil {
			if shell, err = exec.LookPath("sh"); err != nil {
				return "", "", errors.New("cannot find bash or sh on PATH")
			}
		}
	}
	if filepath.Base(shell) == "bash" {
		return shell, sourceWrapper + bashFallback + noEnv, nil
	}
	return shell, sourceWrapper + noEnv, nil
}

// capture reads what the wrapper wrote to fd 3 into res.
func (r *runner) capture(res *Result, script string, dump *os.File) error {
	data, err := readDump(dump)
	if err != nil {
		return r.failed(fmt.Errorf("cannot read the exports of %s: %w", script, err))
	}
	status, records, ok := parseDump(data)
	if !ok {
		r.log.Warn("script called exit 0 before its end; its exports are ignored (return ends a sourced script)",
			"hook", script)
		return nil
	}
	if status != 0 {
		r.log.Warn("script's last command failed; ignored, as start.sh did", "hook", script, "exit_code", status)
	}
	env, exported, unset := mergeEnv(r.base, records)
	if err := checkExportSizes(exported); err != nil {
		return r.failed(&Error{Hook: script, Code: 1, Err: err})
	}
	res.Env, res.Exported = env, exported
	r.log.Info("script environment captured", "hook", script,
		"exported", slices.Sorted(maps.Keys(exported)), "unset", unset)
	return nil
}

// newDumpFile returns a file for the wrapper's fd 3. A file rather than a
// pipe: we read it after the shell has exited, so nothing can block on it.
func newDumpFile() (*os.File, error) {
	fd, err := unix.MemfdCreate("phpinit-exports", unix.MFD_CLOEXEC)
	if err == nil {
		return os.NewFile(uintptr(fd), "phpinit-exports"), nil
	}
	// memfd_create may be denied by a seccomp profile; an unlinked temporary
	// file does the same job where TMPDIR is writable.
	f, terr := os.CreateTemp("", "phpinit-exports-*")
	if terr != nil {
		return nil, fmt.Errorf("cannot create a file for exports: %w", errors.Join(err, terr))
	}
	_ = os.Remove(f.Name())
	return f, nil
}

// maxDump bounds the exports read back: far more than any environment a
// program could be started with (ARG_MAX is a quarter of the stack limit).
const maxDump = 64 << 20

func readDump(f *os.File) ([]byte, error) {
	// The shell's writes moved the shared file offset.
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxDump+1))
	if err == nil && len(data) > maxDump {
		return nil, fmt.Errorf("more than %d bytes of exports", maxDump)
	}
	return data, err
}

// parseDump splits the wrapper's output; ok is false when the shell never
// got past the script.
func parseDump(data []byte) (status int, records []string, ok bool) {
	head, rest, found := strings.Cut(string(data), "\n")
	if !found {
		return 0, nil, false
	}
	status, err := strconv.Atoi(head)
	if err != nil {
		return 0, nil, false
	}
	for rec := range strings.SplitSeq(rest, "\x00") {
		if rec != "" {
			records = append(records, rec)
		}
	}
	return status, records, true
}
