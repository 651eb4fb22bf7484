package fake_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/podsg/podsg/fake"
)

// A trunk on an m5.large node, and a branch interface for a pod on VLAN 1.
func Example() {
	ctx := context.Background()
	f := fake.New()
	vpc := f.AddVPC("10.0.0.0/16")
	subnet := f.AddSubnet(vpc, "10.0.0.0/19", "us-west-2a")
	podSG := f.AddSecurityGroup(vpc, "pods")
	node := f.AddNode("m5.large", subnet)

	trunk, err := f.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{
		SubnetId:      aws.String(subnet),
		InterfaceType: types.NetworkInterfaceCreationTypeTrunk,
		Description:   aws.String("aws-k8s-trunk-eni"),
	})
	if err != nil {
		panic(err)
	}
	trunkID := trunk.NetworkInterface.NetworkInterfaceId
	if _, err := f.AttachNetworkInterface(ctx, &ec2.AttachNetworkInterfaceInput{
		NetworkInterfaceId: trunkID, InstanceId: aws.String(node.InstanceID), DeviceIndex: aws.Int32(2),
	}); err != nil {
		panic(err)
	}
	branch, err := f.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{
		SubnetId:    aws.String(subnet),
		Groups:      []string{podSG},
		Description: aws.String("aws-k8s-branch-eni"),
	})
	if err != nil {
		panic(err)
	}
	assoc, err := f.AssociateTrunkInterface(ctx, &ec2.AssociateTrunkInterfaceInput{
		TrunkInterfaceId:  trunkID,
		BranchInterfaceId: branch.NetworkInterface.NetworkInterfaceId,
		VlanId:            aws.Int32(1),
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("branch IP:", aws.ToString(branch.NetworkInterface.PrivateIpAddress))
	fmt.Println("VLAN:", aws.ToInt32(assoc.InterfaceAssociation.VlanId))

	out, err := f.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{
		Filters: []types.Filter{{Name: aws.String("interface-type"), Values: []string{"branch"}}},
	})
	if err != nil {
		panic(err)
	}
	for _, e := range out.NetworkInterfaces {
		fmt.Println(e.InterfaceType, e.Status, aws.ToString(e.Description))
	}

	// Deleting a branch that is still associated fails like EC2 does.
	_, err = f.DeleteNetworkInterface(ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: branch.NetworkInterface.NetworkInterfaceId})
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.ErrorCode())
	}
	// Output:
	// branch IP: 10.0.0.6
	// VLAN: 1
	// branch in-use aws-k8s-branch-eni
	// InvalidNetworkInterface.InUse
}

// Throttling answers RequestLimitExceeded once an action's bucket is empty;
// buckets can be resized per category or per action.
func ExampleEC2_SetActionBucket() {
	ctx := context.Background()
	f := fake.New()
	f.SetActionBucket(fake.ActionDescribeSubnets, fake.Bucket{Size: 2, RefillPerSecond: 0.001})
	for range 3 {
		_, err := f.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{MaxResults: aws.Int32(5)})
		fmt.Printf("%q %d\n", fake.ErrorCode(err), fake.HTTPStatus(err))
	}
	fmt.Println(fake.CategoryOf("AssociateTrunkInterface", true), fake.DefaultBuckets()[fake.CategoryMutating])
	// Output:
	// "" 200
	// "" 200
	// "RequestLimitExceeded" 503
	// mutating {50 5}
}

// A network interface created a moment ago is unknown to EC2 until its
// creation propagates: code must retry NotFound on an ID it was just given.
func ExampleConsistency() {
	ctx := context.Background()
	f := fake.New(fake.Options{Consistency: fake.Consistency{Create: fake.Fixed(50 * time.Millisecond)}})
	subnet := f.AddSubnet(f.AddVPC("10.0.0.0/16"), "10.0.0.0/24", "")
	out, err := f.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(subnet)})
	if err != nil {
		panic(err)
	}
	id := aws.ToString(out.NetworkInterface.NetworkInterfaceId)
	describe := func() string {
		_, err := f.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{id}})
		if err != nil {
			return fake.ErrorCode(err)
		}
		return "found"
	}
	fmt.Println(describe())
	time.Sleep(50 * time.Millisecond)
	fmt.Println(describe())
	// Output:
	// InvalidNetworkInterfaceID.NotFound
	// found
}
