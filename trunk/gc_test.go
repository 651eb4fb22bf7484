package trunk_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/eni"
	"github.com/podsg/podsg/trunk"
)

func TestCollectGarbageTwoPasses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		f, tut := seedTutorial(t)
		m, err := trunk.New(f, trunk.Options{ClusterName: tut.ClusterName})
		require.NoError(t, err)
		node := tut.Nodes[0].InstanceID
		_, err = m.Acquire(ctx, node, pod(1), eni.MustGroupSet(tut.PodSecurityGroupID))
		require.NoError(t, err)

		leaked := f.AddENI(tut.SubnetIDs[0], trunk.BranchDescription, tut.PodSecurityGroupID)
		f.Tag(leaked, trunk.ClusterTagPrefix+tut.ClusterName, "owned", trunk.TagOwner, trunk.DefaultOwner)
		foreign := f.AddENI(tut.SubnetIDs[0], trunk.BranchDescription, tut.PodSecurityGroupID)
		f.Tag(foreign, trunk.ClusterTagPrefix+"other", "owned", trunk.TagOwner, trunk.DefaultOwner)

		res, err := m.CollectGarbage(ctx)
		require.NoError(t, err)
		require.Equal(t, trunk.GCResult{Available: 1}, res, "first sighting: kept")
		require.Contains(t, branchENIs(t, f), leaked)

		res, err = m.CollectGarbage(ctx)
		require.NoError(t, err)
		require.Equal(t, trunk.GCResult{Available: 1, Deleted: 1}, res)
		all := branchENIs(t, f)
		require.NotContains(t, all, leaked)
		require.Contains(t, all, foreign, "other clusters' ENIs are not touched")
		require.Len(t, all, 2, "the pod's ENI and the foreign one")
	})
}

func TestBudgetPriorities(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, err := trunk.NewBudget(trunk.BudgetOptions{
			Actions:  map[string]trunk.Rate{"DeleteNetworkInterface": {Burst: 4, PerSecond: 1}, "CreateNetworkInterface": {Burst: 4, PerSecond: 1}},
			Headroom: -1, Reserve: 0.5,
		})
		require.NoError(t, err)
		ctx := t.Context()
		// Background calls stop at the reserve (2 of 4 tokens).
		for range 2 {
			require.NoError(t, b.Wait(ctx, "DeleteNetworkInterface", trunk.PriorityBackground))
		}
		var mu sync.Mutex
		var order []string
		var wg sync.WaitGroup
		wg.Go(func() {
			if err := b.Wait(ctx, "DeleteNetworkInterface", trunk.PriorityBackground); err != nil {
				t.Error(err)
			}
			mu.Lock()
			order = append(order, "background")
			mu.Unlock()
		})
		synctest.Wait()
		for range 4 {
			wg.Go(func() {
				if err := b.Wait(ctx, "DeleteNetworkInterface", trunk.PriorityPodStart); err != nil {
					t.Error(err)
				}
				mu.Lock()
				order = append(order, "pod-start")
				mu.Unlock()
			})
		}
		wg.Wait()
		require.Equal(t, []string{"pod-start", "pod-start", "pod-start", "pod-start", "background"}, order)
		require.Equal(t, trunk.Rate{Burst: 4, PerSecond: 1}, b.Rate("CreateNetworkInterface"))

		// Defaults: EC2's buckets with 10 % headroom.
		d, err := trunk.NewBudget(trunk.DefaultBudget())
		require.NoError(t, err)
		require.Equal(t, trunk.Rate{Burst: 90, PerSecond: 4.5}, d.Rate("CreateNetworkInterface"))
		require.Equal(t, trunk.Rate{Burst: 45, PerSecond: 4.5}, d.Rate("AssociateTrunkInterface"))
		require.Equal(t, trunk.Rate{Burst: 90, PerSecond: 18}, d.Rate("DescribeNetworkInterfaces"))
		c, err := trunk.NewBudget(trunk.ClientLimiterBudget(12, 18))
		require.NoError(t, err)
		require.Equal(t, trunk.Rate{Burst: 18, PerSecond: 12}, c.Rate("CreateNetworkInterface"))

		_, err = trunk.NewBudget(trunk.BudgetOptions{Headroom: 1.5})
		require.ErrorContains(t, err, "Headroom")
	})
}

func TestContextCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, tut := seedTutorial(t)
		m, err := trunk.New(f, trunk.Options{ClusterName: tut.ClusterName})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err = m.Acquire(ctx, tut.Nodes[0].InstanceID, pod(1), eni.MustGroupSet(tut.PodSecurityGroupID))
		require.ErrorIs(t, err, context.Canceled)
		m.Close()
		_, err = m.Acquire(t.Context(), tut.Nodes[0].InstanceID, pod(1), eni.MustGroupSet(tut.PodSecurityGroupID))
		require.ErrorIs(t, err, trunk.ErrClosed)
		_, err = trunk.New(f, trunk.Options{})
		require.ErrorContains(t, err, "ClusterName")
	})
}

func TestRemoveNodeReleasesEverything(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		f, tut := seedTutorial(t)
		m, err := trunk.New(f, trunk.Options{ClusterName: tut.ClusterName})
		require.NoError(t, err)
		for i := range 3 {
			_, err := m.Acquire(ctx, tut.Nodes[i%2].InstanceID, pod(i), eni.MustGroupSet(tut.PodSecurityGroupID))
			require.NoError(t, err)
		}
		m.Release(tut.Nodes[0].InstanceID, pod(0))
		require.NoError(t, m.RemoveNode(ctx, tut.Nodes[0].InstanceID))
		require.Len(t, branchENIs(t, f), 1, "only the other node's ENI is left")
		_, ok := m.Pool(tut.Nodes[0].InstanceID)
		require.False(t, ok)
		require.Len(t, m.Nodes(), 1)
	})
}

// TestBudgetSameInstant asks a budget with one token above its reserve for
// a background call and a pod start at the same virtual instant, started in
// either order: the pod start takes the token at once, whichever goroutine
// ran first, and the background call waits for the refill. Waits are exact
// to the nanosecond (the budget counts in integer units).
func TestBudgetSameInstant(t *testing.T) {
	for _, podFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("pod start asked first: %v", podFirst), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b, err := trunk.NewBudget(trunk.BudgetOptions{
					Actions:  map[string]trunk.Rate{"AssociateTrunkInterface": {Burst: 3, PerSecond: 3}},
					Headroom: -1, Reserve: -1,
				})
				require.NoError(t, err)
				ctx := t.Context()
				for range 2 {
					require.NoError(t, b.Wait(ctx, "AssociateTrunkInterface", trunk.PriorityPodStart))
				}
				start := time.Now()
				waited := map[trunk.Priority]time.Duration{}
				var mu sync.Mutex
				var wg sync.WaitGroup
				ask := func(p trunk.Priority) {
					wg.Go(func() {
						if err := b.Wait(ctx, "AssociateTrunkInterface", p); err != nil {
							t.Error(err)
						}
						mu.Lock()
						waited[p] = time.Since(start)
						mu.Unlock()
					})
				}
				if podFirst {
					ask(trunk.PriorityPodStart)
					ask(trunk.PriorityBackground)
				} else {
					ask(trunk.PriorityBackground)
					ask(trunk.PriorityPodStart)
				}
				wg.Wait()
				require.Equal(t, map[trunk.Priority]time.Duration{
					trunk.PriorityPodStart: 0,
					// A third of a second for the refill, rounded up to the
					// nanosecond, counted from its nanosecond of yield.
					trunk.PriorityBackground: time.Second/3 + time.Nanosecond,
				}, waited)
			})
		})
	}
}
