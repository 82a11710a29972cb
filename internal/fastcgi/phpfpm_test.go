package fastcgi

import (
	"github.com/phpinit/phpinit/internal/fastcgi/fpmtest"
	"strings"
	"testing"
	"time"
)

// startPHPFPM runs the real php-fpm8.2 (fpmtest) and returns its address.
func startPHPFPM(t *testing.T) string { return fpmtest.Start(t) }

func TestPHPFPM(t *testing.T) {
	address := startPHPFPM(t)

	t.Run("ping", func(t *testing.T) {
		resp, err := Do(ctxTimeout(t, 2*time.Second), address, PingParams("/ping"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != 200 || string(resp.Body) != "pong" {
			t.Errorf("got %d %q", resp.Status, resp.Body)
		}
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
			t.Errorf("Content-Type = %q", resp.Header.Get("Content-Type"))
		}
	})

	t.Run("status json", func(t *testing.T) {
		resp, err := Do(ctxTimeout(t, 2*time.Second), address, StatusParams("/status", "json"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != 200 || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("got %d %v %q", resp.Status, resp.Header, resp.Body)
		}
		s, err := ParsePoolStatus(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if s.Pool != "www" || s.ProcessManager != "static" || s.TotalProcesses < 1 || s.AcceptedConn < 1 {
			t.Errorf("status %+v", *s)
		}
		if since := time.Now().Unix() - s.StartTime; since < 0 || since > 60 {
			t.Errorf("start time %d is %ds ago", s.StartTime, since)
		}
	})

	t.Run("status full", func(t *testing.T) {
		s, err := GetPoolStatus(ctxTimeout(t, 2*time.Second), address, "/status")
		if err != nil {
			t.Fatal(err)
		}
		if s.Pool != "www" {
			t.Errorf("status %+v", *s)
		}
		resp, err := Do(ctxTimeout(t, 2*time.Second), address, StatusParams("/status", "json&full"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParsePoolStatus(resp.Body); err != nil {
			t.Error(err)
		}
	})

	t.Run("unknown script", func(t *testing.T) {
		resp, err := Do(ctxTimeout(t, 2*time.Second), address, PingParams("/nope.php"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != 404 || !strings.Contains(string(resp.Stderr), "Primary script unknown") {
			t.Errorf("got %d body %q stderr %q", resp.Status, resp.Body, resp.Stderr)
		}
	})

	t.Run("status is not a pool status page for ping", func(t *testing.T) {
		_, err := GetPoolStatus(ctxTimeout(t, 2*time.Second), address, "/ping")
		if err == nil {
			t.Error("want an error parsing pong")
		}
	})

	t.Run("wrong socket", func(t *testing.T) {
		_, err := Do(ctxTimeout(t, 2*time.Second), address+".missing", PingParams("/ping"), nil)
		if err == nil || !strings.Contains(err.Error(), "cannot connect") {
			t.Errorf("err = %v", err)
		}
	})
}
