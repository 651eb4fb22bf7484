package eni

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/podsg/podsg/api/podeni"
)

type benchBackend struct{ n int }

func (b *benchBackend) CreateBranch(_ context.Context, req CreateRequest) (podeni.BranchENI, error) {
	b.n++
	return podeni.BranchENI{ID: fmt.Sprintf("eni-%08x", b.n), MAC: podeni.MAC{2, 0, 0, 0, 0, byte(b.n)},
		PrivateIP: netip.AddrFrom4([4]byte{10, 0, 0, byte(b.n)}), VLANID: req.VLAN,
		SubnetCIDR: netip.MustParsePrefix("10.0.0.0/16")}, nil
}
func (b *benchBackend) DeleteBranch(context.Context, Branch) error             { return nil }
func (b *benchBackend) RetargetBranch(context.Context, Branch, GroupSet) error { return nil }

// warmPool is a node pool whose every slot holds a warm ENI of one key, and
// a step that starts and ends one pod on it. The pool's clock advances past
// the cool-down after each release, so released ENIs turn warm again.
type warmPool struct {
	pool  *Pool
	key   Key
	pods  []PodRef
	clock time.Time
	next  int
}

const warmPoolLimit = 9

func newWarmPool(tb testing.TB) *warmPool {
	tb.Helper()
	p, err := NewPool(&benchBackend{}, Options{Node: "i-0", Limit: warmPoolLimit})
	if err != nil {
		tb.Fatal(err)
	}
	w := &warmPool{
		pool:  p,
		key:   Key{Groups: MustGroupSet("sg-0123456789abcdef0", "sg-00000001"), Subnet: "subnet-0a"},
		pods:  make([]PodRef, warmPoolLimit),
		clock: time.Unix(1_700_000_000, 0),
	}
	p.now = func() time.Time { return w.clock }
	for i := range w.pods {
		w.pods[i] = PodRef{Namespace: "default", Name: fmt.Sprintf("web-%d", i), UID: fmt.Sprint(i)}
		if _, err := p.Acquire(tb.Context(), w.pods[i], w.key); err != nil {
			tb.Fatal(err)
		}
	}
	for _, pod := range w.pods {
		p.Release(pod)
	}
	w.clock = w.clock.Add(DefaultCoolDown)
	return w
}

// step starts the next pod on a warm ENI of its key and ends it.
func (w *warmPool) step(tb testing.TB) {
	pod := w.pods[w.next%len(w.pods)]
	if _, err := w.pool.Acquire(tb.Context(), pod, w.key); err != nil {
		tb.Fatal(err)
	}
	w.pool.Release(pod)
	w.next++
	w.clock = w.clock.Add(DefaultCoolDown)
}

// checkNoCreates fails when the warm path created ENIs beyond the initial fill.
func (w *warmPool) checkNoCreates(tb testing.TB) {
	tb.Helper()
	if st := w.pool.Stats(); st.Creates != warmPoolLimit {
		tb.Fatalf("the warm path created ENIs: %+v", st)
	}
}

// BenchmarkAcquireReleaseWarm measures a pod start and end on a warm pool:
// Acquire takes a warm ENI of the pod's key, Release sends it to cool-down.
func BenchmarkAcquireReleaseWarm(b *testing.B) {
	w := newWarmPool(b)
	b.ReportAllocs()
	for b.Loop() {
		w.step(b)
	}
	w.checkNoCreates(b)
}
