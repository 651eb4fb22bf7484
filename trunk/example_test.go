package trunk_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/podsg/podsg/api/podeni"
	"github.com/podsg/podsg/eni"
	"github.com/podsg/podsg/fake"
	"github.com/podsg/podsg/trunk"
)

func ExampleManager() {
	ctx := context.Background()
	f := fake.New(fake.Options{DisableThrottling: true})
	tut, err := fake.SeedTutorial(ctx, f)
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := trunk.New(f, trunk.Options{ClusterName: tut.ClusterName})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	node := tut.Nodes[0].InstanceID
	groups := eni.MustGroupSet(tut.PodSecurityGroupID)
	for i := range 10 {
		pod := eni.PodRef{Namespace: "default", Name: fmt.Sprintf("web-%d", i), UID: fmt.Sprint(i)}
		res, err := m.Acquire(ctx, node, pod, groups)
		if errors.Is(err, eni.ErrNoCapacity) {
			fmt.Println(pod, "pending: the node's 9 branch ENIs are taken")
			continue
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		b, _ := podeni.Parse(res.Annotation)
		fmt.Println(pod, "vlan", b[0].VLANID)
	}
	mt := m.Metrics()
	fmt.Println("in use:", mt.Pools.InUse, "CreateNetworkInterface calls (trunk + 9 branches):", mt.CallCount("CreateNetworkInterface", trunk.OutcomeOK))
	// Output:
	// default/web-0 vlan 1
	// default/web-1 vlan 2
	// default/web-2 vlan 3
	// default/web-3 vlan 4
	// default/web-4 vlan 5
	// default/web-5 vlan 6
	// default/web-6 vlan 7
	// default/web-7 vlan 8
	// default/web-8 vlan 9
	// default/web-9 pending: the node's 9 branch ENIs are taken
	// in use: 9 CreateNetworkInterface calls (trunk + 9 branches): 10
}

// ExampleManager_ReconcileAll rebuilds the state of three nodes after a
// restart: a healthy node whose pod still runs, a t3 node (which cannot
// trunk) and an instance EC2 no longer knows. The healthy node is served;
// the others are reported.
func ExampleManager_ReconcileAll() {
	ctx := context.Background()
	f := fake.New(fake.Options{DisableThrottling: true})
	tut, err := fake.SeedTutorial(ctx, f)
	if err != nil {
		fmt.Println(err)
		return
	}
	groups := eni.MustGroupSet(tut.PodSecurityGroupID)
	healthy := tut.Nodes[0].InstanceID
	web := eni.PodRef{Namespace: "default", Name: "web", UID: "1"}

	// The previous controller gave the pod its ENI, then crashed.
	before, err := trunk.New(f, trunk.Options{ClusterName: tut.ClusterName})
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := before.Acquire(ctx, healthy, web, groups)
	if err != nil {
		fmt.Println(err)
		return
	}
	before.Close()

	small := f.AddNode("t3.large", tut.SubnetIDs[0], tut.ClusterSecurityGroupID)
	m, err := trunk.New(f, trunk.Options{ClusterName: tut.ClusterName})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	results, err := m.ReconcileAll(ctx, []trunk.NodePods{
		{InstanceID: healthy, Complete: true, Pods: []eni.LivePod{{Pod: web, ENIID: res.Branch.ENI.ID}}},
		{InstanceID: small.InstanceID, Complete: true},
		{InstanceID: "i-0123456789abcdef0", Complete: true},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	r := results[healthy]
	fmt.Println("healthy node: err", r.Err, "claimed", r.Claimed)
	fmt.Println("t3 node cannot trunk:", errors.Is(results[small.InstanceID].Err, trunk.ErrTrunkingUnsupported))
	fmt.Println("unknown instance:", errors.Is(results["i-0123456789abcdef0"].Err, trunk.ErrUnknownNode))
	fmt.Println("nodes served:", len(m.Nodes()))
	// Output:
	// healthy node: err <nil> claimed 1
	// t3 node cannot trunk: true
	// unknown instance: true
	// nodes served: 1
}
