package trunk_test

import (
	"context"
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

// Scenarios of EC2's eventual consistency (fake.Consistency): an ID EC2
// has just handed out is unknown to the calls that follow for a moment,
// associations and deletions show in listings only after a while. The
// Manager must do what EC2 asks of its clients: retry NotFound on the IDs
// it was just given, and never conclude from one listing that an ENI is
// gone.

// ids returns the keys of a map of ENIs, sorted.
func ids[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// TestFreshBranchAssociated gives a pod a new ENI while EC2 takes 3 s to
// know a new ENI: AssociateTrunkInterface answers NotFound for it at first,
// the Manager asks again, and the pod gets its ENI. Nothing is left behind.
func TestFreshBranchAssociated(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, tut := seedTutorial(t)
		m, err := trunk.New(f, trunk.Options{ClusterName: tut.ClusterName, GCInterval: -1, Policy: noPrewarm})
		require.NoError(t, err)
		node := tut.Nodes[0].InstanceID
		_, err = m.EnsureNode(t.Context(), node)
		require.NoError(t, err)
		f.SetConsistency(fake.Consistency{Create: fake.Fixed(3 * time.Second)})

		res, err := m.Acquire(t.Context(), node, pod(1), eni.MustGroupSet(tut.PodSecurityGroupID))
		require.NoError(t, err)
		assoc := f.Count(fake.ActionAssociateTrunkInterface)
		require.Positive(t, assoc.Errors, "the association met the ENI before EC2 knew it")
		require.Equal(t, 1, assoc.OK)
		require.Equal(t, uint64(assoc.Errors), m.Metrics().NotFoundRetries, "every NotFound was retried, and counted")
		time.Sleep(10 * time.Second)
		require.Equal(t, []string{res.Branch.ENI.ID}, ids(branchENIs(t, f)), "one ENI, the pod's")
	})
}

// TestRollbackDeletesFreshENI refuses the association of a pod's new ENI
// while EC2 does not know that ENI yet: deleting it answers NotFound, which
// for an ID this fresh means "not yet", not "gone". The Manager deletes it
// once EC2 knows it; no ENI is left behind for garbage collection.
func TestRollbackDeletesFreshENI(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, tut := seedTutorial(t)
		m, err := trunk.New(f, trunk.Options{ClusterName: tut.ClusterName, GCInterval: -1, Policy: noPrewarm})
		require.NoError(t, err)
		node := tut.Nodes[0].InstanceID
		_, err = m.EnsureNode(t.Context(), node)
		require.NoError(t, err)
		f.SetConsistency(fake.Consistency{Create: fake.Fixed(3 * time.Second)})
		f.InjectFault(fake.Fault{Action: fake.ActionAssociateTrunkInterface, Code: fake.CodeUnauthorizedOperation, OnCall: 1})

		_, err = m.Acquire(t.Context(), node, pod(1), eni.MustGroupSet(tut.PodSecurityGroupID))
		require.Equal(t, fake.CodeUnauthorizedOperation, trunk.ErrorCode(err))
		require.ErrorContains(t, err, "the ENI was deleted")
		require.Equal(t, 1, f.Count(fake.ActionDeleteNetworkInterface).OK, "deleted once EC2 knew it")
		time.Sleep(10 * time.Second)
		require.Empty(t, ids(branchENIs(t, f)), "no ENI leaked")
		p, _ := m.Pool(node)
		require.Zero(t, p.Stats().Total(), "no VLAN held")
	})
}

// TestRemoveNodeRightAfterAcquire removes a node moments after its pods got
// their ENIs, while EC2 does not know their associations yet (10 s):
// DisassociateTrunkInterface answers NotFound for an association EC2
// handed out moments before, and neither the association nor its ENI is
// taken for gone. RemoveNode succeeds at once and every ENI is deleted.
func TestRemoveNodeRightAfterAcquire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, tut := seedTutorial(t)
		m, err := trunk.New(f, trunk.Options{ClusterName: tut.ClusterName, GCInterval: -1, Policy: noPrewarm})
		require.NoError(t, err)
		node := tut.Nodes[0].InstanceID
		_, err = m.EnsureNode(t.Context(), node)
		require.NoError(t, err)
		f.SetConsistency(fake.Consistency{Associate: fake.Fixed(10 * time.Second)})
		for i := range 3 {
			_, err := m.Acquire(t.Context(), node, pod(i), eni.MustGroupSet(tut.PodSecurityGroupID))
			require.NoError(t, err)
		}
		m.Release(node, pod(0))

		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		require.NoError(t, m.RemoveNode(ctx, node))
		require.Equal(t, 3, f.Count(fake.ActionDisassociateTrunkInterface).OK)
		require.Equal(t, 3, f.Count(fake.ActionDeleteNetworkInterface).OK)
		require.Zero(t, f.Count(fake.ActionDeleteNetworkInterface).Errors, "no ENI deleted while still associated")
		require.Zero(t, m.Metrics().Pools.Failures)
		require.Empty(t, ids(branchENIs(t, f)))
	})
}
