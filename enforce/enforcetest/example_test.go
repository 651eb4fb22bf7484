package enforcetest_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/podsg/podsg/api/podeni"
	"github.com/podsg/podsg/enforce"
	"github.com/podsg/podsg/enforce/enforcetest"
)

// A CNI plugin's ADD, tested without root: the fake applies the setup plan,
// then refuses a route as the kernel would, and the setup rolls back.
func ExampleFake() {
	ctx := context.Background()
	b, err := enforce.NewBuilder(enforce.Options{
		Mode: enforce.Strict, TrunkLink: "eth1", PrimaryInterface: "eth0",
		PrimaryIP: netip.MustParseAddr("10.0.0.10"), VPCCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16")},
	})
	if err != nil {
		panic(err)
	}
	enis, err := podeni.Parse(`[{"eniId":"eni-0123456789abcdef0","ifAddress":"02:aa:bb:cc:dd:03","privateIp":"10.0.0.7","vlanId":3,"subnetCidr":"10.0.0.0/19"}]`)
	if err != nil {
		panic(err)
	}
	setup, err := b.Setup(enforce.Pod{Namespace: "default", Name: "web-1", NetNS: "/var/run/netns/cni-1", IfName: "eth0", Branch: enis[0]})
	if err != nil {
		panic(err)
	}

	f := enforcetest.NewFake()
	f.AddLink("eth0")
	f.AddLink("eth1")
	f.AddNetNS("/var/run/netns/cni-1")
	if err := f.Apply(ctx, &setup); err != nil {
		panic(err)
	}
	pod, _ := f.Pod("/var/run/netns/cni-1")
	// The kernel's three default rules and the pod's two iif rules.
	fmt.Println("pod address:", pod.Addrs[0].Prefix, "rules on the node:", len(f.Host().Rules))

	// The same pod again on a fresh node whose kernel refuses the routes of
	// table 103: nothing of the pod is left behind.
	f = enforcetest.NewFake()
	f.AddLink("eth0")
	f.AddLink("eth1")
	f.AddNetNS("/var/run/netns/cni-1")
	f.FailWhen(func(c enforce.Change) error {
		if r, ok := c.Object.(enforce.Route); ok && r.Table == 103 {
			return errors.New("injected: RTNETLINK answers: Network is unreachable")
		}
		return nil
	})
	err = f.Apply(ctx, &setup)
	fmt.Println(err)
	fmt.Println("links left on the node:", len(f.Host().VLANs)+len(f.Host().Veths))
	// Output:
	// pod address: 10.0.0.7/32 rules on the node: 5
	// enforce: pod setup of default/web-1: add host route 10.0.0.1/32 dev vlan.eth.3 table 103: injected: RTNETLINK answers: Network is unreachable
	// links left on the node: 0
}
