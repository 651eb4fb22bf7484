package fake_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/fake"
)

// TestTutorial replays the EC2 side of the EKS tutorial against the seeded
// scenario, cleanup included.
func TestTutorial(t *testing.T) {
	ctx := t.Context()
	f := fake.New()
	tut, err := fake.SeedTutorial(ctx, f)
	require.NoError(t, err)
	require.Empty(t, f.Calls(), "seeding is not logged")

	raw, err := json.Marshal(tut)
	require.NoError(t, err)
	var keys map[string]any
	require.NoError(t, json.Unmarshal(raw, &keys))
	for _, k := range []string{"vpcId", "subnetIds", "clusterSecurityGroupId", "nodeSecurityGroupId", "podSecurityGroupId",
		"dnsTcpRuleId", "dnsUdpRuleId", "podSelfRuleId", "nodes"} {
		require.Contains(t, keys, k)
	}

	inst, err := f.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []types.Filter{
		{Name: aws.String("instance-type"), Values: []string{"m5.large"}},
		{Name: aws.String("tag:eks:cluster-name"), Values: []string{fake.TutorialClusterName}}}})
	require.NoError(t, err)
	n := 0
	for _, r := range inst.Reservations {
		for _, i := range r.Instances {
			n++
			require.ElementsMatch(t, []string{tut.ClusterSecurityGroupID, tut.NodeSecurityGroupID},
				[]string{aws.ToString(i.SecurityGroups[0].GroupId), aws.ToString(i.SecurityGroups[1].GroupId)})
		}
	}
	require.Equal(t, 5, n)

	rules, err := f.DescribeSecurityGroupRules(ctx, &ec2.DescribeSecurityGroupRulesInput{
		SecurityGroupRuleIds: []string{tut.DNSTCPRuleID, tut.DNSUDPRuleID, tut.PodSelfRuleID}})
	require.NoError(t, err)
	got := map[string]string{}
	for _, r := range rules.SecurityGroupRules {
		got[aws.ToString(r.SecurityGroupRuleId)] = fmt.Sprintf("%s %s %d from %s", aws.ToString(r.GroupId), aws.ToString(r.IpProtocol),
			aws.ToInt32(r.FromPort), aws.ToString(r.ReferencedGroupInfo.GroupId))
	}
	require.Equal(t, map[string]string{
		tut.DNSTCPRuleID:  tut.ClusterSecurityGroupID + " tcp 53 from " + tut.PodSecurityGroupID,
		tut.DNSUDPRuleID:  tut.ClusterSecurityGroupID + " udp 53 from " + tut.PodSecurityGroupID,
		tut.PodSelfRuleID: tut.PodSecurityGroupID + " tcp 80 from " + tut.PodSecurityGroupID,
	}, got)

	// Cleanup, as the tutorial does it: the pod group cannot go while the
	// cluster group's DNS rules reference it.
	_, err = f.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(tut.PodSecurityGroupID)})
	require.Equal(t, "DependencyViolation", fake.ErrorCode(err))
	for _, id := range []string{tut.DNSTCPRuleID, tut.DNSUDPRuleID} {
		_, err = f.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{
			GroupId: aws.String(tut.ClusterSecurityGroupID), SecurityGroupRuleIds: []string{id}})
		require.NoError(t, err)
	}
	_, err = f.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{
		GroupId: aws.String(tut.PodSecurityGroupID), SecurityGroupRuleIds: []string{tut.PodSelfRuleID}})
	require.NoError(t, err)
	_, err = f.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(tut.PodSecurityGroupID)})
	require.NoError(t, err)

	ctxDone, cancel := context.WithCancel(ctx)
	cancel()
	_, err = fake.SeedTutorial(ctxDone, f)
	require.ErrorIs(t, err, context.Canceled)
}

// TestTutorialIPv6 checks the IPv6 variant of the tutorial's world: the
// same world, dual-stack, each node with an IPv6 address of its subnet.
func TestTutorialIPv6(t *testing.T) {
	ctx := t.Context()
	f := fake.New()
	tut, err := fake.SeedTutorialIPv6(ctx, f)
	require.NoError(t, err)
	block := netip.MustParsePrefix(tut.VPCIPv6CIDR)
	require.Equal(t, 56, block.Bits())
	require.Len(t, tut.SubnetIPv6CIDRs, len(tut.SubnetIDs))
	subs, err := f.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: tut.SubnetIDs})
	require.NoError(t, err)
	v6 := map[string]netip.Prefix{}
	for i, id := range tut.SubnetIDs {
		p := netip.MustParsePrefix(tut.SubnetIPv6CIDRs[i])
		require.True(t, block.Contains(p.Addr()) && p.Bits() == 64, "%s in %s", p, block)
		v6[id] = p
	}
	for _, s := range subs.Subnets {
		require.Len(t, s.Ipv6CidrBlockAssociationSet, 1)
		require.Equal(t, v6[aws.ToString(s.SubnetId)].String(), aws.ToString(s.Ipv6CidrBlockAssociationSet[0].Ipv6CidrBlock))
		require.NotEmpty(t, aws.ToString(s.CidrBlock), "dual-stack")
	}
	require.Len(t, tut.Nodes, fake.TutorialNodes)
	for _, n := range tut.Nodes {
		require.NotEmpty(t, n.PrivateIP)
		require.True(t, v6[n.SubnetID].Contains(netip.MustParseAddr(n.IPv6)), "node %s: %s outside %s", n.InstanceID, n.IPv6, v6[n.SubnetID])
	}

	// The IPv4 tutorial's world has none of it.
	plain, err := fake.SeedTutorial(ctx, fake.New())
	require.NoError(t, err)
	raw, err := json.Marshal(plain)
	require.NoError(t, err)
	require.NotContains(t, string(raw), "ipv6", "the IPv4 world's JSON is as before")
}

// The tutorial's world: five m5.large nodes with nine branch slots each.
func ExampleSeedTutorial() {
	ctx := context.Background()
	f := fake.New()
	tut, err := fake.SeedTutorial(ctx, f)
	if err != nil {
		panic(err)
	}
	out, err := f.DescribeInstanceTypes(ctx, &ec2.DescribeInstanceTypesInput{InstanceTypes: []types.InstanceType{types.InstanceType(tut.InstanceType)}})
	if err != nil {
		panic(err)
	}
	fmt.Println(len(tut.Nodes), "nodes of", tut.InstanceType, "with",
		aws.ToInt32(out.InstanceTypes[0].NetworkInfo.MaximumNetworkInterfaces), "ENIs each")
	fmt.Println("subnets:", len(tut.SubnetIDs))
	fmt.Println("first node:", tut.Nodes[0].PrivateIP)
	// Output:
	// 5 nodes of m5.large with 3 ENIs each
	// subnets: 3
	// first node: 192.168.32.4
}

// Losing the response of a create call: the interface exists, the caller
// got an error. Retrying with the same ClientToken finds it.
func ExampleEC2_InjectFault() {
	ctx := context.Background()
	f := fake.New()
	subnet := f.AddSubnet(f.AddVPC("10.0.0.0/16"), "10.0.0.0/24", "")
	f.InjectFault(fake.Fault{Action: fake.ActionCreateNetworkInterface, Lost: true, OnCall: 1})

	in := &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(subnet), ClientToken: aws.String("pod-uid-1")}
	_, err := f.CreateNetworkInterface(ctx, in)
	fmt.Println("first try lost:", errors.Is(err, fake.ErrLostResponse))
	out, err := f.CreateNetworkInterface(ctx, in)
	if err != nil {
		panic(err)
	}
	fmt.Println("retry found:", aws.ToString(out.NetworkInterface.PrivateIpAddress))
	fmt.Println(f.Count(fake.ActionCreateNetworkInterface))
	// Output:
	// first try lost: true
	// retry found: 10.0.0.4
	// {2 1 0 0 1 0}
}
