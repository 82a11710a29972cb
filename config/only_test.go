package config

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestOnlyKeepsNamedAndDependencies(t *testing.T) {
	path := writeConfig(t, `supervisord: {include: ['*.conf']}
programs:
  php-fpm: {command: [php-fpm]}
  nginx: {command: [nginx], depends_on: [php-fpm]}
  redis: {command: [redis]}
  queue: {command: [q], depends_on: [redis], numprocs: 2}
`)
	conf := "[program:mailer]\ncommand=m\n[program:cron]\ncommand=c\n[group:jobs]\nprograms=mailer,cron\n"
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), "jobs.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		only string
		want []string
	}{
		{"", []string{"cron", "mailer", "nginx", "php-fpm", "queue_00", "queue_01", "redis"}},
		{"nginx", []string{"nginx", "php-fpm"}},
		{"queue", []string{"queue_00", "queue_01", "redis"}},
		{"queue_01", []string{"queue_01", "redis"}},
		{"jobs, php-fpm", []string{"cron", "mailer", "php-fpm"}},
	} {
		cfg, err := Load(Options{Path: path, Offline: true, Environ: []string{EnvOnly + "=" + tc.only}})
		if err != nil {
			t.Fatalf("%s=%q: %v", EnvOnly, tc.only, err)
		}
		got := sortedKeys(cfg.Programs)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s=%q: programs %v, want %v", EnvOnly, tc.only, got, tc.want)
		}
	}
	_, err := Load(Options{Path: path, Offline: true, Environ: []string{EnvOnly + "=nginx,ngnix"}})
	want := []string{`PHPINIT_ONLY: no program or group "ngnix" (programs: cron, mailer, nginx, php-fpm, queue_00, queue_01, redis)`}
	if got := problemsOf(t, err); !slices.Equal(got, want) {
		t.Errorf("problems %q, want %q", got, want)
	}
}
