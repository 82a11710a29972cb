package tlscert

import (
	"github.com/prometheus/client_golang/prometheus"
)

var expiryDesc = prometheus.NewDesc(
	"phpinit_tls_certificate_expiry_timestamp_seconds",
	"NotAfter of the certificate nginx serves, as a Unix time; read at scrape time.",
	[]string{"file"}, nil)

// Collector exports the expiry of certificate files, read at each scrape
// (a renewed file shows at once). A file that cannot be read is left out.
type Collector struct {
	Files []string
}

// NewCollector reports p's certificate; nil p (nothing prepared) reports
// nothing.
func NewCollector(p *Prepared) *Collector {
	c := &Collector{}
	if p != nil {
		c.Files = []string{p.Cert}
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) { ch <- expiryDesc }

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, f := range c.Files {
		t, err := NotAfter(f)
		if err != nil {
			continue
		}
		ch <- prometheus.MustNewConstMetric(expiryDesc, prometheus.GaugeValue, float64(t.Unix()), f)
	}
}
