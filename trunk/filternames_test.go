package trunk_test

import (
	"maps"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/eni"
	"github.com/podsg/podsg/fake"
	"github.com/podsg/podsg/trunk"
)

// TestAdoptedENIsDeletedThroughDocumentedFilters restarts over a node whose
// pods have all ended: the ENIs adopted from EC2 cool down and are deleted,
// using only filter names EC2 accepts.
func TestAdoptedENIsDeletedThroughDocumentedFilters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := fake.New()
		_, nodes := seedBranches(t, f, "c1", 2, 3)
		for i := range nodes {
			nodes[i].Pods = nil // every pod ended while no controller ran
		}
		m, err := trunk.New(f, trunk.Options{ClusterName: "c1", Policy: eni.OnDemandPolicy()})
		require.NoError(t, err)
		res, err := m.ReconcileAll(t.Context(), nodes)
		require.NoError(t, err)
		for id, r := range res {
			require.NoError(t, r.Err, "node %s", id)
			require.Equal(t, 3, r.Released, "node %s", id)
		}
		defer run(t, m)()
		synctest.Wait()
		sleepPast(eni.DefaultCoolDown)
		require.Empty(t, slices.Collect(maps.Keys(branchENIs(t, f))), "every adopted ENI deleted after its cool-down")
		require.Zero(t, m.Metrics().Pools.Failures)
	})
}

// TestRollbackFindsTheAssociation loses every answer to
// AssociateTrunkInterface: the association happened but the Manager cannot
// know its ID, so the rollback looks it up on the trunk (with a filter name
// EC2 accepts), disassociates and deletes the ENI. EC2 lists the
// association only after 5 s: until then the rollback's deletion is refused
// (the ENI is in use) and it looks again.
func TestRollbackFindsTheAssociation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, tut := seedTutorial(t)
		m, err := trunk.New(f, trunk.Options{ClusterName: tut.ClusterName, MaxAttempts: 1, Policy: noPrewarm})
		require.NoError(t, err)
		node := tut.Nodes[0].InstanceID
		_, err = m.EnsureNode(t.Context(), node)
		require.NoError(t, err)
		f.SetConsistency(fake.Consistency{Associate: fake.Fixed(5 * time.Second)})
		f.InjectFault(fake.Fault{Action: fake.ActionAssociateTrunkInterface, Lost: true, OnCall: 1})
		_, err = m.Acquire(t.Context(), node, pod(1), eni.MustGroupSet(tut.PodSecurityGroupID))
		require.ErrorIs(t, err, fake.ErrLostResponse)
		require.ErrorContains(t, err, "the ENI was deleted")
		require.Empty(t, branchENIs(t, f))
		p, _ := m.Pool(node)
		require.Zero(t, p.Stats().Total(), "no VLAN held")
	})
}
