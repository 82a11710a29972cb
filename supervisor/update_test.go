package supervisor

import (
	"slices"
	"testing"
	"time"
)

func updateHarness(t *testing.T) *loopHarness {
	t.Helper()
	var specs []ProgramSpec
	for _, n := range []string{"keep", "change", "drop"} {
		specs = append(specs, fakeSpecNoDelay(n))
	}
	h := newLoopHarness(t, specs...)
	for _, n := range []string{"keep", "change", "drop"} {
		h.want(n, Running)
	}
	h.advance(minStableRun) // a restart now is not throttled
	return h
}

func (h *loopHarness) update(specs ...ProgramSpec) UpdateResult {
	h.t.Helper()
	order, err := dependencyOrder(specs)
	if err != nil {
		h.t.Fatal(err)
	}
	res, err := h.s.update(specs, order)
	if err != nil {
		h.t.Fatal(err)
	}
	h.settle()
	return res
}

// Update applies a config diff to running programs: the unchanged keep
// their process, the changed restart with the new spec, the removed stop
// and are forgotten, the added start.
func TestUpdateDiff(t *testing.T) {
	h := updateHarness(t)
	keepPID := h.s.progs["keep"].pid
	changed := fakeSpecNoDelay("change")
	changed.Fingerprint = "v2"
	changed.Command = []string{"sh", "-c", "exec sleep 200"}
	res := h.update(fakeSpecNoDelay("keep"), changed, fakeSpecNoDelay("add"))
	if !slices.Equal(res.Added, []string{"add"}) || !slices.Equal(res.Changed, []string{"change"}) ||
		!slices.Equal(res.Removed, []string{"drop"}) {
		t.Fatalf("result %+v", res)
	}
	if p := h.want("keep", Running); p.pid != keepPID {
		t.Errorf("unchanged program restarted: pid %d -> %d", keepPID, p.pid)
	}
	h.want("add", Running)
	h.want("change", Stopping)
	h.want("drop", Stopping)

	h.exit("change", -15)
	p := h.want("change", Running)
	if p.spec.Fingerprint != "v2" || !slices.Equal(h.spawned[len(h.spawned)-1], changed.Command) {
		t.Errorf("changed program runs %q (fingerprint %s), want the new spec", h.spawned[len(h.spawned)-1], p.spec.Fingerprint)
	}
	h.exit("drop", -15)
	if _, ok := h.s.progs["drop"]; ok || slices.Contains(h.s.order, "drop") {
		t.Error("removed program not forgotten once down")
	}
	if sn, _ := h.s.Snapshot().Program("drop"); sn.Name != "" {
		t.Error("removed program still in the snapshot")
	}
}

// Applying the same config again changes nothing.
func TestUpdateUnchanged(t *testing.T) {
	h := updateHarness(t)
	pids := map[string]int{}
	for n, p := range h.s.progs {
		pids[n] = p.pid
	}
	spawns := len(h.spawned)
	res := h.update(fakeSpecNoDelay("keep"), fakeSpecNoDelay("change"), fakeSpecNoDelay("drop"))
	if len(res.Added)+len(res.Changed)+len(res.Removed) != 0 {
		t.Fatalf("result %+v, want nothing", res)
	}
	for n, p := range h.s.progs {
		if p.state != Running || p.pid != pids[n] {
			t.Errorf("%s: %s pid %d, want RUNNING pid %d", n, p.state, p.pid, pids[n])
		}
	}
	if len(h.spawned) != spawns || len(h.kills) != 0 {
		t.Errorf("spawned %d, signals %v: want none", len(h.spawned)-spawns, h.kills)
	}
}

// A program removed and added back before it was down starts again with
// the new spec, and is not forgotten.
func TestUpdateReAddedWhileStopping(t *testing.T) {
	h := updateHarness(t)
	h.update(fakeSpecNoDelay("keep"), fakeSpecNoDelay("change"))
	h.want("drop", Stopping)
	back := fakeSpecNoDelay("drop")
	back.Fingerprint = "v2"
	res := h.update(fakeSpecNoDelay("keep"), fakeSpecNoDelay("change"), back)
	if !slices.Equal(res.Added, []string{"drop"}) {
		t.Fatalf("result %+v", res)
	}
	h.exit("drop", -15)
	if p := h.want("drop", Running); p.spec.Fingerprint != "v2" {
		t.Errorf("fingerprint %s, want v2", p.spec.Fingerprint)
	}
}

// While phpinit stops, Update is refused.
func TestUpdateWhileStopping(t *testing.T) {
	h := updateHarness(t)
	h.s.requestStop(0, "test")
	order, _ := dependencyOrder(nil)
	if _, err := h.s.update(nil, order); err == nil {
		t.Error("update accepted while stopping")
	}
	h.advance(time.Minute)
}

func fakeSpecNoDelay(name string) ProgramSpec {
	sp := fakeSpec(name)
	sp.StartSeconds = 0
	return sp
}
