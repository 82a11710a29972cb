package supervisor

import "time"

// backoffDelay is the wait before start attempt number failures+1: initial
// doubled per failure, capped at max, then spread by ±10% jitter so that
// programs failing together do not retry in lockstep. rnd returns a value in
// [0,1).
func backoffDelay(failures int, initial, max time.Duration, rnd func() float64) time.Duration {
	if failures < 1 {
		failures = 1
	}
	d := initial
	for i := 1; i < failures && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	jitter := (rnd()*0.2 - 0.1) * float64(d)
	return d + time.Duration(jitter)
}
