package config

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestOrder(t *testing.T) {
	for _, tc := range []struct {
		deps map[string][]string
		want []string
	}{
		{map[string][]string{}, []string{}},
		{map[string][]string{"c": nil, "a": nil, "b": nil}, []string{"a", "b", "c"}},
		{map[string][]string{"nginx": {"php-fpm"}, "php-fpm": nil}, []string{"php-fpm", "nginx"}},
		{map[string][]string{"a": {"b"}, "b": {"c"}, "c": nil}, []string{"c", "b", "a"}},
		// Diamond: ties by name once dependencies are placed.
		{map[string][]string{"top": {"l", "r"}, "l": {"base"}, "r": {"base"}, "base": nil}, []string{"base", "l", "r", "top"}},
		// z has no dependencies but sorts last; y waits only for x.
		{map[string][]string{"y": {"x"}, "x": nil, "z": nil, "a": {"z"}}, []string{"x", "y", "z", "a"}},
		// Unknown and self dependencies are reported by Load; Order ignores them.
		{map[string][]string{"a": {"ghost", "a"}, "b": nil}, []string{"a", "b"}},
		// A cycle goes last, by name.
		{map[string][]string{"a": {"b"}, "b": {"a"}, "c": nil, "d": {"c"}}, []string{"c", "d", "a", "b"}},
	} {
		c := &Config{Programs: map[string]*Program{}}
		for name, deps := range tc.deps {
			c.Programs[name] = &Program{Name: name, DependsOn: deps}
		}
		if got := c.Order(); !slices.Equal(got, tc.want) {
			t.Errorf("Order(%v) = %q, want %q", tc.deps, got, tc.want)
		}
	}
}

func TestOrderAfterLoad(t *testing.T) {
	c, err := loadOffline(t, fullConfig)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Order(), []string{"cron", "php-fpm", "nginx"}; !slices.Equal(got, want) {
		t.Errorf("Order() = %q, want %q", got, want)
	}
}

func TestYAMLRoundTrip(t *testing.T) {
	for name, body := range map[string]string{
		"full":    fullConfig,
		"empty":   "",
		"minimal": "programs: {web: {command: [web], stdout_max_size: 1500, reload_signal: 40, ready: {tcp: ':80'}}}",
	} {
		t.Run(name, func(t *testing.T) {
			c, err := loadOffline(t, body)
			if err != nil {
				t.Fatal(err)
			}
			out, err := c.YAML()
			if err != nil {
				t.Fatal(err)
			}
			again, err := loadOffline(t, string(out))
			if err != nil {
				t.Fatalf("reload of\n%s\n: %v", out, err)
			}
			again.File = c.File
			if !reflect.DeepEqual(c, again) {
				t.Errorf("round trip changed the config:\n%s", out)
			}
		})
	}
}

func TestYAMLIsReadable(t *testing.T) {
	c, err := loadOffline(t, fullConfig)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"\nshutdown:\n  grace: 20s\n  drain: 2s\n",
		"\n    stop_signal: QUIT\n",
		"\n    reload_signal: HUP\n",
		"\n    reopen_signal: \"\"\n",
		"\n    stdout_max_size: 5MB\n",
		"\n    stderr_max_size: 10MiB\n",
		"\n    start_seconds: 1s\n",
		"\n      APP_ENV: prod\n",
		"\n    ready:\n      fastcgi: unix:///run/php/php-fpm.sock\n      path: /ping\n",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("YAML() lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "\nfile:") || strings.Contains(string(out), "name:") {
		t.Errorf("YAML() shows File or Name:\n%s", out)
	}
}

func TestLookup(t *testing.T) {
	env := func(m map[string]string) func(string) string {
		return func(k string) string { return m[k] }
	}
	none := func(string) bool { return false }
	dataExists := func(p string) bool { return p == DataPath }
	for _, tc := range []struct {
		name         string
		flag         string
		getenv       func(string) string
		exists       func(string) bool
		want         string
		wantExplicit bool
	}{
		{"flag wins", "/x.yaml", env(map[string]string{"PHPINIT_CONFIG": "/y.yaml"}), dataExists, "/x.yaml", true},
		{"environment next", "", env(map[string]string{"PHPINIT_CONFIG": "/y.yaml"}), dataExists, "/y.yaml", true},
		{"data if it exists", "", env(nil), dataExists, DataPath, false},
		{"default last", "", env(nil), none, DefaultPath, false},
		{"nil getenv", "", nil, none, DefaultPath, false},
	} {
		path, explicit := lookup(tc.flag, tc.getenv, tc.exists)
		if path != tc.want || explicit != tc.wantExplicit {
			t.Errorf("%s: lookup = %q, %v; want %q, %v", tc.name, path, explicit, tc.want, tc.wantExplicit)
		}
	}
	if DataPath != "/data/conf/phpinit/phpinit.yaml" || DefaultPath != "/etc/phpinit/phpinit.yaml" {
		t.Error("search paths changed")
	}
}

func TestLookupHost(t *testing.T) {
	f := filepath.Join(t.TempDir(), "p.yaml")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if p, explicit := Lookup(f, nil); p != f || !explicit {
		t.Errorf("Lookup(flag) = %q, %v", p, explicit)
	}
	if p, explicit := Lookup("", func(string) string { return f }); p != f || !explicit {
		t.Errorf("Lookup(env) = %q, %v", p, explicit)
	}
	want := DefaultPath
	if _, err := os.Stat(DataPath); err == nil {
		want = DataPath
	}
	if p, explicit := Lookup("", func(string) string { return "" }); p != want || explicit {
		t.Errorf("Lookup() = %q, %v; want %q, false", p, explicit, want)
	}
}
