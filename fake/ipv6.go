package fake

import (
	"context"
	"encoding/binary"
	"net/netip"
	"slices"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// IPv6 in the fake, as EC2 has it (Amazon VPC User Guide, "IPv6 support for
// your VPC", and the SDK's documentation of the operations below):
//
//   - A VPC gets Amazon-provided /56 blocks: CreateVpc or
//     AssociateVpcCidrBlock with AmazonProvidedIpv6CidrBlock, at most
//     maxVPCIPv6Blocks of them (CidrLimitExceeded above). Blocks from an
//     address pool (Ipv6Pool, Ipv6CidrBlock) or from IPAM are not modelled
//     and refused as such.
//   - A subnet gets one block, /44 to /64 in steps of /4, from its VPC's
//     blocks: CreateSubnet with Ipv6CidrBlock, or AssociateSubnetCidrBlock. Ipv6Native makes an
//     IPv6-only subnet: it has no IPv4 CIDR, its interfaces no IPv4
//     address, and it assigns an IPv6 address on creation.
//   - An interface gets IPv6 addresses with Ipv6AddressCount or
//     Ipv6Addresses (not both); a subnet without an IPv6 CIDR refuses them.
//     The first four addresses and the last one of a subnet's block are
//     reserved, as for IPv4; the others are handed out in a pseudo-random
//     order drawn from the seed.
//
// New associations are answered "associating", as EC2's examples show
// (API reference, AssociateSubnetCidrBlock), and described "associated".

// ID prefixes of CIDR block associations.
const (
	prefixVPCCIDRAssoc    = "vpc-cidr-assoc-"
	prefixSubnetCIDRAssoc = "subnet-cidr-assoc-"
)

// maxVPCIPv6Blocks is EC2's default quota of IPv6 CIDR blocks per VPC
// (Amazon VPC quotas, "IPv6 CIDR blocks per VPC": 5).
const maxVPCIPv6Blocks = 5

// CodeCidrLimitExceeded is EC2's error for a VPC that has as many CIDR
// blocks as its quota allows.
const CodeCidrLimitExceeded = "CidrLimitExceeded"

// amazonIPv6Pool is the range the fake draws Amazon-provided /56 blocks from:
// the 2600:1f00::/24 that EC2's Amazon-provided blocks come from in its
// commercial regions (2600:1f14::/32 in us-west-2, 2600:1f18::/32 in
// us-east-1, …).
var amazonIPv6Pool = netip.MustParsePrefix("2600:1f00::/24")

// notModelled refuses a parameter EC2 takes that the fake does not model,
// rather than ignoring it and answering as if it had been left out.
func notModelled(action Action, param string) error {
	return invalidValue("Parameter %s of %s is valid, but package fake does not model it; leave it out, or add it to the fake", param, action)
}

// vpcIPv6Params refuses the IPv6 parameters of CreateVpc and
// AssociateVpcCidrBlock the fake does not model, and checks the network
// border group, which must be the region's.
func (f *EC2) vpcIPv6Params(action Action, amazon *bool, block, pool, ipamPool *string, ipamLen *int32, borderGroup *string) error {
	switch {
	case block != nil:
		return notModelled(action, "Ipv6CidrBlock (a block from an IPv6 address pool)")
	case pool != nil:
		return notModelled(action, "Ipv6Pool")
	case ipamPool != nil:
		return notModelled(action, "Ipv6IpamPoolId")
	case ipamLen != nil:
		return notModelled(action, "Ipv6NetmaskLength")
	}
	if borderGroup != nil {
		if !aws.ToBool(amazon) {
			return apiError(CodeInvalidParameterCombination, "Ipv6CidrBlockNetworkBorderGroup requires AmazonProvidedIpv6CidrBlock.")
		}
		if *borderGroup != f.opts.Region {
			return invalidValue("Value (%s) for parameter ipv6CidrBlockNetworkBorderGroup is invalid. The fake's only network border group is its region, %s.", *borderGroup, f.opts.Region)
		}
	}
	return nil
}

// addVPCIPv6 associates an Amazon-provided /56 with v. The caller holds
// f.mu.
func (f *EC2) addVPCIPv6(v *vpc) (*cidrAssoc, error) {
	if len(v.ipv6) >= maxVPCIPv6Blocks {
		return nil, apiError(CodeCidrLimitExceeded, "The maximum number of IPv6 CIDR blocks (%d) for VPC '%s' has been reached.", maxVPCIPv6Blocks, v.id)
	}
	var p netip.Prefix
	for try := 0; ; try++ {
		h := f.draws.hash("ipv6-block", v.id, strconv.Itoa(len(v.ipv6)), strconv.Itoa(try))
		b := amazonIPv6Pool.Addr().As16()
		// Bits 24 to 55 are drawn: 2600:1fXX:XXXX:XX00::/56.
		b[3], b[4], b[5], b[6] = byte(h), byte(h>>8), byte(h>>16), byte(h>>24)
		p = netip.PrefixFrom(netip.AddrFrom16(b), 56)
		if !f.ipv6BlockTaken(p) {
			break
		}
	}
	a := cidrAssoc{id: f.newID(prefixVPCCIDRAssoc), prefix: p}
	v.ipv6 = append(v.ipv6, a)
	return &v.ipv6[len(v.ipv6)-1], nil
}

func (f *EC2) ipv6BlockTaken(p netip.Prefix) bool {
	for _, v := range f.st.vpcs {
		for _, a := range v.ipv6 {
			if a.prefix.Overlaps(p) {
				return true
			}
		}
	}
	return false
}

func (f *EC2) renderVPCIPv6(a cidrAssoc, state types.VpcCidrBlockStateCode) types.VpcIpv6CidrBlockAssociation {
	return types.VpcIpv6CidrBlockAssociation{
		AssociationId:        aws.String(a.id),
		Ipv6CidrBlock:        aws.String(a.prefix.String()),
		Ipv6CidrBlockState:   &types.VpcCidrBlockState{State: state},
		Ipv6Pool:             aws.String("Amazon"),
		NetworkBorderGroup:   aws.String(f.opts.Region),
		IpSource:             types.IpSourceAmazon,
		Ipv6AddressAttribute: types.Ipv6AddressAttributePublic,
	}
}

func renderSubnetIPv6(a cidrAssoc, state types.SubnetCidrBlockStateCode) types.SubnetIpv6CidrBlockAssociation {
	return types.SubnetIpv6CidrBlockAssociation{
		AssociationId:        aws.String(a.id),
		Ipv6CidrBlock:        aws.String(a.prefix.String()),
		Ipv6CidrBlockState:   &types.SubnetCidrBlockState{State: state},
		IpSource:             types.IpSourceAmazon,
		Ipv6AddressAttribute: types.Ipv6AddressAttributePublic,
	}
}

// AssociateVpcCidrBlock associates an Amazon-provided IPv6 /56 with a VPC
// (AmazonProvidedIpv6CidrBlock), answered "associating". Secondary IPv4
// blocks, blocks from an address pool and IPAM pools are not modelled and
// refused as such.
//
// Errors: MissingParameter, InvalidVpcID.NotFound, CidrLimitExceeded (a
// sixth IPv6 block), InvalidParameterValue.
func (f *EC2) AssociateVpcCidrBlock(ctx context.Context, in *ec2.AssociateVpcCidrBlockInput, _ ...func(*ec2.Options)) (*ec2.AssociateVpcCidrBlockOutput, error) {
	return call(ctx, f, ActionAssociateVpcCidrBlock, in, true, func(in *ec2.AssociateVpcCidrBlockInput) (*ec2.AssociateVpcCidrBlockOutput, error) {
		v, err := f.lookupVPC(aws.ToString(in.VpcId))
		if err != nil {
			return nil, err
		}
		switch {
		case in.CidrBlock != nil:
			return nil, notModelled(ActionAssociateVpcCidrBlock, "CidrBlock (a secondary IPv4 block)")
		case in.Ipv4IpamPoolId != nil:
			return nil, notModelled(ActionAssociateVpcCidrBlock, "Ipv4IpamPoolId")
		case in.Ipv4NetmaskLength != nil:
			return nil, notModelled(ActionAssociateVpcCidrBlock, "Ipv4NetmaskLength")
		}
		if err := f.vpcIPv6Params(ActionAssociateVpcCidrBlock, in.AmazonProvidedIpv6CidrBlock, in.Ipv6CidrBlock, in.Ipv6Pool,
			in.Ipv6IpamPoolId, in.Ipv6NetmaskLength, in.Ipv6CidrBlockNetworkBorderGroup); err != nil {
			return nil, err
		}
		if !aws.ToBool(in.AmazonProvidedIpv6CidrBlock) {
			return nil, missing("AmazonProvidedIpv6CidrBlock")
		}
		a, err := f.addVPCIPv6(v)
		if err != nil {
			return nil, err
		}
		out := f.renderVPCIPv6(*a, types.VpcCidrBlockStateCodeAssociating)
		return &ec2.AssociateVpcCidrBlockOutput{VpcId: aws.String(v.id), Ipv6CidrBlockAssociation: &out}, nil
	})
}

// subnetIPv6Prefix checks cidr as the IPv6 CIDR of a subnet of v: a /44 to
// /64 in steps of /4 inside one of v's IPv6 blocks that overlaps no other
// subnet's.
func (f *EC2) subnetIPv6Prefix(v *vpc, cidr string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is6() || p.Addr().Is4In6() || p.Addr().Zone() != "" || p.Masked() != p ||
		p.Bits() < 44 || p.Bits() > 64 || p.Bits()%4 != 0 {
		// A subnet's IPv6 block is /44 to /64 in steps of /4 (Amazon VPC
		// User Guide, "Subnet CIDR blocks"; subnets larger than a /64 are
		// seen in DescribeSubnets answers, ManageIQ/manageiq-providers-amazon#914,
		// where older EC2 took /64 only). The wording is EC2's answer to a
		// refused block (terraform-provider-aws#28775).
		return netip.Prefix{}, invalidValue("invalid value for parameter ipv6-cidr-block: %s", cidr)
	}
	inside := false
	for _, a := range v.ipv6 {
		inside = inside || a.prefix.Contains(p.Addr()) && a.prefix.Bits() <= p.Bits()
	}
	if !inside {
		return netip.Prefix{}, apiError(CodeSubnetRange, "The CIDR '%s' is invalid.", cidr)
	}
	for _, s := range f.st.subnets {
		if s.vpcID == v.id && s.ipv6 != nil && s.ipv6.prefix.Overlaps(p) {
			return netip.Prefix{}, apiError(CodeSubnetConflict, "The CIDR '%s' conflicts with another subnet", cidr)
		}
	}
	return p, nil
}

// setSubnetIPv6 gives s the IPv6 CIDR p.
func (f *EC2) setSubnetIPv6(s *subnet, p netip.Prefix) {
	s.ipv6 = &cidrAssoc{id: f.newID(prefixSubnetCIDRAssoc), prefix: p}
	s.used6 = make(map[netip.Addr]string)
}

// AssociateSubnetCidrBlock associates an IPv6 block of its VPC's blocks
// (/44 to /64 in steps of /4) with a subnet that has none, answered
// "associating". A subnet holds one IPv6
// block. IPAM pools are not modelled and refused as such.
//
// Errors: MissingParameter, InvalidSubnetID.NotFound, InvalidParameterValue
// (not a /44 to /64 in steps of /4, or the subnet has a block), InvalidSubnet.Range (outside the
// VPC's blocks), InvalidSubnet.Conflict (overlaps another subnet's block).
func (f *EC2) AssociateSubnetCidrBlock(ctx context.Context, in *ec2.AssociateSubnetCidrBlockInput, _ ...func(*ec2.Options)) (*ec2.AssociateSubnetCidrBlockOutput, error) {
	return call(ctx, f, ActionAssociateSubnetCidrBlock, in, true, func(in *ec2.AssociateSubnetCidrBlockInput) (*ec2.AssociateSubnetCidrBlockOutput, error) {
		s, err := f.lookupSubnet(aws.ToString(in.SubnetId))
		if err != nil {
			return nil, err
		}
		switch {
		case in.Ipv6IpamPoolId != nil:
			return nil, notModelled(ActionAssociateSubnetCidrBlock, "Ipv6IpamPoolId")
		case in.Ipv6NetmaskLength != nil:
			return nil, notModelled(ActionAssociateSubnetCidrBlock, "Ipv6NetmaskLength")
		case in.Ipv6CidrBlock == nil:
			return nil, missing("Ipv6CidrBlock")
		case s.ipv6 != nil:
			// "You can only associate a single IPv6 CIDR block with your
			// subnet" (API reference, AssociateSubnetCidrBlock).
			return nil, invalidValue("The subnet '%s' already has an IPv6 CIDR block (%s); a subnet has one.", s.id, s.ipv6.prefix)
		}
		p, err := f.subnetIPv6Prefix(f.st.vpcs[s.vpcID], aws.ToString(in.Ipv6CidrBlock))
		if err != nil {
			return nil, err
		}
		f.setSubnetIPv6(s, p)
		out := renderSubnetIPv6(*s.ipv6, types.SubnetCidrBlockStateCodeAssociating)
		return &ec2.AssociateSubnetCidrBlockOutput{SubnetId: aws.String(s.id), Ipv6CidrBlockAssociation: &out}, nil
	})
}

// reservedIPv6 reports whether a is one of the addresses EC2 keeps in every
// subnet's IPv6 block p: the first four and the last (Amazon VPC User Guide,
// "Subnet CIDR blocks").
func reservedIPv6(p netip.Prefix, a netip.Addr) bool {
	first := p.Masked().Addr()
	for range 4 {
		if a == first {
			return true
		}
		first = first.Next()
	}
	return a == lastIPv6(p)
}

// lastIPv6 is the last address of p.
func lastIPv6(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As16()
	for i := p.Bits(); i < 128; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom16(b)
}

// ipv6Spec is what an interface asks for in IPv6: a count, or addresses.
type ipv6Spec struct {
	count    *int32
	explicit []string
}

// v6Spec collects the IPv6 parameters of a request.
func v6Spec(count *int32, addrs []types.InstanceIpv6Address) ipv6Spec {
	sp := ipv6Spec{count: count}
	for _, a := range addrs {
		sp.explicit = append(sp.explicit, aws.ToString(a.Ipv6Address))
	}
	return sp
}

// checkAddrs checks the addressing an interface in s asks for, IPv4 and
// IPv6, and returns how many IPv6 addresses it gets drawn.
func (f *EC2) checkAddrs(s *subnet, sp eniSpec) (draw6 int, err error) {
	v6 := sp.ipv6
	if s.ipv6Native && (sp.ip != "" || sp.secondary > 0 || len(sp.extra) > 0) {
		return 0, invalidValue("Subnet %s is IPv6-only: its interfaces have no private IPv4 addresses. "+
			"Leave out PrivateIpAddress, PrivateIpAddresses and SecondaryPrivateIpAddressCount.", s.id)
	}
	if v6.count != nil && len(v6.explicit) > 0 {
		// EC2's answer to both on RunInstances (ansible/ansible#40334).
		return 0, apiError(CodeInvalidParameterCombination, "IPv6 addresses and IPv6 address count may not be specified on the same request")
	}
	if v6.count != nil && *v6.count < 0 {
		return 0, invalidValue("Value (%d) for parameter ipv6AddressCount is invalid.", *v6.count)
	}
	want := len(v6.explicit)
	switch {
	case v6.count != nil:
		want = int(*v6.count)
	case want == 0 && s.ipv6Native:
		want = 1 // an IPv6-only subnet assigns an address on creation
	}
	if want > 0 && s.ipv6 == nil {
		// EC2 does not publish this answer's wording; its code is the one
		// of its other refusals of IPv6 on a subnet without an IPv6 block
		// ("Cannot set assign-ipv6-address-on-creation to true unless the
		// subnet (subnet-…) has an IPv6 CIDR block associated with it",
		// terraform-aws-modules/terraform-aws-vpc#735).
		return 0, invalidValue("Cannot assign IPv6 addresses to a network interface in subnet %s: the subnet has no IPv6 CIDR block associated with it.", s.id)
	}
	if want == 0 && s.ipv6Native {
		return 0, invalidValue("Value (0) for parameter ipv6AddressCount is invalid. An interface in IPv6-only subnet %s needs an IPv6 address.", s.id)
	}
	for i, a := range v6.explicit {
		if err := s.checkAddr6(a); err != nil {
			return 0, err
		}
		if slices.Contains(v6.explicit[:i], a) {
			return 0, invalidValue("Address %s is specified more than once.", a)
		}
	}
	if len(v6.explicit) > 0 {
		return 0, nil
	}
	return want, nil
}

// checkAddr6 reports whether addr can be assigned in s: an IPv6 address
// inside the subnet's block, not reserved and not in use.
func (s *subnet) checkAddr6(addr string) error {
	a, err := netip.ParseAddr(addr)
	if err != nil || !a.Is6() || a.Is4In6() || a.Zone() != "" {
		return invalidValue("Invalid value '%s' for ipv6Address.", addr)
	}
	if s.ipv6 == nil || !s.ipv6.prefix.Contains(a) || reservedIPv6(s.ipv6.prefix, a) {
		return invalidValue("Address %s does not fall within the subnet's address range", addr)
	}
	if _, taken := s.used6[a]; taken {
		return apiError(CodeIPAddressInUse, "The specified address is already in use.")
	}
	return nil
}

// allocate6 assigns a free IPv6 address of s to owner, drawn from the seed,
// the owner and how many the owner has: the host bits of the subnet's block
// are drawn.
func (f *EC2) allocate6(s *subnet, owner string, n int) netip.Addr {
	p := s.ipv6.prefix
	base := p.Masked().Addr().As16()
	for try := 0; ; try++ {
		hi := f.draws.hash("ipv6-hi", s.id, owner, strconv.Itoa(n), strconv.Itoa(try))
		lo := f.draws.hash("ipv6", s.id, owner, strconv.Itoa(n), strconv.Itoa(try))
		var r [16]byte
		binary.BigEndian.PutUint64(r[:8], hi)
		binary.BigEndian.PutUint64(r[8:], lo)
		b := base
		for i := range 16 {
			var host byte // the bits of byte i past the prefix
			switch {
			case 8*(i+1) <= p.Bits():
			case 8*i >= p.Bits():
				host = 0xff
			default:
				host = 0xff >> (p.Bits() - 8*i)
			}
			b[i] |= r[i] & host
		}
		a := netip.AddrFrom16(b)
		if _, taken := s.used6[a]; !taken && !reservedIPv6(p, a) {
			s.used6[a] = owner
			return a
		}
	}
}

// assign6 gives e its IPv6 addresses: the explicit ones, or draw of them.
func (f *EC2) assign6(s *subnet, e *netIface, explicit []string, draw int) {
	for _, addr := range explicit {
		a := netip.MustParseAddr(addr)
		s.used6[a] = e.id
		e.ipv6 = append(e.ipv6, a)
	}
	for i := range draw {
		e.ipv6 = append(e.ipv6, f.allocate6(s, e.id, i))
	}
}

// ipv6Strings renders addresses.
func ipv6Strings(as []netip.Addr) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	return out
}

// AddVPCIPv6 associates an Amazon-provided IPv6 /56 with a VPC and returns
// it.
func (f *EC2) AddVPCIPv6(vpcID string) netip.Prefix {
	return build(f, "AddVPCIPv6 "+vpcID, func() (netip.Prefix, error) {
		v, err := f.lookupVPC(vpcID)
		if err != nil {
			return netip.Prefix{}, err
		}
		a, err := f.addVPCIPv6(v)
		if err != nil {
			return netip.Prefix{}, err
		}
		return a.prefix, nil
	})
}

// AddSubnetIPv6 associates the IPv6 block cidr (a /64, usually), from its
// VPC's blocks, with a subnet that has none, making it dual-stack.
func (f *EC2) AddSubnetIPv6(subnetID, cidr string) {
	build(f, "AddSubnetIPv6 "+subnetID, func() (struct{}, error) {
		s, err := f.lookupSubnet(subnetID)
		if err != nil {
			return struct{}{}, err
		}
		if s.ipv6 != nil {
			return struct{}{}, invalidValue("subnet %s already has the IPv6 CIDR block %s", s.id, s.ipv6.prefix)
		}
		p, err := f.subnetIPv6Prefix(f.st.vpcs[s.vpcID], cidr)
		if err != nil {
			return struct{}{}, err
		}
		f.setSubnetIPv6(s, p)
		return struct{}{}, nil
	})
}

// AddIPv6OnlySubnet creates an IPv6-only subnet with the IPv6 block cidr (a
// /64, usually) of its VPC's IPv6 blocks in zone az (Region+"a" when empty)
// and returns its ID. Its interfaces have no IPv4 address.
func (f *EC2) AddIPv6OnlySubnet(vpcID, cidr, az string) string {
	return build(f, "AddIPv6OnlySubnet "+cidr, func() (string, error) {
		s, err := f.createSubnet(subnetSpec{vpcID: vpcID, cidr6: cidr, native: true, az: az})
		if err != nil {
			return "", err
		}
		return s.id, nil
	})
}

// subnet64 returns the n-th /64 (n from 0 to 255) of an IPv6 /56 block, the
// usual way to number a VPC's subnets.
func subnet64(block netip.Prefix, n int) netip.Prefix {
	b := block.Masked().Addr().As16()
	b[7] = byte(n)
	return netip.PrefixFrom(netip.AddrFrom16(b), 64)
}
