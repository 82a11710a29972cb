package config

import (
	"slices"
	"testing"
)

func TestNoNewPrivs(t *testing.T) {
	const body = `
programs:
  web: {command: [nginx]}
  mail: {command: [msmtpd], no_new_privs: false}
  cron: {command: [cron, -f]}
`
	c, err := loadOffline(t, body, "PHPINIT_PROGRAMS_CRON_NO_NEW_PRIVS=false")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"web": true, "mail": false, "cron": false} {
		if got := c.Programs[name].NoNewPrivileges(); got != want {
			t.Errorf("%s: no_new_privs %v, want %v", name, got, want)
		}
	}
	if (&Program{}).NoNewPrivileges() != true {
		t.Error("a program without the key must default to true")
	}
	_, err = loadOffline(t, "programs: {web: {command: [w], no_new_privs: sometimes}}")
	if got, want := problemsOf(t, err), []string{`programs.web.no_new_privs: invalid boolean "sometimes"`}; !slices.Equal(got, want) {
		t.Errorf("problems %q, want %q", got, want)
	}
}
