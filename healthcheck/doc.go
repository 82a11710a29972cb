// Package healthcheck serves /healthz, /readyz and /metrics from the
// supervisor's snapshots, with the collectors behind /metrics. The probes
// that decide readiness and liveness are in internal/probe.
package healthcheck
