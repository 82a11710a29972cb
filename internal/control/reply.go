package control

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/phpinit/phpinit/supervisor"
)

// Reply maps an operation's error to the HTTP status and body of the
// answer. It is the one mapping for every error phpinit answers over HTTP:
// the control socket's and POST /-/reload's. name is the program asked for
// ("" or "all": every one). gone: the client left or phpinit is shutting
// down; timedOut: the server's timeout ran out. Both are read from the
// contexts, not the error: a reload check that timed out on its own must
// keep its message.
func Reply(name string, err error, gone, timedOut bool, timeout time.Duration) (int, *Error) {
	if name == "" {
		name = "all"
	}
	var unknown *supervisor.UnknownProgramError
	switch {
	case errors.As(err, &unknown):
		// It lists the known names and groups.
		return http.StatusNotFound, &Error{Kind: KindUnknownProgram, Message: unknown.Error()}
	case errors.Is(err, supervisor.ErrUnknownProgram):
		return http.StatusNotFound, &Error{Kind: KindUnknownProgram, Message: fmt.Sprintf("unknown program %q", name)}
	case errors.Is(err, supervisor.ErrNotRunning):
		return http.StatusConflict, &Error{Kind: KindOperationFailed, Message: err.Error()}
	case gone:
		return http.StatusServiceUnavailable, &Error{Kind: KindOperationFailed,
			Message: "cancelled: phpinit is shutting down or the client left"}
	case timedOut:
		return http.StatusGatewayTimeout, &Error{Kind: KindOperationFailed,
			Message: fmt.Sprintf("%s: not done within %s (it may still finish; see ctl status)", name, timeout)}
	}
	return http.StatusInternalServerError, &Error{Kind: KindOperationFailed, Message: err.Error()}
}
