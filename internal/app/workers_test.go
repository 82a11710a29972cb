package app

import (
	"context"
	"errors"
	"os"
	"os/user"
	"slices"
	"strconv"
	"testing"

	"github.com/phpinit/phpinit/config"
	"github.com/phpinit/phpinit/internal/control"
	"github.com/phpinit/phpinit/supervisor"
)

func TestExecEnv(t *testing.T) {
	cfg := &config.Config{Programs: map[string]*config.Program{
		"app":       {Name: "app", User: "nobody", Directory: "/tmp", ProcessGroup: "app", Environment: map[string]string{"APP": "1", "BASE": "program"}},
		"worker_00": {Name: "worker_00", ProcessGroup: "worker", Environment: map[string]string{"PROCESS_NUM": "0"}},
		"worker_01": {Name: "worker_01", ProcessGroup: "worker", Environment: map[string]string{"PROCESS_NUM": "1"}},
	}}
	a := &App{env: []string{"BASE=hooks", "EXPORTED=yes"}}
	a.current.Store(cfg)
	ctx := context.Background()

	env, err := a.ExecEnv(ctx, control.ExecRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(env.Env, a.env) || env.UID != uint32(os.Geteuid()) || env.Program != "" || env.Dir != "" {
		t.Errorf("no program: %+v, want phpinit's environment and user", env)
	}

	env, err = a.ExecEnv(ctx, control.ExecRequest{Program: "worker"})
	if err != nil || env.Program != "worker_00" || !slices.Contains(env.Env, "PROCESS_NUM=0") {
		t.Errorf("group worker: %+v, %v; want its first program", env, err)
	}

	if os.Geteuid() == 0 {
		env, err = a.ExecEnv(ctx, control.ExecRequest{Program: "app"})
		nobody, _ := user.Lookup("nobody")
		uid, _ := strconv.Atoi(nobody.Uid)
		if err != nil || env.UID != uint32(uid) || env.User != "nobody" || env.Dir != "/tmp" {
			t.Fatalf("program app: %+v, %v; want nobody in /tmp", env, err)
		}
		for _, kv := range []string{"BASE=program", "EXPORTED=yes", "APP=1", "USER=nobody", "LOGNAME=nobody"} {
			if !slices.Contains(env.Env, kv) {
				t.Errorf("program app: no %s in %q", kv, env.Env)
			}
		}
		env, err = a.ExecEnv(ctx, control.ExecRequest{Program: "app", User: "root"})
		if err != nil || env.UID != 0 || !slices.Contains(env.Env, "USER=root") || !slices.Contains(env.Env, "APP=1") {
			t.Errorf("program app as root: %+v, %v", env, err)
		}
	}

	var bad *control.BadExecRequest
	if _, err := a.ExecEnv(ctx, control.ExecRequest{Program: "all"}); !errors.As(err, &bad) {
		t.Errorf("program all: %v, want a bad request", err)
	}
	if _, err := a.ExecEnv(ctx, control.ExecRequest{User: "no-such-user-here"}); !errors.As(err, &bad) {
		t.Errorf("unknown user: %v, want a bad request", err)
	}
	if _, err := a.ExecEnv(ctx, control.ExecRequest{Program: "wroker"}); !errors.Is(err, supervisor.ErrUnknownProgram) {
		t.Errorf("unknown program: %v", err)
	}
}

func TestSupervisordDirs(t *testing.T) {
	cfg := &config.Config{File: "/etc/phpinit/phpinit.yaml", Supervisord: config.Supervisord{
		Include: []string{"/data/conf/supervisord/*.conf", "conf.d/*/x.conf", "/srv/one.conf"},
		Files:   []string{"/data/conf/supervisord/a.conf", "/opt/extra/b.conf"},
	}}
	want := []string{"/data/conf/supervisord", "/etc/phpinit/conf.d", "/srv", "/opt/extra"}
	if got := supervisordDirs(cfg); !slices.Equal(got, want) {
		t.Errorf("supervisordDirs = %v, want %v", got, want)
	}
	if got := supervisordDirs(&config.Config{}); got != nil {
		t.Errorf("without phpinit.yaml: %v, want none (no supervisord files are read)", got)
	}
}
