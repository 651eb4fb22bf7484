package trunk_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/eni"
	"github.com/podsg/podsg/fake"
	"github.com/podsg/podsg/trunk"
)

// TestRebuild measures a restart: a new Manager rebuilds nodes × 50 branch
// ENIs (every one held by a live pod) from the fake with EC2's throttling on
// and per-call latency, in virtual time. It uses 200 nodes by default;
// PODSG_REBUILD_NODES=2000 gives the published figure (the fake's listing
// cost grows with its size, so that run takes about a minute of wall time).
func TestRebuild(t *testing.T) {
	nodes, perNode := 200, 50
	if s := os.Getenv("PODSG_REBUILD_NODES"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err)
		nodes = n
	}
	synctest.Test(t, func(t *testing.T) {
		f := fake.New(func(o *fake.Options) { o.CallLogSize = -1 })
		const cluster = "big"
		var live []trunk.NodePods
		var vpc, subnet, sg string
		for i := range nodes {
			if i%1000 == 0 { // a /16 holds 1,000 nodes with 51 ENIs each
				vpc = f.AddVPC(fmt.Sprintf("10.%d.0.0/16", i/1000))
				subnet = f.AddSubnet(vpc, fmt.Sprintf("10.%d.0.0/16", i/1000), "")
				sg = f.AddSecurityGroup(vpc, "pods")
			}
			n := f.AddNode("m5.4xlarge", subnet, sg)
			tr := f.AddTrunk(n.InstanceID, 7)
			np := trunk.NodePods{InstanceID: n.InstanceID, Complete: true}
			for v := 1; v <= perNode; v++ {
				id, _ := f.AddBranch(tr, int32(v), sg)
				f.Tag(id, trunk.TagVLANID, strconv.Itoa(v), trunk.TagTrunkENIID, tr, trunk.TagInstanceID, n.InstanceID,
					trunk.TagOwner, trunk.DefaultOwner, trunk.ClusterTagPrefix+cluster, "owned")
				np.Pods = append(np.Pods, eni.LivePod{Pod: eni.PodRef{Namespace: "ns", Name: fmt.Sprintf("p-%d-%d", i, v), UID: fmt.Sprintf("%d-%d", i, v)}, ENIID: id})
			}
			live = append(live, np)
		}
		f.SetLatency("", fake.Latency{Base: 50 * time.Millisecond, Jitter: 50 * time.Millisecond})
		f.SetLatency("DescribeNetworkInterfaces", fake.Latency{Base: 300 * time.Millisecond, Jitter: 200 * time.Millisecond})
		f.SetLatency("DescribeInstances", fake.Latency{Base: 300 * time.Millisecond, Jitter: 200 * time.Millisecond})

		m, err := trunk.New(f, trunk.Options{ClusterName: cluster})
		require.NoError(t, err)
		start := time.Now()
		res, err := m.ReconcileAll(context.Background(), live)
		elapsed := time.Since(start)
		require.NoError(t, err)
		require.Len(t, res, nodes)
		for id, r := range res {
			require.Equal(t, perNode, r.Claimed, id)
			require.Empty(t, r.Missing, id)
		}
		mt := m.Metrics()
		require.Equal(t, nodes*perNode, mt.Pools.InUse)
		fmt.Printf("rebuild nodes=%d enis=%d virtual_s=%.1f calls=%d throttled=%d\n", nodes, nodes*perNode, elapsed.Seconds(), mt.TotalCalls(), mt.Throttles)
		m.Close()
	})
}
