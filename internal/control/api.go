// Package control is phpinit's unix-socket API and the client `phpinit ctl`
// uses. It speaks JSON over HTTP/1.1 on the socket:
//
//	GET  /v1/status                       the supervisor's Snapshot
//	POST /v1/programs/{name}/start        start NAME (or all); waits until RUNNING
//	POST /v1/programs/{name}/stop         stop NAME (or all); waits until down
//	POST /v1/programs/{name}/restart      restart NAME (or all); waits until RUNNING
//	POST /v1/programs/{name}/reload       check, then signal NAME (or all)
//	POST /v1/programs/{name}/signal       {"signal":"HUP"} to NAME (or all)
//	POST /v1/reload                       reload every program that can be
//	GET  /v1/env?program=NAME&user=USER   the environment and user for `phpinit exec`
//
// Success is 200 with {"ok":true} (the Snapshot for status). Every error is
// one JSON type, Error, with the HTTP status telling the case apart: 400
// malformed, 403 forbidden peer, 404 unknown program or path, 405 wrong
// method, 413 body too large, 409 phpinit not running, 500 the operation
// failed, 504 it did not finish in time.
package control

import (
	"errors"

	"github.com/phpinit/phpinit/supervisor"
)

// Kind sorts errors for clients; the HTTP status refines it.
type Kind string

const (
	// KindUnknownProgram: no program has that name (404).
	KindUnknownProgram Kind = "unknown_program"
	// KindOperationFailed: the supervisor could not do it (409, 500, 504).
	KindOperationFailed Kind = "operation_failed"
	// KindBadRequest: the request itself is wrong (400, 404, 405, 413, 431).
	KindBadRequest Kind = "bad_request"
	// KindForbidden: the peer is neither root nor phpinit's user (403).
	KindForbidden Kind = "forbidden"
)

// Error is the body of every error response, and what Client returns for one.
type Error struct {
	Message string `json:"error"`
	Kind    Kind   `json:"kind"`
	// Status is the HTTP status the client received; not sent.
	Status int `json:"-"`
}

func (e *Error) Error() string { return e.Message }

// Is makes errors.Is(err, supervisor.ErrUnknownProgram) hold on the client
// side too.
func (e *Error) Is(target error) bool {
	return e.Kind == KindUnknownProgram && target == supervisor.ErrUnknownProgram
}

// SignalRequest is the body of POST /v1/programs/{name}/signal.
type SignalRequest struct {
	// Signal is a name with or without SIG, any case, or a number ("HUP").
	Signal string `json:"signal"`
}

// okResponse is the body of a successful operation.
type okResponse struct {
	OK bool `json:"ok"`
}

// isVerb reports the operations on /v1/programs/{name}/{verb} that take no body.
func isVerb(v string) bool {
	switch v {
	case "start", "stop", "restart", "reload":
		return true
	}
	return false
}

// errNoSnapshot should not happen: supervisor.New publishes one.
var errNoSnapshot = errors.New("no status published yet")
