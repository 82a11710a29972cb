package hooks

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// maxArgStrlen is MAX_ARG_STRLEN (include/uapi/linux/binfmts.h, 32 pages of
// 4 KiB): execve fails with E2BIG when one "NAME=value" string, its NUL
// included, is longer; every program start would then fail.
const maxArgStrlen = 32 * 4096

// checkExportSizes names every exported variable too long for execve.
func checkExportSizes(exported map[string]string) error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(exported)) {
		if n := len(name) + 1 + len(exported[name]) + 1; n > maxArgStrlen {
			errs = append(errs, fmt.Errorf("cannot export %s: %d bytes (NAME=value and its NUL), over the %d one variable may hold for exec (MAX_ARG_STRLEN); no program could start with it",
				name, n, maxArgStrlen))
		}
	}
	return errors.Join(errs...)
}

// mergeEnv applies the script's exported environment (captured) to base.
//
//   - A base variable the script changed takes its new value; one it unset is
//     dropped (returned in unset); order is base order, then new names sorted.
//   - Variables the shell itself sets are not the script's: `_` (the last
//     command), SHLVL, PWD and OLDPWD keep their base value, or stay absent.
//     A script's `cd` thus moves nothing for the programs.
//   - A base variable whose name is not a shell identifier (FOO-BAR, which
//     Docker allows) is kept as is: the script cannot set or unset it, and
//     dash drops such names from its environment altogether.
//
// exported holds the names the script added or changed, with their values.
func mergeEnv(base, captured []string) (env []string, exported map[string]string, unset []string) {
	got := make(map[string]string, len(captured))
	for _, kv := range captured {
		if name, val, ok := strings.Cut(kv, "="); ok && name != "" && !isShellOwned(name) {
			got[name] = val
		}
	}
	names, vals := parseEnv(base)
	exported = make(map[string]string)
	for _, name := range names {
		val := vals[name]
		if !isShellOwned(name) && isShellName(name) {
			nv, ok := got[name]
			if !ok {
				unset = append(unset, name)
				continue
			}
			if nv != val {
				exported[name] = nv
				val = nv
			}
		}
		env = append(env, name+"="+val)
	}
	for _, name := range slices.Sorted(maps.Keys(got)) {
		if _, inBase := vals[name]; !inBase {
			exported[name] = got[name]
			env = append(env, name+"="+got[name])
		}
	}
	return env, exported, unset
}

// parseEnv splits NAME=value entries, in first-seen order; a repeated name
// takes its last value, as exec.Cmd does. Entries without '=' are dropped.
func parseEnv(env []string) (names []string, vals map[string]string) {
	vals = make(map[string]string, len(env))
	for _, kv := range env {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			continue
		}
		if _, seen := vals[name]; !seen {
			names = append(names, name)
		}
		vals[name] = val
	}
	return names, vals
}

// isShellOwned reports the variables bash or dash set on their own.
func isShellOwned(name string) bool {
	switch name {
	case "_", "SHLVL", "PWD", "OLDPWD":
		return true
	}
	return false
}

// isShellName reports whether name is a POSIX shell identifier.
func isShellName(name string) bool {
	for i, c := range name {
		letter := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return name != ""
}
