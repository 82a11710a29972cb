package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"reflect"
	"strings"
	"syscall"

	"go.yaml.in/yaml/v3"
)

// Where Lookup looks for the config.
const (
	// EnvConfig names the config file when no flag does.
	EnvConfig = "PHPINIT_CONFIG"
	// DataPath is where a mounted config (ConfigMap, bind mount) goes.
	DataPath = "/data/conf/phpinit/phpinit.yaml"
	// DefaultPath is the config baked into the image.
	DefaultPath = "/etc/phpinit/phpinit.yaml"
)

// Options for Load.
type Options struct {
	// Path is the file to read; "" means no file (defaults only).
	Path string
	// AllowMissing makes a Path that does not exist no error (defaults apply).
	AllowMissing bool
	// Environ is os.Environ()-style, for PHPINIT_* overrides and the PATH
	// commands are looked up on; nil means none.
	Environ []string
	// Offline skips the checks that look at this machine: users, groups,
	// commands on PATH, and whether phpinit may switch user.
	Offline bool
	// RequirePrograms makes a config without programs an error: supervising
	// nothing is never what was meant (an emptied file, only `log:`,
	// `programs: {}`). Set by start, reload and check; not by one-off
	// commands, which need no programs.
	RequirePrograms bool

	// sys answers the questions about this machine; nil means the host.
	sys system
}

// Load reads the file, applies defaults and PHPINIT_* overrides (see
// env.go), decodes and validates. It returns the config decoded as far as
// possible and every problem found: nil or a *multierror.Error whose
// entries are *FieldError, sorted by key.
//
// The file is parsed with yaml.v3 and decoded with mapstructure directly
// rather than through viper, because viper lower-cases every key
// (spf13/viper#373): environment: {APP_ENV: prod} would reach PHP as
// app_env, and program names would lose their case.
func Load(o Options) (*Config, error) {
	l := &loader{o: o, sys: o.sys}
	if l.sys == nil {
		l.sys = hostSystem{}
	}
	c := l.load()
	return c, l.p.err()
}

type loader struct {
	o   Options
	sys system
	p   problems
}

func (l *loader) load() *Config {
	raw, file := l.read()
	unknownKeys("", raw, reflect.TypeFor[Config](), func(key string) { l.p.add(key, "unknown key") })
	l.p.fromEnv = applyEnv(raw, l.o.Environ)
	c := l.decodeConfig(raw)
	c.File = file
	l.readSupervisord(c)
	fillDerived(c)
	l.validate(c)
	if !l.o.Offline {
		l.checkHost(c)
	}
	l.expandCopies(c)
	l.selectOnly(c)
	return c
}

// read returns the file's top-level mapping (empty without a file) and the
// path it came from ("" if none was read).
func (l *loader) read() (map[string]any, string) {
	empty := map[string]any{}
	if l.o.Path == "" {
		return empty, ""
	}
	data, err := readFile(l.o.Path)
	if errors.Is(err, fs.ErrNotExist) && l.o.AllowMissing {
		return empty, ""
	}
	l.p.file = l.o.Path
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		l.p.add("", "cannot read config: "+err.Error())
		return empty, ""
	}
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		l.yamlError(err)
		return empty, l.o.Path
	}
	switch m := normalize(doc).(type) {
	case nil:
		return empty, l.o.Path
	case map[string]any:
		return m, l.o.Path
	default:
		l.p.add("", "expected a mapping of keys at the top, got "+describe(m))
		return empty, l.o.Path
	}
}

// MaxFileSize is the largest config file Load reads: a config is a few KiB,
// and a runaway edit must not make PID 1 hold it all.
const MaxFileSize = 1 << 20

// readFile reads a config file of at most MaxFileSize bytes. Only a regular
// file is opened: a FIFO would block the open until a writer comes, and a
// device (/dev/zero) never ends. O_NONBLOCK covers the file being swapped
// between the Stat and the open.
func readFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := readable(fi); err != nil {
		return nil, &fs.PathError{Op: "read", Path: path, Err: err}
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := readable(fi); err != nil {
		return nil, &fs.PathError{Op: "read", Path: path, Err: err}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, &fs.PathError{Op: "read", Path: path, Err: errTooLarge}
	}
	return data, nil
}

var errTooLarge = fmt.Errorf("larger than the limit of %s", ByteSize(MaxFileSize))

// The size and kind checks run twice, on the path and on the opened file:
// the name may have been swapped in between.

func readable(fi fs.FileInfo) error {
	switch {
	case !fi.Mode().IsRegular():
		return fmt.Errorf("not a regular file (%s)", kindOf(fi.Mode()))
	case fi.Size() > MaxFileSize:
		return fmt.Errorf("%d bytes is %w", fi.Size(), errTooLarge)
	}
	return nil
}

func kindOf(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	default:
		return m.Type().String()
	}
}

// yamlError reports a YAML error with its line: "line 3: did not find
// expected key".
func (l *loader) yamlError(err error) {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		for _, e := range te.Errors {
			l.p.add("", strings.TrimSpace(e))
		}
		return
	}
	l.p.add("", strings.TrimPrefix(err.Error(), "yaml: "))
}

// decodeConfig decodes raw over the defaults. Each program is decoded on
// its own, over its own defaults.
func (l *loader) decodeConfig(raw map[string]any) *Config {
	c := Defaults()
	top := make(map[string]any, len(raw))
	for k, v := range raw {
		if k != "programs" {
			top[k] = v
		}
	}
	l.decode("", top, c)
	switch progs := raw["programs"].(type) {
	case nil:
	case map[string]any:
		for name, v := range progs {
			p := defaultProgram(name)
			if m, ok := v.(map[string]any); ok {
				// A probe that is there gets its defaults before its keys
				// are decoded over them; a missing one stays nil.
				if _, ok := m["ready"].(map[string]any); ok {
					p.Ready = defaultProbe(false)
				}
				if _, ok := m["live"].(map[string]any); ok {
					p.Live = defaultProbe(true)
				}
				scheduledDefault(m, p)
			}
			l.decode("programs."+name, v, p)
			c.Programs[name] = p
		}
	default:
		l.p.add("programs", "expected a mapping, got "+describe(progs))
	}
	nilEmpty(reflect.ValueOf(c).Elem())
	return c
}

// nilEmpty sets empty lists and maps to nil, so that `command: []` and no
// command decode alike and YAML() round-trips.
func nilEmpty(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			nilEmpty(v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				nilEmpty(v.Field(i))
			}
		}
	case reflect.Map:
		if v.Len() == 0 && v.Type() != reflect.TypeFor[map[string]*Program]() {
			v.SetZero()
		}
		for _, k := range v.MapKeys() {
			nilEmpty(v.MapIndex(k))
		}
	case reflect.Slice:
		if v.Len() == 0 {
			v.SetZero()
		}
		for i := range v.Len() {
			nilEmpty(v.Index(i))
		}
	}
}

// Lookup finds the config file: the flag value if non-empty, else
// $PHPINIT_CONFIG (read with getenv, which may be nil), else DataPath if it
// exists, else DefaultPath. explicit reports that the user named the file
// (flag or environment), so that `run` treats a missing file as an error.
func Lookup(flag string, getenv func(string) string) (path string, explicit bool) {
	return lookup(flag, getenv, func(p string) bool {
		_, err := os.Stat(p)
		return err == nil
	})
}

func lookup(flag string, getenv func(string) string, exists func(string) bool) (string, bool) {
	if flag != "" {
		return flag, true
	}
	if getenv != nil {
		if p := getenv(EnvConfig); p != "" {
			return p, true
		}
	}
	if exists(DataPath) {
		return DataPath, false
	}
	return DefaultPath, false
}
