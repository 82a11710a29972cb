package config

import (
	"fmt"
	"reflect"
	"strconv"
)

// The config's key tree comes from the structs' mapstructure tags, so a key
// added to types.go is known to the unknown-key check and to PHPINIT_*
// overrides without further edits.

// keyFields maps each mapstructure key of struct type t to its field type.
func keyFields(t reflect.Type) map[string]reflect.Type {
	m := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if k := f.Tag.Get("mapstructure"); k != "" && k != "-" {
			m[k] = f.Type
		}
	}
	return m
}

// unknownKeys calls report with the dotted path of every key in raw that t
// has no field for, at any depth. Values of the wrong shape are left to the
// decoder, which says what it expected.
func unknownKeys(path string, raw any, t reflect.Type, report func(key string)) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := raw.(map[string]any)
		if !ok {
			return
		}
		fields := keyFields(t)
		for k, v := range m {
			ft, ok := fields[k]
			if !ok {
				report(joinKey(path, k))
				continue
			}
			unknownKeys(joinKey(path, k), v, ft, report)
		}
	case reflect.Map:
		if m, ok := raw.(map[string]any); ok {
			for k, v := range m {
				unknownKeys(joinKey(path, k), v, t.Elem(), report)
			}
		}
	case reflect.Slice:
		if l, ok := raw.([]any); ok {
			for i, v := range l {
				unknownKeys(path+"["+strconv.Itoa(i)+"]", v, t.Elem(), report)
			}
		}
	}
}

// leafKeys calls fn with the path and type of every key under struct type t
// that takes one value, a list of strings included. Maps and lists of
// structs are not leaves: the environment cannot address their items.
func leafKeys(path []string, t reflect.Type, fn func(path []string, t reflect.Type)) {
	for i := range t.NumField() {
		f := t.Field(i)
		k := f.Tag.Get("mapstructure")
		if k == "" || k == "-" {
			continue
		}
		p := append(path[:len(path):len(path)], k)
		ft := f.Type
		if ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct {
			ft = ft.Elem()
		}
		switch {
		case ft.Kind() == reflect.Struct:
			leafKeys(p, ft, fn)
		case ft.Kind() == reflect.Map:
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() != reflect.String:
		default:
			fn(p, ft)
		}
	}
}

func joinKey(path, k string) string {
	switch {
	case path == "":
		return k
	case k == "":
		return path
	}
	return path + "." + k
}

// normalize turns what YAML decodes into (maps with non-string keys
// included) into map[string]any and []any all the way down.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = normalize(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
		return x
	}
	return v
}

// describe names a value's shape for "expected X, got Y" messages.
func describe(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	if t := reflect.TypeOf(v); t != nil {
		switch t.Kind() {
		case reflect.Slice, reflect.Array:
			return "a list"
		case reflect.Map, reflect.Struct:
			return "a mapping"
		}
	}
	return fmt.Sprint(v)
}
