package enforce_test

import (
	"fmt"
	"net/netip"

	"github.com/podsg/podsg/eni"
	"github.com/podsg/podsg/enforce"
)

func ExampleBuilder_Setup() {
	b, err := enforce.NewBuilder(enforce.Config{
		Mode:             enforce.Strict,
		TrunkLink:        "eth1",
		PrimaryInterface: "eth0",
		PrimaryIP:        netip.MustParseAddr("10.0.0.10"),
		VPCCIDRs:         []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16")},
	})
	if err != nil {
		panic(err)
	}
	enis, err := eni.ParseAnnotation(`[{"eniId":"eni-0123456789abcdef0","ifAddress":"02:aa:bb:cc:dd:03","privateIp":"10.0.0.7","vlanId":3,"subnetCidr":"10.0.0.0/19"}]`)
	if err != nil {
		panic(err)
	}
	plan, err := b.Setup(enforce.Pod{
		Namespace: "default",
		Name:      "web-1",
		NetNS:     "/var/run/netns/cni-1234",
		IfName:    "eth0",
		Branch:    enis[0],
	})
	if err != nil {
		panic(err)
	}
	fmt.Print(plan.Script())
	// Output:
}
