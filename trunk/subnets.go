package trunk

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// subnetCIDRs are a subnet's CIDRs and where it is, as DescribeSubnets
// reports them.
type subnetCIDRs struct {
	// v4 is the IPv4 CIDR; invalid for an IPv6-only subnet.
	v4 netip.Prefix
	// v6 is the IPv6 CIDR (its first associated one); invalid for a
	// subnet without one.
	v6      netip.Prefix
	vpc, az string
}

func subnetFromEC2(s types.Subnet) (subnetCIDRs, bool) {
	c := subnetCIDRs{vpc: aws.ToString(s.VpcId), az: aws.ToString(s.AvailabilityZone)}
	if p, err := netip.ParsePrefix(aws.ToString(s.CidrBlock)); err == nil {
		c.v4 = p
	}
	for _, a := range s.Ipv6CidrBlockAssociationSet {
		if a.Ipv6CidrBlockState != nil && a.Ipv6CidrBlockState.State != types.SubnetCidrBlockStateCodeAssociated &&
			a.Ipv6CidrBlockState.State != types.SubnetCidrBlockStateCodeAssociating {
			continue // disassociated, or failed
		}
		if p, err := netip.ParsePrefix(aws.ToString(a.Ipv6CidrBlock)); err == nil && !c.v6.IsValid() {
			c.v6 = p
		}
	}
	return c, c.v4.IsValid() || c.v6.IsValid()
}

// subnetCIDR returns the CIDRs of a subnet, asking EC2 once.
func (m *Manager) subnetCIDR(ctx context.Context, subnetID string) (subnetCIDRs, error) {
	m.mu.Lock()
	c, ok := m.subnets[subnetID]
	m.mu.Unlock()
	if ok {
		return c, nil
	}
	if err := m.loadSubnets(ctx, []string{subnetID}); err != nil {
		return subnetCIDRs{}, err
	}
	m.mu.Lock()
	c, ok = m.subnets[subnetID]
	m.mu.Unlock()
	if !ok {
		return subnetCIDRs{}, fmt.Errorf("subnet %s: not reported by DescribeSubnets", subnetID)
	}
	return c, nil
}

// loadSubnets caches the CIDRs of subnets not cached yet.
func (m *Manager) loadSubnets(ctx context.Context, ids []string) error {
	m.mu.Lock()
	var want []string
	seen := map[string]bool{}
	for _, id := range ids {
		if _, ok := m.subnets[id]; !ok && !seen[id] && id != "" {
			want = append(want, id)
			seen[id] = true
		}
	}
	m.mu.Unlock()
	for len(want) > 0 {
		batch := want[:min(len(want), 200)]
		want = want[len(batch):]
		out, err := call(ctx, m, "DescribeSubnets", PriorityPodStart, &ec2.DescribeSubnetsInput{SubnetIds: batch}, m.ec2.DescribeSubnets)
		if err != nil {
			return fmt.Errorf("describing subnets %v: %w", batch, err)
		}
		m.mu.Lock()
		for _, s := range out.Subnets {
			if c, ok := subnetFromEC2(s); ok {
				m.subnets[aws.ToString(s.SubnetId)] = c
			}
		}
		m.mu.Unlock()
	}
	return nil
}
