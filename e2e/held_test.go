package e2e

import (
	"strings"
	"testing"
)

// The shipped config holds php-fpm's and nginx's listening sockets in the
// image, as root and as uid 1000: restarts and reloads of both (their
// checks pass while phpinit holds the ports) keep serving from the same
// sockets.
//
// As root, /run/php (the image's, or made by phpinit in an empty tmpfs)
// is root's, group www, sticky, and the sockets root's: php-fpm, running
// as www, cannot remove their paths at its exit, so they are never gone
// and never need restoring. As uid 1000 everything is 1000's: php-fpm
// removes the path at its exit and phpinit's guard links it back at once.
func TestHeldSocketsInImage(t *testing.T) {
	needEngine(t)
	for _, tc := range []struct {
		name string
		args []string
		root bool
	}{
		{"root", nil, true},
		{"root-tmpfs-run", []string{"--tmpfs", "/run"}, true},
		{"user-1000-read-only", []string{"--user", "1000", "--read-only", "--tmpfs", "/run", "--tmpfs", "/tmp"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := run(t, tc.args)
			c.waitServing("/")
			c.waitHealthy()
			stat := func() string {
				out, err := c.exec("stat", "-c", "%n %U:%G %a %i", "/run/php", "/run/php/php-fpm.sock", "/run/php/php-fpm-status.sock")
				if err != nil {
					t.Fatalf("stat: %v\n%s", err, out)
				}
				return strings.TrimSpace(out)
			}
			before := stat()
			if tc.root {
				for _, want := range []string{"/run/php root:www 1775 ", "/run/php/php-fpm.sock root:www 660 ", "/run/php/php-fpm-status.sock root:www 660 "} {
					if !strings.Contains(before+"\n", want) {
						t.Errorf("stat has no %q:\n%s", want, before)
					}
				}
			}
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
			} {
				if !strings.Contains(logs, want) {
					t.Errorf("the logs have no %q:\n%s", want, tail(logs, 30))
				}
			}
			if after := stat(); after != before {
				t.Errorf("the socket files changed across the restarts:\n%s\nthen\n%s", before, after)
			}
			switch restored := strings.Contains(logs, "socket path restored"); {
			case tc.root && restored:
				t.Errorf("as root the socket paths were removed (php-fpm could unlink them):\n%s", tail(logs, 30))
			case !tc.root && !strings.Contains(logs, "socket path restored at once"):
				t.Errorf("as uid 1000 the guard did not restore the paths php-fpm removed:\n%s", tail(logs, 30))
			}
			if n := strings.Count(logs, `using inherited socket fd=3, "/run/php/php-fpm.sock"`); n < 2 {
				t.Errorf("php-fpm took the held socket %d times, want the first start and the restart", n)
			}
		})
	}
}
