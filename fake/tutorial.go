package fake

import (
	"context"
	"fmt"
	"net/netip"
)

// Names used by the tutorial scenario.
const (
	TutorialClusterName      = "my-cluster"
	TutorialInstanceType     = "m5.large"
	TutorialNodes            = 5
	TutorialPodGroupName     = "my-pod-security-group"
	TutorialVPCCIDR          = "192.168.0.0/16"
	tutorialNodeGroupName    = "my-nodegroup"
	tutorialClusterGroupName = "eks-cluster-sg-my-cluster"
)

// Tutorial holds the IDs seeded by SeedTutorial, under the names the EKS
// tutorial "Security groups for pods" gives them. It is a plain value,
// marshalled to JSON by cmd/fakeec2.
type Tutorial struct {
	ClusterName string   `json:"clusterName"`
	VPCID       string   `json:"vpcId"`
	VPCCIDR     string   `json:"vpcCidr"`
	SubnetIDs   []string `json:"subnetIds"`
	// ClusterSecurityGroupID is the cluster security group, attached to
	// every node ($my_cluster_security_group_id).
	ClusterSecurityGroupID string `json:"clusterSecurityGroupId"`
	// NodeSecurityGroupID is the node group's own security group.
	NodeSecurityGroupID string `json:"nodeSecurityGroupId"`
	// PodSecurityGroupID is the group the SecurityGroupPolicy names
	// ($my_pod_security_group_id).
	PodSecurityGroupID string `json:"podSecurityGroupId"`
	// DNSTCPRuleID and DNSUDPRuleID are the cluster group's inbound rules
	// for port 53 from the pod group ($my_tcp_rule_id, $my_udp_rule_id).
	DNSTCPRuleID string `json:"dnsTcpRuleId"`
	DNSUDPRuleID string `json:"dnsUdpRuleId"`
	// PodSelfRuleID is the pod group's inbound rule for TCP 80 from itself
	// ($my_inbound_self_rule_id).
	PodSelfRuleID string         `json:"podSelfRuleId"`
	InstanceType  string         `json:"instanceType"`
	Nodes         []TutorialNode `json:"nodes"`
	// VPCIPv6CIDR and SubnetIPv6CIDRs are the VPC's Amazon-provided /56
	// and the subnets' /64s (in the order of SubnetIDs), seeded by
	// SeedTutorialIPv6 only.
	VPCIPv6CIDR     string   `json:"vpcIpv6Cidr,omitempty"`
	SubnetIPv6CIDRs []string `json:"subnetIpv6Cidrs,omitempty"`
}

// TutorialNode is one node of the tutorial's node group.
type TutorialNode struct {
	InstanceID string `json:"instanceId"`
	SubnetID   string `json:"subnetId"`
	PrimaryENI string `json:"primaryEniId"`
	PrivateIP  string `json:"privateIp"`
	// IPv6 is the primary interface's IPv6 address (SeedTutorialIPv6 only).
	IPv6 string `json:"ipv6,omitempty"`
}

// SeedTutorial seeds f with what the EKS tutorial "Security groups for pods"
// assumes exists before its first step:
//
//   - a VPC 192.168.0.0/16 with three private /19 subnets in zones a, b, c,
//     tagged for the cluster and internal load balancers;
//   - the cluster security group (all traffic from itself) with the DNS
//     rules the tutorial adds: TCP and UDP 53 from the pod group;
//   - the node group's security group (all traffic from itself and from the
//     cluster group);
//   - the pod security group "my-pod-security-group" with an inbound rule for
//     TCP 80 from itself;
//   - five running m5.large nodes spread over the subnets, in the cluster and
//     node groups, tagged like managed node group instances.
//
// Seeding bypasses throttling, faults and the call log. It fails only if
// ctx is done or f already holds conflicting state (a group name taken in a
// VPC of the same CIDR cannot happen, as SeedTutorial always makes a new VPC).
func SeedTutorial(ctx context.Context, f *EC2) (Tutorial, error) {
	return seedTutorial(ctx, f, false)
}

// SeedTutorialIPv6 seeds f with the tutorial's world for an IPv6 cluster,
// as EKS requires one: what SeedTutorial seeds, plus an Amazon-provided IPv6
// /56 for the VPC, a /64 of it for each subnet (dual-stack subnets, the
// first, second and third /64) and an IPv6 address on each node's primary
// interface.
func SeedTutorialIPv6(ctx context.Context, f *EC2) (Tutorial, error) {
	return seedTutorial(ctx, f, true)
}

func seedTutorial(ctx context.Context, f *EC2, ipv6 bool) (t Tutorial, err error) {
	if err := ctx.Err(); err != nil {
		return Tutorial{}, err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("fake: seeding the tutorial scenario: %v", r)
		}
	}()
	t = Tutorial{ClusterName: TutorialClusterName, VPCCIDR: TutorialVPCCIDR, InstanceType: TutorialInstanceType}
	clusterTag := "kubernetes.io/cluster/" + TutorialClusterName
	t.VPCID = f.AddVPC(TutorialVPCCIDR)
	f.Tag(t.VPCID, "Name", "eksctl-"+TutorialClusterName+"-cluster/VPC", clusterTag, "shared")
	var block netip.Prefix
	if ipv6 {
		block = f.AddVPCIPv6(t.VPCID)
		t.VPCIPv6CIDR = block.String()
	}
	for i, zone := range []string{"a", "b", "c"} {
		cidr := fmt.Sprintf("192.168.%d.0/19", 32*(i+1))
		id := f.AddSubnet(t.VPCID, cidr, f.opts.Region+zone)
		if ipv6 {
			cidr6 := subnet64(block, i+1).String()
			f.AddSubnetIPv6(id, cidr6)
			t.SubnetIPv6CIDRs = append(t.SubnetIPv6CIDRs, cidr6)
		}
		f.Tag(id, "Name", fmt.Sprintf("eksctl-%s-cluster/SubnetPrivate%s", TutorialClusterName, zone),
			clusterTag, "shared", "kubernetes.io/role/internal-elb", "1")
		t.SubnetIDs = append(t.SubnetIDs, id)
	}
	t.ClusterSecurityGroupID = f.AddSecurityGroup(t.VPCID, tutorialClusterGroupName)
	f.Tag(t.ClusterSecurityGroupID, "aws:eks:cluster-name", TutorialClusterName, clusterTag, "owned")
	f.AddIngress(t.ClusterSecurityGroupID, AllTraffic(t.ClusterSecurityGroupID))

	t.NodeSecurityGroupID = f.AddSecurityGroup(t.VPCID, tutorialNodeGroupName)
	f.Tag(t.NodeSecurityGroupID, clusterTag, "owned")
	f.AddIngress(t.NodeSecurityGroupID, AllTraffic(t.NodeSecurityGroupID))
	f.AddIngress(t.NodeSecurityGroupID, AllTraffic(t.ClusterSecurityGroupID))

	t.PodSecurityGroupID = f.AddSecurityGroup(t.VPCID, TutorialPodGroupName)
	t.PodSelfRuleID = f.AddIngress(t.PodSecurityGroupID, TCP(80, t.PodSecurityGroupID))
	t.DNSTCPRuleID = f.AddIngress(t.ClusterSecurityGroupID, TCP(53, t.PodSecurityGroupID))
	t.DNSUDPRuleID = f.AddIngress(t.ClusterSecurityGroupID, UDP(53, t.PodSecurityGroupID))

	v6 := 0
	if ipv6 {
		v6 = 1
	}
	for i := range TutorialNodes {
		n := f.addNode(TutorialInstanceType, t.SubnetIDs[i%len(t.SubnetIDs)], v6, t.ClusterSecurityGroupID, t.NodeSecurityGroupID)
		f.Tag(n.InstanceID, "Name", TutorialClusterName+"-"+tutorialNodeGroupName+"-Node",
			"eks:cluster-name", TutorialClusterName, "eks:nodegroup-name", tutorialNodeGroupName, clusterTag, "owned")
		t.Nodes = append(t.Nodes, TutorialNode{InstanceID: n.InstanceID, SubnetID: n.SubnetID, PrimaryENI: n.PrimaryENI,
			PrivateIP: n.PrivateIP, IPv6: n.ipv6})
	}
	return t, nil
}
