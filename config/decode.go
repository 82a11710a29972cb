package config

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
)

// decode decodes in over out (which holds the defaults) and reports each
// failure under the dotted key prefix. Keys out has no field for are
// ignored here: unknownKeys reports them.
func (l *loader) decode(prefix string, in, out any) {
	d, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			socketHook, shapeHook, boolTextHook, durationHook, signalHook, byteSizeHook),
		// Weak typing reads the strings PHPINIT_* variables give into
		// ints and bools, and `user: 1000` into a string.
		WeaklyTypedInput: true,
		// mapstructure matches keys case-insensitively by default; "Log"
		// is an unknown key, not log.
		MatchName: func(key, field string) bool { return key == field },
		Result:    out,
	})
	if err != nil {
		panic(fmt.Sprintf("config: bad decoder for %T: %v", out, err)) // only a non-pointer out
	}
	if err := d.Decode(in); err != nil {
		for _, e := range flatten(err) {
			l.p.add(joinKey(prefix, e.key), e.msg)
		}
	}
}

type decodeFailure struct{ key, msg string }

// flatten turns mapstructure's joined and wrapped errors into one failure
// per key, with keys in our form: environment.FOO for a map item,
// command[0] for a list item.
func flatten(err error) []decodeFailure {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []decodeFailure
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	if de, ok := err.(*mapstructure.DecodeError); ok {
		return []decodeFailure{{key: mapstructureKey(de.Name()), msg: decodeMessage(de.Unwrap())}}
	}
	// Decode wraps several errors in "decoding failed due to ...: %w".
	if inner := errors.Unwrap(err); inner != nil {
		return flatten(inner)
	}
	return []decodeFailure{{msg: err.Error()}}
}

// mapstructureKey rewrites "environment[FOO]" to "environment.FOO" and
// keeps "command[0]".
func mapstructureKey(name string) string {
	var b strings.Builder
	for {
		i, j := strings.IndexByte(name, '['), strings.IndexByte(name, ']')
		if i < 0 || j < i {
			b.WriteString(name)
			return b.String()
		}
		b.WriteString(name[:i])
		if k := name[i+1 : j]; isIndex(k) {
			b.WriteString(name[i : j+1])
		} else {
			b.WriteString("." + k)
		}
		name = name[j+1:]
	}
}

func isIndex(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

func decodeMessage(err error) string {
	var pe *mapstructure.ParseError
	var ue *mapstructure.UnconvertibleTypeError
	switch {
	case errors.As(err, &pe):
		return fmt.Sprintf("invalid %s %s", typeWord(pe.Expected.Type()), describe(pe.Value))
	case errors.As(err, &ue):
		w := typeWord(ue.Expected.Type())
		article := "a"
		if strings.ContainsAny(w[:1], "aeiou") {
			article = "an"
		}
		return fmt.Sprintf("expected %s %s, got %s", article, w, describe(ue.Value))
	}
	return err.Error()
}

func typeWord(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "boolean"
	case reflect.String:
		return "string"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice:
		return "list"
	case reflect.Map, reflect.Struct:
		return "mapping"
	}
	return "integer"
}

// shapeHook rejects a scalar where a mapping or list belongs. Weak typing
// would turn `command: nginx -g "daemon off;"` into a one-item argv.
func shapeHook(from, to reflect.Type, data any) (any, error) {
	scalar := from.Kind() != reflect.Map && from.Kind() != reflect.Slice
	switch {
	case to.Kind() == reflect.Struct && from.Kind() != reflect.Map,
		to.Kind() == reflect.Map && from.Kind() != reflect.Map:
		return nil, fmt.Errorf("expected a mapping, got %s", describe(data))
	case to.Kind() == reflect.Slice && scalar:
		return nil, fmt.Errorf("expected a list, got %s", describe(data))
	}
	return data, nil
}

// boolTextHook keeps `APP_DEBUG: true` as "true"; weak typing alone
// would give "1".
func boolTextHook(_, to reflect.Type, data any) (any, error) {
	if b, ok := data.(bool); ok && to.Kind() == reflect.String {
		return strconv.FormatBool(b), nil
	}
	return data, nil
}

// durationHook reads "9s". A bare number other than 0 is an error rather
// than nanoseconds: `grace: 9` would otherwise mean 9ns.
func durationHook(_, to reflect.Type, data any) (any, error) {
	if to != reflect.TypeFor[time.Duration]() {
		return data, nil
	}
	s, ok := scalarText(data)
	if !ok {
		return nil, fmt.Errorf("invalid duration %s", describe(data))
	}
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		if _, numErr := strconv.ParseFloat(s, 64); numErr == nil {
			return nil, fmt.Errorf("invalid duration %q (needs a unit, as in \"%ss\")", s, s)
		}
		return nil, fmt.Errorf("invalid duration %q", s)
	}
	return d, nil
}

// signalHook reads "QUIT", "SIGQUIT", 3, or "" for none.
func signalHook(_, to reflect.Type, data any) (any, error) {
	if to != reflect.TypeFor[Signal]() {
		return data, nil
	}
	s, ok := scalarText(data)
	if !ok {
		return nil, fmt.Errorf("invalid signal %s", describe(data))
	}
	var sig Signal
	err := sig.UnmarshalText([]byte(s))
	return sig, err
}

// byteSizeHook reads "10MiB", "512KB" or a byte count.
func byteSizeHook(_, to reflect.Type, data any) (any, error) {
	if to != reflect.TypeFor[ByteSize]() {
		return data, nil
	}
	s, ok := scalarText(data)
	if !ok {
		return nil, fmt.Errorf("invalid size %s", describe(data))
	}
	return ParseByteSize(s)
}

// scalarText is a string or whole number as text; YAML gives 3 for `3`.
func scalarText(data any) (string, bool) {
	switch v := data.(type) {
	case string:
		return v, true
	case int:
		return strconv.Itoa(v), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case uint64:
		return strconv.FormatUint(v, 10), true
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return strconv.FormatInt(int64(v), 10), true
		}
	}
	return "", false
}
