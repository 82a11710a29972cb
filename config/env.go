package config

import (
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/phpinit/phpinit/internal/suggest"
)

// Environment overrides. Every key can be set by PHPINIT_ and its dotted
// path upper-cased with "_" for ".": PHPINIT_SHUTDOWN_GRACE=40s,
// PHPINIT_PROGRAMS_NGINX_STOP_TIMEOUT=3s. An empty value counts
// (PHPINIT_HTTP_LISTEN= disables the listener). In a program name every
// character other than a letter, digit or "_" may be written "_"
// (PHPINIT_PROGRAMS_PHP_FPM_...) or as is (PHPINIT_PROGRAMS_PHP-FPM_...; this
// form wins). Only programs in the file can be overridden. Lists (command,
// depends_on, ...) are split on whitespace; an item cannot contain a space.
// PHPINIT_PROGRAMS_<NAME>_ENVIRONMENT_<VAR>=value sets one variable of a
// program's environment. metrics.phpfpm cannot be overridden. Variables
// that name no key are ignored; UnknownEnv gives a warning for each (but
// PHPINIT_CONFIG, the config file's path).
//
// viper's AutomaticEnv is not used: it reads os.Getenv only, so Load could
// not honour Options.Environ without changing the process environment.

const envPrefix = "PHPINIT_"

// applyEnv writes the overrides in environ into raw, the decoded file, and
// returns which variable set each dotted key.
func applyEnv(raw map[string]any, environ []string) map[string]string {
	env := phpinitVars(environ)
	if len(env) == 0 {
		return nil
	}
	from := map[string]string{}
	set := func(path []string, t reflect.Type, names ...string) {
		for _, n := range names {
			if v, ok := env[n]; ok && setPath(raw, path, envValue(v, t)) {
				from[strings.Join(path, ".")] = n
			}
		}
	}
	leafKeys(nil, reflect.TypeFor[Config](), func(path []string, t reflect.Type) {
		set(path, t, envName(path))
	})
	progs, _ := raw["programs"].(map[string]any)
	for _, name := range sortedKeys(progs) {
		forms := nameForms(name)
		leafKeys([]string{"programs", name}, reflect.TypeFor[Program](), func(path []string, t reflect.Type) {
			var names []string
			for _, f := range forms {
				names = append(names, envPrefix+"PROGRAMS_"+f+"_"+strings.ToUpper(strings.Join(path[2:], "_")))
			}
			set(path, t, names...)
		})
		for _, f := range forms {
			prefix := envPrefix + "PROGRAMS_" + f + "_ENVIRONMENT_"
			for _, n := range sortedKeys(env) {
				if v := strings.TrimPrefix(n, prefix); v != n && v != "" {
					set([]string{"programs", name, "environment", v}, reflect.TypeFor[string](), n)
				}
			}
		}
	}
	return from
}

// phpinitVars picks the PHPINIT_ variables; the first of duplicates wins,
// as with os.Getenv.
func phpinitVars(environ []string) map[string]string {
	env := map[string]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if _, dup := env[k]; ok && !dup && strings.HasPrefix(k, envPrefix) {
			env[k] = v
		}
	}
	return env
}

func envName(path []string) string {
	return envPrefix + strings.ToUpper(strings.Join(path, "_"))
}

// nameForms is a program name as it may appear in a variable name: with
// "_" for each character a shell variable cannot hold, then as written.
func nameForms(name string) []string {
	safe := strings.Map(func(r rune) rune {
		if r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, name)
	forms := []string{strings.ToUpper(safe)}
	if safe != name {
		forms = append(forms, strings.ToUpper(name))
	}
	return forms
}

// envValue is a variable's value in the shape the decoder expects.
func envValue(v string, t reflect.Type) any {
	if t.Kind() != reflect.Slice {
		return v
	}
	fields := strings.Fields(v)
	l := make([]any, len(fields))
	for i, f := range fields {
		l[i] = f
	}
	return l
}

// setPath sets raw[path...] = v, making the maps on the way. It gives up
// (false) where the file has a value of another shape, which the decoder
// reports.
func setPath(raw map[string]any, path []string, v any) bool {
	m := raw
	for _, k := range path[:len(path)-1] {
		switch next := m[k].(type) {
		case map[string]any:
			m = next
		case nil:
			n := map[string]any{}
			m[k] = n
			m = n
		default:
			return false
		}
	}
	m[path[len(path)-1]] = v
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// scriptVars are PHPINIT_* variables that are no config keys and get no
// warning: phpinit's own (PHPINIT_ONLY, read by run) and its scripts' and
// tests' (make demo, the base image, CI).
var scriptVars = []string{"PHPINIT_DEMO_", "PHPINIT_FRESH_", "PHPINIT_BASE_CACHE", "PHPINIT_ONLY", "PHPINIT_E2E_", "PHPINIT_DOCKER", "PHPINIT_TEST_"}

// UnknownEnv returns a warning for each PHPINIT_* variable in environ that
// names no key (a typo: PHPINIT_SHUTDOWN_GRAEC), naming the closest one when
// there is one near, sorted by variable. programs are the names in the
// config file: only those can be overridden.
func UnknownEnv(environ []string, programs []string) []string {
	known := map[string]bool{EnvConfig: true}
	leafKeys(nil, reflect.TypeFor[Config](), func(path []string, _ reflect.Type) {
		known[envName(path)] = true
	})
	var progPrefixes, envPrefixes []string
	for _, name := range programs {
		for _, f := range nameForms(name) {
			prefix := envPrefix + "PROGRAMS_" + f + "_"
			progPrefixes = append(progPrefixes, prefix)
			envPrefixes = append(envPrefixes, prefix+"ENVIRONMENT_")
			leafKeys(nil, reflect.TypeFor[Program](), func(path []string, _ reflect.Type) {
				known[prefix+strings.ToUpper(strings.Join(path, "_"))] = true
			})
		}
	}
	candidates := sortedKeys(known)
	var warnings []string
	for _, n := range sortedKeys(phpinitVars(environ)) {
		if known[n] || hasAnyPrefix(n, scriptVars) || hasAnyPrefix(n, envPrefixes) && !slices.Contains(envPrefixes, n) {
			continue
		}
		w := n + " is no phpinit setting: ignored"
		if c := suggest.Closest(n, candidates, max(2, len(n[len(envPrefix):])/6)); c != "" {
			w += " (did you mean " + c + "?)"
		} else if strings.HasPrefix(n, envPrefix+"PROGRAMS_") && !hasAnyPrefix(n, progPrefixes) {
			w += " (only programs in the config file can be overridden: " + orNoneList(programs) + ")"
		}
		warnings = append(warnings, w)
	}
	return warnings
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func orNoneList(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	l = slices.Clone(l)
	sort.Strings(l)
	return strings.Join(l, ", ")
}
