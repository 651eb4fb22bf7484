//go:build linux

package kernel_test

import (
	"context"
	"log"
	"net/netip"

	"github.com/podsg/podsg/api/podeni"
	"github.com/podsg/podsg/enforce"
	"github.com/podsg/podsg/enforce/kernel"
)

// A node agent wires the node once, then each pod on CNI ADD. It needs root
// (CAP_NET_ADMIN) and the node's trunk link, so this example does not run
// as a test; the package's tests do the same in network namespaces.
func Example() {
	ctx := context.Background()
	nl, err := kernel.NewNetlink(kernel.NetlinkOptions{})
	if err != nil {
		log.Fatal(err)
	}
	ipt, err := kernel.NewIPTables(kernel.IPTablesOptions{})
	if err != nil {
		log.Fatal(err)
	}
	b, err := enforce.NewBuilder(enforce.Options{
		Mode: enforce.Standard, TrunkLink: "eth1", PrimaryInterface: "eth0",
		PrimaryIP: netip.MustParseAddr("10.0.0.10"), VPCCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16")},
		// Where the node's iptables is the nf_tables variant, the
		// connection marks live in nftables, as the VPC CNI plugin keeps them.
		NFTables: ipt.NFTables(),
	})
	if err != nil {
		log.Fatal(err)
	}
	node := b.Node()
	if err := enforce.Join(nl, ipt).Apply(ctx, &node); err != nil {
		log.Fatal(err)
	}

	// CNI ADD: the annotation the controller wrote on the pod.
	enis, err := podeni.Parse(`[{"eniId":"eni-0123456789abcdef0","ifAddress":"02:aa:bb:cc:dd:03","privateIp":"10.0.0.7","vlanId":3,"subnetCidr":"10.0.0.0/19"}]`)
	if err != nil {
		log.Fatal(err)
	}
	setup, err := b.Setup(enforce.Pod{Namespace: "default", Name: "web-1", NetNS: "/var/run/netns/cni-1", IfName: "eth0", Branch: enis[0]})
	if err != nil {
		log.Fatal(err)
	}
	if err := nl.Apply(ctx, &setup); err != nil {
		log.Fatal(err) // *enforce.StepError; what this call added is rolled back
	}
}
