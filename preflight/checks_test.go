package preflight

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/podsg/podsg/api/v1beta1"
	"github.com/podsg/podsg/enforce"
	"github.com/podsg/podsg/limits"
)

const (
	sgCluster = "sg-0000000000000c001"
	sgPod     = "sg-0000000000000a001"
	sgOther   = "sg-0000000000000b001"
	sgGone    = "sg-0000000000000dead"
)

// tutorialGroups are the groups of the EKS tutorial: the cluster group
// (self rule, DNS from the pod group), and the pod group (self rule, probes
// from the cluster group, default egress).
func tutorialGroups() map[string]types.SecurityGroup {
	return map[string]types.SecurityGroup{
		sgCluster: sg(sgCluster, perms(
			perm("-1", 0, 0, sgCluster),
			perm("tcp", 53, 53, sgPod),
			perm("udp", 53, 53, sgPod),
		), allOut),
		sgPod: sg(sgPod, perms(
			perm("-1", 0, 0, sgPod),
			perm("tcp", 80, 80, sgCluster),
		), allOut),
		sgOther: sg(sgOther, perms(perm("tcp", 443, 443, "10.0.0.0/8")), allOut),
	}
}

func tutorialPolicy(groups ...string) v1beta1.SecurityGroupPolicy {
	if len(groups) == 0 {
		groups = []string{sgPod}
	}
	return v1beta1.SecurityGroupPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "my-namespace", Name: "my-security-group-policy"},
		Spec: v1beta1.SecurityGroupPolicySpec{
			PodSelector:    &metav1.LabelSelector{MatchLabels: map[string]string{"role": "my-role"}},
			SecurityGroups: v1beta1.GroupIDs{Groups: groups},
		},
	}
}

func tutorialCluster() *Cluster {
	return &Cluster{
		Name:                 "my-cluster",
		VPCID:                "vpc-1",
		ClusterSecurityGroup: sgCluster,
		CNI:                  CNI{Version: "v1.18.3", EnablePodENI: true, DisableTCPEarlyDemux: true},
		NodeGroups: []NodeGroup{{
			Name: "ng-1", InstanceTypes: []string{"m5.large"}, Nodes: 5,
			Subnets: []Subnet{
				{ID: "subnet-a", CIDR: netip.MustParsePrefix("192.168.32.0/19")},
				{ID: "subnet-b", CIDR: netip.MustParsePrefix("192.168.64.0/19")},
			},
		}},
		Workloads: []Workload{{
			Namespace: "my-namespace", Name: "my-deployment",
			Labels:   map[string]string{"app": "my-app", "role": "my-role"},
			Replicas: 4, ProbePorts: []Port{{TCP, 80}}, PeerPorts: []Port{{TCP, 80}},
		}},
	}
}

func TestChecks(t *testing.T) {
	tests := []struct {
		name     string
		groups   func(map[string]types.SecurityGroup)
		cluster  func(*Cluster)
		policies []v1beta1.SecurityGroupPolicy
		opts     Options
		want     []Code
	}{
		{name: "tutorial setup is healthy"},
		{
			name:   "pod group deleted",
			groups: func(g map[string]types.SecurityGroup) { delete(g, sgPod) },
			want:   []Code{CodeGroupNotFound},
		},
		{
			name:     "policy names an unknown group next to a good one",
			policies: []v1beta1.SecurityGroupPolicy{tutorialPolicy(sgPod, sgGone)},
			want:     []Code{CodeGroupNotFound},
		},
		{
			name: "cluster group revoked its DNS rules",
			groups: func(g map[string]types.SecurityGroup) {
				c := g[sgCluster]
				c.IpPermissions = c.IpPermissions[:1]
				g[sgCluster] = c
			},
			want: []Code{CodeDNSIngressBlocked},
		},
		{
			name: "pod group lost its egress",
			groups: func(g map[string]types.SecurityGroup) {
				p := g[sgPod]
				p.IpPermissionsEgress = perms(perm("-1", 0, 0, sgPod))
				g[sgPod] = p
			},
			want: []Code{CodeDNSEgressBlocked},
		},
		{
			name: "probe rule missing",
			groups: func(g map[string]types.SecurityGroup) {
				p := g[sgPod]
				p.IpPermissions = p.IpPermissions[:1]
				g[sgPod] = p
			},
			want: []Code{CodeProbeBlocked},
		},
		{
			name: "probe rule missing matters not in standard mode",
			groups: func(g map[string]types.SecurityGroup) {
				p := g[sgPod]
				p.IpPermissions = p.IpPermissions[:1]
				g[sgPod] = p
			},
			cluster: func(c *Cluster) { c.CNI.EnforcingMode = enforce.Standard },
			want:    []Code{CodeStandardNodeLocal},
		},
		{
			name: "probe allowed by a CIDR rule covering the node subnets",
			groups: func(g map[string]types.SecurityGroup) {
				p := g[sgPod]
				p.IpPermissions = perms(perm("-1", 0, 0, sgPod), perm("tcp", 80, 80, "192.168.0.0/16"))
				g[sgPod] = p
			},
		},
		{
			name: "probe CIDR rule covering only one node subnet",
			groups: func(g map[string]types.SecurityGroup) {
				p := g[sgPod]
				p.IpPermissions = perms(perm("-1", 0, 0, sgPod), perm("tcp", 80, 80, "192.168.32.0/19"))
				g[sgPod] = p
			},
			want: []Code{CodeProbeBlocked},
		},
		{
			name:    "TCP early demux left on",
			cluster: func(c *Cluster) { c.CNI.DisableTCPEarlyDemux = false },
			want:    []Code{CodeTCPEarlyDemuxOn},
		},
		{
			name: "self rule missing",
			groups: func(g map[string]types.SecurityGroup) {
				p := g[sgPod]
				p.IpPermissions = p.IpPermissions[1:]
				g[sgPod] = p
			},
			want: []Code{CodePeerBlocked},
		},
		{
			name:    "t3 nodes",
			cluster: func(c *Cluster) { c.NodeGroups[0].InstanceTypes = []string{"t3.large"} },
			want:    []Code{CodeInstanceTypeNotTrunk},
		},
		{
			name:    "unknown instance type",
			cluster: func(c *Cluster) { c.NodeGroups[0].InstanceTypes = []string{"m99.huge"} },
			want:    []Code{CodeInstanceTypeUnknown},
		},
		{
			name:    "46 replicas on five m5.large nodes",
			cluster: func(c *Cluster) { c.Workloads[0].Replicas = 46 },
			want:    []Code{CodeBranchCapacityExceeded},
		},
		{
			name:    "45 replicas on five m5.large nodes fit",
			cluster: func(c *Cluster) { c.Workloads[0].Replicas = 45 },
		},
		{
			name:    "no nodes at all",
			cluster: func(c *Cluster) { c.NodeGroups[0].Nodes = 0 },
			want:    []Code{CodeNoTrunkNodes},
		},
		{
			name: "Fargate without the cluster group",
			cluster: func(c *Cluster) {
				c.FargateProfiles = []FargateProfile{{Name: "fp", Selectors: []FargateSelector{{Namespace: "my-namespace"}}}}
			},
			want: []Code{CodeFargateClusterGroupMissing},
		},
		{
			name: "Fargate with the cluster group",
			cluster: func(c *Cluster) {
				c.FargateProfiles = []FargateProfile{{Name: "fp", Selectors: []FargateSelector{{Namespace: "my-namespace"}}}}
			},
			policies: []v1beta1.SecurityGroupPolicy{tutorialPolicy(sgPod, sgCluster)},
		},
		{
			name: "Fargate profile selecting other labels does not apply",
			cluster: func(c *Cluster) {
				c.FargateProfiles = []FargateProfile{{Name: "fp", Selectors: []FargateSelector{{Namespace: "my-namespace", Labels: map[string]string{"on": "fargate"}}}}}
			},
		},
		{
			name:    "strict mode with NodeLocal DNSCache",
			cluster: func(c *Cluster) { c.NodeLocalDNSCache = true },
			want:    []Code{CodeStrictNodeLocalDNS},
		},
		{
			name: "standard mode with NodeLocal DNSCache needs no DNS rule",
			groups: func(g map[string]types.SecurityGroup) {
				c := g[sgCluster]
				c.IpPermissions = c.IpPermissions[:1]
				g[sgCluster] = c
			},
			cluster: func(c *Cluster) { c.NodeLocalDNSCache, c.CNI.EnforcingMode = true, enforce.Standard },
			want:    []Code{CodeStandardNodeLocal},
		},
		{
			name:    "standard mode on an old plugin",
			cluster: func(c *Cluster) { c.CNI.EnforcingMode, c.CNI.Version = enforce.Standard, "v1.10.4" },
			want:    []Code{CodeStandardNeedsCNI111, CodeStandardNodeLocal},
		},
		{
			name:    "strict mode with Calico",
			cluster: func(c *Cluster) { c.Calico = true },
			want:    []Code{CodeStrictCalico},
		},
		{
			name:    "strict mode behind externalTrafficPolicy Local",
			cluster: func(c *Cluster) { c.Workloads[0].ExternalTrafficPolicyLocal = true },
			want:    []Code{CodeStrictExternalLocal},
		},
		{
			name:    "strict mode in a public subnet",
			cluster: func(c *Cluster) { c.NodeGroups[0].Subnets[1].Public = true },
			want:    []Code{CodeStrictPublicSubnet},
		},
		{
			name:    "IPv6 cluster with EC2 nodes",
			cluster: func(c *Cluster) { c.IPFamily = IPv6 },
			want:    []Code{CodeIPv6WithEC2Nodes},
		},
		{
			name: "IPv6 cluster with only Fargate pods",
			cluster: func(c *Cluster) {
				c.IPFamily = IPv6
				c.FargateProfiles = []FargateProfile{{Name: "fp", Selectors: []FargateSelector{{Namespace: "my-namespace"}}}}
			},
			policies: []v1beta1.SecurityGroupPolicy{tutorialPolicy(sgPod, sgCluster)},
		},
		{
			name: "Windows node group next to Linux ones",
			cluster: func(c *Cluster) {
				c.NodeGroups = append(c.NodeGroups, NodeGroup{Name: "win", OS: Windows, InstanceTypes: []string{"m5.large"}, Nodes: 2})
			},
			want: []Code{CodeWindowsNodes},
		},
		{
			name:    "Windows workload",
			cluster: func(c *Cluster) { c.Workloads[0].OS = Windows },
			want:    []Code{CodeWindowsWorkload},
		},
		{
			name:    "ENABLE_POD_ENI unset",
			cluster: func(c *Cluster) { c.CNI.EnablePodENI = false },
			want:    []Code{CodePodENIDisabled},
		},
		{
			name:    "plugin older than 1.7.7",
			cluster: func(c *Cluster) { c.CNI.Version = "v1.7.6" },
			want:    []Code{CodeCNITooOld},
		},
		{
			name:   "group of another VPC",
			groups: func(g map[string]types.SecurityGroup) { p := g[sgPod]; p.VpcId = aws.String("vpc-9"); g[sgPod] = p },
			want:   []Code{CodeGroupOtherVPC},
		},
		{
			name: "two policies give more groups than the quota",
			policies: []v1beta1.SecurityGroupPolicy{
				tutorialPolicy(sgPod, sgOther),
				func() v1beta1.SecurityGroupPolicy {
					p := tutorialPolicy(sgCluster)
					p.Name = "second"
					return p
				}(),
			},
			opts: Options{GroupsPerENI: 2},
			want: []Code{CodeTooManyGroups},
		},
		{
			name: "policy without selector and with a malformed ID (both accepted by EKS's CRD)",
			policies: []v1beta1.SecurityGroupPolicy{
				tutorialPolicy(),
				func() v1beta1.SecurityGroupPolicy {
					p := tutorialPolicy("sg-xyz")
					p.Name = "broken"
					p.Spec.PodSelector = nil
					return p
				}(),
			},
			want: []Code{CodePolicyGroupIDMalformed, CodePolicyNoSelector},
		},
		{
			name:     "the tutorial's placeholder group ID",
			policies: []v1beta1.SecurityGroupPolicy{tutorialPolicy("my_pod_security_group_id")},
			want:     []Code{CodePolicyGroupIDMalformed},
		},
		{
			name: "selector that does not convert",
			policies: []v1beta1.SecurityGroupPolicy{
				tutorialPolicy(),
				func() v1beta1.SecurityGroupPolicy {
					p := tutorialPolicy()
					p.Name = "bad-selector"
					p.Spec.PodSelector.MatchLabels = map[string]string{"-role": "my-role"}
					return p
				}(),
			},
			want: []Code{CodePolicyInvalid},
		},
		{
			name: "one policy lists more groups than an ENI takes",
			policies: []v1beta1.SecurityGroupPolicy{
				tutorialPolicy(sgPod, sgCluster, sgOther),
			},
			opts: Options{GroupsPerENI: 2},
			want: []Code{CodePolicyTooManyGroups, CodeTooManyGroups},
		},
		{
			name:     "a group listed twice",
			policies: []v1beta1.SecurityGroupPolicy{tutorialPolicy(sgPod, sgPod)},
			want:     []Code{CodePolicyDuplicateGroup},
		},
		{
			name: "policy matching nothing, workload matching nothing",
			cluster: func(c *Cluster) {
				c.Workloads[0].Labels = map[string]string{"app": "other"}
			},
			want: []Code{CodePolicyMatchesNone, CodeWorkloadNoPolicy},
		},
		{
			name:    "host-network workload",
			cluster: func(c *Cluster) { c.Workloads[0].HostNetwork = true },
			want:    []Code{CodeHostNetworkIgnored},
		},
		{
			name:    "CoreDNS behind its own group that admits nothing",
			cluster: func(c *Cluster) { c.CoreDNS.SecurityGroups = []string{sgOther} },
			want:    []Code{CodeDNSIngressBlocked},
		},
		{
			name: "node groups of unknown groups",
			cluster: func(c *Cluster) {
				c.ClusterSecurityGroup = ""
				c.CoreDNS.SecurityGroups = []string{sgCluster}
			},
			want: []Code{CodeProbeNodeUnknown},
		},
		{
			name: "CoreDNS groups unknown",
			cluster: func(c *Cluster) {
				c.ClusterSecurityGroup = ""
				c.Workloads[0].ProbePorts = nil
			},
			want: []Code{CodeDNSGroupsUnknown},
		},
		{
			name: "service-account selector",
			policies: func() []v1beta1.SecurityGroupPolicy {
				p := tutorialPolicy()
				p.Spec.PodSelector = nil
				p.Spec.ServiceAccountSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"team": "web"}}
				return []v1beta1.SecurityGroupPolicy{p}
			}(),
			cluster: func(c *Cluster) { c.Workloads[0].ServiceAccountLabels = map[string]string{"team": "web"} },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newStore()
			store.groups = tutorialGroups()
			if tt.groups != nil {
				tt.groups(store.groups)
			}
			cluster := tutorialCluster()
			if tt.cluster != nil {
				tt.cluster(cluster)
			}
			policies := tt.policies
			if policies == nil {
				policies = []v1beta1.SecurityGroupPolicy{tutorialPolicy()}
			}
			report, err := mustNew(t, store, tt.opts).Run(t.Context(), cluster, policies)
			require.NoError(t, err)
			if diff := cmp.Diff(tt.want, report.Codes(), cmp.Comparer(func(a, b []Code) bool { return len(a) == 0 && len(b) == 0 || cmp.Equal(a, b) })); diff != "" {
				var text strings.Builder
				require.NoError(t, report.WriteText(&text))
				t.Errorf("codes mismatch (-want +got):\n%s\nreport:\n%s", diff, text.String())
			}
			for _, f := range report.Findings {
				require.NotEmpty(t, f.Subject, "finding %s", f.Code)
				require.NotEmpty(t, f.Problem, "finding %s", f.Code)
				require.NotEmpty(t, f.Impact, "finding %s", f.Code)
				require.NotEmpty(t, f.Fix, "finding %s", f.Code)
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	store := newStore()
	store.groups = tutorialGroups()
	t.Run("invalid description", func(t *testing.T) {
		c := tutorialCluster()
		c.CNI.EnforcingMode = 7
		c.CNI.Version = "one"
		c.Workloads[0].NodeGroups = []string{"ng-9"}
		c.Workloads[0].ProbePorts = []Port{{TCP, 70000}}
		_, err := mustNew(t, store, Options{}).Run(t.Context(), c, nil)
		require.ErrorIs(t, err, ErrInvalidCluster)
		for _, want := range []string{`cni.enforcingMode: Mode(7) is not strict or standard`, `cni.version: "one"`, `workloads[0].nodeGroups[0]: "ng-9"`, "workloads[0].probePorts[0].port: 70000"} {
			require.ErrorContains(t, err, want)
		}
	})
	t.Run("only offline checks make no EC2 call", func(t *testing.T) {
		store.calls = 0
		r, err := mustNew(t, store, Options{Checks: []CheckName{CheckNodes, CheckMode}}).Run(t.Context(), tutorialCluster(), []v1beta1.SecurityGroupPolicy{tutorialPolicy()})
		require.NoError(t, err)
		require.Zero(t, store.calls)
		require.Equal(t, []CheckName{CheckNodes, CheckMode}, r.Checks)
	})
}

func TestNodesWithOverrides(t *testing.T) {
	c := tutorialCluster()
	c.NodeGroups[0].InstanceTypes = []string{"m99.huge"}
	c.Workloads[0].Replicas = 21
	policies := []v1beta1.SecurityGroupPolicy{tutorialPolicy()}

	r, err := mustNew(t, nil, Options{Checks: []CheckName{CheckNodes}}).Run(t.Context(), c, policies)
	require.NoError(t, err)
	require.Equal(t, []Code{CodeInstanceTypeUnknown}, r.Codes())
	require.Contains(t, r.Findings[0].Problem, "limits.WithOverrides", "the limits error says how to add an override")

	table, err := limits.WithOverrides(limits.Limits{
		InstanceType: "m99.huge", MaxENIs: 3, IPv4PerENI: 10, TrunkingCompatible: true, MaxBranchENIs: 4,
		NetworkCards: []limits.NetworkCard{{Index: 0, MaxENIs: 3}}, Hypervisor: "nitro",
	})
	require.NoError(t, err)
	r, err = mustNew(t, nil, Options{Limits: table, Checks: []CheckName{CheckNodes}}).Run(t.Context(), c, policies)
	require.NoError(t, err)
	require.Equal(t, []Code{CodeBranchCapacityExceeded}, r.Codes())
	require.Equal(t, "1 pod will stay Pending until pods with security groups are deleted", r.Findings[0].Impact)
}

func TestWorkloadNoPolicyExplains(t *testing.T) {
	c := tutorialCluster()
	c.Workloads[0].Labels = map[string]string{"app": "my-app", "role": "web"}
	r, err := mustNew(t, nil, Options{Checks: []CheckName{CheckPolicies}}).Run(t.Context(), c, []v1beta1.SecurityGroupPolicy{tutorialPolicy()})
	require.NoError(t, err)
	require.Equal(t, []Code{CodePolicyMatchesNone, CodeWorkloadNoPolicy}, r.Codes())
	require.Equal(t,
		`no SecurityGroupPolicy of namespace my-namespace selects its pods: policy my-security-group-policy: podSelector role=my-role fails role=my-role (label role is "web")`,
		r.Findings[1].Problem)
}

func TestNewOptionErrors(t *testing.T) {
	tests := []struct {
		name   string
		client EC2
		opts   Options
		want   string
	}{
		{"nil client with EC2 checks", nil, Options{}, "the EC2 client is nil"},
		{"nil client with one EC2 check", nil, Options{Checks: []CheckName{CheckNodes, CheckDNS}}, "checks [dns] read security groups from EC2"},
		{"unknown check", newStore(), Options{Checks: []CheckName{CheckDNS, "dnss"}}, `Options.Checks[1] = "dnss": not a check`},
		{"check twice", newStore(), Options{Checks: []CheckName{CheckDNS, CheckNodes, CheckDNS}}, `Options.Checks[2] = "dns": also given as Options.Checks[0]`},
		{"quota too high", newStore(), Options{GroupsPerENI: 17}, "Options.GroupsPerENI = 17: want the account's quota of security groups per network interface, 1 to 16"},
		{"negative quota", newStore(), Options{GroupsPerENI: -1}, "Options.GroupsPerENI = -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.client, tt.opts)
			require.Nil(t, c)
			require.ErrorIs(t, err, ErrInvalidOptions)
			require.ErrorContains(t, err, tt.want)
		})
	}
	c, err := New(nil, Options{Checks: []CheckName{CheckPolicies, CheckNodes, CheckSupport, CheckMode}})
	require.NoError(t, err, "offline checks need no client")
	require.Equal(t, v1beta1.DefaultMaxGroups, c.groupsPerENI)
}

// mustNew is New for options known to be valid.
func mustNew(t testing.TB, client EC2, opts Options) *Checker {
	t.Helper()
	c, err := New(client, opts)
	require.NoError(t, err)
	return c
}

func TestPolicyWithoutName(t *testing.T) {
	p := tutorialPolicy()
	p.Name = ""
	r, err := mustNew(t, nil, Options{Checks: []CheckName{CheckPolicies}}).Run(t.Context(), tutorialCluster(), []v1beta1.SecurityGroupPolicy{p})
	require.NoError(t, err)
	require.Equal(t, []Code{CodePolicyInvalid, CodeWorkloadNoPolicy}, r.Codes())
	require.Contains(t, r.Findings[0].Problem, `name "" must both be set`)
}

func TestIsTFamily(t *testing.T) {
	for it, want := range map[string]bool{"t3.large": true, "t4g.micro": true, "t2.nano": true, "trn1.2xlarge": false, "m5.large": false, "t.large": false, "": false} {
		require.Equal(t, want, isTFamily(it), it)
	}
}
