package eni

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestWarmAcquireReleaseAllocations guards the warm path: a pod taking a warm
// ENI of its key and giving it back allocates nothing. `make test` runs it
// without the race detector, whose instrumentation allocates.
func TestWarmAcquireReleaseAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector; make test runs this without -race")
	}
	const limit = 9
	ctx := context.Background()
	p, err := NewPool(Config{Node: "i-0", Limit: limit, Backend: &benchBackend{}})
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Unix(1_700_000_000, 0)
	p.now = func() time.Time { return clock }
	key := Key{Groups: MustGroupSet("sg-0123456789abcdef0", "sg-00000001"), Subnet: "subnet-0a"}
	pods := make([]PodRef, limit)
	for i := range pods {
		pods[i] = PodRef{Namespace: "default", Name: fmt.Sprintf("web-%d", i), UID: fmt.Sprint(i)}
		if _, err := p.Acquire(ctx, pods[i], key); err != nil {
			t.Fatal(err)
		}
	}
	for _, pod := range pods {
		p.Release(pod)
	}
	clock = clock.Add(DefaultCoolDown)
	i := 0
	allocs := testing.AllocsPerRun(200, func() {
		pod := pods[i%limit]
		if _, err := p.Acquire(ctx, pod, key); err != nil {
			t.Fatal(err)
		}
		p.Release(pod)
		i++
		clock = clock.Add(DefaultCoolDown)
	})
	if allocs != 0 {
		t.Fatalf("warm Acquire + Release allocates %.1f times per pod, want 0", allocs)
	}
	if st := p.Stats(); st.Creates != limit {
		t.Fatalf("the warm path created ENIs: %+v", st)
	}
}
