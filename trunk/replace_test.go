package trunk_test

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/eni"
	"github.com/podsg/podsg/fake"
	"github.com/podsg/podsg/trunk"
)

// TestEvictionOverlaps fills a node with warm ENIs of one group set and asks
// for a pod of another: the Manager takes a warm ENI off the trunk
// (DisassociateTrunkInterface, while the pod waits) at the same time as it
// creates the pod's ENI, associates the new ENI on the VLAN the warm one
// held, and deletes the warm one afterwards without disassociating it again.
func TestEvictionOverlaps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		f, tut := seedTutorial(t)
		f.SetConsistency(fake.EventualConsistency())
		setLatencies(f)
		m, err := trunk.New(f, trunk.Options{ClusterName: tut.ClusterName, GCInterval: -1, Policy: noPrewarm})
		require.NoError(t, err)
		defer run(t, m)()
		node := tut.Nodes[0].InstanceID
		info, err := m.EnsureNode(ctx, node)
		require.NoError(t, err)
		web := eni.MustGroupSet(tut.PodSecurityGroupID)
		vlans := map[int]string{}
		for i := range info.BranchLimit {
			res, err := m.Acquire(ctx, node, pod(i), web)
			require.NoError(t, err)
			vlans[res.Branch.ENI.VLANID] = res.Branch.ENI.ID
		}
		for i := range info.BranchLimit {
			require.True(t, m.Release(node, pod(i)))
		}
		time.Sleep(eni.DefaultCoolDown + time.Second)
		synctest.Wait()
		pool, ok := m.Pool(node)
		require.True(t, ok)
		require.Equal(t, info.BranchLimit, pool.Stats().Warm)

		other := eni.MustGroupSet(f.AddSecurityGroup(tut.VPCID, "other"))
		res, err := m.Acquire(ctx, node, pod(100), other)
		require.NoError(t, err)
		require.Zero(t, f.Count(fake.ActionDeleteNetworkInterface).Calls, "the pod does not wait for the warm ENI's deletion")
		old, ok := vlans[res.Branch.ENI.VLANID]
		require.True(t, ok, "the new ENI took a warm ENI's VLAN")
		require.NotEqual(t, old, res.Branch.ENI.ID)

		dis := f.CallsOf(fake.ActionDisassociateTrunkInterface)
		require.Len(t, dis, 1, "the warm ENI was taken off the trunk")
		create := f.CallsOf(fake.ActionCreateNetworkInterface)
		last := create[len(create)-1]
		require.True(t, dis[0].Time.Before(last.Time.Add(last.Elapsed)), "taken off while the new ENI was being created")

		time.Sleep(10 * time.Second)
		synctest.Wait()
		enis := branchENIsSettled(t, f, func(id string) bool { return id != old })
		require.NotContains(t, enis, old, "the evicted ENI is deleted")
		require.Len(t, f.CallsOf(fake.ActionDisassociateTrunkInterface), 1, "and not disassociated again")
		require.Len(t, enis, info.BranchLimit, "the other warm ENIs and the pod's")
		ni := enis[res.Branch.ENI.ID]
		require.Len(t, ni.Groups, 1)
		require.Equal(t, other.IDs()[0], aws.ToString(ni.Groups[0].GroupId))
		require.Equal(t, fmt.Sprint(res.Branch.ENI.VLANID), tagOf(ni.TagSet, trunk.TagVLANID))
	})
}
