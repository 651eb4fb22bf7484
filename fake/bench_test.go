package fake_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/podsg/podsg/fake"
)

// BenchmarkCreateAndAssociate measures the in-process pair of calls a pod
// with its own security groups costs: CreateNetworkInterface, then
// AssociateTrunkInterface. Throttling is off; the branch is disassociated and
// deleted outside the timer so the trunk never fills up.
func BenchmarkCreateAndAssociate(b *testing.B) {
	ctx := b.Context()
	w := newWorld(b)
	create := &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(w.subnet), Groups: []string{w.podSG},
		Description: aws.String("aws-k8s-branch-eni")}
	b.ReportAllocs()
	for b.Loop() {
		out, err := w.f.CreateNetworkInterface(ctx, create)
		if err != nil {
			b.Fatal(err)
		}
		a, err := w.f.AssociateTrunkInterface(ctx, &ec2.AssociateTrunkInterfaceInput{TrunkInterfaceId: aws.String(w.trunk),
			BranchInterfaceId: out.NetworkInterface.NetworkInterfaceId, VlanId: aws.Int32(1)})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if _, err := w.f.DisassociateTrunkInterface(ctx, &ec2.DisassociateTrunkInterfaceInput{AssociationId: a.InterfaceAssociation.AssociationId}); err != nil {
			b.Fatal(err)
		}
		if _, err := w.f.DeleteNetworkInterface(ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: out.NetworkInterface.NetworkInterfaceId}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkDescribeByTag measures the state-rebuild query, a tag-filtered
// DescribeNetworkInterfaces page, over 1,000 branch interfaces.
func BenchmarkDescribeByTag(b *testing.B) {
	ctx := b.Context()
	f := fake.New(fake.Options{DisableThrottling: true, CallLogSize: -1})
	vpc := f.AddVPC("10.0.0.0/16")
	subnet := f.AddSubnet(vpc, "10.0.0.0/18", "")
	for i := range 1000 {
		id := f.AddENI(subnet, "aws-k8s-branch-eni")
		if i%2 == 0 {
			f.Tag(id, "kubernetes.io/cluster/c1", "owned")
		}
	}
	in := &ec2.DescribeNetworkInterfacesInput{MaxResults: aws.Int32(1000),
		Filters: []types.Filter{{Name: aws.String("tag:kubernetes.io/cluster/c1"), Values: []string{"owned"}}}}
	b.ReportAllocs()
	for b.Loop() {
		out, err := f.DescribeNetworkInterfaces(ctx, in)
		if err != nil || len(out.NetworkInterfaces) != 500 {
			b.Fatal(err, len(out.NetworkInterfaces))
		}
	}
}
