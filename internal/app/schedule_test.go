package app

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/phpinit/phpinit/config"
	"github.com/phpinit/phpinit/supervisor"
)

// A scheduled program's spec: its schedule, RUNNING from its spawn, never
// restarted, critical or reloaded, and the environment every program gets.
func TestBuildScheduledSpec(t *testing.T) {
	critical := true
	cfg := &config.Config{Programs: map[string]*config.Program{
		"cron": {Name: "cron", Command: []string{"php", "artisan", "schedule:run"}, Schedule: "@every 1m",
			Critical: &critical, StartSeconds: time.Second, Autorestart: "always", OnChange: "restart",
			Environment: map[string]string{"APP_ENV": "production"}},
	}}
	specs, err := buildSpecs(cfg, []string{"PATH=/bin", "DB_HOST=db"})
	if err != nil {
		t.Fatal(err)
	}
	sp := specs[0]
	if sp.Schedule == nil || sp.Schedule.String() != "@every 1m" || sp.StartSeconds != 0 || sp.Critical ||
		sp.Restart != supervisor.RestartNever || sp.OnChangeRestart || sp.ReloadSignal != 0 {
		t.Errorf("spec = %+v", sp)
	}
	if !slices.Contains(sp.Env, "DB_HOST=db") || !slices.Contains(sp.Env, "APP_ENV=production") {
		t.Errorf("env = %q", sp.Env)
	}
	cfg.Programs["cron"].Schedule = "@every soon"
	if _, err := buildSpecs(cfg, nil); err == nil {
		t.Error("a bad schedule built a spec")
	}
}

func TestZoneOf(t *testing.T) {
	for env, want := range map[string]string{
		"":                    time.Local.String(),
		"TZ=":                 "UTC",
		"TZ=Europe/Paris":     "Europe/Paris",
		"TZ=:Asia/Tokyo":      "Asia/Tokyo",
		"TZ=Not/AZone":        time.Local.String(),
		"TZ=UTC TZ=Etc/GMT+2": "Etc/GMT+2",
	} {
		var vars []string
		if env != "" {
			vars = strings.Fields(env)
		}
		if got := zoneOf(append([]string{"PATH=/bin"}, vars...)).String(); got != want {
			t.Errorf("%q: zone %s, want %s", env, got, want)
		}
	}
}
