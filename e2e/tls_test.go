package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/phpinit/phpinit/internal/tlscert"
)

// served is the certificate's common name and the protocol of a GET / on
// the published 443.
func (c *container) served() (cn, proto string, err error) {
	resp, err := client.Get(fmt.Sprintf("https://127.0.0.1:%d/", c.https))
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	if resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 {
		return "", resp.Proto, fmt.Errorf("no TLS")
	}
	if resp.StatusCode != http.StatusOK {
		return "", resp.Proto, fmt.Errorf("status %d", resp.StatusCode)
	}
	return resp.TLS.PeerCertificates[0].Subject.CommonName, resp.Proto, nil
}

// metrics is /metrics from inside the container (9180 is not published).
func (c *container) metrics() string {
	out, _ := c.exec("php", "-r", `echo @file_get_contents("http://127.0.0.1:9180/metrics");`)
	return out
}

var expiry = regexp.MustCompile(`(?m)^phpinit_tls_certificate_expiry_timestamp_seconds\{file="([^"]+)"\} (\S+)$`)

// Out of the box: HTTPS with HTTP/2 and a self-signed certificate made at
// start, logged once, not written to /data/conf/tls; its expiry exported.
func TestHTTPSSelfSigned(t *testing.T) {
	needEngine(t)
	t.Parallel()
	c := run(t, nil)
	c.waitServing("/")
	var cn, proto string
	eventually(t, 30*time.Second, "HTTPS on 443", func() (bool, string) {
		var err error
		cn, proto, err = c.served()
		return err == nil, proto + errString(err)
	})
	if proto != "HTTP/2.0" {
		t.Errorf("HTTPS protocol %s, want HTTP/2.0", proto)
	}
	if cn != "localhost" {
		t.Errorf("certificate CN %q, want the self-signed localhost", cn)
	}
	logs := c.logs()
	if n := count(logs, "generated a self-signed TLS certificate"); n != 1 {
		t.Errorf("generation logged %d times, want 1:\n%s", n, logs)
	}
	if out := c.sh("ls -A /data/conf/tls"); strings.TrimSpace(out) != "" {
		t.Errorf("/data/conf/tls holds %q, want nothing", out)
	}
	if m := expiry.FindStringSubmatch(c.metrics()); m == nil || m[1] != "/run/tls/tls.crt" {
		t.Errorf("no expiry metric for /run/tls/tls.crt: %v", m)
	}
}

// secretDir lays out a pair as a Kubernetes Secret volume does:
// ..TIMESTAMP/{tls.crt,tls.key}, ..data -> it, tls.crt -> ..data/tls.crt.
// The key is root's, mode 0600. swap makes a new pair and flips ..data.
type secretDir struct {
	t   *testing.T
	dir string
	n   int
}

func newSecretDir(t *testing.T, cn string) *secretDir {
	s := &secretDir{t: t, dir: hostDir(t)}
	s.swap(cn)
	for _, f := range []string{tlscert.CertFile, tlscert.KeyFile} {
		if err := os.Symlink(filepath.Join("..data", f), filepath.Join(s.dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func (s *secretDir) swap(cn string) { s.t.Helper(); s.flip(cn, false) }

// swapBroken flips ..data to a pair whose key is not the certificate's.
func (s *secretDir) swapBroken(cn string) { s.t.Helper(); s.flip(cn, true) }

func (s *secretDir) flip(cn string, broken bool) {
	s.t.Helper()
	s.n++
	ts := fmt.Sprintf("..2026_12_02_%02d", s.n)
	d := filepath.Join(s.dir, ts)
	if err := os.Mkdir(d, 0o755); err != nil {
		s.t.Fatal(err)
	}
	if _, err := tlscert.Generate(filepath.Join(d, tlscert.CertFile), filepath.Join(d, tlscert.KeyFile), []string{cn}); err != nil {
		s.t.Fatal(err)
	}
	if broken {
		if _, err := tlscert.Generate(filepath.Join(s.t.TempDir(), "other.crt"), filepath.Join(d, tlscert.KeyFile), []string{"other"}); err != nil {
			s.t.Fatal(err)
		}
	}
	if err := os.Chown(filepath.Join(d, tlscert.KeyFile), 0, 0); err != nil {
		s.t.Fatal(err)
	}
	tmp := filepath.Join(s.dir, "..data_tmp")
	if err := os.Symlink(ts, tmp); err != nil {
		s.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, "..data")); err != nil {
		s.t.Fatal(err)
	}
}

// A mounted pair (a Secret's layout, a root-only key) is served; its
// renewal by a ..data swap is checked and reloaded.
func TestHTTPSMounted(t *testing.T) {
	needEngine(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a root-owned key")
	}
	t.Parallel()
	s := newSecretDir(t, "e2e-one.test")
	c := run(t, []string{"-v", s.dir + ":/data/conf/tls:ro"})
	c.waitServing("/")
	eventually(t, 30*time.Second, "the mounted certificate served", func() (bool, string) {
		cn, _, err := c.served()
		return cn == "e2e-one.test", cn + errString(err)
	})
	if logs := c.logs(); count(logs, "generated a self-signed") != 0 || count(logs, "using the mounted TLS certificate") != 1 {
		t.Errorf("want the mounted pair used, logged once:\n%s", logs)
	}
	m := expiry.FindStringSubmatch(c.metrics())
	if m == nil || m[1] != "/data/conf/tls/tls.crt" {
		t.Fatalf("no expiry metric for /data/conf/tls/tls.crt: %v", m)
	}

	s.swap("e2e-two.test")
	eventually(t, 60*time.Second, "the renewed certificate served", func() (bool, string) {
		cn, _, err := c.served()
		return cn == "e2e-two.test", cn + errString(err)
	})

	// A broken renewal (a key that is not the certificate's) fails nginx -t
	// and the last good pair keeps serving.
	s.swapBroken("e2e-three.test")
	c.waitLog("check failed")
	if cn, _, err := c.served(); cn != "e2e-two.test" {
		t.Errorf("after a broken renewal: serving %q %v, want e2e-two.test still", cn, err)
	}
}
