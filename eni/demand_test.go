package eni_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/eni"
)

// maintainAll runs Maintain until it has no work due now.
func maintainAll(t *testing.T, p *eni.Pool) {
	t.Helper()
	for range 10 {
		next, err := p.Maintain(t.Context())
		require.NoError(t, err)
		if next.IsZero() || next.After(time.Now()) {
			return
		}
	}
	t.Fatal("Maintain still has work due after 10 rounds")
}

func TestPrewarmShares(t *testing.T) {
	tests := []struct {
		name        string
		limit       int
		policy      eni.Policy
		pods        []eni.Key // started in order, all kept running
		want        counts
		wantCreates int
	}{
		{"spare slots follow demand", 4, eni.Policy{}, []eni.Key{web, web}, counts{InUse: 2, Warm: 2}, 4},
		{"share capped by the pod starts", 9, eni.Policy{}, []eni.Key{web}, counts{InUse: 1, Warm: 1}, 2},
		{"split by demand, rest to the busiest", 7, eni.Policy{}, []eni.Key{web, web, web, db}, counts{InUse: 4, Warm: 3}, 7},
		{"off", 4, eni.Policy{Prewarm: eni.PrewarmPolicy{Window: eni.NoPrewarm}}, []eni.Key{web, web}, counts{InUse: 2}, 2},
		{"no warm ENIs at all", 4, eni.OnDemandPolicy(), []eni.Key{web, web}, counts{InUse: 2}, 2},
		{"capped by MaxWarm", 9, eni.Policy{MaxWarm: 1}, []eni.Key{web, web, web}, counts{InUse: 3, Warm: 1}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p, be := newPool(t, tt.limit, tt.policy)
				for i, k := range tt.pods {
					_, err := p.Acquire(t.Context(), pod(i), k)
					require.NoError(t, err)
				}
				maintainAll(t, p)
				if diff := cmp.Diff(tt.want, stateCounts(p)); diff != "" {
					t.Errorf("states (-want +got):\n%s", diff)
				}
				require.Equal(t, tt.wantCreates, be.count("create"))
			})
		})
	}
}

// TestPrewarmCore: on a node whose keys in demand share a group, the pool
// keeps ENIs of the shared groups (the core) in CoreSlots of its spare
// slots, and a pod of a key with no warm ENI gets a core ENI retargeted to
// its groups (one call) instead of a new ENI. Keys that share nothing, a
// retarget policy that would not allow it, or NoCore keep no core.
func TestPrewarmCore(t *testing.T) {
	const (
		sgCluster = "sg-0000000c"
		sgApp1    = "sg-000000a1"
		sgApp2    = "sg-000000a2"
		sgApp3    = "sg-000000a3"
	)
	app := func(sg string) eni.Key { return eni.Key{Groups: eni.MustGroupSet(sgCluster, sg), Subnet: "subnet-0a"} }
	core := eni.Key{Groups: eni.MustGroupSet(sgCluster), Subnet: "subnet-0a"}
	tests := []struct {
		name      string
		policy    eni.Policy
		pods      []eni.Key
		wantCore  int  // warm core ENIs after pre-warming
		wantReuse bool // the next pod, of another key, takes a core ENI
	}{
		{"core", eni.Policy{}, []eni.Key{app(sgApp1), app(sgApp2)}, 2, true},
		{"more core slots", eni.Policy{Prewarm: eni.PrewarmPolicy{CoreSlots: 4}}, []eni.Key{app(sgApp1), app(sgApp2)}, 2, true},
		{"nothing shared", eni.Policy{}, []eni.Key{web, db}, 0, false},
		{"no core", eni.Policy{Prewarm: eni.PrewarmPolicy{CoreSlots: eni.NoCore}}, []eni.Key{app(sgApp1), app(sgApp2)}, 0, false},
		{"never retarget", eni.Policy{Retarget: eni.NeverRetarget}, []eni.Key{app(sgApp1), app(sgApp2)}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p, be := newPool(t, 6, tt.policy)
				for i, k := range tt.pods {
					_, err := p.Acquire(t.Context(), pod(i), k)
					require.NoError(t, err)
				}
				maintainAll(t, p)
				n := 0
				for _, e := range p.Entries() {
					if e.State == eni.StateWarm && e.Branch.Key() == core {
						n++
					}
				}
				// Two pod starts in the window: the core holds at most
				// as many ENIs.
				require.Equal(t, tt.wantCore, n, "warm core ENIs")
				creates := be.count("create")
				got, err := p.Acquire(t.Context(), pod(9), app(sgApp3))
				require.NoError(t, err)
				require.Equal(t, app(sgApp3), got.Key())
				require.Equal(t, tt.wantReuse, be.count("create") == creates, "no new ENI for the next pod")
				require.Equal(t, btoi(tt.wantReuse), be.count("retarget"))
			})
		})
	}
}

func TestPrewarmedENIServesNextPod(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		p, be := newPool(t, 3, eni.Policy{})
		_, err := p.Acquire(ctx, pod(1), web)
		require.NoError(t, err)
		maintainAll(t, p)
		require.Equal(t, counts{InUse: 1, Warm: 1}, stateCounts(p))
		_, err = p.Acquire(ctx, pod(2), web)
		require.NoError(t, err)
		require.Equal(t, 2, be.count("create"), "the second pod took the pre-warmed ENI")
		require.Equal(t, uint64(1), p.Stats().WarmHits)
	})
}

// TestPrewarmReplacesIdleKey: a warm ENI of a key without enough demand is
// replaced by one of a key with at least Dominance times its demand, and
// only then.
func TestPrewarmReplacesIdleKey(t *testing.T) {
	tests := []struct {
		name        string
		webPods     int
		wantWarm    eni.Key
		wantDeletes int
	}{
		{"busier key takes the slot", 2, web, 1},
		{"similar demand keeps it", 1, db, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := t.Context()
				p, be := newPool(t, tt.webPods+1, eni.Policy{})
				_, err := p.Acquire(ctx, pod(0), db)
				require.NoError(t, err)
				p.Release(pod(0))
				time.Sleep(eni.DefaultCoolDown)
				for i := 1; i <= tt.webPods; i++ {
					_, err := p.Acquire(ctx, pod(i), web)
					require.NoError(t, err)
				}
				maintainAll(t, p)
				require.Equal(t, counts{InUse: tt.webPods, Warm: 1}, stateCounts(p))
				var warm []eni.Key
				for _, e := range p.Entries() {
					if e.State == eni.StateWarm {
						warm = append(warm, e.Branch.Key())
					}
				}
				require.Equal(t, []eni.Key{tt.wantWarm}, warm)
				require.Equal(t, tt.wantDeletes, be.count("delete"))
			})
		})
	}
}

// TestPrewarmWaitsForPodStarts: nothing is pre-warmed while a pod's ENI is
// being created, so pre-warming never competes with a burst of pod starts.
func TestPrewarmWaitsForPodStarts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		p, be := newPool(t, 4, eni.Policy{})
		_, err := p.Acquire(ctx, pod(1), web)
		require.NoError(t, err)
		be.block = make(chan struct{})
		done := make(chan error)
		go func() { _, err := p.Acquire(ctx, pod(2), web); done <- err }()
		synctest.Wait()
		next, err := p.Maintain(ctx)
		require.NoError(t, err)
		require.True(t, next.IsZero(), "nothing due while a pod waits for its ENI")
		require.Equal(t, counts{InUse: 1, Creating: 1}, stateCounts(p))
		close(be.block)
		require.NoError(t, <-done)
		maintainAll(t, p)
		require.Equal(t, counts{InUse: 2, Warm: 2}, stateCounts(p))
	})
}

// prewarmingLastSlot returns a two-slot pool whose first slot holds pod 1's
// ENI (web) and whose second is being pre-warmed for web, the creation held
// until be.block is closed. It must run in a synctest bubble.
func prewarmingLastSlot(t *testing.T) (*eni.Pool, *memBackend) {
	t.Helper()
	ctx := t.Context()
	p, be := newPool(t, 2, eni.Policy{})
	_, err := p.Acquire(ctx, pod(1), web)
	require.NoError(t, err)
	be.block = make(chan struct{})
	go func() { _, _ = p.Maintain(ctx) }()
	synctest.Wait()
	require.Equal(t, counts{InUse: 1, Creating: 1}, stateCounts(p), "pre-warming the second slot")
	return p, be
}

// TestAcquireWaitsForPrewarm: a pod that finds the node's last slot taken by
// an ENI being pre-warmed for its key waits for that ENI.
func TestAcquireWaitsForPrewarm(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		p, be := prewarmingLastSlot(t)
		got := make(chan error)
		go func() { _, err := p.Acquire(ctx, pod(2), web); got <- err }()
		synctest.Wait()
		close(be.block)
		require.NoError(t, <-got)
		require.Equal(t, counts{InUse: 2}, stateCounts(p))
		require.Equal(t, 2, be.count("create"))
	})
}

// TestPrewarmWaitersInOrder: pods waiting for the same pre-warming ENI are
// served in the order they came, the pool choosing for each as the ENI is
// ready: the first gets it, the next finds the node full. A waiter that
// gives up before is forgotten.
func TestPrewarmWaitersInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		p, be := prewarmingLastSlot(t)

		quit, cancel := context.WithCancel(ctx)
		gaveUp := make(chan error)
		go func() { _, err := p.Acquire(quit, pod(2), web); gaveUp <- err }()
		synctest.Wait()
		type answer struct {
			b   eni.Branch
			err error
		}
		got := make([]chan answer, 2)
		for i := range got {
			got[i] = make(chan answer)
			go func() { b, err := p.Acquire(ctx, pod(3+i), web); got[i] <- answer{b, err} }()
			synctest.Wait() // pod 3 waits before pod 4
		}
		cancel()
		require.ErrorIs(t, <-gaveUp, context.Canceled)
		close(be.block)
		first, second := <-got[0], <-got[1]
		require.NoError(t, first.err, "the first waiter left gets the ENI")
		require.Equal(t, web, first.b.Key())
		require.ErrorIs(t, second.err, eni.ErrNoCapacity, "the next finds the node full")
		require.Equal(t, counts{InUse: 2}, stateCounts(p))
		require.Equal(t, 2, be.count("create"))
	})
}

// TestPrewarmDemandExpires: once a key has had no pod start for the window
// (the idle timeout by default), its warm ENIs age out as usual.
func TestPrewarmDemandExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		p, be := newPool(t, 3, eni.Policy{IdleTimeout: 2 * time.Minute})
		_, err := p.Acquire(ctx, pod(1), web)
		require.NoError(t, err)
		p.Release(pod(1))
		time.Sleep(eni.DefaultCoolDown)
		maintainAll(t, p)
		require.Equal(t, counts{Warm: 1}, stateCounts(p), "kept for the key's recent demand")
		time.Sleep(3 * time.Minute)
		maintainAll(t, p)
		require.Equal(t, counts{}, stateCounts(p))
		require.Equal(t, 1, be.count("create"))
		require.Equal(t, 1, be.count("delete"))
	})
}

func TestPrewarmPolicyValidation(t *testing.T) {
	for _, pw := range []eni.PrewarmPolicy{{Window: time.Second}, {Dominance: 0.5}} {
		require.Error(t, eni.Policy{Prewarm: pw}.Validate(), "%+v", pw)
	}
	require.NoError(t, eni.Policy{Prewarm: eni.PrewarmPolicy{Window: eni.NoPrewarm}}.Validate())
	require.NoError(t, eni.Policy{Prewarm: eni.PrewarmPolicy{Window: time.Minute, Dominance: 1}}.Validate())
}

// TestPrewarmReplacesOnlyWhatItNeeds: a key one ENI short of its share has
// one warm ENI of an idle key replaced, not all of them.
func TestPrewarmReplacesOnlyWhatItNeeds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		p, be := newPool(t, 4, eni.Policy{IdleTimeout: -1})
		for i := range 3 {
			_, err := p.Acquire(ctx, pod(i), db)
			require.NoError(t, err)
		}
		maintainAll(t, p)
		for i := range 3 {
			p.Release(pod(i))
		}
		time.Sleep(eni.DefaultDemandWindow + time.Minute)
		maintainAll(t, p)
		require.Equal(t, counts{Warm: 4}, stateCounts(p), "db's demand is forgotten, its warm ENIs never idle out")
		_, err := p.Acquire(ctx, pod(9), web)
		require.NoError(t, err, "evicts a warm db ENI")
		maintainAll(t, p)
		require.Equal(t, counts{InUse: 1, Warm: 3}, stateCounts(p))
		warm := map[eni.Key]int{}
		for _, e := range p.Entries() {
			if e.State == eni.StateWarm {
				warm[e.Branch.Key()]++
			}
		}
		require.Equal(t, map[eni.Key]int{web: 1, db: 2}, warm)
		require.Equal(t, 2, be.count("delete"), "one eviction, one replacement")
	})
}

// blockingRetarget is a memBackend whose RetargetBranch waits for release.
type blockingRetarget struct {
	*memBackend
	release chan struct{}
}

func (b *blockingRetarget) RetargetBranch(ctx context.Context, br eni.Branch, groups eni.GroupSet) error {
	<-b.release
	return b.memBackend.RetargetBranch(ctx, br, groups)
}

// TestRetargetedPrewarmIsNotWaitedFor: a pre-warmed ENI that a pod takes and
// retargets to other groups is no longer being pre-warmed: a pod of its old
// key finds the node full instead of waiting for it (forever: the retarget
// ends with the other pod's groups).
func TestRetargetedPrewarmIsNotWaitedFor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		be := &blockingRetarget{memBackend: newMemBackend(), release: make(chan struct{})}
		p, err := eni.NewPool(be, eni.Options{Node: "i-0123456789abcdef0", Limit: 2})
		require.NoError(t, err)
		_, err = p.Acquire(ctx, pod(1), web)
		require.NoError(t, err)
		maintainAll(t, p)
		require.Equal(t, counts{InUse: 1, Warm: 1}, stateCounts(p), "the second slot pre-warmed for web")

		retargeted := make(chan error)
		go func() { _, err := p.Acquire(ctx, pod(2), both); retargeted <- err }()
		synctest.Wait()
		require.Equal(t, counts{InUse: 1, Creating: 1}, stateCounts(p), "the warm ENI being retargeted to both")
		_, err = p.Acquire(ctx, pod(3), web)
		require.ErrorIs(t, err, eni.ErrNoCapacity)
		close(be.release)
		require.NoError(t, <-retargeted)
		require.Equal(t, counts{InUse: 2}, stateCounts(p))
	})
}
