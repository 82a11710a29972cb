package control

import (
	"context"
	"errors"
	"net/http"
	"net/url"
)

// ExecRequest asks for the environment `phpinit exec` runs a command with.
type ExecRequest struct {
	// Program, when set, adds that program's environment, directory and
	// user; a group names its first program.
	Program string
	// User, when set, runs the command as this user instead.
	User string
}

// ExecEnv is how `phpinit exec` runs its command: the environment phpinit
// gives programs (its own, the hooks' exports, the program's environment),
// and whom as.
type ExecEnv struct {
	// Program is the program resolved from the request; "" for none.
	Program string   `json:"program,omitempty"`
	Env     []string `json:"env"`
	// Dir is the program's directory; "" keeps the caller's.
	Dir string `json:"dir,omitempty"`
	// User names UID for messages.
	User   string   `json:"user"`
	UID    uint32   `json:"uid"`
	GID    uint32   `json:"gid"`
	Groups []uint32 `json:"groups"`
}

// ExecEnvSource is what answers GET /v1/env; a Supervisor passed to Serve
// may implement it. Without it the endpoint answers 404.
type ExecEnvSource interface {
	ExecEnv(ctx context.Context, req ExecRequest) (*ExecEnv, error)
}

// execEnv answers GET /v1/env?program=NAME&user=USER. The answer holds
// secrets (whatever script.sh exported): the guard has already refused
// every peer but root and phpinit's user, and the values are never logged.
func (h *handler) execEnv(w http.ResponseWriter, r *http.Request) {
	src, ok := h.sup.(ExecEnvSource)
	if !ok {
		writeError(w, http.StatusNotFound, KindBadRequest, "this phpinit gives no environment")
		return
	}
	q := r.URL.Query()
	req := ExecRequest{Program: q.Get("program"), User: q.Get("user")}
	ctx, cancel := context.WithTimeout(r.Context(), h.opTimeout)
	defer cancel()
	p := peerFrom(r.Context())
	env, err := src.ExecEnv(ctx, req)
	attrs := []any{"op", "exec", "program", req.Program, "user", req.User, "peer_uid", p.uid, "peer_pid", p.pid}
	if err != nil {
		h.log.Info("control command failed", append(attrs, "err", err)...)
		status, reply := Reply(req.Program, err, r.Context().Err() != nil, ctx.Err() != nil, h.opTimeout)
		var bad *BadExecRequest
		if errors.As(err, &bad) {
			status, reply = http.StatusBadRequest, &Error{Kind: KindBadRequest, Message: bad.Error()}
		}
		writeJSON(w, status, reply)
		return
	}
	h.log.Info("control command done", attrs...)
	writeJSON(w, http.StatusOK, env)
}

// BadExecRequest is a request ExecEnv refuses as such: an unknown user,
// "all" as the program.
type BadExecRequest struct{ Err error }

func (e *BadExecRequest) Error() string { return e.Err.Error() }
func (e *BadExecRequest) Unwrap() error { return e.Err }

// ExecEnv asks phpinit for the environment and user to run a command with.
func (c *Client) ExecEnv(ctx context.Context, req ExecRequest) (*ExecEnv, error) {
	q := url.Values{}
	if req.Program != "" {
		q.Set("program", req.Program)
	}
	if req.User != "" {
		q.Set("user", req.User)
	}
	path := "/v1/env"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var env ExecEnv
	if err := c.call(ctx, http.MethodGet, path, nil, &env); err != nil {
		return nil, err
	}
	return &env, nil
}
