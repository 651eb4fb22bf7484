package limits_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/podsg/podsg/limits"
)

func ExampleLookup() {
	l, err := limits.Lookup("m5.large")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s: %d ENIs, %d IPv4 addresses each, trunking %t, %d branch ENIs\n",
		l.InstanceType, l.MaxENIs, l.IPv4PerENI, l.TrunkingCompatible, l.MaxBranchENIs)

	_, err = limits.Lookup("m99.huge")
	fmt.Println(errors.Is(err, limits.ErrUnknownInstanceType))
	// Output:
	// m5.large: 3 ENIs, 10 IPv4 addresses each, trunking true, 9 branch ENIs
	// true
}

func ExampleMaxPods() {
	for _, name := range []string{"m5.large", "t3.micro", "c6in.32xlarge"} {
		l, err := limits.Lookup(name)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s: max pods %d, pods with security groups %d\n", name, limits.MaxPods(l), l.MaxBranchENIs)
	}
	// Output:
	// m5.large: max pods 29, pods with security groups 9
	// t3.micro: max pods 4, pods with security groups 0
	// c6in.32xlarge: max pods 394, pods with security groups 106
}

func ExampleWithOverrides() {
	// m9.large is newer than the built-in table.
	table, err := limits.WithOverrides(limits.Limits{
		InstanceType:       "m9.large",
		MaxENIs:            3,
		IPv4PerENI:         10,
		TrunkingCompatible: true,
		MaxBranchENIs:      9,
		DefaultNetworkCard: 0,
		NetworkCards:       []limits.NetworkCard{{Index: 0, MaxENIs: 3}},
		Hypervisor:         limits.HypervisorNitro,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	l, err := table.Lookup("m9.large")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(l.InstanceType, limits.MaxPods(l), l.MaxBranchENIs)

	// Invalid overrides are refused with every problem listed.
	_, err = limits.WithOverrides(limits.Limits{
		InstanceType: "m9.xlarge", MaxENIs: 4, IPv4PerENI: 15, TrunkingCompatible: true,
		NetworkCards: []limits.NetworkCard{{Index: 0, MaxENIs: 3}}, Hypervisor: "nitro",
	})
	fmt.Println(err)
	// Output:
	// m9.large 29 9
	// limits: 2 problems:
	// 	overrides[0] (m9.xlarge): maxBranchENIs = 0: a trunking-compatible type needs at least 1 branch ENI; give the type's branch-ENI limit, or set trunkingCompatible to false
	// 	overrides[0] (m9.xlarge): networkCards: the cards' maxENIs add up to 3, but maxENIs is 4; they must agree
}

func ExampleDecodeOverrides() {
	const file = `
instanceTypes:
  - instanceType: m9.large
    maxENIs: 3
    ipv4PerENI: 10
    trunkingCompatible: true
    maxBranchENIs: 9
    defaultNetworkCard: 0
    networkCards: [{index: 0, maxENIs: 3}]
    hypervisor: nitro
    bareMetal: false
`
	rows, err := limits.DecodeOverrides(strings.NewReader(file))
	if err != nil {
		fmt.Println(err)
		return
	}
	table, err := limits.Default().WithOverrides(rows...)
	if err != nil {
		fmt.Println(err)
		return
	}
	l, _ := table.Lookup("m9.large")
	fmt.Println(table.Len()-limits.Default().Len(), "type added;", l.InstanceType, "hosts", l.MaxBranchENIs, "branch ENIs")
	// Output:
	// 1 type added; m9.large hosts 9 branch ENIs
}
