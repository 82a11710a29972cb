package app

import (
	"slices"
	"syscall"
	"testing"

	"github.com/phpinit/phpinit/config"
	"github.com/phpinit/phpinit/internal/proc"
	"github.com/phpinit/phpinit/supervisor"
)

// A program that runs as a non-root user is bounded to its capabilities;
// no_new_privs follows the key (default on) for every program.
func TestPrivileges(t *testing.T) {
	off := false
	www := &syscall.Credential{Uid: 33, Gid: 33}
	bounded := proc.CanRestrictBounding()
	for _, tc := range []struct {
		name     string
		p        *config.Program
		spec     supervisor.ProgramSpec
		restrict bool
		nnp      bool
	}{
		{"as www", &config.Program{}, supervisor.ProgramSpec{Credential: www, AmbientCaps: []uintptr{10}}, bounded, true},
		{"as www, setuid allowed", &config.Program{NoNewPrivs: &off}, supervisor.ProgramSpec{Credential: www}, bounded, false},
		{"user: root", &config.Program{}, supervisor.ProgramSpec{Credential: &syscall.Credential{}}, false, true},
		{"phpinit's user", &config.Program{}, supervisor.ProgramSpec{}, false, true},
	} {
		pv := privileges(tc.p, tc.spec)
		if pv.RestrictBounding != tc.restrict || pv.NoNewPrivs != tc.nnp {
			t.Errorf("%s: %+v, want restrict %v, no_new_privs %v", tc.name, pv, tc.restrict, tc.nnp)
		}
		if pv.RestrictBounding && !slices.Equal(pv.Bounding, tc.spec.AmbientCaps) {
			t.Errorf("%s: bounding set %v, want its capabilities %v", tc.name, pv.Bounding, tc.spec.AmbientCaps)
		}
	}

	// Exec probes get their program's privileges.
	cfg := &config.Config{Programs: map[string]*config.Program{
		"a": {Name: "a", Command: []string{"true"}, NoNewPrivs: &off,
			Ready: &config.Probe{Exec: []string{"true"}}, Live: &config.Probe{Exec: []string{"true"}}},
		"b": {Name: "b", Command: []string{"true"}, Ready: &config.Probe{Exec: []string{"true"}}},
	}}
	specs, err := buildSpecs(cfg, []string{"PATH=/bin"})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range specs {
		for _, ps := range []*supervisor.ProbeSpec{s.Ready, s.Live} {
			if ps != nil && ps.Probe.Privileges.NoNewPrivs != s.Privileges.NoNewPrivs {
				t.Errorf("%s: probe privileges %+v, program's %+v", s.Name, ps.Probe.Privileges, s.Privileges)
			}
		}
	}
	if specs[0].Privileges.NoNewPrivs || !specs[1].Privileges.NoNewPrivs {
		t.Errorf("no_new_privs: a %v (set false), b %v (default)", specs[0].Privileges.NoNewPrivs, specs[1].Privileges.NoNewPrivs)
	}
}
