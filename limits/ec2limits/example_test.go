package ec2limits_test

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/podsg/podsg/limits"
	"github.com/podsg/podsg/limits/ec2limits"
)

// newTypes answers DescribeInstanceTypes with one page listing m5.large,
// which the built-in table knows, and m9.large, which it does not. In a
// program, pass an *ec2.Client instead.
type newTypes struct{}

func (newTypes) DescribeInstanceTypes(context.Context, *ec2.DescribeInstanceTypesInput, ...func(*ec2.Options)) (*ec2.DescribeInstanceTypesOutput, error) {
	card := []types.NetworkCardInfo{{NetworkCardIndex: aws.Int32(0), MaximumNetworkInterfaces: aws.Int32(3)}}
	network := &types.NetworkInfo{
		MaximumNetworkInterfaces:  aws.Int32(3),
		Ipv4AddressesPerInterface: aws.Int32(10),
		DefaultNetworkCardIndex:   aws.Int32(0),
		NetworkCards:              card,
	}
	return &ec2.DescribeInstanceTypesOutput{InstanceTypes: []types.InstanceTypeInfo{
		{InstanceType: "m5.large", Hypervisor: types.InstanceTypeHypervisorNitro, BareMetal: aws.Bool(false), NetworkInfo: network},
		{InstanceType: "m9.large", Hypervisor: types.InstanceTypeHypervisorNitro, BareMetal: aws.Bool(false), NetworkInfo: network},
	}}, nil
}

func ExampleRefresh() {
	ctx := context.Background()
	table, err := ec2limits.Refresh(ctx, newTypes{}, ec2limits.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, name := range []string{"m5.large", "m9.large"} {
		l, _ := table.Lookup(name)
		fmt.Printf("%s: max pods %d, trunking %t, branch ENIs %d\n", name, limits.MaxPods(l), l.TrunkingCompatible, l.MaxBranchENIs)
	}

	// The operator knows m9.large's branch-ENI limit.
	table, err = ec2limits.Refresh(ctx, newTypes{}, ec2limits.Options{
		BranchENIs: map[string]int{"m9.large": 9},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	l, _ := table.Lookup("m9.large")
	fmt.Printf("m9.large: trunking %t, branch ENIs %d\n", l.TrunkingCompatible, l.MaxBranchENIs)
	// Output:
	// m5.large: max pods 29, trunking true, branch ENIs 9
	// m9.large: max pods 29, trunking false, branch ENIs 0
	// m9.large: trunking true, branch ENIs 9
}
