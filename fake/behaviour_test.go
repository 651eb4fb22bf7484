package fake_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/fake"
)

func TestSubnetAddresses(t *testing.T) {
	ctx := t.Context()
	f := fake.New(fake.Options{DisableThrottling: true})
	vpc := f.AddVPC("10.1.0.0/16")
	subnet := f.AddSubnet(vpc, "10.1.0.0/28", "")
	var ips, ids []string
	for range 11 { // 16 addresses − 4 reserved at the start − broadcast
		out, err := f.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(subnet)})
		require.NoError(t, err)
		ips = append(ips, aws.ToString(out.NetworkInterface.PrivateIpAddress))
		ids = append(ids, aws.ToString(out.NetworkInterface.NetworkInterfaceId))
	}
	want := []string{"10.1.0.4", "10.1.0.5", "10.1.0.6", "10.1.0.7", "10.1.0.8", "10.1.0.9",
		"10.1.0.10", "10.1.0.11", "10.1.0.12", "10.1.0.13", "10.1.0.14"}
	if diff := cmp.Diff(want, ips); diff != "" {
		t.Fatalf("addresses (-want +got):\n%s", diff)
	}
	_, err := f.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(subnet)})
	require.Equal(t, "InsufficientFreeAddressesInSubnet", fake.ErrorCode(err))

	d, err := f.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{subnet}})
	require.NoError(t, err)
	require.EqualValues(t, 0, aws.ToInt32(d.Subnets[0].AvailableIpAddressCount))

	_, err = f.DeleteNetworkInterface(ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: aws.String(ids[3])})
	require.NoError(t, err)
	out, err := f.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(subnet)})
	require.NoError(t, err)
	require.Equal(t, "10.1.0.7", aws.ToString(out.NetworkInterface.PrivateIpAddress), "the released address is the only free one")

	_, err = f.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(subnet), PrivateIpAddress: aws.String("10.1.0.5")})
	require.Equal(t, "InvalidIPAddress.InUse", fake.ErrorCode(err))
}

func TestIdempotency(t *testing.T) {
	ctx := t.Context()
	w := newWorld(t)
	in := &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(w.subnet), Groups: []string{w.podSG}, ClientToken: aws.String("pod-1")}
	first, err := w.f.CreateNetworkInterface(ctx, in)
	require.NoError(t, err)
	again, err := w.f.CreateNetworkInterface(ctx, in)
	require.NoError(t, err)
	require.Equal(t, aws.ToString(first.NetworkInterface.NetworkInterfaceId), aws.ToString(again.NetworkInterface.NetworkInterfaceId))

	d, err := w.f.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{
		Filters: []types.Filter{{Name: aws.String("group-id"), Values: []string{w.podSG}}}})
	require.NoError(t, err)
	require.Len(t, d.NetworkInterfaces, 1, "a retry with the same token creates nothing")

	_, err = w.f.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{
		SubnetId: aws.String(w.subnet), Groups: []string{w.nodeSG}, ClientToken: aws.String("pod-1")})
	require.Equal(t, "IdempotentParameterMismatch", fake.ErrorCode(err))

	branch := aws.ToString(first.NetworkInterface.NetworkInterfaceId)
	assocIn := &ec2.AssociateTrunkInterfaceInput{TrunkInterfaceId: aws.String(w.trunk), BranchInterfaceId: aws.String(branch),
		VlanId: aws.Int32(3), ClientToken: aws.String("assoc-1")}
	a1, err := w.f.AssociateTrunkInterface(ctx, assocIn)
	require.NoError(t, err)
	a2, err := w.f.AssociateTrunkInterface(ctx, assocIn)
	require.NoError(t, err, "a retry of an applied association succeeds instead of reporting the branch in use")
	require.Equal(t, aws.ToString(a1.InterfaceAssociation.AssociationId), aws.ToString(a2.InterfaceAssociation.AssociationId))
	assocIn.VlanId = aws.Int32(4)
	_, err = w.f.AssociateTrunkInterface(ctx, assocIn)
	require.Equal(t, "IdempotentParameterMismatch", fake.ErrorCode(err))

	// A failed call does not consume its token.
	bad := &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String("subnet-0123456789abcdef0"), ClientToken: aws.String("pod-2")}
	_, err = w.f.CreateNetworkInterface(ctx, bad)
	require.Equal(t, "InvalidSubnetID.NotFound", fake.ErrorCode(err))
	bad.SubnetId = aws.String(w.subnet)
	_, err = w.f.CreateNetworkInterface(ctx, bad)
	require.NoError(t, err)

	// Each caller gets its own copy of the remembered answer.
	first.NetworkInterface.Description = aws.String("changed by the first caller")
	first.NetworkInterface.Groups[0].GroupId = aws.String("sg-00000000")
	third, err := w.f.CreateNetworkInterface(ctx, in)
	require.NoError(t, err)
	require.Empty(t, aws.ToString(third.NetworkInterface.Description))
	require.Equal(t, w.podSG, aws.ToString(third.NetworkInterface.Groups[0].GroupId))

	// Tokens are scoped to their action: the same token on another action
	// is another request.
	_, err = w.f.AssociateTrunkInterface(ctx, &ec2.AssociateTrunkInterfaceInput{TrunkInterfaceId: aws.String(w.trunk),
		BranchInterfaceId: aws.String(w.eni(t)), VlanId: aws.Int32(5), ClientToken: aws.String("pod-1")})
	require.NoError(t, err)

	// A token is up to 64 ASCII characters.
	for _, tok := range []string{strings.Repeat("x", 65), "pod-é"} {
		_, err = w.f.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(w.subnet), ClientToken: aws.String(tok)})
		require.Equal(t, fake.CodeInvalidParameterValue, fake.ErrorCode(err), tok)
	}
}

// TestClientTokenLifetime checks how long tokens are honoured: 24 hours for
// the actions whose lifetime EC2 does not document, and for RunInstances 24
// hours after its instances terminate, during which a retry shows their
// current state.
func TestClientTokenLifetime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		w := newWorld(t)
		in := &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(w.subnet), ClientToken: aws.String("t")}
		first, err := w.f.CreateNetworkInterface(ctx, in)
		require.NoError(t, err)
		time.Sleep(24*time.Hour - time.Second)
		again, err := w.f.CreateNetworkInterface(ctx, in)
		require.NoError(t, err)
		require.Equal(t, first.NetworkInterface.NetworkInterfaceId, again.NetworkInterface.NetworkInterfaceId)
		time.Sleep(time.Second)
		later, err := w.f.CreateNetworkInterface(ctx, in)
		require.NoError(t, err)
		require.NotEqual(t, aws.ToString(first.NetworkInterface.NetworkInterfaceId), aws.ToString(later.NetworkInterface.NetworkInterfaceId),
			"a lapsed token is a new request")

		run := &ec2.RunInstancesInput{ImageId: aws.String("ami-1"), InstanceType: "m5.large", MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
			SubnetId: aws.String(w.subnet), ClientToken: aws.String("launch")}
		r1, err := w.f.RunInstances(ctx, run)
		require.NoError(t, err)
		require.Equal(t, types.InstanceStateNamePending, r1.Instances[0].State.Name)
		time.Sleep(48 * time.Hour)
		r2, err := w.f.RunInstances(ctx, run)
		require.NoError(t, err, "valid while the instance lives")
		require.Equal(t, r1.Instances[0].InstanceId, r2.Instances[0].InstanceId)
		require.Equal(t, types.InstanceStateNameRunning, r2.Instances[0].State.Name, "a retry shows the current state")
		_, err = w.f.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{aws.ToString(r1.Instances[0].InstanceId)}})
		require.NoError(t, err)
		time.Sleep(24*time.Hour - time.Second)
		r3, err := w.f.RunInstances(ctx, run)
		require.NoError(t, err)
		require.Equal(t, types.InstanceStateNameTerminated, r3.Instances[0].State.Name)
		time.Sleep(time.Second)
		r4, err := w.f.RunInstances(ctx, run)
		require.NoError(t, err)
		require.NotEqual(t, aws.ToString(r1.Instances[0].InstanceId), aws.ToString(r4.Instances[0].InstanceId))
	})
}

func TestTerminate(t *testing.T) {
	ctx := t.Context()
	w := newWorld(t)
	b1, a1 := w.f.AddBranch(w.trunk, 1, w.podSG)
	b2, _ := w.f.AddBranch(w.trunk, 2, w.podSG)
	keep := w.eni(t)
	_, err := w.f.AttachNetworkInterface(ctx, &ec2.AttachNetworkInterfaceInput{
		NetworkInterfaceId: aws.String(keep), InstanceId: aws.String(w.node.InstanceID), DeviceIndex: aws.Int32(1)})
	require.NoError(t, err)

	out, err := w.f.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{w.node.InstanceID}})
	require.NoError(t, err)
	require.Equal(t, types.InstanceStateNameRunning, out.TerminatingInstances[0].PreviousState.Name)
	require.Equal(t, types.InstanceStateNameShuttingDown, out.TerminatingInstances[0].CurrentState.Name, "EC2 answers while the instance shuts down")
	di, err := w.f.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{w.node.InstanceID}})
	require.NoError(t, err)
	require.Equal(t, types.InstanceStateNameTerminated, di.Reservations[0].Instances[0].State.Name, "strongly consistent by default")

	// The primary ENI and the trunk were attached with DeleteOnTermination.
	for _, id := range []string{w.node.PrimaryENI, w.trunk} {
		_, err := w.f.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{id}})
		require.Equal(t, "InvalidNetworkInterfaceID.NotFound", fake.ErrorCode(err), id)
	}
	// The branches lost their association and are plain available interfaces.
	d, err := w.f.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{b1, b2, keep}})
	require.NoError(t, err)
	for _, e := range d.NetworkInterfaces {
		require.Equal(t, types.NetworkInterfaceStatusAvailable, e.Status, aws.ToString(e.NetworkInterfaceId))
		require.Equal(t, types.NetworkInterfaceTypeInterface, e.InterfaceType)
		require.Nil(t, e.Attachment)
	}
	assocs, err := w.f.DescribeTrunkInterfaceAssociations(ctx, &ec2.DescribeTrunkInterfaceAssociationsInput{})
	require.NoError(t, err)
	require.Empty(t, assocs.InterfaceAssociations)
	_, err = w.f.DisassociateTrunkInterface(ctx, &ec2.DisassociateTrunkInterfaceInput{AssociationId: aws.String(a1)})
	require.Equal(t, "InvalidAssociationID.NotFound", fake.ErrorCode(err))

	inst, err := w.f.DescribeInstances(ctx, &ec2.DescribeInstancesInput{
		Filters: []types.Filter{{Name: aws.String("instance-state-name"), Values: []string{"terminated"}}}})
	require.NoError(t, err)
	require.Len(t, inst.Reservations, 1)
	require.Equal(t, w.node.InstanceID, aws.ToString(inst.Reservations[0].Instances[0].InstanceId))
	require.Empty(t, inst.Reservations[0].Instances[0].NetworkInterfaces)

	// The branches can now be deleted; the instance can no longer take ENIs.
	_, err = w.f.DeleteNetworkInterface(ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: aws.String(b1)})
	require.NoError(t, err)
	_, err = w.f.AttachNetworkInterface(ctx, &ec2.AttachNetworkInterfaceInput{
		NetworkInterfaceId: aws.String(keep), InstanceId: aws.String(w.node.InstanceID), DeviceIndex: aws.Int32(1)})
	require.Equal(t, "IncorrectInstanceState", fake.ErrorCode(err))
}

func TestDisassociate(t *testing.T) {
	ctx := t.Context()
	w := newWorld(t)
	branch, assoc := w.f.AddBranch(w.trunk, 5, w.podSG)
	_, err := w.f.DisassociateTrunkInterface(ctx, &ec2.DisassociateTrunkInterfaceInput{AssociationId: aws.String(assoc)})
	require.NoError(t, err)
	_, err = w.f.DeleteNetworkInterface(ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: aws.String(branch)})
	require.NoError(t, err)
	// VLAN 5 is free again.
	require.NoError(t, w.associate(t, 5, w.eni(t)))
}

func TestPagination(t *testing.T) {
	ctx := t.Context()
	w := newWorld(t)
	var want []string
	for i := range 12 {
		id := w.eni(t, w.podSG)
		w.f.Tag(id, "pod", fmt.Sprint("p", i))
		want = append(want, id)
	}
	slices.Sort(want)
	var got []string
	var pages []int
	p := ec2.NewDescribeNetworkInterfacesPaginator(w.f, &ec2.DescribeNetworkInterfacesInput{
		MaxResults: aws.Int32(5),
		Filters:    []types.Filter{{Name: aws.String("tag-key"), Values: []string{"pod"}}},
	})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		require.NoError(t, err)
		pages = append(pages, len(out.NetworkInterfaces))
		for _, e := range out.NetworkInterfaces {
			got = append(got, aws.ToString(e.NetworkInterfaceId))
		}
	}
	require.Equal(t, []int{5, 5, 2}, pages)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("paged IDs (-want +got):\n%s", diff)
	}

	// A page token survives the deletion of the item it points after.
	first, err := w.f.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{MaxResults: aws.Int32(5),
		Filters: []types.Filter{{Name: aws.String("tag-key"), Values: []string{"pod"}}}})
	require.NoError(t, err)
	_, err = w.f.DeleteNetworkInterface(ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: first.NetworkInterfaces[4].NetworkInterfaceId})
	require.NoError(t, err)
	second, err := w.f.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{MaxResults: aws.Int32(5), NextToken: first.NextToken,
		Filters: []types.Filter{{Name: aws.String("tag-key"), Values: []string{"pod"}}}})
	require.NoError(t, err)
	require.Equal(t, want[5], aws.ToString(second.NetworkInterfaces[0].NetworkInterfaceId))
}

func TestFilters(t *testing.T) {
	ctx := t.Context()
	w := newWorld(t)
	b1, _ := w.f.AddBranch(w.trunk, 1, w.podSG)
	w.f.Tag(b1, "vpcresources.k8s.aws/trunk-eni-id", w.trunk, "kubernetes.io/cluster/c1", "owned")
	free := w.f.AddENI(w.subnet2, "spare", w.podSG)

	names := func(fs ...types.Filter) []string {
		t.Helper()
		out, err := w.f.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{Filters: fs})
		require.NoError(t, err)
		var ids []string
		for _, e := range out.NetworkInterfaces {
			ids = append(ids, aws.ToString(e.NetworkInterfaceId))
		}
		slices.Sort(ids)
		return ids
	}
	flt := func(name string, values ...string) types.Filter {
		return types.Filter{Name: aws.String(name), Values: values}
	}
	sorted := func(ids ...string) []string { slices.Sort(ids); return ids }
	tests := []struct {
		name    string
		filters []types.Filter
		want    []string
	}{
		{"tag value", []types.Filter{flt("tag:vpcresources.k8s.aws/trunk-eni-id", w.trunk)}, []string{b1}},
		{"tag key", []types.Filter{flt("tag-key", "kubernetes.io/cluster/c1")}, []string{b1}},
		{"description", []types.Filter{flt("description", "aws-k8s-branch-eni")}, []string{b1}},
		{"description wildcard", []types.Filter{flt("description", "aws-k8s-*")}, sorted(b1, w.trunk)},
		{"interface type", []types.Filter{flt("interface-type", "trunk")}, []string{w.trunk}},
		{"status available", []types.Filter{flt("status", "available")}, []string{free}},
		{"attachment instance", []types.Filter{flt("attachment.instance-id", w.node.InstanceID)}, sorted(w.node.PrimaryENI, w.trunk)},
		{"group", []types.Filter{flt("group-id", w.podSG)}, sorted(b1, free)},
		{"subnet", []types.Filter{flt("subnet-id", w.subnet2)}, []string{free}},
		{"values are ORed", []types.Filter{flt("network-interface-id", b1, free)}, sorted(b1, free)},
		{"filters are ANDed", []types.Filter{flt("group-id", w.podSG), flt("vpc-id", w.vpc), flt("subnet-id", w.subnet)}, []string{b1}},
		{"nothing", []types.Filter{flt("tag:missing", "x")}, nil},
		{"escaped wildcard is literal", []types.Filter{flt("description", `aws-k8s-\*`)}, nil},
		{"question mark is one character", []types.Filter{flt("description", "spar?")}, []string{free}},
		{"no Elastic IPs in the fake", []types.Filter{flt("association.public-ip", "*")}, nil},
		{"private-ip-address of any address", []types.Filter{flt("private-ip-address", "10.0.*")}, sorted(b1, free, w.trunk, w.node.PrimaryENI, w.small.PrimaryENI)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, names(tt.filters...)); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}

	assoc, err := w.f.DescribeTrunkInterfaceAssociations(ctx, &ec2.DescribeTrunkInterfaceAssociationsInput{
		Filters: []types.Filter{flt("trunk-interface-association.trunk-interface-id", w.trunk)}})
	require.NoError(t, err)
	require.Len(t, assoc.InterfaceAssociations, 1)
	require.Equal(t, b1, aws.ToString(assoc.InterfaceAssociations[0].BranchInterfaceId))
	require.Equal(t, types.InterfaceProtocolTypeVlan, assoc.InterfaceAssociations[0].InterfaceProtocol)
}

func TestSecurityGroupRules(t *testing.T) {
	ctx := t.Context()
	w := newWorld(t)
	out, err := w.f.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
		GroupId: aws.String(w.nodeSG),
		IpPermissions: []types.IpPermission{
			{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(53), ToPort: aws.Int32(53), UserIdGroupPairs: []types.UserIdGroupPair{{GroupId: aws.String(w.podSG)}}},
			{IpProtocol: aws.String("17"), FromPort: aws.Int32(53), ToPort: aws.Int32(53), UserIdGroupPairs: []types.UserIdGroupPair{{GroupId: aws.String(w.podSG)}},
				IpRanges: []types.IpRange{{CidrIp: aws.String("10.0.0.0/16"), Description: aws.String("vpc")}}},
		},
	})
	require.NoError(t, err)
	require.Len(t, out.SecurityGroupRules, 3)
	var ids []string
	for _, r := range out.SecurityGroupRules {
		require.Regexp(t, `^sgr-[0-9a-f]{17}$`, aws.ToString(r.SecurityGroupRuleId))
		require.False(t, aws.ToBool(r.IsEgress))
		ids = append(ids, aws.ToString(r.SecurityGroupRuleId))
	}
	require.Equal(t, "udp", aws.ToString(out.SecurityGroupRules[1].IpProtocol), "protocol numbers are stored by name")

	g, err := w.f.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{w.nodeSG}})
	require.NoError(t, err)
	wantIngress := []types.IpPermission{
		{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(53), ToPort: aws.Int32(53),
			UserIdGroupPairs: []types.UserIdGroupPair{{GroupId: aws.String(w.podSG), UserId: aws.String(fake.DefaultAccountID)}}},
		{IpProtocol: aws.String("udp"), FromPort: aws.Int32(53), ToPort: aws.Int32(53),
			IpRanges:         []types.IpRange{{CidrIp: aws.String("10.0.0.0/16"), Description: aws.String("vpc")}},
			UserIdGroupPairs: []types.UserIdGroupPair{{GroupId: aws.String(w.podSG), UserId: aws.String(fake.DefaultAccountID)}}},
	}
	if diff := cmp.Diff(wantIngress, g.SecurityGroups[0].IpPermissions, cmpSDK); diff != "" {
		t.Fatalf("ingress (-want +got):\n%s", diff)
	}
	wantEgress := []types.IpPermission{{IpProtocol: aws.String("-1"), IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}
	if diff := cmp.Diff(wantEgress, g.SecurityGroups[0].IpPermissionsEgress, cmpSDK); diff != "" {
		t.Fatalf("default egress (-want +got):\n%s", diff)
	}

	// Filter groups by a rule's referenced group.
	byRef, err := w.f.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{
		Filters: []types.Filter{{Name: aws.String("ip-permission.group-id"), Values: []string{w.podSG}}}})
	require.NoError(t, err)
	require.Len(t, byRef.SecurityGroups, 1)

	// Revoke by rule ID.
	rev, err := w.f.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(w.nodeSG), SecurityGroupRuleIds: ids[:1]})
	require.NoError(t, err)
	require.Equal(t, ids[0], aws.ToString(rev.RevokedSecurityGroupRules[0].SecurityGroupRuleId))
	require.Equal(t, w.podSG, aws.ToString(rev.RevokedSecurityGroupRules[0].ReferencedGroupId))
	// Egress rule IDs are not ingress rules.
	// DescribeSecurityGroupRules filters only on group-id,
	// security-group-rule-id and tags: split the directions here.
	rulesOf := func(groupID string, egress bool) []types.SecurityGroupRule {
		t.Helper()
		out, err := w.f.DescribeSecurityGroupRules(ctx, &ec2.DescribeSecurityGroupRulesInput{Filters: []types.Filter{
			{Name: aws.String("group-id"), Values: []string{groupID}}}})
		require.NoError(t, err)
		return slices.DeleteFunc(out.SecurityGroupRules, func(r types.SecurityGroupRule) bool { return aws.ToBool(r.IsEgress) != egress })
	}
	egress := rulesOf(w.nodeSG, true)
	require.Len(t, egress, 1)
	_, err = w.f.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(w.nodeSG),
		SecurityGroupRuleIds: []string{aws.ToString(egress[0].SecurityGroupRuleId)}})
	require.Equal(t, "InvalidSecurityGroupRuleId.NotFound", fake.ErrorCode(err))

	// Revoke by permissions, one matching and one not: in a VPC that is
	// not the default one, InvalidPermission.NotFound and nothing revoked.
	oneKnownOneNot := []types.IpPermission{{IpProtocol: aws.String("udp"), FromPort: aws.Int32(53), ToPort: aws.Int32(53),
		IpRanges: []types.IpRange{{CidrIp: aws.String("10.0.0.0/16")}, {CidrIp: aws.String("192.168.0.0/16")}}}}
	_, err = w.f.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(w.nodeSG),
		IpPermissions: oneKnownOneNot})
	require.Equal(t, fake.CodePermissionNotFound, fake.ErrorCode(err))
	require.Len(t, rulesOf(w.nodeSG, false), 2, "nothing revoked")
	// Only matching permissions: revoked.
	rev, err = w.f.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(w.nodeSG),
		IpPermissions: []types.IpPermission{{IpProtocol: aws.String("udp"), FromPort: aws.Int32(53), ToPort: aws.Int32(53),
			IpRanges: []types.IpRange{{CidrIp: aws.String("10.0.0.0/16")}}}}})
	require.NoError(t, err)
	require.Len(t, rev.RevokedSecurityGroupRules, 1)
	require.Equal(t, ids[1], aws.ToString(rev.RevokedSecurityGroupRules[0].SecurityGroupRuleId))
	require.Empty(t, rev.UnknownIpPermissions)
	left := rulesOf(w.nodeSG, false)
	require.Len(t, left, 1)
	require.Equal(t, ids[2], aws.ToString(left[0].SecurityGroupRuleId))

	// In the default VPC the matching rules are revoked and the others
	// reported, without an error.
	def := w.f.AddDefaultVPC("172.31.0.0/16")
	sg := w.f.AddSecurityGroup(def, "in-default")
	kept := w.f.AddIngress(sg, fake.Rule{Protocol: "udp", FromPort: 53, ToPort: 53, CIDR: "10.0.0.0/16"})
	rev, err = w.f.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(sg),
		IpPermissions: oneKnownOneNot})
	require.NoError(t, err)
	require.Len(t, rev.RevokedSecurityGroupRules, 1)
	require.Equal(t, kept, aws.ToString(rev.RevokedSecurityGroupRules[0].SecurityGroupRuleId))
	require.Len(t, rev.UnknownIpPermissions, 1)
	require.Equal(t, "192.168.0.0/16", aws.ToString(rev.UnknownIpPermissions[0].IpRanges[0].CidrIp))
}

func TestModifyNetworkInterfaceAttribute(t *testing.T) {
	ctx := t.Context()
	w := newWorld(t)
	eni := w.eni(t)
	_, err := w.f.ModifyNetworkInterfaceAttribute(ctx, &ec2.ModifyNetworkInterfaceAttributeInput{
		NetworkInterfaceId: aws.String(eni), Groups: []string{w.podSG, w.nodeSG}})
	require.NoError(t, err)
	_, err = w.f.ModifyNetworkInterfaceAttribute(ctx, &ec2.ModifyNetworkInterfaceAttributeInput{
		NetworkInterfaceId: aws.String(eni), Description: &types.AttributeValue{Value: aws.String("changed")}})
	require.NoError(t, err)
	att, err := w.f.AttachNetworkInterface(ctx, &ec2.AttachNetworkInterfaceInput{
		NetworkInterfaceId: aws.String(eni), InstanceId: aws.String(w.node.InstanceID), DeviceIndex: aws.Int32(1)})
	require.NoError(t, err)
	_, err = w.f.ModifyNetworkInterfaceAttribute(ctx, &ec2.ModifyNetworkInterfaceAttributeInput{
		NetworkInterfaceId: aws.String(eni),
		Attachment:         &types.NetworkInterfaceAttachmentChanges{AttachmentId: att.AttachmentId, DeleteOnTermination: aws.Bool(true)}})
	require.NoError(t, err)
	d, err := w.f.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{eni}})
	require.NoError(t, err)
	e := d.NetworkInterfaces[0]
	require.Equal(t, "changed", aws.ToString(e.Description))
	require.Equal(t, []string{w.podSG, w.nodeSG}, []string{aws.ToString(e.Groups[0].GroupId), aws.ToString(e.Groups[1].GroupId)})
	require.True(t, aws.ToBool(e.Attachment.DeleteOnTermination))
	require.Equal(t, types.NetworkInterfaceStatusInUse, e.Status)
	require.Equal(t, types.AttachmentStatusAttached, e.Attachment.Status)
}

func TestThrottling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		f := fake.New()
		unknown := &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: aws.String("eni-0123456789abcdef0")}
		burst := func(n int, call func() error) (throttled int) {
			for range n {
				if fake.IsThrottle(call()) {
					throttled++
				}
			}
			return throttled
		}
		del := func() error { _, err := f.DeleteNetworkInterface(ctx, unknown); return err }
		// DeleteNetworkInterface: bucket 100, 5 per second. Rejected calls
		// take tokens too; throttled ones do not.
		require.Equal(t, 0, burst(100, del))
		require.Equal(t, 10, burst(10, del))
		time.Sleep(time.Second)
		require.Equal(t, 5, burst(10, del), "5 tokens flow back in one second")
		time.Sleep(time.Hour)
		require.Equal(t, 0, burst(100, del), "the bucket refills only to its size")
		require.Equal(t, 1, burst(1, del))

		// AssociateTrunkInterface is mutating: 50, 5 per second, its own bucket.
		assoc := func() error {
			_, err := f.AssociateTrunkInterface(ctx, &ec2.AssociateTrunkInterfaceInput{})
			return err
		}
		require.Equal(t, 0, burst(50, assoc))
		require.Equal(t, 1, burst(1, assoc))

		// Filtered and unfiltered Describe calls use different buckets.
		filteredCall := func() error {
			_, err := f.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{MaxResults: aws.Int32(5)})
			return err
		}
		unfiltered := func() error { _, err := f.DescribeNetworkInterfaces(ctx, nil); return err }
		require.Equal(t, 0, burst(50, unfiltered))
		require.Equal(t, 1, burst(1, unfiltered))
		require.Equal(t, 0, burst(100, filteredCall))
		require.Equal(t, 1, burst(1, filteredCall))

		c := f.Count(fake.ActionDescribeNetworkInterfaces)
		require.Equal(t, fake.Counts{Calls: 152, OK: 150, Throttled: 2}, c)

		// The throttling error is EC2's, mapped to HTTP 503.
		err := filteredCall()
		require.Equal(t, "RequestLimitExceeded", fake.ErrorCode(err))
		require.Equal(t, 503, fake.HTTPStatus(err))

		f.SetActionBucket(fake.ActionDescribeNetworkInterfaces, fake.Bucket{Size: 2, RefillPerSecond: 1})
		require.Equal(t, 1, burst(3, filteredCall))
		f.SetThrottling(false)
		require.Equal(t, 0, burst(1000, del))
	})
}

func TestFaults(t *testing.T) {
	ctx := t.Context()
	t.Run("on the Nth call", func(t *testing.T) {
		w := newWorld(t)
		w.f.InjectFault(fake.Fault{Action: fake.ActionCreateNetworkInterface, Code: "UnauthorizedOperation", OnCall: 2})
		w.eni(t)
		_, err := w.f.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(w.subnet)})
		require.Equal(t, "UnauthorizedOperation", fake.ErrorCode(err))
		require.Equal(t, 403, fake.HTTPStatus(err))
		w.eni(t) // fired once only
		c := w.f.Count(fake.ActionCreateNetworkInterface)
		require.Equal(t, fake.Counts{Calls: 3, OK: 2, Errors: 1}, c)
		d, err := w.f.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{
			Filters: []types.Filter{{Name: aws.String("status"), Values: []string{"available"}}}})
		require.NoError(t, err)
		require.Len(t, d.NetworkInterfaces, 2, "a failed call changes nothing")
	})
	t.Run("with a probability", func(t *testing.T) {
		w := newWorld(t, fake.Options{Seed: 42})
		remove := w.f.InjectFault(fake.Fault{Action: fake.ActionDescribeSubnets, Code: "InternalError", Probability: 0.25})
		failed := 0
		for range 1000 {
			if _, err := w.f.DescribeSubnets(ctx, nil); err != nil {
				require.Equal(t, 500, fake.HTTPStatus(err))
				failed++
			}
		}
		require.InDelta(t, 250, failed, 60)
		remove()
		_, err := w.f.DescribeSubnets(ctx, nil)
		require.NoError(t, err)
	})
	t.Run("lost response", func(t *testing.T) {
		w := newWorld(t)
		w.f.InjectFault(fake.Fault{Action: fake.ActionCreateNetworkInterface, Lost: true, OnCall: 1})
		in := &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(w.subnet), Description: aws.String("aws-k8s-branch-eni"),
			ClientToken: aws.String("tok")}
		_, err := w.f.CreateNetworkInterface(ctx, in)
		require.ErrorIs(t, err, fake.ErrLostResponse)
		require.Empty(t, fake.ErrorCode(err))
		// The interface exists although the caller never heard of it.
		d, err := w.f.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{
			Filters: []types.Filter{{Name: aws.String("description"), Values: []string{"aws-k8s-branch-eni"}}}})
		require.NoError(t, err)
		require.Len(t, d.NetworkInterfaces, 1)
		// A retry with the same token recovers it instead of leaking another.
		out, err := w.f.CreateNetworkInterface(ctx, in)
		require.NoError(t, err)
		require.Equal(t, aws.ToString(d.NetworkInterfaces[0].NetworkInterfaceId), aws.ToString(out.NetworkInterface.NetworkInterfaceId))
		require.Equal(t, fake.Counts{Calls: 2, OK: 1, Lost: 1}, w.f.Count(fake.ActionCreateNetworkInterface))
	})
	t.Run("lost response with an error code", func(t *testing.T) {
		w := newWorld(t)
		w.f.InjectFault(fake.Fault{Action: fake.ActionAssociateTrunkInterface, Lost: true, Code: "InternalError", OnCall: 1})
		err := w.associate(t, 9, w.eni(t))
		require.Equal(t, "InternalError", fake.ErrorCode(err))
		a, err := w.f.DescribeTrunkInterfaceAssociations(ctx, &ec2.DescribeTrunkInterfaceAssociationsInput{})
		require.NoError(t, err)
		require.Len(t, a.InterfaceAssociations, 1, "the association was made")
	})
	t.Run("latency and cancellation", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx := t.Context() // the bubble's own; the test's is canceled from outside it
			w := newWorld(t)
			w.f.SetLatency("", fake.Latency{Base: 100 * time.Millisecond})
			w.f.SetLatency(fake.ActionCreateNetworkInterface, fake.Latency{Base: 2 * time.Second, Jitter: time.Second})
			start := time.Now()
			w.eni(t)
			d := time.Since(start)
			require.GreaterOrEqual(t, d, 2*time.Second)
			require.Less(t, d, 3*time.Second)
			_, err := w.f.DescribeSubnets(ctx, nil)
			require.NoError(t, err)
			calls := w.f.Calls()
			require.Equal(t, 100*time.Millisecond, calls[len(calls)-1].Elapsed)

			cctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			_, err = w.f.CreateNetworkInterface(cctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(w.subnet)})
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.Equal(t, 1, w.f.Count(fake.ActionCreateNetworkInterface).Canceled)
		})
	})
	t.Run("delayed visibility", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx := t.Context() // the bubble's own; the test's is canceled from outside it
			w := newWorld(t)
			w.f.SetConsistency(fake.Consistency{Create: fake.Fixed(5 * time.Second)})
			id := w.eni(t)
			_, err := w.f.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{id}})
			require.Equal(t, "InvalidNetworkInterfaceID.NotFound", fake.ErrorCode(err))
			// Calls that name it do not know it yet either.
			_, err = w.f.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{id}, Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
			require.Equal(t, "InvalidNetworkInterfaceID.NotFound", fake.ErrorCode(err))
			time.Sleep(5 * time.Second)
			_, err = w.f.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{id}, Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
			require.NoError(t, err)
			d, err := w.f.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{id}})
			require.NoError(t, err)
			require.Len(t, d.NetworkInterfaces, 1)
		})
	})
	t.Run("attach delay", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx := t.Context() // the bubble's own; the test's is canceled from outside it
			w := newWorld(t, fake.Options{Consistency: fake.Consistency{Attach: fake.Fixed(3 * time.Second)}})
			eni := w.eni(t)
			_, err := w.f.AttachNetworkInterface(ctx, &ec2.AttachNetworkInterfaceInput{
				NetworkInterfaceId: aws.String(eni), InstanceId: aws.String(w.node.InstanceID), DeviceIndex: aws.Int32(1)})
			require.NoError(t, err)
			status := func() types.AttachmentStatus {
				d, err := w.f.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{eni}})
				require.NoError(t, err)
				return d.NetworkInterfaces[0].Attachment.Status
			}
			require.Equal(t, types.AttachmentStatusAttaching, status())
			time.Sleep(3 * time.Second)
			require.Equal(t, types.AttachmentStatusAttached, status())
		})
	})
}

func TestCallLog(t *testing.T) {
	ctx := t.Context()
	w := newWorld(t)
	require.Empty(t, w.f.Calls(), "builders are not logged")
	require.NoError(t, w.associate(t, 4, w.eni(t)))
	_, err := w.f.DeleteNetworkInterface(ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: aws.String("eni-0123456789abcdef0")})
	require.Error(t, err)
	calls := w.f.Calls()
	require.Len(t, calls, 3)
	require.Equal(t, fake.ActionAssociateTrunkInterface, calls[1].Action)
	require.Contains(t, calls[1].Params, "TrunkInterfaceId="+w.trunk)
	require.Contains(t, calls[1].Params, "VlanId=4")
	require.Equal(t, fake.OutcomeOK, calls[1].Outcome)
	require.Equal(t, fake.OutcomeError, calls[2].Outcome)
	require.Equal(t, "InvalidNetworkInterfaceID.NotFound", calls[2].Code)
	require.Len(t, w.f.CallsOf(fake.ActionCreateNetworkInterface), 1)
	require.Len(t, w.f.AllCounts(), 3)
	w.f.ResetCalls()
	require.Empty(t, w.f.Calls())
	require.Zero(t, w.f.Count(fake.ActionAssociateTrunkInterface).Calls)
}

// TestConcurrentAssociations races many workers for the nine branch slots
// of one m5.large trunk: exactly nine win, each VLAN once.
func TestConcurrentAssociations(t *testing.T) {
	ctx := t.Context()
	w := newWorld(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := map[int32]int{}
	var limited int
	for i := range 30 {
		wg.Go(func() {
			out, err := w.f.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(w.subnet), Groups: []string{w.podSG}})
			if err != nil {
				t.Error(err)
				return
			}
			vlan := int32(i%12 + 1)
			_, err = w.f.AssociateTrunkInterface(ctx, &ec2.AssociateTrunkInterfaceInput{TrunkInterfaceId: aws.String(w.trunk),
				BranchInterfaceId: out.NetworkInterface.NetworkInterfaceId, VlanId: aws.Int32(vlan)})
			mu.Lock()
			defer mu.Unlock()
			switch fake.ErrorCode(err) {
			case "":
				won[vlan]++
			case "AttachmentLimitExceeded":
				limited++
			case "InvalidParameterValue": // VLAN taken
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	require.Len(t, won, 9)
	for vlan, n := range won {
		require.Equal(t, 1, n, "VLAN %d", vlan)
	}
	a, err := w.f.DescribeTrunkInterfaceAssociations(ctx, &ec2.DescribeTrunkInterfaceAssociationsInput{})
	require.NoError(t, err)
	require.Len(t, a.InterfaceAssociations, 9)
	require.Positive(t, limited)
}

func TestDescribeInstanceTypes(t *testing.T) {
	ctx := t.Context()
	f := fake.New()
	out, err := f.DescribeInstanceTypes(ctx, &ec2.DescribeInstanceTypesInput{InstanceTypes: []types.InstanceType{"m5.large", "c6in.32xlarge"}})
	require.NoError(t, err)
	require.Len(t, out.InstanceTypes, 2)
	big, m5 := out.InstanceTypes[0], out.InstanceTypes[1]
	require.Equal(t, types.InstanceType("m5.large"), m5.InstanceType)
	require.EqualValues(t, 3, aws.ToInt32(m5.NetworkInfo.MaximumNetworkInterfaces))
	require.EqualValues(t, 10, aws.ToInt32(m5.NetworkInfo.Ipv4AddressesPerInterface))
	require.Equal(t, types.InstanceTypeHypervisorNitro, m5.Hypervisor)
	require.EqualValues(t, 2, aws.ToInt32(big.NetworkInfo.MaximumNetworkCards))
	require.Len(t, big.NetworkInfo.NetworkCards, 2)

	p := ec2.NewDescribeInstanceTypesPaginator(f, &ec2.DescribeInstanceTypesInput{MaxResults: aws.Int32(100),
		Filters: []types.Filter{{Name: aws.String("instance-type"), Values: []string{"m5.*"}}}})
	n := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		require.NoError(t, err)
		for _, it := range page.InstanceTypes {
			require.Regexp(t, `^m5\.`, string(it.InstanceType))
		}
		n += len(page.InstanceTypes)
	}
	require.Positive(t, n)
}

func TestRunInstances(t *testing.T) {
	ctx := t.Context()
	w := newWorld(t)
	out, err := w.f.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: aws.String("ami-anything"), InstanceType: "c6in.32xlarge", MinCount: aws.Int32(2), MaxCount: aws.Int32(2),
		ClientToken: aws.String("launch-1"),
		NetworkInterfaces: []types.InstanceNetworkInterfaceSpecification{
			{DeviceIndex: aws.Int32(0), SubnetId: aws.String(w.subnet), Groups: []string{w.nodeSG}},
			{DeviceIndex: aws.Int32(0), NetworkCardIndex: aws.Int32(1), Groups: []string{w.nodeSG}},
		},
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeInstance, Tags: []types.Tag{{Key: aws.String("Name"), Value: aws.String("n")}}}},
	})
	require.NoError(t, err)
	require.Len(t, out.Instances, 2)
	inst := out.Instances[0]
	require.Equal(t, types.InstanceStateNamePending, inst.State.Name, "EC2 answers RunInstances while instances are pending")
	require.Len(t, inst.NetworkInterfaces, 2)
	require.EqualValues(t, 1, aws.ToInt32(inst.NetworkInterfaces[1].Attachment.NetworkCardIndex))
	require.Equal(t, w.nodeSG, aws.ToString(inst.SecurityGroups[0].GroupId))

	again, err := w.f.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: aws.String("ami-anything"), InstanceType: "c6in.32xlarge", MinCount: aws.Int32(2), MaxCount: aws.Int32(2),
		ClientToken: aws.String("launch-1"),
		NetworkInterfaces: []types.InstanceNetworkInterfaceSpecification{
			{DeviceIndex: aws.Int32(0), SubnetId: aws.String(w.subnet), Groups: []string{w.nodeSG}},
			{DeviceIndex: aws.Int32(0), NetworkCardIndex: aws.Int32(1), Groups: []string{w.nodeSG}},
		},
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeInstance, Tags: []types.Tag{{Key: aws.String("Name"), Value: aws.String("n")}}}},
	})
	require.NoError(t, err)
	require.Equal(t, aws.ToString(out.ReservationId), aws.ToString(again.ReservationId))

	d, err := w.f.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []types.Filter{{Name: aws.String("tag:Name"), Values: []string{"n"}}}})
	require.NoError(t, err)
	require.Len(t, d.Reservations, 1)
	require.Len(t, d.Reservations[0].Instances, 2)
}

func TestErrorsAreTyped(t *testing.T) {
	require.Equal(t, 200, fake.HTTPStatus(nil))
	require.Equal(t, 500, fake.HTTPStatus(errors.New("plain")))
	lost := &fake.LostResponseError{Action: fake.ActionCreateNetworkInterface}
	require.ErrorIs(t, lost, fake.ErrLostResponse)
	require.Contains(t, lost.Error(), "CreateNetworkInterface")
}

func TestCallLogRing(t *testing.T) {
	ctx := t.Context()
	f := fake.New(fake.Options{CallLogSize: 3, DisableThrottling: true})
	for _, id := range []string{"vpc-00000001", "vpc-00000002", "vpc-00000003", "vpc-00000004", "vpc-00000005"} {
		_, err := f.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: aws.String(id)})
		require.Error(t, err)
	}
	var got []string
	for _, c := range f.Calls() {
		got = append(got, c.Params)
	}
	require.Equal(t, []string{"VpcId=vpc-00000003", "VpcId=vpc-00000004", "VpcId=vpc-00000005"}, got)
	require.Equal(t, 5, f.Count(fake.ActionDeleteVpc).Errors, "counters count every call")
}

func TestDefaultVPC(t *testing.T) {
	ctx := t.Context()
	f := fake.New(fake.Options{DisableThrottling: true})
	_, err := f.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("g"), Description: aws.String("d")})
	require.Equal(t, "VPCIdNotSpecified", fake.ErrorCode(err))
	vpc := f.AddDefaultVPC("172.31.0.0/16")
	subnet := f.AddSubnet(vpc, "172.31.0.0/20", "")
	g, err := f.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("g"), Description: aws.String("d")})
	require.NoError(t, err)
	run, err := f.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-1"), InstanceType: "m5.large",
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SecurityGroups: []string{"g"}})
	require.NoError(t, err)
	require.Equal(t, subnet, aws.ToString(run.Instances[0].SubnetId))
	require.Equal(t, aws.ToString(g.GroupId), aws.ToString(run.Instances[0].SecurityGroups[0].GroupId))
	vpcs, err := f.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []types.Filter{{Name: aws.String("is-default"), Values: []string{"true"}}}})
	require.NoError(t, err)
	require.Len(t, vpcs.Vpcs, 1)
	require.Panics(t, func() { f.AddDefaultVPC("172.30.0.0/16") })
}

func TestSecondaryAddresses(t *testing.T) {
	ctx := t.Context()
	w := newWorld(t)
	out, err := w.f.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(w.subnet),
		PrivateIpAddresses: []types.PrivateIpAddressSpecification{
			{Primary: aws.Bool(true), PrivateIpAddress: aws.String("10.0.1.10")},
			{PrivateIpAddress: aws.String("10.0.1.11")},
		},
		SecondaryPrivateIpAddressCount: aws.Int32(2)})
	require.NoError(t, err)
	var got []string
	for _, a := range out.NetworkInterface.PrivateIpAddresses {
		got = append(got, aws.ToString(a.PrivateIpAddress))
	}
	require.Equal(t, "10.0.1.10", got[0])
	require.Equal(t, "10.0.1.11", got[1])
	require.Len(t, got, 4)
	d, err := w.f.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{
		Filters: []types.Filter{{Name: aws.String("addresses.private-ip-address"), Values: []string{"10.0.1.11"}}}})
	require.NoError(t, err)
	require.Len(t, d.NetworkInterfaces, 1)
	_, err = w.f.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(w.subnet),
		PrivateIpAddresses: []types.PrivateIpAddressSpecification{{PrivateIpAddress: aws.String("10.0.1.11")}}})
	require.Equal(t, "InvalidIPAddress.InUse", fake.ErrorCode(err))
	_, err = w.f.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(w.subnet), PrivateIpAddress: aws.String("10.0.0.1")})
	require.Equal(t, "InvalidParameterValue", fake.ErrorCode(err), "reserved addresses cannot be asked for")
}
