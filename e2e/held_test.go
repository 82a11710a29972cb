package e2e

import (
	"strings"
	"testing"
)

// The shipped config holds php-fpm's and nginx's listening sockets in the
// image, as root and as uid 1000: restarts and reloads of both (their
// checks pass while phpinit holds the ports) keep serving from the same
// sockets.
func TestHeldSocketsInImage(t *testing.T) {
	needEngine(t)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"root", nil},
		{"user-1000-read-only", []string{"--user", "1000", "--read-only", "--tmpfs", "/run", "--tmpfs", "/tmp"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := run(t, tc.args)
			c.waitServing("/")
			c.waitHealthy()
			// Restarts first, reloads last: a QUIT that reaches php-fpm
			// while its USR2 re-exec starts waits for stop_timeout.
			for _, verb := range []string{"restart", "reload"} {
				for _, prog := range []string{"php-fpm", "nginx"} {
					if out, err := c.exec("phpinit", "ctl", verb, prog); err != nil {
						t.Fatalf("phpinit ctl %s %s: %v\n%s", verb, prog, err, out)
					}
				}
			}
			c.waitServing("/")
			logs := c.waitLog(`using inherited sockets from "3;4;5;"`)
			for _, want := range []string{
				`using inherited socket fd=3, "/run/php/php-fpm.sock"`,
				`using inherited socket fd=4, "/run/php/php-fpm-status.sock"`,
				"socket path restored",
			} {
				if !strings.Contains(logs, want) {
					t.Errorf("the logs have no %q:\n%s", want, tail(logs, 30))
				}
			}
			if n := strings.Count(logs, `using inherited socket fd=3, "/run/php/php-fpm.sock"`); n < 2 {
				t.Errorf("php-fpm took the held socket %d times, want the first start and the restart", n)
			}
		})
	}
}
