package trunk

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/podsg/podsg/internal/awsid"
)

// CustomNetwork is where a node's trunk and branch ENIs go and which
// security groups its trunk gets, when the node uses custom networking: the
// subnet and groups of the node's ENIConfig (CRD
// crd.k8s.amazonaws.com/v1alpha1), which the VPC resource controller uses
// for the trunk and branch ENIs of a node whose ENIConfig names a subnet
// (aws/amazon-vpc-resource-controller-k8s, pkg/aws/ec2/instance.go,
// updateCurrentSubnetAndCidrBlock). The zero value means no custom
// networking. It is a plain value.
type CustomNetwork struct {
	// SubnetID is the subnet of the node's trunk ENI and branch ENIs;
	// empty means the instance's own subnet. It must be in the instance's
	// VPC and availability zone, which is why ENIConfigs are commonly
	// named after zones.
	SubnetID string
	// SecurityGroups are the groups of the node's trunk ENI; empty means
	// those of the instance's primary ENI. Branch ENIs always get their
	// pods' groups.
	SecurityGroups []string
}

// ErrNodeNetwork is matched (errors.Is) by the errors of a node whose
// network cannot serve pods: a custom network's subnet in another VPC or
// zone, or malformed; in an IPv6 cluster a branch subnet without an IPv6
// CIDR; in an IPv4 cluster an IPv6-only branch subnet. The message says
// which subnet and what to change. Fixing the cause and calling EnsureNode
// again sets the node up.
var ErrNodeNetwork = errors.New("trunk: the node's network cannot serve pods")

// nodeNet is a node's network as the Manager uses it: where new branch ENIs
// go, and where the node's trunk is.
type nodeNet struct {
	// subnet is the branch ENIs' subnet and cidr its CIDRs.
	subnet string
	cidr   subnetCIDRs
	// groups are the trunk's groups for a new trunk; nil: the primary
	// ENI's.
	groups []string
	custom bool // subnet or groups come from Options.CustomNetworking
	// The instance: its ID, subnet, VPC and zone.
	inst                      string
	instSubnet, instVPC, zone string
}

func (m *Manager) ipv6AddressCount() *int32 {
	if m.opts.IPv6 {
		return aws.Int32(1)
	}
	return nil
}

// nodeNetwork works out where the ENIs of the instance go: its own subnet,
// or the one Options.CustomNetworking gives, checked against the instance
// and the cluster's IP family.
func (m *Manager) nodeNetwork(ctx context.Context, inst instanceView) (nodeNet, error) {
	net := nodeNet{subnet: inst.subnet, inst: inst.id, instSubnet: inst.subnet, instVPC: inst.vpc, zone: inst.az}
	if resolve := m.opts.CustomNetworking; resolve != nil {
		cn, err := resolve(ctx, inst.id)
		if err != nil {
			return nodeNet{}, fmt.Errorf("node %s: custom networking: %w", inst.id, err)
		}
		if cn.SubnetID != "" {
			if !awsid.Valid(cn.SubnetID, awsid.Subnet) {
				return nodeNet{}, fmt.Errorf("node %s: %w: custom networking gives subnet %q, which is not a subnet ID (subnet- followed by 8 or 17 hex digits); fix the node's ENIConfig",
					inst.id, ErrNodeNetwork, cn.SubnetID)
			}
			net.subnet, net.custom = cn.SubnetID, true
		}
		for _, g := range cn.SecurityGroups {
			if !awsid.Valid(g, awsid.SecurityGroup) {
				return nodeNet{}, fmt.Errorf("node %s: %w: custom networking gives security group %q, which is not a security group ID (sg- followed by 8 or 17 hex digits); fix the node's ENIConfig",
					inst.id, ErrNodeNetwork, g)
			}
		}
		if len(cn.SecurityGroups) > 0 {
			net.groups, net.custom = slices.Clone(cn.SecurityGroups), true
		}
	}
	cidr, err := m.subnetCIDR(ctx, net.subnet)
	if err != nil {
		return nodeNet{}, fmt.Errorf("node %s: %w", inst.id, err)
	}
	net.cidr = cidr
	if net.subnet != inst.subnet && (cidr.vpc != inst.vpc || cidr.az != inst.az) {
		return nodeNet{}, fmt.Errorf("node %s: %w: its custom network's subnet %s is in %s of %s, the instance in %s of %s; "+
			"give the node an ENIConfig whose subnet is in its availability zone",
			inst.id, ErrNodeNetwork, net.subnet, cidr.az, cidr.vpc, inst.az, inst.vpc)
	}
	switch {
	case m.opts.IPv6 && !cidr.v6.IsValid():
		return nodeNet{}, fmt.Errorf("node %s: %w: the cluster is IPv6 (Options.IPv6) but subnet %s, where its branch ENIs go, has no IPv6 CIDR; "+
			"associate one with the subnet (AssociateSubnetCidrBlock) or use a dual-stack subnet", inst.id, ErrNodeNetwork, net.subnet)
	case !m.opts.IPv6 && !cidr.v4.IsValid():
		return nodeNet{}, fmt.Errorf("node %s: %w: subnet %s, where its branch ENIs go, is IPv6-only, and an IPv4 cluster's pods need IPv4 addresses; "+
			"set Options.IPv6 for an IPv6 cluster", inst.id, ErrNodeNetwork, net.subnet)
	}
	return net, nil
}

// refreshNetwork asks Options.CustomNetworking again for a node the Manager
// serves and, when the answer changed, sends the node's new branch ENIs to
// the new subnet. Branch ENIs already made stay where they are, and so does
// the trunk: EC2 cannot move an ENI to another subnet, and the VPC resource
// controller, too, leaves a node's trunk where it was made (it only reports
// the difference). n.setup must be held.
func (m *Manager) refreshNetwork(ctx context.Context, n *node) (NodeInfo, error) {
	n.mu.Lock()
	cur, info := n.net, n.info
	n.mu.Unlock()
	next, err := m.nodeNetwork(ctx, instanceView{id: cur.inst, subnet: cur.instSubnet, vpc: cur.instVPC, az: cur.zone})
	if err != nil {
		return info, err
	}
	if next.subnet == cur.subnet && slices.Equal(next.groups, cur.groups) {
		return info, nil
	}
	n.mu.Lock()
	n.net = next
	n.info.SubnetID, n.info.SubnetCIDR, n.info.SubnetIPv6CIDR = next.subnet, next.cidr.v4, next.cidr.v6
	info = n.info
	n.mu.Unlock()
	m.log.Info("node network changed: new branch ENIs go to the new subnet; existing ENIs and the trunk stay where they are",
		"node", info.InstanceID, "trunk", info.TrunkENIID, "subnet", next.subnet, "previousSubnet", cur.subnet,
		"trunkGroups", next.groups, "previousTrunkGroups", cur.groups)
	return info, nil
}

// checkTrunk reports a trunk found in another subnet, or with other groups,
// than the node's network asks for, as the VPC resource controller does: the
// trunk is kept, since EC2 cannot move it and replacing it would take every
// pod's ENI down.
func (m *Manager) checkTrunk(net nodeNet, trunkID, subnet string, groups []string) {
	if !net.custom {
		return
	}
	wantGroups := net.groups
	sameGroups := wantGroups == nil || sameSet(wantGroups, groups)
	if subnet == net.subnet && sameGroups {
		return
	}
	m.log.Warn("the node's trunk ENI is not where its custom network says; it is kept, and branch ENIs go to the custom network's subnet; "+
		"replace the node to move the trunk", "node", net.inst, "trunk", trunkID, "trunkSubnet", subnet, "subnet", net.subnet,
		"trunkGroups", groups, "groups", wantGroups)
}

func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(slices.Compact(x), slices.Compact(y))
}
