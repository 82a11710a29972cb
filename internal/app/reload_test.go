package app

import "testing"

// Requests queued while a reload runs make one batch: one more reload,
// whose outcome every one of them gets; a burst never queues more than one
// wakeup.
func TestReloadQueueCoalesces(t *testing.T) {
	q := newReloadQueue()
	var replies []chan error
	for i := range 200 {
		r := make(chan error, 1)
		replies = append(replies, r)
		q.add(i == 150, r)
		q.add(false, nil) // SIGHUP-like: nobody waits
	}
	if len(q.wake) != 1 {
		t.Fatalf("%d wakeups queued, want 1", len(q.wake))
	}
	<-q.wake
	b := q.take()
	if b == nil || !b.programs || len(b.replies) != 200 {
		t.Fatalf("batch %+v, want one with programs and 200 replies", b)
	}
	if q.take() != nil {
		t.Error("a second batch without new requests")
	}
	q.add(false, nil)
	if b := q.take(); b == nil || b.programs {
		t.Errorf("a config-only request made batch %+v", b)
	}
}
