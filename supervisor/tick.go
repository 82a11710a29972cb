package supervisor

import "time"

// safetyTick is the loop's 1 s tick, armed only while something waits on
// it. No tick is needed to see exits: SIGCHLD is subscribed before the
// first fork and each one reaps until nothing is left (reaper.Reap), so
// signals that merge lose no exit, and an idle phpinit sleeps until
// something happens. What a signal may not announce is a process group
// emptying: a group member that is not our descendant (it escaped to
// another subreaper) ends without a SIGCHLD to us. While a program waits
// for its group (checkCleanup), the tick re-checks once a second.
type safetyTick struct{ t *time.Ticker }

// c is the tick's channel while needed is true, else nil (a select case
// that never fires); the ticker runs only while needed.
func (k *safetyTick) c(needed bool) <-chan time.Time {
	switch {
	case needed && k.t == nil:
		k.t = time.NewTicker(time.Second)
	case !needed && k.t != nil:
		k.stop()
	}
	if k.t == nil {
		return nil
	}
	return k.t.C
}

func (k *safetyTick) stop() {
	if k.t != nil {
		k.t.Stop()
		k.t = nil
	}
}

// cleanupPending: a program's main process was reaped and its group is
// not empty yet.
func (s *Supervisor) cleanupPending() bool {
	for _, p := range s.progs {
		if p.exited && p.pgid != 0 {
			return true
		}
	}
	return false
}
