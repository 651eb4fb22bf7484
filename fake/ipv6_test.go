package fake_test

import (
	"net/netip"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/fake"
)

// sub64 returns the n-th /64 of a /56.
func sub64(t *testing.T, block netip.Prefix, n int) netip.Prefix {
	t.Helper()
	require.Equal(t, 56, block.Bits())
	b := block.Addr().As16()
	b[7] = byte(n)
	return netip.PrefixFrom(netip.AddrFrom16(b), 64)
}

func filter(name string, values ...string) types.Filter {
	return types.Filter{Name: aws.String(name), Values: values}
}

func TestVPCIPv6(t *testing.T) {
	ctx := t.Context()
	f := fake.New(fake.Options{DisableThrottling: true})
	out, err := f.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16"), AmazonProvidedIpv6CidrBlock: aws.Bool(true)})
	require.NoError(t, err)
	vpcID := aws.ToString(out.Vpc.VpcId)
	require.Len(t, out.Vpc.Ipv6CidrBlockAssociationSet, 1)
	a := out.Vpc.Ipv6CidrBlockAssociationSet[0]
	require.Equal(t, types.VpcCidrBlockStateCodeAssociating, a.Ipv6CidrBlockState.State, "EC2 answers the creation while it associates")
	block := netip.MustParsePrefix(aws.ToString(a.Ipv6CidrBlock))
	require.Equal(t, 56, block.Bits())
	require.True(t, netip.MustParsePrefix("2600:1f00::/24").Contains(block.Addr()), "%s is not from Amazon's pool", block)
	require.Equal(t, "Amazon", aws.ToString(a.Ipv6Pool))
	require.Equal(t, f.Region(), aws.ToString(a.NetworkBorderGroup))

	d, err := f.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []types.Filter{
		filter("ipv6-cidr-block-association.ipv6-cidr-block", block.String()),
		filter("ipv6-cidr-block-association.state", "associated"),
		filter("ipv6-cidr-block-association.ipv6-pool", "Amazon"),
		filter("ipv6-cidr-block-association.association-id", aws.ToString(a.AssociationId)),
	}})
	require.NoError(t, err)
	require.Len(t, d.Vpcs, 1)
	require.Equal(t, types.VpcCidrBlockStateCodeAssociated, d.Vpcs[0].Ipv6CidrBlockAssociationSet[0].Ipv6CidrBlockState.State)

	// Up to five blocks, each distinct.
	seen := map[netip.Prefix]bool{block: true}
	for range 4 {
		more, err := f.AssociateVpcCidrBlock(ctx, &ec2.AssociateVpcCidrBlockInput{VpcId: aws.String(vpcID), AmazonProvidedIpv6CidrBlock: aws.Bool(true)})
		require.NoError(t, err)
		p := netip.MustParsePrefix(aws.ToString(more.Ipv6CidrBlockAssociation.Ipv6CidrBlock))
		require.False(t, seen[p], "block %s handed out twice", p)
		seen[p] = true
	}
	_, err = f.AssociateVpcCidrBlock(ctx, &ec2.AssociateVpcCidrBlockInput{VpcId: aws.String(vpcID), AmazonProvidedIpv6CidrBlock: aws.Bool(true)})
	require.Equal(t, fake.CodeCidrLimitExceeded, fake.ErrorCode(err))

	other := f.AddVPC("10.1.0.0/16")
	for _, tc := range []struct {
		name string
		in   *ec2.AssociateVpcCidrBlockInput
		code string
	}{
		{"nothing asked", &ec2.AssociateVpcCidrBlockInput{VpcId: aws.String(other)}, "MissingParameter"},
		{"a pool's block", &ec2.AssociateVpcCidrBlockInput{VpcId: aws.String(other), Ipv6CidrBlock: aws.String("2001:db8::/56"), Ipv6Pool: aws.String("ipv6pool-ec2-0123456789abcdef0")}, "InvalidParameterValue"},
		{"a secondary IPv4 block", &ec2.AssociateVpcCidrBlockInput{VpcId: aws.String(other), CidrBlock: aws.String("10.2.0.0/16")}, "InvalidParameterValue"},
		{"another border group", &ec2.AssociateVpcCidrBlockInput{VpcId: aws.String(other), AmazonProvidedIpv6CidrBlock: aws.Bool(true), Ipv6CidrBlockNetworkBorderGroup: aws.String("us-west-2-lax-1")}, "InvalidParameterValue"},
		{"a border group without an Amazon block", &ec2.AssociateVpcCidrBlockInput{VpcId: aws.String(other), Ipv6CidrBlockNetworkBorderGroup: aws.String(f.Region())}, "InvalidParameterCombination"},
		{"unknown VPC", &ec2.AssociateVpcCidrBlockInput{VpcId: aws.String("vpc-0123456789abcdef0"), AmazonProvidedIpv6CidrBlock: aws.Bool(true)}, "InvalidVpcID.NotFound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.AssociateVpcCidrBlock(t.Context(), tc.in)
			require.Equal(t, tc.code, fake.ErrorCode(err), "%v", err)
		})
	}
	d, err = f.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{other}})
	require.NoError(t, err)
	require.Empty(t, d.Vpcs[0].Ipv6CidrBlockAssociationSet, "a refused request associates nothing")
}

func TestSubnetIPv6(t *testing.T) {
	ctx := t.Context()
	f := fake.New(fake.Options{DisableThrottling: true})
	vpc := f.AddVPC("10.0.0.0/16")
	v4only := f.AddVPC("10.1.0.0/16")
	block := f.AddVPCIPv6(vpc)

	dual, err := f.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(vpc), CidrBlock: aws.String("10.0.0.0/24"),
		Ipv6CidrBlock: aws.String(sub64(t, block, 1).String())})
	require.NoError(t, err)
	require.Equal(t, "10.0.0.0/24", aws.ToString(dual.Subnet.CidrBlock))
	require.Len(t, dual.Subnet.Ipv6CidrBlockAssociationSet, 1)
	require.Equal(t, sub64(t, block, 1).String(), aws.ToString(dual.Subnet.Ipv6CidrBlockAssociationSet[0].Ipv6CidrBlock))
	require.False(t, aws.ToBool(dual.Subnet.Ipv6Native))

	only, err := f.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(vpc), Ipv6Native: aws.Bool(true),
		Ipv6CidrBlock: aws.String(sub64(t, block, 2).String())})
	require.NoError(t, err)
	require.Nil(t, only.Subnet.CidrBlock, "an IPv6-only subnet has no IPv4 CIDR")
	require.True(t, aws.ToBool(only.Subnet.Ipv6Native))
	require.True(t, aws.ToBool(only.Subnet.AssignIpv6AddressOnCreation))

	// A /60 (a subnet's block is /44 to /64 in steps of /4): its addresses
	// are drawn from all of it.
	wide := netip.PrefixFrom(sub64(t, block, 0x40).Addr(), 60)
	w, err := f.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(vpc), CidrBlock: aws.String("10.0.4.0/24"), Ipv6CidrBlock: aws.String(wide.String())})
	require.NoError(t, err)
	seen64 := map[netip.Prefix]bool{}
	for range 16 {
		ni, err := f.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: w.Subnet.SubnetId, Ipv6AddressCount: aws.Int32(1)})
		require.NoError(t, err)
		a := netip.MustParseAddr(aws.ToString(ni.NetworkInterface.Ipv6Address))
		require.True(t, wide.Contains(a), "%s outside %s", a, wide)
		p, err := a.Prefix(64)
		require.NoError(t, err)
		seen64[p] = true
	}
	require.Greater(t, len(seen64), 1, "addresses come from the whole /60, not its first /64")

	plain := f.AddSubnet(vpc, "10.0.3.0/24", "")
	_, err = f.AssociateSubnetCidrBlock(ctx, &ec2.AssociateSubnetCidrBlockInput{SubnetId: aws.String(plain), Ipv6CidrBlock: aws.String(sub64(t, block, 3).String())})
	require.NoError(t, err)

	d, err := f.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []types.Filter{filter("ipv6-native", "true")}})
	require.NoError(t, err)
	require.Len(t, d.Subnets, 1)
	require.Equal(t, aws.ToString(only.Subnet.SubnetId), aws.ToString(d.Subnets[0].SubnetId))
	d, err = f.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []types.Filter{
		filter("ipv6-cidr-block-association.ipv6-cidr-block", sub64(t, block, 3).String()),
		filter("ipv6-cidr-block-association.state", "associated"),
	}})
	require.NoError(t, err)
	require.Len(t, d.Subnets, 1)
	require.Equal(t, plain, aws.ToString(d.Subnets[0].SubnetId))

	for _, tc := range []struct {
		name string
		in   *ec2.CreateSubnetInput
		code string
	}{
		{"a /62", &ec2.CreateSubnetInput{VpcId: aws.String(vpc), CidrBlock: aws.String("10.0.9.0/24"), Ipv6CidrBlock: aws.String(netip.PrefixFrom(sub64(t, block, 0x90).Addr(), 62).String())}, "InvalidParameterValue"},
		{"a /72", &ec2.CreateSubnetInput{VpcId: aws.String(vpc), CidrBlock: aws.String("10.0.9.0/24"), Ipv6CidrBlock: aws.String(netip.PrefixFrom(sub64(t, block, 0x90).Addr(), 72).String())}, "InvalidParameterValue"},
		{"larger than the VPC's block", &ec2.CreateSubnetInput{VpcId: aws.String(vpc), CidrBlock: aws.String("10.0.9.0/24"), Ipv6CidrBlock: aws.String(netip.PrefixFrom(block.Addr(), 52).Masked().String())}, "InvalidSubnet.Range"},
		{"an IPv4 block", &ec2.CreateSubnetInput{VpcId: aws.String(vpc), CidrBlock: aws.String("10.0.9.0/24"), Ipv6CidrBlock: aws.String("10.0.9.0/24")}, "InvalidParameterValue"},
		{"outside the VPC's blocks", &ec2.CreateSubnetInput{VpcId: aws.String(vpc), CidrBlock: aws.String("10.0.9.0/24"), Ipv6CidrBlock: aws.String("2001:db8::/64")}, "InvalidSubnet.Range"},
		{"a VPC without IPv6", &ec2.CreateSubnetInput{VpcId: aws.String(v4only), CidrBlock: aws.String("10.1.0.0/24"), Ipv6CidrBlock: aws.String(sub64(t, block, 9).String())}, "InvalidSubnet.Range"},
		{"taken", &ec2.CreateSubnetInput{VpcId: aws.String(vpc), CidrBlock: aws.String("10.0.9.0/24"), Ipv6CidrBlock: aws.String(sub64(t, block, 1).String())}, "InvalidSubnet.Conflict"},
		{"IPv6-only with an IPv4 block", &ec2.CreateSubnetInput{VpcId: aws.String(vpc), Ipv6Native: aws.Bool(true), CidrBlock: aws.String("10.0.9.0/24"), Ipv6CidrBlock: aws.String(sub64(t, block, 9).String())}, "InvalidParameterCombination"},
		{"IPv6-only without an IPv6 block", &ec2.CreateSubnetInput{VpcId: aws.String(vpc), Ipv6Native: aws.Bool(true)}, "MissingParameter"},
		{"an IPAM pool", &ec2.CreateSubnetInput{VpcId: aws.String(vpc), CidrBlock: aws.String("10.0.9.0/24"), Ipv6IpamPoolId: aws.String("ipam-pool-0123456789abcdef0")}, "InvalidParameterValue"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.CreateSubnet(t.Context(), tc.in)
			require.Equal(t, tc.code, fake.ErrorCode(err), "%v", err)
		})
	}
	_, err = f.AssociateSubnetCidrBlock(ctx, &ec2.AssociateSubnetCidrBlockInput{SubnetId: aws.String(plain), Ipv6CidrBlock: aws.String(sub64(t, block, 4).String())})
	require.Equal(t, "InvalidParameterValue", fake.ErrorCode(err), "a subnet holds one IPv6 block")
	_, err = f.AssociateSubnetCidrBlock(ctx, &ec2.AssociateSubnetCidrBlockInput{SubnetId: aws.String(plain)})
	require.Equal(t, "MissingParameter", fake.ErrorCode(err))
}

func TestENIIPv6(t *testing.T) {
	ctx := t.Context()
	f := fake.New(fake.Options{DisableThrottling: true})
	vpc := f.AddVPC("10.0.0.0/16")
	block := f.AddVPCIPv6(vpc)
	v4 := f.AddSubnet(vpc, "10.0.0.0/24", "")
	dual := f.AddSubnet(vpc, "10.0.1.0/24", "")
	dual64 := sub64(t, block, 1)
	f.AddSubnetIPv6(dual, dual64.String())
	only64 := sub64(t, block, 2)
	only := f.AddIPv6OnlySubnet(vpc, only64.String(), "")
	iid := func(a netip.Addr) uint64 {
		b := a.As16()
		var v uint64
		for _, x := range b[8:] {
			v = v<<8 | uint64(x)
		}
		return v
	}

	t.Run("count in a dual-stack subnet", func(t *testing.T) {
		out, err := f.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(dual), Ipv6AddressCount: aws.Int32(2)})
		require.NoError(t, err)
		ni := out.NetworkInterface
		require.NotEmpty(t, aws.ToString(ni.PrivateIpAddress), "a dual-stack interface has its IPv4 address too")
		require.False(t, aws.ToBool(ni.Ipv6Native))
		require.Len(t, ni.Ipv6Addresses, 2)
		require.Equal(t, aws.ToString(ni.Ipv6Addresses[0].Ipv6Address), aws.ToString(ni.Ipv6Address))
		for _, a := range ni.Ipv6Addresses {
			addr := netip.MustParseAddr(aws.ToString(a.Ipv6Address))
			require.True(t, dual64.Contains(addr), "%s outside %s", addr, dual64)
			require.True(t, iid(addr) >= 4 && iid(addr) != ^uint64(0), "%s is reserved", addr)
		}
		d, err := f.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{Filters: []types.Filter{
			filter("ipv6-addresses.ipv6-address", aws.ToString(ni.Ipv6Addresses[1].Ipv6Address))}})
		require.NoError(t, err)
		require.Len(t, d.NetworkInterfaces, 1)
		require.Equal(t, aws.ToString(ni.NetworkInterfaceId), aws.ToString(d.NetworkInterfaces[0].NetworkInterfaceId))
	})

	t.Run("IPv6-only subnet", func(t *testing.T) {
		out, err := f.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(only)})
		require.NoError(t, err)
		ni := out.NetworkInterface
		require.Nil(t, ni.PrivateIpAddress, "no IPv4 address in an IPv6-only subnet")
		require.Empty(t, ni.PrivateIpAddresses)
		require.True(t, aws.ToBool(ni.Ipv6Native))
		require.Len(t, ni.Ipv6Addresses, 1, "an IPv6-only subnet assigns an address on creation")
		require.True(t, only64.Contains(netip.MustParseAddr(aws.ToString(ni.Ipv6Address))))
		_, err = f.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: aws.String(only)})
		require.Equal(t, "DependencyViolation", fake.ErrorCode(err), "its interface holds an address")
		_, err = f.DeleteNetworkInterface(ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: ni.NetworkInterfaceId})
		require.NoError(t, err)
		// The address is free again.
		again, err := f.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(only),
			Ipv6Addresses: []types.InstanceIpv6Address{{Ipv6Address: ni.Ipv6Address}}})
		require.NoError(t, err)
		require.Equal(t, aws.ToString(ni.Ipv6Address), aws.ToString(again.NetworkInterface.Ipv6Address))
	})

	t.Run("explicit address", func(t *testing.T) {
		want := netip.AddrFrom16(func() [16]byte { b := dual64.Addr().As16(); b[15] = 0x42; return b }())
		out, err := f.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(dual),
			Ipv6Addresses: []types.InstanceIpv6Address{{Ipv6Address: aws.String(want.String())}}})
		require.NoError(t, err)
		require.Equal(t, want.String(), aws.ToString(out.NetworkInterface.Ipv6Address))
		_, err = f.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(dual),
			Ipv6Addresses: []types.InstanceIpv6Address{{Ipv6Address: aws.String(want.String())}}})
		require.Equal(t, "InvalidIPAddress.InUse", fake.ErrorCode(err))
	})

	reserved := netip.AddrFrom16(func() [16]byte { b := dual64.Addr().As16(); b[15] = 3; return b }())
	for _, tc := range []struct {
		name string
		in   *ec2.CreateNetworkInterfaceInput
		code string
	}{
		{"a subnet without IPv6", &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(v4), Ipv6AddressCount: aws.Int32(1)}, "InvalidParameterValue"},
		{"an address in a subnet without IPv6", &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(v4), Ipv6Addresses: []types.InstanceIpv6Address{{Ipv6Address: aws.String(dual64.Addr().Next().Next().Next().Next().String())}}}, "InvalidParameterValue"},
		{"count and addresses", &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(dual), Ipv6AddressCount: aws.Int32(1), Ipv6Addresses: []types.InstanceIpv6Address{{Ipv6Address: aws.String(dual64.Addr().String())}}}, "InvalidParameterCombination"},
		{"a negative count", &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(dual), Ipv6AddressCount: aws.Int32(-1)}, "InvalidParameterValue"},
		{"a reserved address", &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(dual), Ipv6Addresses: []types.InstanceIpv6Address{{Ipv6Address: aws.String(reserved.String())}}}, "InvalidParameterValue"},
		{"an address of another subnet", &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(dual), Ipv6Addresses: []types.InstanceIpv6Address{{Ipv6Address: aws.String(only64.Addr().Next().Next().Next().Next().String())}}}, "InvalidParameterValue"},
		{"no address in an IPv6-only subnet", &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(only), Ipv6AddressCount: aws.Int32(0)}, "InvalidParameterValue"},
		{"an IPv4 address in an IPv6-only subnet", &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(only), PrivateIpAddress: aws.String("10.0.2.10")}, "InvalidParameterValue"},
		{"IPv6 prefixes", &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(dual), Ipv6PrefixCount: aws.Int32(1)}, "InvalidParameterValue"},
		{"a primary IPv6 address", &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(dual), EnablePrimaryIpv6: aws.Bool(true)}, "InvalidParameterValue"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, err := f.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{})
			require.NoError(t, err)
			_, err = f.CreateNetworkInterface(t.Context(), tc.in)
			require.Equal(t, tc.code, fake.ErrorCode(err), "%v", err)
			after, err := f.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{})
			require.NoError(t, err)
			require.Len(t, after.NetworkInterfaces, len(before.NetworkInterfaces), "a refused request creates nothing")
		})
	}
}

func TestInstanceIPv6Only(t *testing.T) {
	ctx := t.Context()
	f := fake.New(fake.Options{DisableThrottling: true})
	vpc := f.AddVPC("10.0.0.0/16")
	block := f.AddVPCIPv6(vpc)
	only := f.AddIPv6OnlySubnet(vpc, sub64(t, block, 0).String(), "")
	n := f.AddNode("m5.large", only)
	require.Empty(t, n.PrivateIP)
	d, err := f.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{n.InstanceID}})
	require.NoError(t, err)
	inst := d.Reservations[0].Instances[0]
	require.Nil(t, inst.PrivateIpAddress)
	require.True(t, sub64(t, block, 0).Contains(netip.MustParseAddr(aws.ToString(inst.Ipv6Address))))
	require.Len(t, inst.NetworkInterfaces[0].Ipv6Addresses, 1)

	dual := f.AddSubnet(vpc, "10.0.1.0/24", "")
	f.AddSubnetIPv6(dual, sub64(t, block, 1).String())
	run, err := f.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-0123456789abcdef0"), InstanceType: types.InstanceTypeM5Large,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: aws.String(dual), Ipv6AddressCount: aws.Int32(1)})
	require.NoError(t, err)
	require.NotEmpty(t, aws.ToString(run.Instances[0].PrivateIpAddress))
	require.True(t, sub64(t, block, 1).Contains(netip.MustParseAddr(aws.ToString(run.Instances[0].Ipv6Address))))
	_, err = f.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-0123456789abcdef0"), InstanceType: types.InstanceTypeM5Large,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: aws.String(f.AddSubnet(vpc, "10.0.2.0/24", "")), Ipv6AddressCount: aws.Int32(1)})
	require.Equal(t, "InvalidParameterValue", fake.ErrorCode(err), "no IPv6 in a subnet without an IPv6 block")
}
