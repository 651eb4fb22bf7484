package eni_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/eni"
)

var (
	sgWeb = "sg-0123456789abcdef0"
	sgDB  = "sg-00000001"
	web   = eni.Key{Groups: eni.MustGroupSet(sgWeb), Subnet: "subnet-0a"}
	db    = eni.Key{Groups: eni.MustGroupSet(sgDB), Subnet: "subnet-0a"}
	both  = eni.Key{Groups: eni.MustGroupSet(sgWeb, sgDB), Subnet: "subnet-0a"}
)

func pod(i int) eni.PodRef {
	return eni.PodRef{Namespace: "default", Name: fmt.Sprintf("p%d", i), UID: fmt.Sprintf("uid-%d", i)}
}

func newPool(t *testing.T, limit int, pol eni.Policy) (*eni.Pool, *memBackend) {
	t.Helper()
	be := newMemBackend()
	p, err := eni.NewPool(be, eni.Options{Node: "i-0123456789abcdef0", Limit: limit, Policy: pol})
	require.NoError(t, err)
	return p, be
}

type counts struct{ Creating, InUse, Cooling, Warm, Deleting int }

func stateCounts(p *eni.Pool) counts {
	s := p.Stats()
	return counts{s.Creating, s.InUse, s.Cooling, s.Warm, s.Deleting}
}

func TestCreateReleaseCoolWarmReuse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		p, be := newPool(t, 3, eni.Policy{})

		// (none) → creating → in use.
		b1, err := p.Acquire(ctx, pod(1), web)
		require.NoError(t, err)
		require.Equal(t, 1, b1.ENI.VLANID)
		require.Equal(t, web, b1.Key())
		require.Equal(t, counts{InUse: 1}, stateCounts(p))
		require.Equal(t, 1, be.count("create"))

		// Acquire again: same ENI, no call.
		again, err := p.Acquire(ctx, pod(1), db)
		require.NoError(t, err)
		require.Equal(t, b1, again)
		require.Equal(t, 1, be.count("create"))

		// in use → cooling.
		require.True(t, p.Release(pod(1)))
		require.False(t, p.Release(pod(1)))
		require.Equal(t, counts{Cooling: 1}, stateCounts(p))

		// During the cool-down a pod of the same key gets a new ENI.
		b2, err := p.Acquire(ctx, pod(2), web)
		require.NoError(t, err)
		require.NotEqual(t, b1.ENI.ID, b2.ENI.ID)
		require.Equal(t, 2, b2.ENI.VLANID)
		require.Equal(t, 2, be.count("create"))

		// cooling → warm after the cool-down; warm → in use with no call.
		time.Sleep(eni.DefaultCoolDown)
		b3, err := p.Acquire(ctx, pod(3), web)
		require.NoError(t, err)
		require.Equal(t, b1, b3)
		require.Equal(t, 2, be.count("create"))
		st := p.Stats()
		require.Equal(t, uint64(1), st.WarmHits)
		require.Equal(t, counts{InUse: 2}, stateCounts(p))
	})
}

func TestNoCapacityThenCoolDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		p, _ := newPool(t, 2, eni.Policy{})
		for i := range 2 {
			_, err := p.Acquire(ctx, pod(i), web)
			require.NoError(t, err)
		}
		_, err := p.Acquire(ctx, pod(9), web)
		require.ErrorIs(t, err, eni.ErrNoCapacity)
		var ce *eni.CapacityError
		require.ErrorAs(t, err, &ce)
		require.Equal(t, 2, ce.Stats.InUse)

		p.Release(pod(0))
		_, err = p.Acquire(ctx, pod(9), web)
		require.ErrorIs(t, err, eni.ErrNoCapacity, "cooling ENIs are not reusable")
		require.ErrorAs(t, err, &ce)
		require.Equal(t, 1, ce.Stats.Cooling)
		require.False(t, ce.NextCooled.IsZero())
		require.Contains(t, err.Error(), "cools down")

		time.Sleep(eni.DefaultCoolDown)
		_, err = p.Acquire(ctx, pod(9), web)
		require.NoError(t, err)
	})
}

func TestNoWarmDeletesAfterCoolDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		p, be := newPool(t, 2, eni.OnDemandPolicy())
		_, err := p.Acquire(ctx, pod(1), web)
		require.NoError(t, err)
		p.Release(pod(1))

		next, err := p.Maintain(ctx)
		require.NoError(t, err)
		require.Equal(t, time.Now().Add(eni.DefaultCoolDown), next)
		require.Equal(t, 0, be.count("delete"), "no deletion during the cool-down")

		time.Sleep(eni.DefaultCoolDown)
		next, err = p.Maintain(ctx)
		require.NoError(t, err)
		require.True(t, next.IsZero())
		require.Equal(t, 1, be.count("delete"))
		require.Equal(t, counts{}, stateCounts(p))
		require.Equal(t, 0, be.live())
	})
}

func TestIdleTimeoutAndMaxWarm(t *testing.T) {
	tests := []struct {
		name      string
		policy    eni.Policy
		wait      time.Duration
		wantWarm  int
		wantCalls int
	}{
		{"idle keeps before timeout", eni.Policy{IdleTimeout: time.Minute}, 30 * time.Second, 3, 0},
		{"idle expires", eni.Policy{IdleTimeout: time.Minute}, time.Minute, 0, 3},
		{"never expires", eni.Policy{IdleTimeout: -1}, time.Hour, 3, 0},
		{"cap", eni.Policy{MaxWarm: 1}, 0, 1, 2},
		{"cap with target", eni.Policy{MaxWarm: 3, IdleTimeout: time.Minute, WarmTargets: []eni.WarmTarget{{Key: web, Count: 2}}}, time.Hour, 2, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := t.Context()
				p, be := newPool(t, 5, tt.policy)
				for i := range 3 {
					_, err := p.Acquire(ctx, pod(i), web)
					require.NoError(t, err)
				}
				for i := range 3 {
					p.Release(pod(i))
				}
				time.Sleep(eni.DefaultCoolDown)
				_, err := p.Maintain(ctx)
				require.NoError(t, err)
				time.Sleep(tt.wait)
				_, err = p.Maintain(ctx)
				require.NoError(t, err)
				require.Equal(t, tt.wantWarm, p.Stats().Warm)
				require.Equal(t, tt.wantCalls, be.count("delete"))
			})
		})
	}
}

// oneInUseOneWarm fills a two-slot pool with ENIs of key: pod 2 holds one,
// and the other, pod 1's, is warm after its cool-down; it returns the warm
// one. It must run in a synctest bubble.
func oneInUseOneWarm(t *testing.T, p *eni.Pool, key eni.Key) eni.Branch {
	t.Helper()
	ctx := t.Context()
	w, err := p.Acquire(ctx, pod(1), key)
	require.NoError(t, err)
	_, err = p.Acquire(ctx, pod(2), key)
	require.NoError(t, err)
	p.Release(pod(1))
	time.Sleep(eni.DefaultCoolDown)
	_, err = p.Maintain(ctx)
	require.NoError(t, err)
	require.Equal(t, counts{InUse: 1, Warm: 1}, stateCounts(p))
	return w
}

func TestRetargetAndEvict(t *testing.T) {
	tests := []struct {
		name     string
		retarget eni.RetargetPolicy
		from     eni.Key
		to       eni.Key
		want     map[string]int // backend calls
		same     bool           // the pod gets the warm ENI itself
	}{
		{"superset retargets", nil, web, both, map[string]int{"create": 2, "retarget": 1}, true},
		{"non-superset evicts", nil, web, db, map[string]int{"create": 3, "delete": 1}, false},
		{"always retargets", eni.AlwaysRetarget, web, db, map[string]int{"create": 2, "retarget": 1}, true},
		{"never evicts", eni.NeverRetarget, web, both, map[string]int{"create": 3, "delete": 1}, false},
		{"other subnet evicts", eni.AlwaysRetarget, web, eni.Key{Groups: web.Groups, Subnet: "subnet-0b"}, map[string]int{"create": 3, "delete": 1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := t.Context()
				p, be := newPool(t, 2, eni.Policy{Retarget: tt.retarget})
				w := oneInUseOneWarm(t, p, tt.from)

				got, err := p.Acquire(ctx, pod(3), tt.to)
				require.NoError(t, err)
				require.Equal(t, tt.to, got.Key())
				require.Equal(t, tt.same, got.ENI.ID == w.ENI.ID)
				require.Equal(t, counts{InUse: 2}, stateCounts(p))
				for _, m := range []string{"create", "delete", "retarget"} {
					require.Equal(t, tt.want[m], be.count(m), m)
				}
			})
		})
	}
}

func TestRetargetFailureDeletes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		p, be := newPool(t, 1, eni.Policy{})
		_, err := p.Acquire(ctx, pod(1), web)
		require.NoError(t, err)
		p.Release(pod(1))
		time.Sleep(eni.DefaultCoolDown)
		be.failOn["retarget"] = errors.New("boom")
		_, err = p.Acquire(ctx, pod(2), both)
		require.ErrorContains(t, err, "boom")
		require.Equal(t, counts{Deleting: 1}, stateCounts(p))
		_, err = p.Maintain(ctx)
		require.NoError(t, err)
		require.Equal(t, counts{}, stateCounts(p))
		_, err = p.Acquire(ctx, pod(2), both)
		require.NoError(t, err)
	})
}

func TestCreateFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		p, be := newPool(t, 2, eni.Policy{})
		be.failOn["create"] = errors.New("InvalidSecurityGroupID.NotFound")
		_, err := p.Acquire(ctx, pod(1), web)
		require.ErrorContains(t, err, "InvalidSecurityGroupID.NotFound")
		require.Equal(t, counts{}, stateCounts(p), "a failed creation frees its slot and VLAN")

		// In doubt: the VLAN stays held until the ENI is deleted.
		be.doubt = true
		be.failOn["create"] = errors.New("lost")
		_, err = p.Acquire(ctx, pod(1), web)
		var doubt *eni.InDoubtError
		require.ErrorAs(t, err, &doubt)
		require.Equal(t, counts{Deleting: 1}, stateCounts(p))
		b, err := p.Acquire(ctx, pod(2), web)
		require.NoError(t, err)
		require.Equal(t, 2, b.ENI.VLANID, "VLAN 1 is still held by the ENI in doubt")
		_, err = p.Maintain(ctx)
		require.NoError(t, err)
		require.Equal(t, counts{InUse: 1}, stateCounts(p))
		require.Equal(t, 1, be.live())
	})
}

func TestDeleteRetriesWithBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		p, be := newPool(t, 1, eni.OnDemandPolicy())
		_, err := p.Acquire(ctx, pod(1), web)
		require.NoError(t, err)
		p.Release(pod(1))
		time.Sleep(eni.DefaultCoolDown)
		be.failOn["delete"] = errors.New("RequestLimitExceeded")
		next, err := p.Maintain(ctx)
		require.ErrorContains(t, err, "RequestLimitExceeded")
		require.Equal(t, time.Now().Add(eni.DefaultBackoff(1)), next)
		require.Equal(t, counts{Deleting: 1}, stateCounts(p))
		_, err = p.Maintain(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, be.count("delete"), "not retried before the back-off")
		time.Sleep(time.Second)
		_, err = p.Maintain(ctx)
		require.NoError(t, err)
		require.Equal(t, counts{}, stateCounts(p))
	})
}

func TestReleaseWhileCreating(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		p, be := newPool(t, 2, eni.Policy{})
		be.block = make(chan struct{})
		errc := make(chan error, 2)
		go func() { _, err := p.Acquire(ctx, pod(1), web); errc <- err }()
		go func() { _, err := p.Acquire(ctx, pod(1), web); errc <- err }()
		synctest.Wait()
		require.Equal(t, counts{Creating: 1}, stateCounts(p), "one creation for two calls")
		require.True(t, p.Release(pod(1)))
		close(be.block)
		err1, err2 := <-errc, <-errc
		require.ErrorIs(t, errors.Join(err1, err2), eni.ErrPodReleased)
		require.ErrorContains(t, errors.Join(err1, err2), "pod "+pod(1).String()+" on node", "the error names the pod")
		require.Equal(t, counts{Cooling: 1}, stateCounts(p))
		require.Equal(t, 1, be.count("create"))
	})
}

func TestWarmTargets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		p, be := newPool(t, 4, eni.Policy{WarmTargets: []eni.WarmTarget{{Key: web, Count: 2}}})
		next, err := p.Maintain(ctx)
		require.NoError(t, err)
		require.True(t, next.IsZero(), "targets met")
		require.Equal(t, counts{Warm: 2}, stateCounts(p))
		_, err = p.Acquire(ctx, pod(1), web)
		require.NoError(t, err)
		require.Equal(t, 2, be.count("create"))
		require.Equal(t, uint64(1), p.Stats().WarmHits)
		_, err = p.Maintain(ctx)
		require.NoError(t, err)
		require.Equal(t, counts{InUse: 1, Warm: 2}, stateCounts(p))

		// A failing target creation backs off.
		_, err = p.Acquire(ctx, pod(2), web)
		require.NoError(t, err)
		be.failOn["create"] = errors.New("InsufficientFreeAddressesInSubnet")
		next, err = p.Maintain(ctx)
		require.ErrorContains(t, err, "InsufficientFreeAddressesInSubnet")
		require.Equal(t, time.Now().Add(time.Second), next)
	})
}

// reconcileFixture builds EC2 state with a first pool: four ENIs, two of
// them named by live pods, and a live pod whose ENI is gone.
func reconcileFixture(t *testing.T) (found []eni.Branch, held []eni.Branch, live []eni.LivePod, newP func() *eni.Pool) {
	p0, be := newPool(t, 5, eni.Policy{})
	for i := range 4 {
		b, err := p0.Acquire(t.Context(), pod(i), web)
		require.NoError(t, err)
		held = append(held, b)
	}
	live = []eni.LivePod{
		{Pod: pod(0), ENIID: held[0].ENI.ID},
		{Pod: pod(1), ENIID: held[1].ENI.ID},
		{Pod: pod(7), ENIID: "eni-0000dead"},
	}
	newP = func() *eni.Pool {
		p, err := eni.NewPool(be, eni.Options{Node: "n", Limit: 5})
		require.NoError(t, err)
		return p
	}
	return be.found(), held, live, newP
}

func TestReconcileComplete(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		found, held, live, newP := reconcileFixture(t)
		p := newP()
		res := p.Reconcile(eni.ReconcileInput{Found: found, Pods: live, Complete: true})
		require.Empty(t, cmp.Diff(eni.ReconcileResult{Adopted: 4, Claimed: 2, Released: 2, Missing: []eni.PodRef{pod(7)}}, res))
		require.Equal(t, counts{InUse: 2, Cooling: 2}, stateCounts(p))
		got, ok := p.Lookup(pod(1))
		require.True(t, ok)
		require.Equal(t, held[1].ENI.VLANID, got.ENI.VLANID, "live pods keep their VLAN")
		b, err := p.Acquire(t.Context(), pod(5), web)
		require.NoError(t, err)
		require.Equal(t, 5, b.ENI.VLANID, "new ENIs do not reuse a held VLAN")
	})
}

func TestReconcileIncompleteHolds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		found, _, live, newP := reconcileFixture(t)
		p := newP()
		res := p.Reconcile(eni.ReconcileInput{Found: found, Pods: live})
		require.Equal(t, 2, res.Held)
		require.Equal(t, counts{InUse: 4}, stateCounts(p))
		time.Sleep(time.Hour)
		_, err := p.Maintain(t.Context())
		require.NoError(t, err)
		require.Equal(t, counts{InUse: 4}, stateCounts(p), "nothing is deleted without a complete pod list")
		res = p.Reconcile(eni.ReconcileInput{Found: found, Pods: live, Complete: true})
		require.Equal(t, 2, res.Released)
		require.Equal(t, counts{InUse: 2, Cooling: 2}, stateCounts(p))
	})
}

func TestReconcileGone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		found, _, live, newP := reconcileFixture(t)
		p := newP()
		p.Reconcile(eni.ReconcileInput{Found: found, Pods: live, Complete: true})
		res := p.Reconcile(eni.ReconcileInput{Complete: true})
		require.Equal(t, 4, res.Gone)
		require.Equal(t, counts{}, stateCounts(p))
	})
}

// TestReconcileUnconfirmed adopts ENIs from a listing that may show ENIs
// deleted moments before: once cooled down, those no later listing
// confirmed are deleted, never kept warm; confirmed ones are kept warm.
func TestReconcileUnconfirmed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		found, held, live, newP := reconcileFixture(t)
		p := newP()
		res := p.Reconcile(eni.ReconcileInput{Found: found, Pods: live, Complete: true, Unconfirmed: true})
		require.Equal(t, 2, res.Released)
		require.True(t, p.Unconfirmed())
		var unconfirmed []string
		for _, e := range p.Entries() {
			if e.Unconfirmed {
				unconfirmed = append(unconfirmed, e.Branch.ENI.ID)
			}
		}
		require.ElementsMatch(t, []string{held[2].ENI.ID, held[3].ENI.ID}, unconfirmed, "only the ENIs no live pod names")
		require.Equal(t, 1, p.Confirm([]string{held[2].ENI.ID, held[0].ENI.ID, "eni-0000beef"}))
		time.Sleep(eni.DefaultCoolDown)
		_, err := p.Maintain(t.Context())
		require.NoError(t, err)
		require.Equal(t, counts{InUse: 2, Warm: 1}, stateCounts(p), "the unconfirmed ENI was deleted")
		require.False(t, p.Unconfirmed())
		b, err := p.Acquire(t.Context(), pod(5), web)
		require.NoError(t, err)
		require.Equal(t, held[2].ENI.ID, b.ENI.ID, "the confirmed one is reused")
	})
}

func TestReconcileClaimsCoolingENI(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		found, _, live, newP := reconcileFixture(t)
		p := newP()
		p.Reconcile(eni.ReconcileInput{Found: found, Complete: true})
		require.Equal(t, counts{Cooling: 4}, stateCounts(p))
		res := p.Reconcile(eni.ReconcileInput{Found: found, Pods: live[:1], Complete: true})
		require.Equal(t, 1, res.Claimed)
		require.Equal(t, counts{InUse: 1, Cooling: 3}, stateCounts(p))
	})
}

func TestReconcileConflicts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		found, held, live, newP := reconcileFixture(t)
		p := newP()
		dup := append([]eni.LivePod{{Pod: pod(8), ENIID: held[0].ENI.ID}}, live...)
		clash := append([]eni.Branch(nil), found...)
		other := held[2]
		other.ENI.ID = "eni-0000beef"
		clash = append(clash, other)
		res := p.Reconcile(eni.ReconcileInput{Found: clash, Pods: dup, Complete: true})
		require.Len(t, res.Conflicts, 2)
		require.Contains(t, res.Missing, pod(0))
		require.LessOrEqual(t, p.Stats().Total(), 5)
		// The clashing ENI, queued for deletion without a slot, is
		// listed once.
		var listed []eni.Entry
		for _, e := range p.Entries() {
			if e.Branch.ENI.ID == other.ENI.ID {
				listed = append(listed, e)
			}
		}
		require.Len(t, listed, 1, "Entries lists %s once", other.ENI.ID)
		require.Equal(t, eni.StateDeleting, listed[0].State)
	})
}

func TestDrain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		p, be := newPool(t, 4, eni.Policy{})
		for i := range 3 {
			_, err := p.Acquire(ctx, pod(i), web)
			require.NoError(t, err)
		}
		p.Release(pod(0))
		be.failOn["delete"] = errors.New("InternalError")
		require.NoError(t, p.Drain(ctx))
		require.Equal(t, counts{}, stateCounts(p))
		require.Equal(t, 0, be.live())
		_, err := p.Acquire(ctx, pod(5), web)
		require.ErrorIs(t, err, eni.ErrPoolClosed)
	})
}

func TestRunDeletesInBackground(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		p, be := newPool(t, 2, eni.OnDemandPolicy())
		done := make(chan error)
		go func() { done <- p.Run(ctx) }()
		_, err := p.Acquire(ctx, pod(1), web)
		require.NoError(t, err)
		p.Release(pod(1))
		time.Sleep(eni.DefaultCoolDown + time.Millisecond)
		synctest.Wait()
		require.Equal(t, 1, be.count("delete"))
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
	})
}

func TestNewPoolOptionErrors(t *testing.T) {
	tests := []struct {
		name    string
		backend eni.Backend
		opts    eni.Options
		want    string // the field and value the message names
	}{
		{"nil backend", nil, eni.Options{Node: "n", Limit: 3}, "the Backend is nil"},
		{"no node", newMemBackend(), eni.Options{Limit: 3}, `Options.Node = ""`},
		{"limit 0", newMemBackend(), eni.Options{Node: "n"}, "Options.Limit = 0: want the node's branch-ENI limit, 1 to 120"},
		{"limit 121", newMemBackend(), eni.Options{Node: "n", Limit: 121}, "Options.Limit = 121"},
		{"max warm", newMemBackend(), eni.Options{Node: "n", Limit: 3, Policy: eni.Policy{MaxWarm: -2}}, "Options.Policy.MaxWarm = -2"},
		{"target without groups", newMemBackend(), eni.Options{Node: "n", Limit: 3, Policy: eni.Policy{WarmTargets: []eni.WarmTarget{{Key: eni.Key{Subnet: "subnet-1"}, Count: 1}}}}, "Options.Policy.WarmTargets[0].Key.Groups"},
		{"target without subnet", newMemBackend(), eni.Options{Node: "n", Limit: 3, Policy: eni.Policy{WarmTargets: []eni.WarmTarget{{Key: eni.Key{Groups: web.Groups}, Count: 1}}}}, "Options.Policy.WarmTargets[0].Key.Subnet"},
		{"negative target", newMemBackend(), eni.Options{Node: "n", Limit: 3, Policy: eni.Policy{WarmTargets: []eni.WarmTarget{{Key: web, Count: -1}}}}, "Options.Policy.WarmTargets[0].Count = -1"},
		{"prewarm window", newMemBackend(), eni.Options{Node: "n", Limit: 3, Policy: eni.Policy{Prewarm: eni.PrewarmPolicy{Window: time.Second}}}, "Options.Policy.Prewarm.Window = 1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := eni.NewPool(tt.backend, tt.opts)
			require.Nil(t, p)
			require.ErrorIs(t, err, eni.ErrInvalidOptions)
			require.ErrorContains(t, err, tt.want)
		})
	}
	// Policy.Validate names the field from the Policy.
	err := eni.Policy{MaxWarm: -2}.Validate()
	require.ErrorIs(t, err, eni.ErrInvalidOptions)
	require.ErrorContains(t, err, "Policy.MaxWarm = -2")
	require.NotContains(t, err.Error(), "Options.")
}

// TestConcurrentInvariants hammers a pool from many goroutines and checks
// that slots never exceed the limit and no VLAN or ENI is held twice. The
// goroutines report through assert and t.Errorf: require's t.FailNow would
// stop only the goroutine it runs in.
func TestConcurrentInvariants(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		p, be := newPool(t, 6, eni.Policy{MaxWarm: 3, IdleTimeout: 2 * time.Minute})
		ran := make(chan error, 1)
		go func() { ran <- p.Run(ctx) }()
		keys := []eni.Key{web, db, both}
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				for i := range 40 {
					pr := pod(w*1000 + i)
					b, err := p.Acquire(ctx, pr, keys[(w+i)%3])
					if err != nil {
						if !errors.Is(err, eni.ErrNoCapacity) {
							t.Errorf("Acquire: %v, want ErrNoCapacity", err)
							return
						}
						time.Sleep(10 * time.Second)
						continue
					}
					assert.Equal(t, keys[(w+i)%3], b.Key())
					time.Sleep(time.Duration(5+i%7) * time.Second)
					p.Release(pr)
				}
			})
		}
		done := make(chan struct{})
		go func() {
			for {
				select {
				case <-done:
					return
				case <-time.After(time.Second):
				}
				es := p.Entries()
				assert.LessOrEqual(t, len(es), 6)
				vl := map[int]bool{}
				for _, e := range es {
					assert.False(t, vl[e.Branch.ENI.VLANID], "VLAN %d held twice", e.Branch.ENI.VLANID)
					vl[e.Branch.ENI.VLANID] = true
				}
			}
		}()
		wg.Wait()
		close(done)
		time.Sleep(eni.DefaultCoolDown + 3*time.Minute)
		synctest.Wait()
		require.Equal(t, 0, p.Stats().InUse)
		require.LessOrEqual(t, be.live(), 3)
		require.Equal(t, be.live(), p.Stats().Total())
		cancel()
		require.ErrorIs(t, <-ran, context.Canceled)
	})
}
