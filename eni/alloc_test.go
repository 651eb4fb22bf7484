package eni

import "testing"

// TestWarmAcquireReleaseAllocations guards the warm path: a pod taking a warm
// ENI of its key and giving it back allocates nothing. `make test` runs it
// without the race detector, whose instrumentation allocates.
func TestWarmAcquireReleaseAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector; make test runs this without -race")
	}
	w := newWarmPool(t)
	if allocs := testing.AllocsPerRun(200, func() { w.step(t) }); allocs != 0 {
		t.Fatalf("warm Acquire + Release allocates %.1f times per pod, want 0", allocs)
	}
	w.checkNoCreates(t)
}
