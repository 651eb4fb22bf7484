package trunk_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/podsg/podsg/api/podeni"
	"github.com/podsg/podsg/eni"
	"github.com/podsg/podsg/fake"
	"github.com/podsg/podsg/trunk"
)

// An IPv6 cluster: branch ENIs get an IPv6 address, which the annotation
// carries for the node's CNI plugin.
func ExampleOptions_iPv6() {
	ctx := context.Background()
	f := fake.New(fake.Options{DisableThrottling: true})
	tut, err := fake.SeedTutorialIPv6(ctx, f)
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := trunk.New(f, trunk.Options{ClusterName: tut.ClusterName, IPv6: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	pod := eni.PodRef{Namespace: "default", Name: "web-0", UID: "0"}
	res, err := m.Acquire(ctx, tut.Nodes[0].InstanceID, pod, eni.MustGroupSet(tut.PodSecurityGroupID))
	if err != nil {
		fmt.Println(err)
		return
	}
	b, err := podeni.Parse(res.Annotation)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("ipv6Addr in the node's subnet:", netip.MustParsePrefix(tut.SubnetIPv6CIDRs[0]).Contains(b[0].IPv6))
	fmt.Println("subnetV6Cidr:", b[0].SubnetV6CIDR.String() == tut.SubnetIPv6CIDRs[0])
	// Output:
	// ipv6Addr in the node's subnet: true
	// subnetV6Cidr: true
}

// Custom networking: the node's ENIConfig names a subnet of its zone and a
// security group for its trunk; its pods get addresses from that subnet.
func ExampleOptions_customNetworking() {
	ctx := context.Background()
	f := fake.New(fake.Options{DisableThrottling: true})
	tut, err := fake.SeedTutorial(ctx, f)
	if err != nil {
		fmt.Println(err)
		return
	}
	node := tut.Nodes[0] // in zone a
	podSubnet := f.AddSubnet(tut.VPCID, "192.168.128.0/19", f.Region()+"a")
	trunkGroup := f.AddSecurityGroup(tut.VPCID, "eniconfig-a")
	eniConfigs := map[string]trunk.CustomNetwork{
		node.InstanceID: {SubnetID: podSubnet, SecurityGroups: []string{trunkGroup}},
	}
	m, err := trunk.New(f, trunk.Options{
		ClusterName: tut.ClusterName,
		CustomNetworking: func(_ context.Context, instanceID string) (trunk.CustomNetwork, error) {
			return eniConfigs[instanceID], nil // a controller reads the node's ENIConfig here
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	pod := eni.PodRef{Namespace: "default", Name: "web-0", UID: "0"}
	res, err := m.Acquire(ctx, node.InstanceID, pod, eni.MustGroupSet(tut.PodSecurityGroupID))
	if err != nil {
		fmt.Println(err)
		return
	}
	info := m.Nodes()[0]
	fmt.Println("branch subnet is the ENIConfig's:", info.SubnetID == podSubnet)
	fmt.Println("pod address:", res.Branch.ENI.PrivateIP, "in", res.Branch.ENI.SubnetCIDR) // .4 is the trunk's
	// Output:
	// branch subnet is the ENIConfig's: true
	// pod address: 192.168.128.5 in 192.168.128.0/19
}
