package fake_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/podsg/podsg/fake"
)

// BenchmarkHTTPCreateAndAssociate measures the pair of calls a pod with its
// own security groups costs, CreateNetworkInterface then
// AssociateTrunkInterface, made by a real aws-sdk-go-v2 client over HTTP on
// loopback: SDK serialization and signing, the query codec, the fake, the
// XML response and the SDK's deserializer. Throttling is off and the SDK does
// not retry; the branch is disassociated and deleted in process, outside the
// timing, so the trunk never fills up.
func BenchmarkHTTPCreateAndAssociate(b *testing.B) {
	ctx := b.Context()
	f := fake.New(fake.Options{DisableThrottling: true, CallLogSize: -1})
	vpc := f.AddVPC("10.0.0.0/16")
	subnet := f.AddSubnet(vpc, "10.0.0.0/19", "")
	podSG := f.AddSecurityGroup(vpc, "pods")
	node := f.AddNode("m5.large", subnet, f.AddSecurityGroup(vpc, "nodes"))
	trunk := f.AddTrunk(node.InstanceID, 2)
	_, c := startServer(b, f)

	b.ReportAllocs()
	for b.Loop() {
		// A fresh input each time: the SDK stores the ClientToken it
		// generates in the caller's input, so a reused input would make
		// every later call an idempotent replay of the first.
		out, err := c.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(subnet),
			Groups: []string{podSG}, Description: aws.String("aws-k8s-branch-eni")})
		if err != nil {
			b.Fatal(err)
		}
		a, err := c.AssociateTrunkInterface(ctx, &ec2.AssociateTrunkInterfaceInput{TrunkInterfaceId: aws.String(trunk),
			BranchInterfaceId: out.NetworkInterface.NetworkInterfaceId, VlanId: aws.Int32(1)})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if _, err := f.DisassociateTrunkInterface(ctx, &ec2.DisassociateTrunkInterfaceInput{AssociationId: a.InterfaceAssociation.AssociationId}); err != nil {
			b.Fatal(err)
		}
		if _, err := f.DeleteNetworkInterface(ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: out.NetworkInterface.NetworkInterfaceId}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
