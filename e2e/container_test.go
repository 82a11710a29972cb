package e2e

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// container is one `docker run -d` of the image, removed at test end (its
// logs are printed when the test failed).
type container struct {
	t     *testing.T
	id    string
	http  int // host port published to 80
	https int // host port published to 443
}

// run starts `docker run -d -p 127.0.0.1:P:80 -p 127.0.0.1:Q:443 ARGS image CMD...`.
// args go before the image, cmd after it.
func run(t *testing.T, args []string, cmd ...string) *container {
	t.Helper()
	c := &container{t: t, http: freePort(t), https: freePort(t)}
	full := []string{"run", "-d",
		"-p", fmt.Sprintf("127.0.0.1:%d:80", c.http),
		"-p", fmt.Sprintf("127.0.0.1:%d:443", c.https)}
	full = append(full, args...)
	full = append(full, image)
	full = append(full, cmd...)
	c.id = mustDocker(t, full...)
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := docker(t, "logs", c.id)
			t.Logf("docker logs %s:\n%s", c.id[:12], out)
		}
		docker(t, "rm", "-f", "-v", c.id)
	})
	return c
}

func (c *container) url(path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", c.http, path)
}

func (c *container) logs() string {
	out, _ := docker(c.t, "logs", c.id)
	return out
}

// exec is `docker exec CONTAINER ARGS...`.
func (c *container) exec(args ...string) (string, error) {
	return docker(c.t, append([]string{"exec", c.id}, args...)...)
}

// sh runs a shell command in the container as root and fails on error.
func (c *container) sh(script string) string {
	c.t.Helper()
	out, err := c.exec("sh", "-c", script)
	if err != nil {
		c.t.Fatalf("docker exec sh -c %q: %v\n%s", script, err, out)
	}
	return out
}

func (c *container) inspect(format string) string {
	c.t.Helper()
	out, _ := docker(c.t, "inspect", "-f", format, c.id)
	return strings.TrimSpace(out)
}

// waitHealthy waits for the HEALTHCHECK to report healthy.
func (c *container) waitHealthy() {
	c.t.Helper()
	eventually(c.t, 90*time.Second, "docker inspect health healthy", func() (bool, string) {
		s := c.inspect("{{.State.Health.Status}} {{.State.Status}}")
		return strings.HasPrefix(s, "healthy "), s
	})
}

// waitServing waits until path answers 200 on the published port 80.
func (c *container) waitServing(path string) string {
	c.t.Helper()
	var body string
	eventually(c.t, 90*time.Second, "GET "+path+" answers 200", func() (bool, string) {
		code, b, err := get(c.url(path))
		if err != nil {
			if st := c.inspect("{{.State.Status}}"); st != "running" {
				c.t.Fatalf("container is %s, not running", st)
			}
			return false, err.Error()
		}
		body = b
		return code == 200, strconv.Itoa(code) + " " + b
	})
	return body
}

// waitLog waits until the container's log has s.
func (c *container) waitLog(s string) string {
	c.t.Helper()
	var logs string
	eventually(c.t, 60*time.Second, "docker logs has "+strconv.Quote(s), func() (bool, string) {
		logs = c.logs()
		return strings.Contains(logs, s), tail(logs, 5)
	})
	return logs
}

var client = &http.Client{
	Timeout: 30 * time.Second,
	Transport: &http.Transport{
		// The image's certificate is self-signed unless one is mounted.
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
		ForceAttemptHTTP2: true,
		DisableKeepAlives: true,
	},
}

func get(url string) (int, string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// count is how many lines of logs contain s.
func count(logs, s string) int {
	n := 0
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}
