package trunk_test

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/eni"
	"github.com/podsg/podsg/fake"
	"github.com/podsg/podsg/trunk"
)

// scaleNodes and scaleENIsPerNode size TestScale: one Manager serving 2,000
// nodes with 50 branch ENIs each (c5.12xlarge, 54 branches), every ENI held
// by a running pod. With -short, 200 nodes.
const (
	scaleNodes        = 2000
	scaleShortNodes   = 200
	scaleENIsPerNode  = 50
	scaleInstanceType = "c5.12xlarge"
	scaleNodesPerVPC  = 1000 // 52,000 addresses in a /16 subnet
)

// TestScale restarts a Manager over 2,000 nodes × 50 branch ENIs against the
// fake, with EC2's throttling, the latencies of ec2Latencies and EC2's
// eventual consistency (which a rebuild of ENIs that all predate it, each
// named by its pod, does not meet), and prints:
//
//	scale nodes=2000 enis=100000 heap_per_node_bytes=… goroutines=… rebuild_virtual_s=… calls=… throttled=…
//
// heap_per_node_bytes is the live heap the Manager holds per node once it
// has rebuilt every pool (the pods' names, which the caller owns, excluded);
// goroutines is how many the Manager runs while serving all nodes (its
// Run loop and workers: bounded by Options.Workers, not by nodes or pods);
// rebuild_virtual_s is the virtual time ReconcileAll took; calls counts
// every EC2 call it made. The test checks that every ENI went back to its
// pod, on its VLAN, and that nothing was deleted.
func TestScale(t *testing.T) {
	nodes := scaleNodes
	if testing.Short() {
		nodes = scaleShortNodes
	}
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		f := fake.New(fake.Options{CallLogSize: -1, Consistency: fake.EventualConsistency()})
		const cluster = "scale"
		want, pods := seedScale(t, f, cluster, nodes)
		setLatencies(f)
		f.ResetCalls()

		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		g0 := runtime.NumGoroutine()

		m, err := trunk.New(f, trunk.Options{ClusterName: cluster})
		require.NoError(t, err)
		start := time.Now()
		res, err := m.ReconcileAll(ctx, pods)
		rebuild := time.Since(start)
		require.NoError(t, err)
		require.Len(t, res, nodes)
		for id, r := range res {
			require.NoError(t, r.Err, "node %s", id)
			require.Equal(t, scaleENIsPerNode, r.Claimed, "node %s", id)
			require.Empty(t, r.Missing, "node %s", id)
			require.Empty(t, r.Conflicts, "node %s", id)
		}

		runCtx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { _ = m.Run(runCtx) })
		synctest.Wait()
		goroutines := runtime.NumGoroutine() - g0
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)

		met := m.Metrics()
		require.Equal(t, nodes, met.Nodes)
		require.Equal(t, nodes*scaleENIsPerNode, met.Pools.InUse)
		require.Zero(t, met.Pools.Cooling+met.Pools.Deleting, "every ENI has its pod")
		for _, np := range pods[:min(len(pods), 20)] {
			p, ok := m.Pool(np.InstanceID)
			require.True(t, ok)
			for _, lp := range np.Pods {
				b, ok := p.Lookup(lp.Pod)
				require.True(t, ok, "pod %s", lp.Pod)
				require.Equal(t, want[lp.ENIID], b.ENI.VLANID, "ENI %s keeps its VLAN", lp.ENIID)
			}
		}
		require.Less(t, goroutines, 4*16, "goroutines must be bounded by the workers, not by nodes")
		calls, throttled := totals(f)
		require.Zero(t, f.Count(fake.ActionDeleteNetworkInterface).Calls, "a rebuild with every pod listed deletes nothing")

		cancel()
		wg.Wait()
		runtime.KeepAlive(f)
		t.Logf("rebuild took %d DescribeNetworkInterfaces, %d DescribeInstances and %d DescribeSubnets calls",
			f.Count(fake.ActionDescribeNetworkInterfaces).Calls, f.Count(fake.ActionDescribeInstances).Calls, f.Count(fake.ActionDescribeSubnets).Calls)
		fmt.Printf("scale nodes=%d enis=%d heap_per_node_bytes=%d goroutines=%d rebuild_virtual_s=%.1f calls=%d throttled=%d\n",
			nodes, nodes*scaleENIsPerNode, heap/int64(nodes), goroutines, rebuild.Seconds(), calls, throttled)
	})
}

// seedScale builds nodes c5.12xlarge instances with a trunk and
// scaleENIsPerNode tagged branch ENIs each, and returns the VLAN of every ENI
// and the live pods of every node (each pod naming its ENI).
func seedScale(t *testing.T, f *fake.EC2, cluster string, nodes int) (map[string]int, []trunk.NodePods) {
	t.Helper()
	vlans := make(map[string]int, nodes*scaleENIsPerNode)
	out := make([]trunk.NodePods, 0, nodes)
	var subnet, sg string
	for i := range nodes {
		if i%scaleNodesPerVPC == 0 {
			cidr := fmt.Sprintf("10.%d.0.0/16", i/scaleNodesPerVPC)
			vpc := f.AddVPC(cidr)
			subnet = f.AddSubnet(vpc, cidr, "")
			sg = f.AddSecurityGroup(vpc, "pods")
		}
		n := f.AddNode(scaleInstanceType, subnet)
		trunkID := f.AddTrunk(n.InstanceID, 7)
		np := trunk.NodePods{InstanceID: n.InstanceID, Complete: true}
		for v := 1; v <= scaleENIsPerNode; v++ {
			id, _ := f.AddBranch(trunkID, int32(v), sg)
			f.Tag(id,
				trunk.TagVLANID, strconv.Itoa(v),
				trunk.TagTrunkENIID, trunkID,
				trunk.TagInstanceID, n.InstanceID,
				trunk.TagOwner, trunk.DefaultOwner,
				trunk.ClusterTagPrefix+cluster, "owned")
			vlans[id] = v
			name := fmt.Sprintf("p-%d-%d", i, v)
			np.Pods = append(np.Pods, eni.LivePod{Pod: eni.PodRef{Namespace: "default", Name: name, UID: name}, ENIID: id})
		}
		out = append(out, np)
	}
	return vlans, out
}

// totals returns every EC2 call the fake answered or refused, and the
// throttled ones among them.
func totals(f *fake.EC2) (calls, throttled int) {
	for _, c := range f.AllCounts() {
		calls += c.Calls
		throttled += c.Throttled
	}
	return calls, throttled
}
