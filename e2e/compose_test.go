package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const composeBin = "/usr/bin/docker-compose"

// The shipped docker-compose.yml, as `docker-compose up -d` runs it (Debian's
// v1 binary), with e2e/compose/docker-compose.e2e.yml standing in for
// mariadb:11: PHP reaches MariaDB with the compose environment, and web
// waits for MariaDB's healthcheck.
func TestComposeMariaDB(t *testing.T) {
	needEngine(t)
	if _, err := os.Stat(composeBin); err != nil {
		t.Skipf("no %s (apt-get install docker-compose)", composeBin)
	}
	t.Parallel()
	start := time.Now()
	mustDocker(t, "build", "-q", "-t", "phpinit-e2e/mariadb:10.11", filepath.Join(repoRoot, "e2e/compose/mariadb"))
	t.Logf("MariaDB stand-in image ready in %s", time.Since(start).Round(time.Second))

	proj := hostDir(t)
	site := filepath.Join(proj, "site")
	if err := os.Mkdir(site, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(site, "db.php"), `<?php
$pdo = new PDO("mysql:host=" . getenv("DB_HOST") . ";dbname=" . getenv("DB_NAME"),
    getenv("DB_USER"), getenv("DB_PASSWORD"));
echo $pdo->query("SELECT CONCAT('db ok ', DATABASE())")->fetchColumn();
`, 0o644)
	httpPort := freePort(t)
	name := fmt.Sprintf("phpinite2e%d", time.Now().UnixNano()%1e9)
	compose := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		full := append([]string{"-p", name,
			"-f", filepath.Join(repoRoot, "docker-compose.yml"),
			"-f", filepath.Join(repoRoot, "e2e/compose/docker-compose.e2e.yml"),
			"--project-directory", proj}, args...)
		cmd := exec.CommandContext(ctx, composeBin, full...)
		cmd.Env = append(os.Environ(),
			"PHPINIT_E2E_COMPOSE_DIR="+filepath.Join(repoRoot, "e2e/compose"),
			fmt.Sprintf("HTTP_PORT=%d", httpPort),
			fmt.Sprintf("HTTPS_PORT=%d", freePort(t)),
			fmt.Sprintf("METRICS_PORT=%d", freePort(t)))
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := compose("logs", "--no-color")
			t.Logf("docker-compose logs:\n%s", out)
		}
		if out, err := compose("down", "-v", "--remove-orphans"); err != nil {
			t.Logf("docker-compose down: %v\n%s", err, out)
		}
	})
	if out, err := compose("up", "-d"); err != nil {
		t.Fatalf("docker-compose up -d: %v\n%s", err, out)
	}
	web := strings.TrimSpace(mustCompose(t, compose, "ps", "-q", "web"))
	db := strings.TrimSpace(mustCompose(t, compose, "ps", "-q", "mariadb"))
	c := &container{t: t, id: web, http: httpPort}
	eventually(t, 3*time.Minute, "GET /db.php answers from MariaDB", func() (bool, string) {
		code, body, err := get(c.url("/db.php"))
		return code == 200 && body == "db ok app", fmt.Sprintf("%d %.200q%s", code, body, errString(err))
	})

	// depends_on: service_healthy: web started after MariaDB's first
	// passing healthcheck.
	var health struct {
		State struct {
			Health struct {
				Log []struct {
					End      time.Time
					ExitCode int
				}
			}
		}
	}
	var dbState []json.RawMessage
	if err := json.Unmarshal([]byte(mustDocker(t, "inspect", db)), &dbState); err != nil || len(dbState) != 1 {
		t.Fatalf("docker inspect %s: %v", db, err)
	}
	if err := json.Unmarshal(dbState[0], &health); err != nil {
		t.Fatal(err)
	}
	webStarted, err := time.Parse(time.RFC3339Nano, c.inspect("{{.State.StartedAt}}"))
	if err != nil {
		t.Fatal(err)
	}
	var healthy time.Time
	for _, l := range health.State.Health.Log {
		if l.ExitCode == 0 && (healthy.IsZero() || l.End.Before(healthy)) {
			healthy = l.End
		}
	}
	// The engine keeps the last 5 checks; the first passing one may be gone,
	// which only makes healthy later than it was.
	if healthy.IsZero() {
		t.Fatalf("no passing MariaDB healthcheck in %+v", health.State.Health.Log)
	}
	if len(health.State.Health.Log) < 5 && webStarted.Before(healthy) {
		t.Errorf("web started at %s, before MariaDB was first healthy at %s", webStarted, healthy)
	}
}

func mustCompose(t *testing.T, compose func(...string) (string, error), args ...string) string {
	t.Helper()
	out, err := compose(args...)
	if err != nil {
		t.Fatalf("docker-compose %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}
