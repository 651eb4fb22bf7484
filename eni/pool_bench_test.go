package eni

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"
)

type benchBackend struct{ n int }

func (b *benchBackend) CreateBranch(_ context.Context, req CreateRequest) (BranchENI, error) {
	b.n++
	return BranchENI{ID: fmt.Sprintf("eni-%08x", b.n), MAC: MAC{2, 0, 0, 0, 0, byte(b.n)},
		PrivateIP: netip.AddrFrom4([4]byte{10, 0, 0, byte(b.n)}), VLANID: req.VLAN,
		SubnetCIDR: netip.MustParsePrefix("10.0.0.0/16")}, nil
}
func (b *benchBackend) DeleteBranch(context.Context, Branch) error             { return nil }
func (b *benchBackend) RetargetBranch(context.Context, Branch, GroupSet) error { return nil }

// BenchmarkAcquireReleaseWarm measures a pod start and end on a warm pool:
// Acquire takes a warm ENI of the pod's key, Release sends it to cool-down.
// The pool's clock advances past the cool-down on each round so that released
// ENIs turn warm again.
func BenchmarkAcquireReleaseWarm(b *testing.B) {
	const limit = 9
	ctx := context.Background()
	p, err := NewPool(Config{Node: "i-0", Limit: limit, Backend: &benchBackend{}})
	if err != nil {
		b.Fatal(err)
	}
	clock := time.Unix(1_700_000_000, 0)
	p.now = func() time.Time { return clock }
	key := Key{Groups: MustGroupSet("sg-0123456789abcdef0", "sg-00000001"), Subnet: "subnet-0a"}
	pods := make([]PodRef, limit)
	for i := range pods {
		pods[i] = PodRef{Namespace: "default", Name: fmt.Sprintf("web-%d", i), UID: fmt.Sprint(i)}
		if _, err := p.Acquire(ctx, pods[i], key); err != nil {
			b.Fatal(err)
		}
	}
	for _, pod := range pods {
		p.Release(pod)
	}
	clock = clock.Add(DefaultCoolDown)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		pod := pods[i%limit]
		if _, err := p.Acquire(ctx, pod, key); err != nil {
			b.Fatal(err)
		}
		p.Release(pod)
		i++
		clock = clock.Add(DefaultCoolDown)
	}
	if st := p.Stats(); st.Creates != limit {
		b.Fatalf("warm pool created ENIs: %+v", st)
	}
}
