package config

import (
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"testing"
)

// fakeSystem knows www (33) and phpinit's own user app (1000).
type fakeSystem struct{ euid, egid int }

var errUnknown = errors.New("unknown")

func (f fakeSystem) Geteuid() int { return f.euid }
func (f fakeSystem) Getegid() int { return f.egid }

func (fakeSystem) LookupUser(s string) (*user.User, error) {
	switch s {
	case "www", "33":
		return &user.User{Username: "www", Uid: "33", Gid: "33"}, nil
	case "app", "1000":
		return &user.User{Username: "app", Uid: "1000", Gid: "1000"}, nil
	}
	return nil, errUnknown
}

func (fakeSystem) LookupGroup(s string) (*user.Group, error) {
	switch s {
	case "www", "33":
		return &user.Group{Name: "www", Gid: "33"}, nil
	case "app", "1000":
		return &user.Group{Name: "app", Gid: "1000"}, nil
	}
	return nil, errUnknown
}

// binDir holds an executable "tool", a plain file "data" and a directory "sub".
func binDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, mode := range map[string]os.FileMode{"tool": 0o755, "data": 0o644} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestHostChecks(t *testing.T) {
	bin := binDir(t)
	root, app := fakeSystem{0, 0}, fakeSystem{1000, 1000}
	for _, tc := range []struct {
		name string
		sys  fakeSystem
		prog string
		want []string
	}{
		{"all good as root", root, "{command: [tool], user: www, group: www, check: [tool, -t]}", nil},
		{"numeric ids as root", root, "{command: [tool], user: '33', group: '4242'}", nil},
		{"unknown user", root, "{command: [tool], user: wwww}", []string{`programs.web.user: unknown user "wwww"`}},
		{"unknown group", root, "{command: [tool], group: wwww}", []string{`programs.web.group: unknown group "wwww"`}},
		{"uid without passwd entry", root, "{command: [tool], user: 4242}", []string{
			`programs.web.user: uid 4242 has no passwd entry, so group must be set`}},
		{"uid without passwd entry, group set", root, "{command: [tool], user: 4242, group: www}", nil},
		{"non-root switches user", app, "{command: [tool], user: www}", []string{
			`programs.web.user: phpinit runs as uid 1000 and cannot switch to "www"; remove user or run phpinit as root`}},
		{"non-root switches group", app, "{command: [tool], group: www}", []string{
			`programs.web.group: phpinit runs as gid 1000 and cannot switch to "www"; remove group or run phpinit as root`}},
		{"non-root names itself", app, "{command: [tool], user: app, group: app}", nil},
		{"non-root names its uid", app, "{command: [tool], user: 1000, group: 1000}", nil},
		{"command not on PATH", root, "{command: [ngnix]}", []string{`programs.web.command: "ngnix" not found in PATH ` + bin}},
		{"command not executable", root, "{command: [data]}", []string{`programs.web.command: "data" not found in PATH ` + bin}},
		{"command is a directory", root, "{command: [" + bin + "/sub]}", []string{`programs.web.command: "` + bin + `/sub" is not executable`}},
		{"command path missing", root, "{command: [/no/such/tool]}", []string{`programs.web.command: "/no/such/tool" does not exist`}},
		{"command path plain file", root, "{command: [" + bin + "/data]}", []string{`programs.web.command: "` + bin + `/data" is not executable`}},
		{"command relative to directory", root, "{command: [./tool], directory: " + bin + "}", nil},
		{"program PATH wins", root, "{command: [tool], environment: {PATH: /nowhere}}", []string{`programs.web.command: "tool" not found in PATH /nowhere`}},
		{"check not found", root, "{command: [tool], check: [toll, -t]}", []string{`programs.web.check: "toll" not found in PATH ` + bin}},
		{"probe exec not found", root, "{command: [tool], ready: {exec: [nope]}, live: {exec: [" + bin + "/tool]}}", []string{
			`programs.web.ready.exec: "nope" not found in PATH ` + bin}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(Options{
				Path:    writeConfig(t, "programs: {web: "+tc.prog+"}"),
				Environ: []string{"PATH=" + bin},
				sys:     tc.sys,
			})
			wantProblems(t, err, tc.want...)
		})
	}
}

func TestHostChecksOffline(t *testing.T) {
	path := writeConfig(t, "programs: {web: {command: [ngnix], user: nobody-here, group: nothing}}")
	if _, err := Load(Options{Path: path, Offline: true, sys: fakeSystem{1000, 1000}}); err != nil {
		t.Errorf("offline: %v", err)
	}
	_, err := Load(Options{Path: path, Environ: []string{"PATH=/nowhere"}, sys: fakeSystem{0, 0}})
	wantProblems(t, err,
		`programs.web.command: "ngnix" not found in PATH /nowhere`,
		`programs.web.group: unknown group "nothing"`,
		`programs.web.user: unknown user "nobody-here"`,
	)
}

func TestHostDefaultPath(t *testing.T) {
	// Without PATH anywhere, Docker's default is searched; sh is on it.
	_, err := Load(Options{Path: writeConfig(t, "programs: {web: {command: [sh], check: [no-such-tool-x]}}")})
	wantProblems(t, err, `programs.web.check: "no-such-tool-x" not found in PATH `+defaultPath)
}
