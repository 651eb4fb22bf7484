package trunk_test

import (
	"fmt"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/eni"
	"github.com/podsg/podsg/fake"
	"github.com/podsg/podsg/trunk"
)

// seedBranches builds nodes m5.large instances, each with a trunk and perNode
// tagged branch ENIs, and returns the nodes with live pods naming every ENI.
func seedBranches(t *testing.T, f *fake.EC2, cluster string, nodes, perNode int) (sg string, out []trunk.NodePods) {
	t.Helper()
	vpc := f.AddVPC("10.0.0.0/16")
	subnet := f.AddSubnet(vpc, "10.0.0.0/16", "")
	sg = f.AddSecurityGroup(vpc, "pods")
	for i := range nodes {
		n := f.AddNode("m5.large", subnet)
		trunkID := f.AddTrunk(n.InstanceID, 2)
		np := trunk.NodePods{InstanceID: n.InstanceID, Complete: true}
		for v := 1; v <= perNode; v++ {
			id, _ := f.AddBranch(trunkID, int32(v), sg)
			f.Tag(id,
				trunk.TagVLANID, strconv.Itoa(v),
				trunk.TagTrunkENIID, trunkID,
				trunk.TagInstanceID, n.InstanceID,
				trunk.TagOwner, trunk.DefaultOwner,
				trunk.ClusterTagPrefix+cluster, "owned")
			name := fmt.Sprintf("p-%d-%d", i, v)
			np.Pods = append(np.Pods, eni.LivePod{Pod: eni.PodRef{Namespace: "default", Name: name, UID: name}, ENIID: id})
		}
		out = append(out, np)
	}
	return sg, out
}

// TestReconcileAllFilterValueLimit rebuilds 450 nodes: the listing of their
// branch ENIs must respect EC2's limit of 200 filter values per call, which
// counts the cluster tag's value beside the instance IDs.
func TestReconcileAllFilterValueLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := fake.New()
		_, nodes := seedBranches(t, f, "c1", 450, 1)
		m, err := trunk.New(f, trunk.Options{ClusterName: "c1"})
		require.NoError(t, err)
		res, err := m.ReconcileAll(t.Context(), nodes)
		require.NoError(t, err)
		require.Len(t, res, len(nodes))
		for id, r := range res {
			require.NoError(t, r.Err, "node %s", id)
			require.Equal(t, 1, r.Claimed, "node %s", id)
		}
	})
}

// sleepPast lets d and a minute more pass in the bubble, then waits for the
// bubble to settle.
func sleepPast(d time.Duration) {
	time.Sleep(d + time.Minute)
	synctest.Wait()
}
