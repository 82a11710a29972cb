package tlscert

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestPrepareGeneratesWhenNoneMounted(t *testing.T) {
	conf, run := t.TempDir(), filepath.Join(t.TempDir(), "tls")
	p, err := Prepare(slog.New(slog.DiscardHandler), conf, run)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Generated || p.Cert != filepath.Join(run, CertFile) {
		t.Fatalf("Prepare = %+v, want a generated cert in %s", p, run)
	}
	if entries, _ := os.ReadDir(conf); len(entries) != 0 {
		t.Errorf("wrote into the mounted directory: %v", entries)
	}
	fi, err := os.Stat(filepath.Join(run, KeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key: %v %v, want mode 0600", fi, err)
	}
	na, err := NotAfter(p.Cert)
	if err != nil || na.Before(time.Now().Add(300*24*time.Hour)) {
		t.Errorf("NotAfter = %v %v, want about a year ahead", na, err)
	}
}

func TestPrepareLinksMountedPair(t *testing.T) {
	conf, run := t.TempDir(), filepath.Join(t.TempDir(), "tls")
	if _, err := Generate(filepath.Join(conf, CertFile), filepath.Join(conf, KeyFile), []string{"example.test"}); err != nil {
		t.Fatal(err)
	}
	p, err := Prepare(slog.New(slog.DiscardHandler), conf, run)
	if err != nil {
		t.Fatal(err)
	}
	if p.Generated || p.Cert != filepath.Join(conf, CertFile) {
		t.Fatalf("Prepare = %+v, want the mounted cert", p)
	}
	for _, f := range []string{CertFile, KeyFile} {
		target, err := os.Readlink(filepath.Join(run, f))
		if err != nil || target != filepath.Join(conf, f) {
			t.Errorf("%s -> %q %v, want a link to the mounted file", f, target, err)
		}
	}
}

func TestPrepareOutsideImage(t *testing.T) {
	p, err := Prepare(slog.New(slog.DiscardHandler), filepath.Join(t.TempDir(), "none"), filepath.Join(t.TempDir(), "tls"))
	if p != nil || err != nil {
		t.Fatalf("Prepare without the directory = %v %v, want nil nil", p, err)
	}
}

func TestCollector(t *testing.T) {
	dir := t.TempDir()
	crt := filepath.Join(dir, CertFile)
	na, err := Generate(crt, filepath.Join(dir, KeyFile), []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(&Collector{Files: []string{crt, filepath.Join(dir, "missing.crt")}})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) != 1 || mfs[0].GetName() != "phpinit_tls_certificate_expiry_timestamp_seconds" || len(mfs[0].Metric) != 1 {
		t.Fatalf("gathered %v, want one series", mfs)
	}
	m := mfs[0].Metric[0]
	if l := m.GetLabel(); len(l) != 1 || l[0].GetName() != "file" || l[0].GetValue() != crt {
		t.Errorf("labels %v, want file=%s", l, crt)
	}
	if got := int64(m.GetGauge().GetValue()); got != na.Unix() {
		t.Errorf("value %d, want NotAfter %d", got, na.Unix())
	}
}
