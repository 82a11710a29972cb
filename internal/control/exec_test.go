package control

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/phpinit/phpinit/supervisor"
)

// execFake is fakeSup that also gives exec environments.
type execFake struct {
	*fakeSup
	got []ExecRequest
}

func (f *execFake) ExecEnv(_ context.Context, req ExecRequest) (*ExecEnv, error) {
	f.got = append(f.got, req)
	switch req.Program {
	case "", "app":
		return &ExecEnv{Program: req.Program, Env: []string{"SECRET=s3cr3t"}, User: "www", UID: 33, GID: 33}, nil
	case "all":
		return nil, &BadExecRequest{Err: errors.New("name one program")}
	}
	return nil, &supervisor.UnknownProgramError{Name: req.Program, Programs: []string{"app"}}
}

func TestExecEnvEndpoint(t *testing.T) {
	dir := shortDir(t)
	log := &syncBuffer{}
	l, err := Listen(filepath.Join(dir, "s.sock"), slogTo(log))
	if err != nil {
		t.Fatal(err)
	}
	fake := &execFake{fakeSup: newFake()}
	srv := serve(l, &handler{sup: fake, log: slogTo(log), euid: os.Geteuid(), opTimeout: OpTimeout})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Close(ctx)
	})
	c := NewClient(filepath.Join(dir, "s.sock"))
	ctx := context.Background()

	env, err := c.ExecEnv(ctx, ExecRequest{Program: "app", User: "nobody"})
	if err != nil {
		t.Fatal(err)
	}
	want := &ExecEnv{Program: "app", Env: []string{"SECRET=s3cr3t"}, User: "www", UID: 33, GID: 33}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("ExecEnv = %+v, want %+v", env, want)
	}
	if !reflect.DeepEqual(fake.got, []ExecRequest{{Program: "app", User: "nobody"}}) {
		t.Errorf("requests %+v", fake.got)
	}
	_, err = c.ExecEnv(ctx, ExecRequest{Program: "nosuch"})
	wantAPIError(t, err, 404, KindUnknownProgram, `unknown program "nosuch" (programs: app)`)
	_, err = c.ExecEnv(ctx, ExecRequest{Program: "all"})
	wantAPIError(t, err, 400, KindBadRequest, "name one program")
	if strings.Contains(log.String(), "s3cr3t") {
		t.Errorf("the environment reached the log:\n%s", log)
	}
	if !strings.Contains(log.String(), `msg="control command done" op=exec program=app user=nobody peer_uid=`) {
		t.Errorf("no audit line for exec:\n%s", log)
	}
	if code, e := rawRequest(t, filepath.Join(dir, "s.sock"), "POST", "/v1/env", nil); code != 405 || e.Kind != KindBadRequest {
		t.Errorf("POST /v1/env: %d %+v, want 405", code, e)
	}
}

// A supervisor that gives no environment answers 404.
func TestExecEnvUnsupported(t *testing.T) {
	ts := startServer(t, 0)
	_, err := ts.client.ExecEnv(context.Background(), ExecRequest{})
	wantAPIError(t, err, 404, KindBadRequest, "this phpinit gives no environment")
}
