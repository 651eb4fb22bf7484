package trunk_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/api/podeni"
	"github.com/podsg/podsg/enforce"
	"github.com/podsg/podsg/eni"
	"github.com/podsg/podsg/fake"
	"github.com/podsg/podsg/trunk"
)

// wireFields decodes an annotation's first element into its raw fields, to
// check what is written, "" included.
func wireFields(t *testing.T, annotation string) map[string]any {
	t.Helper()
	var raw []map[string]any
	require.NoError(t, json.Unmarshal([]byte(annotation), &raw))
	require.Len(t, raw, 1)
	return raw[0]
}

// ipv6Plan plans the pod's setup on an IPv6 node, as the CNI plugin of an
// IPv6 cluster would, and returns the address it gives the pod.
func ipv6Plan(t *testing.T, annotation string) netip.Prefix {
	t.Helper()
	enis, err := podeni.Parse(annotation)
	require.NoError(t, err)
	b, err := enforce.NewBuilder(enforce.Options{Family: enforce.IPv6, TrunkLink: "eth1", PrimaryInterface: "eth0"})
	require.NoError(t, err)
	plan, err := b.Setup(enforce.Pod{Namespace: "default", Name: "pod-1", NetNS: "/var/run/netns/cni-1", IfName: "eth0", Branch: enis[0]})
	require.NoError(t, err)
	for _, a := range plan.Want.Addrs {
		if a.NS == enforce.PodNS {
			return a.Prefix
		}
	}
	t.Fatalf("the plan gives the pod no address: %+v", plan.Want.Addrs)
	return netip.Prefix{}
}

// TestIPv6Cluster gives a pod of an IPv6 cluster a branch ENI: it is created
// with one IPv6 address, and the annotation carries it as the VPC resource
// controller writes it, "privateIp":"" in an IPv6-only subnet, so that an
// IPv6 node (enforce with Family IPv6) gives the pod that address.
func TestIPv6Cluster(t *testing.T) {
	tests := []struct {
		name string
		// node seeds the world and returns the node and its subnet's
		// CIDRs (v4 invalid for an IPv6-only subnet).
		node     func(t *testing.T, f *fake.EC2) (instanceID string, v4, v6 netip.Prefix, podGroup string)
		wantIPv4 bool
	}{
		{
			name: "dual-stack subnet",
			node: func(t *testing.T, f *fake.EC2) (string, netip.Prefix, netip.Prefix, string) {
				tut, err := fake.SeedTutorialIPv6(t.Context(), f)
				require.NoError(t, err)
				return tut.Nodes[0].InstanceID, netip.MustParsePrefix("192.168.32.0/19"),
					netip.MustParsePrefix(tut.SubnetIPv6CIDRs[0]), tut.PodSecurityGroupID
			},
			wantIPv4: true,
		},
		{
			name: "IPv6-only subnet",
			node: func(t *testing.T, f *fake.EC2) (string, netip.Prefix, netip.Prefix, string) {
				vpc := f.AddVPC("10.0.0.0/16")
				block := f.AddVPCIPv6(vpc)
				v6 := netip.PrefixFrom(block.Addr(), 64)
				subnet := f.AddIPv6OnlySubnet(vpc, v6.String(), "")
				return f.AddNode("m5.large", subnet).InstanceID, netip.Prefix{}, v6, f.AddSecurityGroup(vpc, "pods")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fake.New()
			node, v4, v6, group := tt.node(t, f)
			m, err := trunk.New(f, trunk.Options{ClusterName: "my-cluster", IPv6: true})
			require.NoError(t, err)
			info, err := m.EnsureNode(t.Context(), node)
			require.NoError(t, err)
			require.Equal(t, v6, info.SubnetIPv6CIDR)
			require.Equal(t, v4, info.SubnetCIDR)

			got, err := m.Acquire(t.Context(), node, pod(1), eni.MustGroupSet(group))
			require.NoError(t, err)
			b := got.Branch.ENI
			require.True(t, v6.Contains(b.IPv6), "ipv6Addr %s outside the subnet's %s", b.IPv6, v6)
			require.Equal(t, v6, b.SubnetV6CIDR)
			require.Equal(t, tt.wantIPv4, b.PrivateIP.IsValid())

			// The wire: the controller's fields, "" where there is nothing.
			w := wireFields(t, got.Annotation)
			require.Equal(t, b.IPv6.String(), w["ipv6Addr"])
			require.Equal(t, v6.String(), w["subnetV6Cidr"])
			if !tt.wantIPv4 {
				require.Empty(t, w["privateIp"], "an IPv6-only branch ENI is written with \"privateIp\":\"\"")
				require.Empty(t, w["subnetCidr"])
				require.Contains(t, got.Annotation, `"privateIp":""`)
			}

			// EC2 holds the address the annotation names, asked for with
			// Ipv6AddressCount 1.
			ni := describe(t, f, b.ID)
			require.Equal(t, b.IPv6.String(), aws.ToString(ni.Ipv6Address))
			calls := f.CallsOf(fake.ActionCreateNetworkInterface)
			require.Contains(t, calls[len(calls)-1].Params, "Ipv6AddressCount=1")

			// An IPv6 node gives the pod that address.
			require.Equal(t, netip.PrefixFrom(b.IPv6, 128), ipv6Plan(t, got.Annotation))
		})
	}
}

// TestIPv4ClusterDualStack keeps an IPv4 cluster's branch ENIs as the VPC
// resource controller makes them in a dual-stack subnet: no IPv6 address
// asked for, and "subnetV6Cidr" written from the subnet.
func TestIPv4ClusterDualStack(t *testing.T) {
	f := fake.New()
	tut, err := fake.SeedTutorialIPv6(t.Context(), f)
	require.NoError(t, err)
	m, err := trunk.New(f, trunk.Options{ClusterName: tut.ClusterName})
	require.NoError(t, err)
	got, err := m.Acquire(t.Context(), tut.Nodes[0].InstanceID, pod(1), eni.MustGroupSet(tut.PodSecurityGroupID))
	require.NoError(t, err)
	w := wireFields(t, got.Annotation)
	require.Empty(t, w["ipv6Addr"])
	require.Equal(t, tut.SubnetIPv6CIDRs[0], w["subnetV6Cidr"])
	require.Equal(t, "192.168.32.0/19", w["subnetCidr"])
	for _, c := range f.CallsOf(fake.ActionCreateNetworkInterface) {
		require.NotContains(t, c.Params, "Ipv6AddressCount")
	}
}

// TestNodeNetworkRefused refuses nodes whose branch subnet cannot give the
// cluster's pods addresses of its family, with ErrNodeNetwork and before any
// ENI is made.
func TestNodeNetworkRefused(t *testing.T) {
	tests := []struct {
		name string
		ipv6 bool
		node func(f *fake.EC2) string
		want string
	}{
		{"IPv6 cluster, IPv4 subnet", true, func(f *fake.EC2) string {
			return f.AddNode("m5.large", f.AddSubnet(f.AddVPC("10.0.0.0/16"), "10.0.0.0/24", "")).InstanceID
		}, "has no IPv6 CIDR"},
		{"IPv4 cluster, IPv6-only subnet", false, func(f *fake.EC2) string {
			vpc := f.AddVPC("10.0.0.0/16")
			block := f.AddVPCIPv6(vpc)
			return f.AddNode("m5.large", f.AddIPv6OnlySubnet(vpc, netip.PrefixFrom(block.Addr(), 64).String(), "")).InstanceID
		}, "is IPv6-only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fake.New()
			node := tt.node(f)
			m, err := trunk.New(f, trunk.Options{ClusterName: "my-cluster", IPv6: tt.ipv6})
			require.NoError(t, err)
			_, err = m.EnsureNode(t.Context(), node)
			require.ErrorIs(t, err, trunk.ErrNodeNetwork)
			require.ErrorContains(t, err, tt.want)
			require.Zero(t, f.Count(fake.ActionCreateNetworkInterface).Calls, "nothing is created for a node that cannot serve pods")
		})
	}
}

// customWorld is the tutorial's world with a second subnet in each node's
// zone, for custom networking, and an ENIConfig-like choice per node.
type customWorld struct {
	f        *fake.EC2
	tut      fake.Tutorial
	subnets  map[string]string // zone → the ENIConfig's subnet
	trunkSG  string
	mu       sync.Mutex
	networks map[string]trunk.CustomNetwork // instance ID → custom network
	asked    map[string]int
}

func newCustomWorld(t *testing.T) *customWorld {
	t.Helper()
	w := &customWorld{f: fake.New(), subnets: map[string]string{}, networks: map[string]trunk.CustomNetwork{}, asked: map[string]int{}}
	var err error
	w.tut, err = fake.SeedTutorial(t.Context(), w.f)
	require.NoError(t, err)
	// The secondary CIDR range custom networking is used for lives in
	// subnets of its own, one per zone (100.64.0.0/10 in EKS's guide; the
	// fake's VPC has one CIDR, so these are carved from it).
	for i, zone := range []string{"a", "b", "c"} {
		w.subnets[w.f.Region()+zone] = w.f.AddSubnet(w.tut.VPCID, []string{"192.168.128.0/19", "192.168.160.0/19", "192.168.192.0/19"}[i], w.f.Region()+zone)
	}
	w.trunkSG = w.f.AddSecurityGroup(w.tut.VPCID, "eniconfig-sg")
	return w
}

func (w *customWorld) set(instanceID string, cn trunk.CustomNetwork) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.networks[instanceID] = cn
}

func (w *customWorld) resolve(_ context.Context, instanceID string) (trunk.CustomNetwork, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.asked[instanceID]++
	return w.networks[instanceID], nil
}

func (w *customWorld) zoneOf(t *testing.T, subnetID string) string {
	t.Helper()
	out, err := w.f.DescribeSubnets(t.Context(), &ec2.DescribeSubnetsInput{SubnetIds: []string{subnetID}})
	require.NoError(t, err)
	return aws.ToString(out.Subnets[0].AvailabilityZone)
}

func (w *customWorld) cidrOf(t *testing.T, subnetID string) netip.Prefix {
	t.Helper()
	out, err := w.f.DescribeSubnets(t.Context(), &ec2.DescribeSubnetsInput{SubnetIds: []string{subnetID}})
	require.NoError(t, err)
	return netip.MustParsePrefix(aws.ToString(out.Subnets[0].CidrBlock))
}

func groupIDs(ni types.NetworkInterface) []string {
	var out []string
	for _, g := range ni.Groups {
		out = append(out, aws.ToString(g.GroupId))
	}
	return out
}

// TestCustomNetworking serves a node with custom networking: its trunk is
// created in the ENIConfig's subnet with the ENIConfig's groups, its pods'
// branch ENIs in that subnet, and their annotation names that subnet's CIDR,
// as the VPC resource controller does; a node without one keeps its own
// subnet and its primary ENI's groups.
func TestCustomNetworking(t *testing.T) {
	w := newCustomWorld(t)
	custom, plain := w.tut.Nodes[0], w.tut.Nodes[1]
	sub := w.subnets[w.zoneOf(t, custom.SubnetID)]
	w.set(custom.InstanceID, trunk.CustomNetwork{SubnetID: sub, SecurityGroups: []string{w.trunkSG}})
	m, err := trunk.New(w.f, trunk.Options{ClusterName: w.tut.ClusterName, CustomNetworking: w.resolve})
	require.NoError(t, err)

	info, err := m.EnsureNode(t.Context(), custom.InstanceID)
	require.NoError(t, err)
	require.Equal(t, sub, info.SubnetID)
	require.Equal(t, w.cidrOf(t, sub), info.SubnetCIDR)
	tr := describe(t, w.f, info.TrunkENIID)
	require.Equal(t, sub, aws.ToString(tr.SubnetId), "the trunk goes to the ENIConfig's subnet")
	require.Equal(t, []string{w.trunkSG}, groupIDs(tr), "the trunk gets the ENIConfig's groups")

	for i := range 3 {
		got, err := m.Acquire(t.Context(), custom.InstanceID, pod(i), eni.MustGroupSet(w.tut.PodSecurityGroupID))
		require.NoError(t, err)
		ni := describe(t, w.f, got.Branch.ENI.ID)
		require.Equal(t, sub, aws.ToString(ni.SubnetId))
		require.Equal(t, []string{w.tut.PodSecurityGroupID}, groupIDs(ni), "branch ENIs get the pod's groups, not the ENIConfig's")
		require.True(t, w.cidrOf(t, sub).Contains(got.Branch.ENI.PrivateIP), "pod address %s is not from the ENIConfig's subnet", got.Branch.ENI.PrivateIP)
		require.Equal(t, w.cidrOf(t, sub).String(), wireFields(t, got.Annotation)["subnetCidr"])
	}

	info, err = m.EnsureNode(t.Context(), plain.InstanceID)
	require.NoError(t, err)
	require.Equal(t, plain.SubnetID, info.SubnetID)
	tr = describe(t, w.f, info.TrunkENIID)
	require.Equal(t, plain.SubnetID, aws.ToString(tr.SubnetId))
	require.ElementsMatch(t, []string{w.tut.ClusterSecurityGroupID, w.tut.NodeSecurityGroupID}, groupIDs(tr), "the primary ENI's groups")
	got, err := m.Acquire(t.Context(), plain.InstanceID, pod(10), eni.MustGroupSet(w.tut.PodSecurityGroupID))
	require.NoError(t, err)
	require.Equal(t, plain.SubnetID, aws.ToString(describe(t, w.f, got.Branch.ENI.ID).SubnetId))
}

// TestCustomNetworkingRebuild restarts the Manager: a new one adopts the
// branch ENIs it finds in the ENIConfig's subnet, keeps its pods on them,
// and, once the ENI of a pod that ended has cooled down, gives it to the
// next pod with the same groups without an EC2 call.
func TestCustomNetworkingRebuild(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newCustomWorld(t)
		node := w.tut.Nodes[0]
		sub := w.subnets[w.zoneOf(t, node.SubnetID)]
		w.set(node.InstanceID, trunk.CustomNetwork{SubnetID: sub})
		opts := trunk.Options{ClusterName: w.tut.ClusterName, CustomNetworking: w.resolve,
			Policy: eni.Policy{MaxWarm: 2, CoolDown: eni.MinCoolDown, Prewarm: eni.PrewarmPolicy{Window: eni.NoPrewarm}}}
		groups := eni.MustGroupSet(w.tut.PodSecurityGroupID)
		m1, err := trunk.New(w.f, opts)
		require.NoError(t, err)
		var live []eni.LivePod
		for i := range 3 {
			got, err := m1.Acquire(t.Context(), node.InstanceID, pod(i), groups)
			require.NoError(t, err)
			live = append(live, eni.LivePod{Pod: pod(i), ENIID: got.Branch.ENI.ID})
		}
		m1.Close()

		m2, err := trunk.New(w.f, opts)
		require.NoError(t, err)
		defer run(t, m2)()
		res, err := m2.ReconcileAll(t.Context(), []trunk.NodePods{{InstanceID: node.InstanceID, Pods: live[:2], Complete: true}})
		require.NoError(t, err)
		require.NoError(t, res[node.InstanceID].Err)
		require.Equal(t, 3, res[node.InstanceID].Adopted)
		require.Equal(t, sub, m2.Nodes()[0].SubnetID, "the rebuilt node serves its ENIConfig's subnet")
		p, ok := m2.Pool(node.InstanceID)
		require.True(t, ok)
		for _, lp := range live[:2] {
			b, ok := p.Lookup(lp.Pod)
			require.True(t, ok)
			require.Equal(t, lp.ENIID, b.ENI.ID)
			require.Equal(t, sub, b.Subnet)
		}

		// The third pod ended while no Manager ran: its ENI cools down,
		// then serves the next pod with the same groups.
		creates := w.f.Count(fake.ActionCreateNetworkInterface).Calls
		time.Sleep(eni.MinCoolDown + time.Second)
		synctest.Wait()
		got, err := m2.Acquire(t.Context(), node.InstanceID, pod(3), groups)
		require.NoError(t, err)
		require.Equal(t, live[2].ENIID, got.Branch.ENI.ID, "the adopted ENI is reused")
		require.Equal(t, creates, w.f.Count(fake.ActionCreateNetworkInterface).Calls)
		require.Equal(t, sub, aws.ToString(describe(t, w.f, got.Branch.ENI.ID).SubnetId))
	})
}

// TestCustomNetworkingChange gives a node served in its own subnet an
// ENIConfig: EnsureNode asks again, and its new branch ENIs go to the
// ENIConfig's subnet, while its trunk and the ENIs made before stay where
// they are, as the VPC resource controller leaves them.
func TestCustomNetworkingChange(t *testing.T) {
	w := newCustomWorld(t)
	node := w.tut.Nodes[0]
	m, err := trunk.New(w.f, trunk.Options{ClusterName: w.tut.ClusterName, CustomNetworking: w.resolve,
		Policy: eni.Policy{MaxWarm: eni.NoWarm}})
	require.NoError(t, err)
	groups := eni.MustGroupSet(w.tut.PodSecurityGroupID)
	before, err := m.Acquire(t.Context(), node.InstanceID, pod(1), groups)
	require.NoError(t, err)
	require.Equal(t, node.SubnetID, aws.ToString(describe(t, w.f, before.Branch.ENI.ID).SubnetId))

	sub := w.subnets[w.zoneOf(t, node.SubnetID)]
	w.set(node.InstanceID, trunk.CustomNetwork{SubnetID: sub, SecurityGroups: []string{w.trunkSG}})
	info, err := m.EnsureNode(t.Context(), node.InstanceID)
	require.NoError(t, err)
	require.Equal(t, sub, info.SubnetID)
	require.Equal(t, w.cidrOf(t, sub), info.SubnetCIDR)
	after, err := m.Acquire(t.Context(), node.InstanceID, pod(2), groups)
	require.NoError(t, err)
	require.Equal(t, sub, aws.ToString(describe(t, w.f, after.Branch.ENI.ID).SubnetId))
	require.Equal(t, w.cidrOf(t, sub).String(), wireFields(t, after.Annotation)["subnetCidr"])
	require.Equal(t, node.SubnetID, aws.ToString(describe(t, w.f, before.Branch.ENI.ID).SubnetId), "an ENI stays in its subnet")
	require.Equal(t, node.SubnetID, aws.ToString(describe(t, w.f, info.TrunkENIID).SubnetId), "the trunk stays in its subnet")
	require.Equal(t, before.Branch.ENI.ID, mustLookup(t, m, node.InstanceID, pod(1)), "pod 1 keeps its ENI")

	// Back to no ENIConfig: the node's own subnet again.
	w.set(node.InstanceID, trunk.CustomNetwork{})
	info, err = m.EnsureNode(t.Context(), node.InstanceID)
	require.NoError(t, err)
	require.Equal(t, node.SubnetID, info.SubnetID)
}

func mustLookup(t *testing.T, m *trunk.Manager, instanceID string, ref eni.PodRef) string {
	t.Helper()
	p, ok := m.Pool(instanceID)
	require.True(t, ok)
	b, ok := p.Lookup(ref)
	require.True(t, ok)
	return b.ENI.ID
}

// TestCustomNetworkingRefused refuses a custom network that cannot serve the
// node, with ErrNodeNetwork and before any ENI is made, and passes the
// resolver's own error on.
func TestCustomNetworkingRefused(t *testing.T) {
	w := newCustomWorld(t)
	node := w.tut.Nodes[0] // in zone a
	otherZone := w.subnets[w.f.Region()+"b"]
	otherVPC := w.f.AddSubnet(w.f.AddVPC("10.9.0.0/16"), "10.9.0.0/24", w.f.Region()+"a")
	failing := errors.New("ENIConfig az-a: not found")
	tests := []struct {
		name    string
		cn      trunk.CustomNetwork
		err     error
		want    string
		network bool
	}{
		{"subnet in another zone", trunk.CustomNetwork{SubnetID: otherZone}, nil, "availability zone", true},
		{"subnet in another VPC", trunk.CustomNetwork{SubnetID: otherVPC}, nil, "availability zone", true},
		{"not a subnet ID", trunk.CustomNetwork{SubnetID: "subnet-x"}, nil, "not a subnet ID", true},
		{"not a group ID", trunk.CustomNetwork{SubnetID: w.subnets[w.f.Region()+"a"], SecurityGroups: []string{"default"}}, nil, "not a security group ID", true},
		{"the resolver fails", trunk.CustomNetwork{}, failing, "not found", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resolve := func(context.Context, string) (trunk.CustomNetwork, error) { return tt.cn, tt.err }
			m, err := trunk.New(w.f, trunk.Options{ClusterName: w.tut.ClusterName, CustomNetworking: resolve})
			require.NoError(t, err)
			creates := w.f.Count(fake.ActionCreateNetworkInterface).Calls
			_, err = m.EnsureNode(t.Context(), node.InstanceID)
			require.ErrorContains(t, err, tt.want)
			require.Equal(t, tt.network, errors.Is(err, trunk.ErrNodeNetwork), "%v", err)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
			}
			require.Equal(t, creates, w.f.Count(fake.ActionCreateNetworkInterface).Calls)
			_, err = m.Acquire(t.Context(), node.InstanceID, pod(1), eni.MustGroupSet(w.tut.PodSecurityGroupID))
			require.ErrorContains(t, err, tt.want, "pods of the node fail the same way")
		})
	}
}

// TestCustomNetworkingIPv6 serves an IPv6 cluster's node with custom
// networking in a dual-stack subnet of its zone: the annotation names that
// subnet's IPv6 CIDR and an address from it.
func TestCustomNetworkingIPv6(t *testing.T) {
	f := fake.New()
	tut, err := fake.SeedTutorialIPv6(t.Context(), f)
	require.NoError(t, err)
	node := tut.Nodes[0]
	sub := f.AddSubnet(tut.VPCID, "192.168.128.0/19", f.Region()+"a")
	block := netip.MustParsePrefix(tut.VPCIPv6CIDR)
	b := block.Addr().As16()
	b[7] = 0x80
	v6 := netip.PrefixFrom(netip.AddrFrom16(b), 64)
	f.AddSubnetIPv6(sub, v6.String())
	m, err := trunk.New(f, trunk.Options{ClusterName: tut.ClusterName, IPv6: true,
		CustomNetworking: func(context.Context, string) (trunk.CustomNetwork, error) {
			return trunk.CustomNetwork{SubnetID: sub}, nil
		}})
	require.NoError(t, err)
	got, err := m.Acquire(t.Context(), node.InstanceID, pod(1), eni.MustGroupSet(tut.PodSecurityGroupID))
	require.NoError(t, err)
	require.Equal(t, v6, got.Branch.ENI.SubnetV6CIDR)
	require.True(t, v6.Contains(got.Branch.ENI.IPv6))
	require.Equal(t, netip.PrefixFrom(got.Branch.ENI.IPv6, 128), ipv6Plan(t, got.Annotation))
}
