package fake

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// newMeta issues an ID and stamps the creation time and when the creation
// has propagated (Consistency.Create). The caller holds f.mu.
func (f *EC2) newMeta(prefix string, t tags) meta {
	id := f.newID(prefix)
	return meta{id: id, tags: t, created: f.now, visibleAt: f.now.Add(f.lag(lagCreate, id))}
}

// parseIPv4Prefix parses an IPv4 CIDR whose address is its network address.
func parseIPv4Prefix(s string) (netip.Prefix, bool) {
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() || p.Masked() != p {
		return netip.Prefix{}, false
	}
	return p, true
}

func addrToU32(a netip.Addr) uint32 { b := a.As4(); return binary.BigEndian.Uint32(b[:]) }

func u32ToAddr(u uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], u)
	return netip.AddrFrom4(b)
}

func (f *EC2) createVPC(cidr string, t tags, isDefault bool) (*vpc, error) {
	if cidr == "" {
		return nil, missing("CidrBlock")
	}
	p, ok := parseIPv4Prefix(cidr)
	if !ok || p.Bits() < 16 || p.Bits() > 28 {
		return nil, apiError(CodeVpcRange, "The CIDR '%s' is invalid.", cidr)
	}
	v := &vpc{meta: f.newMeta(prefixVPC, t), prefix: p, isDefault: isDefault}
	f.st.vpcs[v.id] = v
	// The default group and its rules appear with the VPC.
	g := f.newGroup(v.id, "default", "default VPC security group", nil)
	v.defaultSG = g.id
	f.addRule(g, false, ruleSpec{proto: "-1", from: -1, to: -1, refGroup: g.id})
	g.visibleAt = v.visibleAt
	for _, id := range append(slices.Clone(g.ingress), g.egress...) {
		f.st.rules[id].visibleAt = v.visibleAt
	}
	return v, nil
}

// shownVPC returns the VPC Describe calls show under id at now.
func (f *EC2) shownVPC(id string, now time.Time) *vpc {
	if v := f.st.vpcs[id]; v != nil && v.visible(now) {
		return v
	}
	if v := f.st.goneVPCs[id]; v != nil && v.shown(now) {
		return v
	}
	return nil
}

// shownSubnet returns the subnet Describe calls show under id at now.
func (f *EC2) shownSubnet(id string, now time.Time) *subnet {
	if s := f.st.subnets[id]; s != nil && s.visible(now) {
		return s
	}
	if s := f.st.goneSubnets[id]; s != nil && s.shown(now) {
		return s
	}
	return nil
}

// renderVPC renders v, its IPv6 blocks in state ipv6 ("associating" in the
// answer that associates them, "associated" after).
func (f *EC2) renderVPC(v *vpc, ipv6 types.VpcCidrBlockStateCode) types.Vpc {
	out := types.Vpc{
		VpcId:           aws.String(v.id),
		CidrBlock:       aws.String(v.prefix.String()),
		IsDefault:       aws.Bool(v.isDefault),
		OwnerId:         aws.String(f.opts.AccountID),
		State:           types.VpcStateAvailable,
		InstanceTenancy: types.TenancyDefault,
		DhcpOptionsId:   aws.String("default"),
		CidrBlockAssociationSet: []types.VpcCidrBlockAssociation{{
			AssociationId:  aws.String(v.cidrAssocID()),
			CidrBlock:      aws.String(v.prefix.String()),
			CidrBlockState: &types.VpcCidrBlockState{State: types.VpcCidrBlockStateCodeAssociated},
		}},
		Tags: v.tags.list(),
	}
	for _, a := range v.ipv6 {
		out.Ipv6CidrBlockAssociationSet = append(out.Ipv6CidrBlockAssociationSet, f.renderVPCIPv6(a, ipv6))
	}
	return out
}

// cidrAssocID is the association ID of the VPC's IPv4 block.
func (v *vpc) cidrAssocID() string { return prefixVPCCIDRAssoc + strings.TrimPrefix(v.id, prefixVPC) }

// CreateVpc creates a VPC with an IPv4 CIDR between /16 and /28, and its
// default security group (named "default", allowing all traffic from itself
// and all outbound traffic). AmazonProvidedIpv6CidrBlock adds an
// Amazon-provided IPv6 /56 (see AssociateVpcCidrBlock).
func (f *EC2) CreateVpc(ctx context.Context, in *ec2.CreateVpcInput, _ ...func(*ec2.Options)) (*ec2.CreateVpcOutput, error) {
	return call(ctx, f, ActionCreateVpc, in, true, func(in *ec2.CreateVpcInput) (*ec2.CreateVpcOutput, error) {
		t, err := tagSpecs(in.TagSpecifications, types.ResourceTypeVpc)
		if err != nil {
			return nil, err
		}
		if err := f.vpcIPv6Params(ActionCreateVpc, in.AmazonProvidedIpv6CidrBlock, in.Ipv6CidrBlock, in.Ipv6Pool,
			in.Ipv6IpamPoolId, in.Ipv6NetmaskLength, in.Ipv6CidrBlockNetworkBorderGroup); err != nil {
			return nil, err
		}
		if dry(in.DryRun) {
			if _, ok := parseIPv4Prefix(aws.ToString(in.CidrBlock)); !ok {
				return nil, apiError(CodeVpcRange, "The CIDR '%s' is invalid.", aws.ToString(in.CidrBlock))
			}
			return nil, dryRunError()
		}
		v, err := f.createVPC(aws.ToString(in.CidrBlock), t, false)
		if err != nil {
			return nil, err
		}
		if aws.ToBool(in.AmazonProvidedIpv6CidrBlock) {
			if _, err := f.addVPCIPv6(v); err != nil {
				return nil, err
			}
		}
		out := f.renderVPC(v, types.VpcCidrBlockStateCodeAssociating)
		return &ec2.CreateVpcOutput{Vpc: &out}, nil
	})
}

func (f *EC2) lookupVPC(id string) (*vpc, error) {
	if id == "" {
		return nil, missing("VpcId")
	}
	if err := checkID(id, prefixVPC, CodeVpcIDMalformed); err != nil {
		return nil, err
	}
	v := f.st.vpcs[id]
	if v == nil || !f.sees(&v.meta) {
		return nil, notFound(CodeVpcNotFound, "vpc", id)
	}
	return v, nil
}

// DeleteVpc deletes a VPC that holds no subnets and no security groups other
// than its default one (DependencyViolation otherwise).
func (f *EC2) DeleteVpc(ctx context.Context, in *ec2.DeleteVpcInput, _ ...func(*ec2.Options)) (*ec2.DeleteVpcOutput, error) {
	return call(ctx, f, ActionDeleteVpc, in, true, func(in *ec2.DeleteVpcInput) (*ec2.DeleteVpcOutput, error) {
		v, err := f.lookupVPC(aws.ToString(in.VpcId))
		if err != nil {
			return nil, err
		}
		for _, s := range f.st.subnets {
			if s.vpcID == v.id {
				return nil, apiError(CodeDependencyViolation, "The vpc '%s' has dependencies and cannot be deleted.", v.id)
			}
		}
		for _, g := range f.st.groups {
			if g.vpcID == v.id && g.id != v.defaultSG {
				return nil, apiError(CodeDependencyViolation, "The vpc '%s' has dependencies and cannot be deleted.", v.id)
			}
		}
		if dry(in.DryRun) {
			return nil, dryRunError()
		}
		f.deleteGroup(f.st.groups[v.defaultSG])
		delete(f.st.vpcs, v.id)
		if d := f.lag(lagDelete, v.id); d > 0 {
			v.goneAt = f.now.Add(d)
			f.st.goneVPCs[v.id] = v
		}
		return &ec2.DeleteVpcOutput{}, nil
	})
}

// DescribeVpcs lists VPCs. Filters: vpc-id, cidr,
// cidr-block-association.{cidr-block, association-id, state},
// ipv6-cidr-block-association.{ipv6-cidr-block, association-id, ipv6-pool,
// state}, dhcp-options-id, is-default, state, owner-id, tag:<key>, tag-key.
// MaxResults is 5..1000.
func (f *EC2) DescribeVpcs(ctx context.Context, in *ec2.DescribeVpcsInput, _ ...func(*ec2.Options)) (*ec2.DescribeVpcsOutput, error) {
	narrowed := in != nil && filtered(in.Filters, len(in.VpcIds), in.MaxResults)
	return call(ctx, f, ActionDescribeVpcs, in, narrowed, func(in *ec2.DescribeVpcsInput) (*ec2.DescribeVpcsOutput, error) {
		if err := pages[ActionDescribeVpcs].check(in.MaxResults, len(in.VpcIds) > 0); err != nil {
			return nil, err
		}
		fs, err := vpcFilters.compile(in.Filters)
		if err != nil {
			return nil, err
		}
		now := f.now
		ids, err := f.selectIDs(in.VpcIds, prefixVPC, CodeVpcIDMalformed, CodeVpcNotFound, "vpc",
			func(id string) (bool, bool) {
				v := f.shownVPC(id, now)
				if v == nil {
					return false, false
				}
				return true, fs.match(f, v, v.tags)
			}, withGone(sortedIDs(f.st.vpcs), f.st.goneVPCs, func(v *vpc) *meta { return &v.meta }, now))
		if err != nil {
			return nil, err
		}
		ids, next, err := pages[ActionDescribeVpcs].paginate(ids, in.MaxResults, in.NextToken, len(in.VpcIds) > 0)
		if err != nil {
			return nil, err
		}
		out := &ec2.DescribeVpcsOutput{NextToken: next, Vpcs: make([]types.Vpc, 0, len(ids))}
		for _, id := range ids {
			out.Vpcs = append(out.Vpcs, f.renderVPC(f.shownVPC(id, now), types.VpcCidrBlockStateCodeAssociated))
		}
		return out, nil
	})
}

// vpcFilters are the filters of DescribeVpcs the fake models. Every name is
// in the SDK's documentation of the operation (checked by a test).
var vpcFilters = newFilterTable(ActionDescribeVpcs, map[string]filterField[*vpc]{
	"vpc-id":                            func(_ *EC2, v *vpc) []string { return one(v.id) },
	"cidr":                              func(_ *EC2, v *vpc) []string { return one(v.prefix.String()) },
	"cidr-block-association.cidr-block": func(_ *EC2, v *vpc) []string { return one(v.prefix.String()) },
	"cidr-block-association.association-id": func(_ *EC2, v *vpc) []string {
		return one(v.cidrAssocID())
	},
	"cidr-block-association.state": func(_ *EC2, v *vpc) []string {
		return one(string(types.VpcCidrBlockStateCodeAssociated))
	},
	"dhcp-options-id": func(_ *EC2, v *vpc) []string { return one("default") },
	"ipv6-cidr-block-association.ipv6-cidr-block": func(_ *EC2, v *vpc) []string {
		var out []string
		for _, a := range v.ipv6 {
			out = append(out, a.prefix.String())
		}
		return out
	},
	"ipv6-cidr-block-association.association-id": func(_ *EC2, v *vpc) []string {
		var out []string
		for _, a := range v.ipv6 {
			out = append(out, a.id)
		}
		return out
	},
	"ipv6-cidr-block-association.ipv6-pool": func(_ *EC2, v *vpc) []string {
		if len(v.ipv6) == 0 {
			return nil
		}
		return one("Amazon")
	},
	"ipv6-cidr-block-association.state": func(_ *EC2, v *vpc) []string {
		if len(v.ipv6) == 0 {
			return nil
		}
		return one(string(types.VpcCidrBlockStateCodeAssociated))
	},
	"is-default": func(_ *EC2, v *vpc) []string { return one(strconv.FormatBool(v.isDefault)) },
	"state":      func(_ *EC2, _ *vpc) []string { return one(string(types.VpcStateAvailable)) },
	"owner-id":   func(f *EC2, _ *vpc) []string { return one(f.opts.AccountID) },
})

// selectIDs resolves the resources a Describe call asks for. match reports
// whether Describe calls show the resource id at all (created and
// propagated, or deleted and not yet propagated), and whether it passes the
// request's filters. With explicit IDs, every ID must be well formed and
// shown (NotFound names all the missing ones); the matching ones are
// returned sorted. Without IDs, every resource of all (sorted) that is shown
// and passes is returned.
func (f *EC2) selectIDs(want []string, prefix, malformed, nf, kind string,
	match func(id string) (shown, pass bool), all []string) ([]string, error) {
	if len(want) == 0 {
		out := make([]string, 0, len(all))
		for _, id := range all {
			if shown, pass := match(id); shown && pass {
				out = append(out, id)
			}
		}
		return out, nil
	}
	want = dedupe(want)
	var missingIDs []string
	out := make([]string, 0, len(want))
	for _, id := range want {
		if malformed != "" {
			if err := checkID(id, prefix, malformed); err != nil {
				return nil, err
			}
		}
		shown, pass := match(id)
		if !shown {
			missingIDs = append(missingIDs, id)
			continue
		}
		if pass {
			out = append(out, id)
		}
	}
	if len(missingIDs) > 0 {
		return nil, notFound(nf, kind, missingIDs...)
	}
	slices.Sort(out)
	return out, nil
}

type subnetSpec struct {
	vpcID, cidr, az string
	cidr6           string // the IPv6 /64, or ""
	native          bool   // IPv6-only
	tags            tags
}

func (f *EC2) createSubnet(sp subnetSpec) (*subnet, error) {
	v, err := f.lookupVPC(sp.vpcID)
	if err != nil {
		return nil, err
	}
	var p netip.Prefix
	switch {
	case sp.native && sp.cidr != "":
		// "This parameter is not supported for an IPv6 only subnet" (SDK,
		// CreateSubnetInput.CidrBlock).
		return nil, apiError(CodeInvalidParameterCombination, "CidrBlock is not supported for an IPv6-only subnet (Ipv6Native).")
	case sp.native && sp.cidr6 == "":
		// "This parameter is required for an IPv6 only subnet" (SDK,
		// CreateSubnetInput.Ipv6CidrBlock).
		return nil, missing("Ipv6CidrBlock")
	case sp.native:
	case sp.cidr == "":
		return nil, missing("CidrBlock")
	default:
		var ok bool
		p, ok = parseIPv4Prefix(sp.cidr)
		if !ok || p.Bits() < 16 || p.Bits() > 28 || !v.prefix.Contains(p.Addr()) || p.Bits() < v.prefix.Bits() {
			return nil, apiError(CodeSubnetRange, "The CIDR '%s' is invalid.", sp.cidr)
		}
		for _, s := range f.st.subnets {
			if s.vpcID == v.id && s.prefix.IsValid() && s.prefix.Overlaps(p) {
				return nil, apiError(CodeSubnetConflict, "The CIDR '%s' conflicts with another subnet", sp.cidr)
			}
		}
	}
	var p6 netip.Prefix
	if sp.cidr6 != "" {
		if p6, err = f.subnetIPv6Prefix(v, sp.cidr6); err != nil {
			return nil, err
		}
	}
	az := sp.az
	if az == "" {
		az = f.opts.Region + "a"
	} else if !strings.HasPrefix(az, f.opts.Region) {
		return nil, invalidValue("Value (%s) for parameter availabilityZone is invalid. Subnets can currently only be created in the following availability zones: %sa, %sb, %sc.",
			az, f.opts.Region, f.opts.Region, f.opts.Region)
	}
	s := &subnet{
		meta:  f.newMeta(prefixSubnet, sp.tags),
		vpcID: v.id, az: az, prefix: p,
		used:       make(map[netip.Addr]string),
		ipv6Native: sp.native,
	}
	if p.IsValid() {
		network := addrToU32(p.Addr())
		total := uint32(1) << (32 - p.Bits())
		s.first, s.last, s.size = u32ToAddr(network+4), u32ToAddr(network+total-2), int(total)-5
		s.cursor = s.first
	}
	if p6.IsValid() {
		f.setSubnetIPv6(s, p6)
	}
	f.st.subnets[s.id] = s
	return s, nil
}

// allocate assigns the next free address of s to owner, scanning forward
// from the last assignment and wrapping around, so a released address is not
// handed out again at once.
func (s *subnet) allocate(owner string) (netip.Addr, error) {
	if len(s.used) >= s.size {
		return netip.Addr{}, apiError(CodeInsufficientFreeAddresses,
			"There are not enough free addresses in subnet '%s' to satisfy the requested number of instances.", s.id)
	}
	a := s.cursor
	for {
		if _, taken := s.used[a]; !taken {
			break
		}
		a = s.next(a)
	}
	s.used[a] = owner
	s.cursor = s.next(a)
	return a, nil
}

func (s *subnet) next(a netip.Addr) netip.Addr {
	if a == s.last {
		return s.first
	}
	return a.Next()
}

// checkAddr reports whether addr can be assigned in s: a well-formed IPv4
// address inside the subnet, not reserved and not in use.
func (s *subnet) checkAddr(addr string) error {
	a, err := netip.ParseAddr(addr)
	if err != nil || !a.Is4() {
		return invalidValue("Invalid value '%s' for privateIpAddress.", addr)
	}
	if !s.prefix.Contains(a) || a.Less(s.first) || s.last.Less(a) {
		return invalidValue("Address %s does not fall within the subnet's address range", addr)
	}
	if _, taken := s.used[a]; taken {
		return apiError(CodeIPAddressInUse, "The specified address is already in use.")
	}
	return nil
}

// reserve assigns a specific address to owner.
func (s *subnet) reserve(addr, owner string) (netip.Addr, error) {
	if err := s.checkAddr(addr); err != nil {
		return netip.Addr{}, err
	}
	a := netip.MustParseAddr(addr)
	s.used[a] = owner
	return a, nil
}

func (s *subnet) release(a netip.Addr) { delete(s.used, a) }

// render renders s, its IPv6 block in state ipv6 ("associating" in the
// answer that associates it, "associated" after).
func (s *subnet) render(owner string, ipv6 types.SubnetCidrBlockStateCode) types.Subnet {
	out := types.Subnet{
		SubnetId:                aws.String(s.id),
		SubnetArn:               aws.String(s.arn(owner)),
		VpcId:                   aws.String(s.vpcID),
		AvailabilityZone:        aws.String(s.az),
		AvailableIpAddressCount: aws.Int32(int32(s.size - len(s.used))),
		State:                   types.SubnetStateAvailable,
		OwnerId:                 aws.String(owner),
		DefaultForAz:            aws.Bool(false),
		MapPublicIpOnLaunch:     aws.Bool(false),
		// An IPv6-only subnet assigns IPv6 addresses on creation and has no
		// IPv4 ones to count, as DescribeSubnets shows one
		// (ManageIQ/manageiq-providers-amazon#914). The fake has no
		// ModifySubnetAttribute: a dual-stack subnet does not.
		AssignIpv6AddressOnCreation: aws.Bool(s.ipv6Native),
		Ipv6Native:                  aws.Bool(s.ipv6Native),
		EnableDns64:                 aws.Bool(false),
		Tags:                        s.tags.list(),
	}
	if s.prefix.IsValid() {
		out.CidrBlock = aws.String(s.prefix.String())
	}
	if s.ipv6 != nil {
		out.Ipv6CidrBlockAssociationSet = []types.SubnetIpv6CidrBlockAssociation{renderSubnetIPv6(*s.ipv6, ipv6)}
	}
	return out
}

func (s *subnet) arn(owner string) string {
	return fmt.Sprintf("arn:aws:ec2:%s:%s:subnet/%s", strings.TrimRight(s.az, "abcdefghijklmnopqrstuvwxyz"), owner, s.id)
}

// CreateSubnet creates a subnet in a VPC. The CIDR must lie inside the VPC's,
// be between /16 and /28 and overlap no other subnet of the VPC. The first
// four addresses and the last one are reserved, as in EC2. Ipv6CidrBlock
// gives the subnet an IPv6 /64 of the VPC's IPv6 blocks (dual-stack), and
// with Ipv6Native and no CidrBlock makes it IPv6-only; IPAM pools are not
// modelled and refused as such.
func (f *EC2) CreateSubnet(ctx context.Context, in *ec2.CreateSubnetInput, _ ...func(*ec2.Options)) (*ec2.CreateSubnetOutput, error) {
	return call(ctx, f, ActionCreateSubnet, in, true, func(in *ec2.CreateSubnetInput) (*ec2.CreateSubnetOutput, error) {
		t, err := tagSpecs(in.TagSpecifications, types.ResourceTypeSubnet)
		if err != nil {
			return nil, err
		}
		switch {
		case in.Ipv6IpamPoolId != nil:
			return nil, notModelled(ActionCreateSubnet, "Ipv6IpamPoolId")
		case in.Ipv6NetmaskLength != nil:
			return nil, notModelled(ActionCreateSubnet, "Ipv6NetmaskLength")
		}
		if dry(in.DryRun) {
			if _, err := f.lookupVPC(aws.ToString(in.VpcId)); err != nil {
				return nil, err
			}
			return nil, dryRunError()
		}
		s, err := f.createSubnet(subnetSpec{vpcID: aws.ToString(in.VpcId), cidr: aws.ToString(in.CidrBlock),
			cidr6: aws.ToString(in.Ipv6CidrBlock), native: aws.ToBool(in.Ipv6Native),
			az: aws.ToString(in.AvailabilityZone), tags: t})
		if err != nil {
			return nil, err
		}
		out := s.render(f.opts.AccountID, types.SubnetCidrBlockStateCodeAssociating)
		return &ec2.CreateSubnetOutput{Subnet: &out}, nil
	})
}

func (f *EC2) lookupSubnet(id string) (*subnet, error) {
	if id == "" {
		return nil, missing("SubnetId")
	}
	if err := checkID(id, prefixSubnet, CodeSubnetIDMalformed); err != nil {
		return nil, err
	}
	s := f.st.subnets[id]
	if s == nil || !f.sees(&s.meta) {
		return nil, notFound(CodeSubnetNotFound, "subnet", id)
	}
	return s, nil
}

// DeleteSubnet deletes a subnet that holds no network interfaces and no
// running instances (DependencyViolation otherwise).
func (f *EC2) DeleteSubnet(ctx context.Context, in *ec2.DeleteSubnetInput, _ ...func(*ec2.Options)) (*ec2.DeleteSubnetOutput, error) {
	return call(ctx, f, ActionDeleteSubnet, in, true, func(in *ec2.DeleteSubnetInput) (*ec2.DeleteSubnetOutput, error) {
		s, err := f.lookupSubnet(aws.ToString(in.SubnetId))
		if err != nil {
			return nil, err
		}
		if len(s.used) > 0 || len(s.used6) > 0 {
			return nil, apiError(CodeDependencyViolation, "The subnet '%s' has dependencies and cannot be deleted.", s.id)
		}
		if dry(in.DryRun) {
			return nil, dryRunError()
		}
		delete(f.st.subnets, s.id)
		if d := f.lag(lagDelete, s.id); d > 0 {
			s.goneAt = f.now.Add(d)
			f.st.goneSubnets[s.id] = s
		}
		return &ec2.DeleteSubnetOutput{}, nil
	})
}

// DescribeSubnets lists subnets. Filters: subnet-id, subnet-arn, vpc-id,
// cidr-block, availability-zone, available-ip-address-count, state,
// default-for-az, map-public-ip-on-launch, owner-id, ipv6-native,
// enable-dns64, ipv6-cidr-block-association.{ipv6-cidr-block,
// association-id, state}, tag:<key>, tag-key.
// MaxResults is 5..1000.
func (f *EC2) DescribeSubnets(ctx context.Context, in *ec2.DescribeSubnetsInput, _ ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error) {
	narrowed := in != nil && filtered(in.Filters, len(in.SubnetIds), in.MaxResults)
	return call(ctx, f, ActionDescribeSubnets, in, narrowed, func(in *ec2.DescribeSubnetsInput) (*ec2.DescribeSubnetsOutput, error) {
		if err := pages[ActionDescribeSubnets].check(in.MaxResults, len(in.SubnetIds) > 0); err != nil {
			return nil, err
		}
		fs, err := subnetFilters.compile(in.Filters)
		if err != nil {
			return nil, err
		}
		ids, err := f.selectIDs(in.SubnetIds, prefixSubnet, CodeSubnetIDMalformed, CodeSubnetNotFound, "subnet",
			func(id string) (bool, bool) {
				s := f.shownSubnet(id, f.now)
				if s == nil {
					return false, false
				}
				return true, fs.match(f, s, s.tags)
			}, withGone(sortedIDs(f.st.subnets), f.st.goneSubnets, func(s *subnet) *meta { return &s.meta }, f.now))
		if err != nil {
			return nil, err
		}
		ids, next, err := pages[ActionDescribeSubnets].paginate(ids, in.MaxResults, in.NextToken, len(in.SubnetIds) > 0)
		if err != nil {
			return nil, err
		}
		out := &ec2.DescribeSubnetsOutput{NextToken: next, Subnets: make([]types.Subnet, 0, len(ids))}
		for _, id := range ids {
			out.Subnets = append(out.Subnets, f.shownSubnet(id, f.now).render(f.opts.AccountID, types.SubnetCidrBlockStateCodeAssociated))
		}
		return out, nil
	})
}

// subnetFilters are the filters of DescribeSubnets the fake models. Every
// name is in the SDK's documentation of the operation (checked by a test).
var subnetFilters = newFilterTable(ActionDescribeSubnets, map[string]filterField[*subnet]{
	"subnet-id":  func(_ *EC2, s *subnet) []string { return one(s.id) },
	"subnet-arn": func(f *EC2, s *subnet) []string { return one(s.arn(f.opts.AccountID)) },
	"vpc-id":     func(_ *EC2, s *subnet) []string { return one(s.vpcID) },
	"cidr-block": func(_ *EC2, s *subnet) []string {
		if !s.prefix.IsValid() {
			return nil
		}
		return one(s.prefix.String())
	},
	"availability-zone":          func(_ *EC2, s *subnet) []string { return one(s.az) },
	"available-ip-address-count": func(_ *EC2, s *subnet) []string { return one(strconv.Itoa(s.size - len(s.used))) },
	"state":                      func(_ *EC2, _ *subnet) []string { return one(string(types.SubnetStateAvailable)) },
	"default-for-az":             func(_ *EC2, _ *subnet) []string { return one("false") },
	"map-public-ip-on-launch":    func(_ *EC2, _ *subnet) []string { return one("false") },
	"owner-id":                   func(f *EC2, _ *subnet) []string { return one(f.opts.AccountID) },
	"ipv6-native":                func(_ *EC2, s *subnet) []string { return one(strconv.FormatBool(s.ipv6Native)) },
	"enable-dns64":               func(_ *EC2, _ *subnet) []string { return one("false") },
	"ipv6-cidr-block-association.ipv6-cidr-block": func(_ *EC2, s *subnet) []string {
		if s.ipv6 == nil {
			return nil
		}
		return one(s.ipv6.prefix.String())
	},
	"ipv6-cidr-block-association.association-id": func(_ *EC2, s *subnet) []string {
		if s.ipv6 == nil {
			return nil
		}
		return one(s.ipv6.id)
	},
	"ipv6-cidr-block-association.state": func(_ *EC2, s *subnet) []string {
		if s.ipv6 == nil {
			return nil
		}
		return one(string(types.SubnetCidrBlockStateCodeAssociated))
	},
})
