package limits_test

import (
	"testing"

	"github.com/podsg/podsg/limits"
)

// TestLookupAllocations guards Lookup's hot path: a hit allocates nothing.
// `make test` runs it without the race detector, whose instrumentation
// allocates.
func TestLookupAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector; make test runs this without -race")
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := limits.Lookup("m5.large"); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Lookup allocates %.1f times per call, want 0", allocs)
	}
}
