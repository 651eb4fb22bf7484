package fake

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// newMeta issues an ID and stamps creation and visibility times.
func (f *EC2) newMeta(prefix string, t tags) meta {
	now := time.Now()
	return meta{id: f.newID(prefix), tags: t, created: now, visibleAt: now.Add(f.st.visibilityDelay)}
}

// SetVisibilityDelay makes resources created from now on invisible to
// Describe calls (lists and lookups by ID alike) for d after their creation,
// imitating EC2's eventual consistency. Mutating calls see them at once.
// Zero, the default, makes them visible immediately.
func (f *EC2) SetVisibilityDelay(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st.visibilityDelay = d
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
	g := f.newGroup(v.id, "default", "default VPC security group", nil)
	v.defaultSG = g.id
	f.addRule(g, false, ruleSpec{proto: "-1", from: -1, to: -1, refGroup: g.id})
	return v, nil
}

func (v *vpc) render(owner string) types.Vpc {
	return types.Vpc{
		VpcId:           aws.String(v.id),
		CidrBlock:       aws.String(v.prefix.String()),
		IsDefault:       aws.Bool(v.isDefault),
		OwnerId:         aws.String(owner),
		State:           types.VpcStateAvailable,
		InstanceTenancy: types.TenancyDefault,
		DhcpOptionsId:   aws.String("default"),
		CidrBlockAssociationSet: []types.VpcCidrBlockAssociation{{
			AssociationId:  aws.String("vpc-cidr-assoc-" + strings.TrimPrefix(v.id, prefixVPC)),
			CidrBlock:      aws.String(v.prefix.String()),
			CidrBlockState: &types.VpcCidrBlockState{State: types.VpcCidrBlockStateCodeAssociated},
		}},
		Tags: v.tags.list(),
	}
}

// CreateVpc creates a VPC with an IPv4 CIDR between /16 and /28, and its
// default security group (named "default", allowing all traffic from itself
// and all outbound traffic).
func (f *EC2) CreateVpc(ctx context.Context, in *ec2.CreateVpcInput, _ ...func(*ec2.Options)) (*ec2.CreateVpcOutput, error) {
	return call(ctx, f, ActionCreateVpc, in, true, func(in *ec2.CreateVpcInput) (*ec2.CreateVpcOutput, error) {
		t, err := tagSpecs(in.TagSpecifications, types.ResourceTypeVpc)
		if err != nil {
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
		out := v.render(f.opts.AccountID)
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
	if v == nil {
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
		return &ec2.DeleteVpcOutput{}, nil
	})
}

// DescribeVpcs lists VPCs. Filters: vpc-id, cidr, cidr-block, is-default,
// state, owner-id, tag:<key>, tag-key, tag-value.
func (f *EC2) DescribeVpcs(ctx context.Context, in *ec2.DescribeVpcsInput, _ ...func(*ec2.Options)) (*ec2.DescribeVpcsOutput, error) {
	narrowed := in != nil && filtered(in.Filters, len(in.VpcIds), in.MaxResults)
	return call(ctx, f, ActionDescribeVpcs, in, narrowed, func(in *ec2.DescribeVpcsInput) (*ec2.DescribeVpcsOutput, error) {
		if err := checkFilters(in.Filters, (&vpc{}).field); err != nil {
			return nil, err
		}
		now := time.Now()
		ids, err := f.selectIDs(in.VpcIds, prefixVPC, CodeVpcIDMalformed, CodeVpcNotFound, "vpc",
			func(id string) (*meta, bool) {
				v, ok := f.st.vpcs[id]
				if !ok {
					return nil, false
				}
				return &v.meta, matchFilters(in.Filters, v.tags, v.field)
			}, now, sortedIDs(f.st.vpcs))
		if err != nil {
			return nil, err
		}
		ids, next, err := page{idParam: "vpcIds", min: 5, max: 1000}.paginate(ids, in.MaxResults, in.NextToken, len(in.VpcIds) > 0)
		if err != nil {
			return nil, err
		}
		out := &ec2.DescribeVpcsOutput{NextToken: next, Vpcs: make([]types.Vpc, 0, len(ids))}
		for _, id := range ids {
			out.Vpcs = append(out.Vpcs, f.st.vpcs[id].render(f.opts.AccountID))
		}
		return out, nil
	})
}

func (v *vpc) field(name string) ([]string, bool) {
	switch name {
	case "vpc-id":
		return []string{v.id}, true
	case "cidr", "cidr-block", "cidr-block-association.cidr-block":
		return []string{v.prefix.String()}, true
	case "is-default":
		return []string{fmt.Sprint(v.isDefault)}, true
	case "state":
		return []string{"available"}, true
	case "owner-id":
		return nil, true
	}
	return nil, false
}

// selectIDs resolves the resources a Describe call asks for. With explicit
// IDs, every ID must be well formed and visible (NotFound names all the
// missing ones); the matching ones are returned sorted. Without IDs, every
// visible resource in all (sorted) that passes match is returned.
func (f *EC2) selectIDs(want []string, prefix, malformed, nf, kind string,
	match func(id string) (*meta, bool), now time.Time, all []string) ([]string, error) {
	if len(want) == 0 {
		out := make([]string, 0, len(all))
		for _, id := range all {
			if m, ok := match(id); ok && m.visible(now) {
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
		m, ok := match(id)
		if m == nil || !m.visible(now) {
			missingIDs = append(missingIDs, id)
			continue
		}
		if ok {
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
	tags            tags
}

func (f *EC2) createSubnet(sp subnetSpec) (*subnet, error) {
	v, err := f.lookupVPC(sp.vpcID)
	if err != nil {
		return nil, err
	}
	if sp.cidr == "" {
		return nil, missing("CidrBlock")
	}
	p, ok := parseIPv4Prefix(sp.cidr)
	if !ok || p.Bits() < 16 || p.Bits() > 28 || !v.prefix.Contains(p.Addr()) || p.Bits() < v.prefix.Bits() {
		return nil, apiError(CodeSubnetRange, "The CIDR '%s' is invalid.", sp.cidr)
	}
	for _, s := range f.st.subnets {
		if s.vpcID == v.id && s.prefix.Overlaps(p) {
			return nil, apiError(CodeSubnetConflict, "The CIDR '%s' conflicts with another subnet", sp.cidr)
		}
	}
	az := sp.az
	if az == "" {
		az = f.opts.Region + "a"
	} else if !strings.HasPrefix(az, f.opts.Region) {
		return nil, invalidValue("Value (%s) for parameter availabilityZone is invalid. Subnets can currently only be created in the following availability zones: %sa, %sb, %sc.",
			az, f.opts.Region, f.opts.Region, f.opts.Region)
	}
	network := addrToU32(p.Addr())
	total := uint32(1) << (32 - p.Bits())
	s := &subnet{
		meta:  f.newMeta(prefixSubnet, sp.tags),
		vpcID: v.id, az: az, prefix: p,
		first: u32ToAddr(network + 4),
		last:  u32ToAddr(network + total - 2),
		size:  int(total) - 5,
		used:  make(map[netip.Addr]string),
	}
	s.cursor = s.first
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

func (s *subnet) render(owner string) types.Subnet {
	return types.Subnet{
		SubnetId:                aws.String(s.id),
		SubnetArn:               aws.String(fmt.Sprintf("arn:aws:ec2:%s:%s:subnet/%s", strings.TrimRight(s.az, "abcdefghijklmnopqrstuvwxyz"), owner, s.id)),
		VpcId:                   aws.String(s.vpcID),
		CidrBlock:               aws.String(s.prefix.String()),
		AvailabilityZone:        aws.String(s.az),
		AvailableIpAddressCount: aws.Int32(int32(s.size - len(s.used))),
		State:                   types.SubnetStateAvailable,
		OwnerId:                 aws.String(owner),
		DefaultForAz:            aws.Bool(false),
		MapPublicIpOnLaunch:     aws.Bool(false),
		Tags:                    s.tags.list(),
	}
}

// CreateSubnet creates a subnet in a VPC. The CIDR must lie inside the VPC's,
// be between /16 and /28 and overlap no other subnet of the VPC. The first
// four addresses and the last one are reserved, as in EC2.
func (f *EC2) CreateSubnet(ctx context.Context, in *ec2.CreateSubnetInput, _ ...func(*ec2.Options)) (*ec2.CreateSubnetOutput, error) {
	return call(ctx, f, ActionCreateSubnet, in, true, func(in *ec2.CreateSubnetInput) (*ec2.CreateSubnetOutput, error) {
		t, err := tagSpecs(in.TagSpecifications, types.ResourceTypeSubnet)
		if err != nil {
			return nil, err
		}
		if dry(in.DryRun) {
			if _, err := f.lookupVPC(aws.ToString(in.VpcId)); err != nil {
				return nil, err
			}
			return nil, dryRunError()
		}
		s, err := f.createSubnet(subnetSpec{vpcID: aws.ToString(in.VpcId), cidr: aws.ToString(in.CidrBlock),
			az: aws.ToString(in.AvailabilityZone), tags: t})
		if err != nil {
			return nil, err
		}
		out := s.render(f.opts.AccountID)
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
	if s == nil {
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
		if len(s.used) > 0 {
			return nil, apiError(CodeDependencyViolation, "The subnet '%s' has dependencies and cannot be deleted.", s.id)
		}
		if dry(in.DryRun) {
			return nil, dryRunError()
		}
		delete(f.st.subnets, s.id)
		return &ec2.DeleteSubnetOutput{}, nil
	})
}

// DescribeSubnets lists subnets. Filters: subnet-id, vpc-id, cidr-block (and
// cidr, cidrBlock), availability-zone, available-ip-address-count, state,
// default-for-az, tag:<key>, tag-key, tag-value. MaxResults is 5..1000.
func (f *EC2) DescribeSubnets(ctx context.Context, in *ec2.DescribeSubnetsInput, _ ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error) {
	narrowed := in != nil && filtered(in.Filters, len(in.SubnetIds), in.MaxResults)
	return call(ctx, f, ActionDescribeSubnets, in, narrowed, func(in *ec2.DescribeSubnetsInput) (*ec2.DescribeSubnetsOutput, error) {
		if err := checkFilters(in.Filters, (&subnet{}).field); err != nil {
			return nil, err
		}
		ids, err := f.selectIDs(in.SubnetIds, prefixSubnet, CodeSubnetIDMalformed, CodeSubnetNotFound, "subnet",
			func(id string) (*meta, bool) {
				s, ok := f.st.subnets[id]
				if !ok {
					return nil, false
				}
				return &s.meta, matchFilters(in.Filters, s.tags, s.field)
			}, time.Now(), sortedIDs(f.st.subnets))
		if err != nil {
			return nil, err
		}
		ids, next, err := page{idParam: "subnetIds", min: 5, max: 1000}.paginate(ids, in.MaxResults, in.NextToken, len(in.SubnetIds) > 0)
		if err != nil {
			return nil, err
		}
		out := &ec2.DescribeSubnetsOutput{NextToken: next, Subnets: make([]types.Subnet, 0, len(ids))}
		for _, id := range ids {
			out.Subnets = append(out.Subnets, f.st.subnets[id].render(f.opts.AccountID))
		}
		return out, nil
	})
}

func (s *subnet) field(name string) ([]string, bool) {
	switch name {
	case "subnet-id":
		return []string{s.id}, true
	case "vpc-id":
		return []string{s.vpcID}, true
	case "cidr-block", "cidr", "cidrBlock":
		return []string{s.prefix.String()}, true
	case "availability-zone", "availabilityZone":
		return []string{s.az}, true
	case "available-ip-address-count":
		return []string{fmt.Sprint(s.size - len(s.used))}, true
	case "state":
		return []string{"available"}, true
	case "default-for-az", "defaultForAz":
		return []string{"false"}, true
	}
	return nil, false
}
