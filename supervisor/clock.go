package supervisor

import "time"

// Clock is the supervisor's time. Every lifecycle timer (start_seconds,
// backoff, stop_timeout, drain, grace) is armed through AfterFunc, whose
// function posts an event to the loop; tests inject a fake clock that fires
// timers when told, so backoff and timeouts are tested without sleeping.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine after d; stop cancels it.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// realClock is the wall clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}
