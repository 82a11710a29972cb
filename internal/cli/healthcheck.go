package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"syscall"
	"time"

	"github.com/hashicorp/go-multierror"
	"github.com/spf13/cobra"

	"github.com/phpinit/phpinit/config"
	"github.com/phpinit/phpinit/healthcheck"
)

// newHealthcheckCmd is the image's HEALTHCHECK: no curl or shell needed.
func newHealthcheckCmd() *cobra.Command {
	var rawURL, path string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "healthcheck [--url URL] [--config FILE] [--timeout 3s]",
		Short: "exit 0 when phpinit's /readyz answers 200, else 1 (for Docker HEALTHCHECK)",
		Long: `healthcheck asks the running phpinit's /readyz and prints one line saying why
it is or is not ready. Without --url it reads the config like run does and asks
http.listen on the loopback address.

Exit status: 0 ready, 1 not ready or cannot reach phpinit (the line says
which), 2 usage error.`,
		Args:                  cobra.NoArgs,
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			target := rawURL
			if target == "" {
				var err error
				if target, err = readyzURLFromConfig(path); err != nil {
					fmt.Fprintln(out, err)
					return exitWith(ExitFailed, nil)
				}
			}
			ok, line := checkReady(cmd.Context(), target, timeout)
			fmt.Fprintln(out, line)
			if !ok {
				return exitWith(ExitFailed, nil)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&rawURL, "url", "", "readiness URL (default: http.listen from the config, path /readyz)")
	cmd.Flags().StringVar(&path, "config", "", "config file (default: $PHPINIT_CONFIG, /data/conf/phpinit/phpinit.yaml, /etc/phpinit/phpinit.yaml)")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "give up after this long")
	return cmd
}

// readyzURLFromConfig finds the listener the way run finds its config.
func readyzURLFromConfig(flagPath string) (string, error) {
	file, explicit := config.Lookup(flagPath, getenv)
	cfg, err := config.Load(config.Options{Path: file, AllowMissing: !explicit, Environ: os.Environ(), Offline: true})
	if err != nil {
		// One line: Docker keeps the first part of a health check's output.
		var me *multierror.Error
		if errors.As(err, &me) && len(me.Errors) > 0 {
			if n := len(me.Errors) - 1; n > 0 {
				err = fmt.Errorf("%w (and %d more: run phpinit check)", me.Errors[0], n)
			} else {
				err = me.Errors[0]
			}
		}
		return "", fmt.Errorf("invalid config: %w", err)
	}
	if cfg.HTTP.Listen == "" {
		return "", errors.New("http listener disabled (http.listen is empty)")
	}
	return readyzURL(cfg.HTTP.Listen)
}

// readyzURL turns http.listen into a URL on the loopback: a wildcard host
// (":9180", "0.0.0.0:9180", "[::]:9180") is reached on 127.0.0.1 or ::1.
func readyzURL(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("invalid http.listen %q: %w", listen, err)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/readyz", nil
}

// checkReady asks target and returns whether it answered 200, and one line
// saying why or why not.
func checkReady(ctx context.Context, target string, timeout time.Duration) (bool, string) {
	if u, err := url.Parse(target); err == nil && (u.Path == "" || u.Path == "/") {
		u.Path = "/readyz"
		target = u.String()
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return false, fmt.Sprintf("invalid url %q: %v", target, err)
	}
	// No proxy: the listener is local, whatever HTTP_PROXY the image sets.
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return false, fmt.Sprintf("cannot reach %s: %s", target, dialError(ctx, err, timeout))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil && ctx.Err() != nil {
		return false, fmt.Sprintf("cannot read %s: timed out after %s", target, timeout)
	}
	if resp.StatusCode == http.StatusOK {
		return true, "ready"
	}
	var h healthcheck.Health
	if json.Unmarshal(body, &h) == nil && h.Reason != "" {
		return false, "not ready: " + h.Reason
	}
	return false, fmt.Sprintf("not ready: %s answered %s", target, resp.Status)
}

// dialError is the short cause of a failed request: "connection refused",
// "timed out after 3s".
func dialError(ctx context.Context, err error, timeout time.Duration) string {
	switch {
	case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("timed out after %s", timeout)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}
