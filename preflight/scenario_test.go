package preflight_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/podsg/podsg/api/v1beta1"
	"github.com/podsg/podsg/fake"
	"github.com/podsg/podsg/preflight"
)

// tutorial is the EKS tutorial "Security groups for pods" on the fake:
// EC2 seeded by fake.SeedTutorial, the tutorial's policy, and the cluster
// described as kubectl and the EKS API would show it after step 3 (pod ENIs
// enabled, strict mode, TCP early demux disabled).
type tutorial struct {
	ec2      *fake.EC2
	ids      fake.Tutorial
	cluster  *preflight.Cluster
	policies []v1beta1.SecurityGroupPolicy
}

func newTutorial(t testing.TB, opts ...fake.Options) *tutorial {
	t.Helper()
	ctx := t.Context()
	f := fake.New(opts...)
	ids, err := fake.SeedTutorial(ctx, f)
	require.NoError(t, err)

	out, err := f.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: ids.SubnetIDs})
	require.NoError(t, err)
	var subnets []preflight.Subnet
	for _, s := range out.Subnets {
		subnets = append(subnets, preflight.Subnet{
			ID:   aws.ToString(s.SubnetId),
			CIDR: netip.MustParsePrefix(aws.ToString(s.CidrBlock)),
		})
	}
	return &tutorial{
		ec2: f,
		ids: ids,
		cluster: &preflight.Cluster{
			Name:                 ids.ClusterName,
			VPCID:                ids.VPCID,
			ClusterSecurityGroup: ids.ClusterSecurityGroupID,
			CNI:                  preflight.CNI{Version: "v1.18.3", EnablePodENI: true, DisableTCPEarlyDemux: true},
			NodeGroups: []preflight.NodeGroup{{
				Name:           "my-nodegroup",
				InstanceTypes:  []string{ids.InstanceType},
				Nodes:          len(ids.Nodes),
				SecurityGroups: []string{ids.ClusterSecurityGroupID, ids.NodeSecurityGroupID},
				Subnets:        subnets,
			}},
			Workloads: []preflight.Workload{{
				Namespace: "my-namespace",
				Name:      "my-deployment",
				Labels:    map[string]string{"app": "my-app", "role": "my-role"},
				Replicas:  4,
				// curl my-app from one pod reaches the others on
				// port 80 through the Service.
				PeerPorts: []preflight.Port{{Protocol: preflight.TCP, Port: 80}},
			}},
		},
		policies: []v1beta1.SecurityGroupPolicy{{
			ObjectMeta: metav1.ObjectMeta{Namespace: "my-namespace", Name: "my-security-group-policy"},
			Spec: v1beta1.SecurityGroupPolicySpec{
				PodSelector:    &metav1.LabelSelector{MatchLabels: map[string]string{"role": "my-role"}},
				SecurityGroups: v1beta1.GroupIDs{Groups: []string{ids.PodSecurityGroupID}},
			},
		}},
	}
}

func (tt *tutorial) run(t testing.TB) *preflight.Report {
	t.Helper()
	c, err := preflight.New(tt.ec2, preflight.Options{})
	require.NoError(t, err)
	r, err := c.Run(t.Context(), tt.cluster, tt.policies)
	require.NoError(t, err)
	return r
}

// revokeDNS is step 7 of the tutorial.
func (tt *tutorial) revokeDNS(t testing.TB) {
	t.Helper()
	_, err := tt.ec2.RevokeSecurityGroupIngress(t.Context(), &ec2.RevokeSecurityGroupIngressInput{
		GroupId:              aws.String(tt.ids.ClusterSecurityGroupID),
		SecurityGroupRuleIds: []string{tt.ids.DNSTCPRuleID, tt.ids.DNSUDPRuleID},
	})
	require.NoError(t, err)
}

func TestTutorial(t *testing.T) {
	tests := []struct {
		name     string
		sabotage func(t *testing.T, tt *tutorial)
		want     []preflight.Code
	}{
		{name: "healthy setup", sabotage: func(*testing.T, *tutorial) {}},
		{
			name: "pod security group deleted",
			// Step 9 (revoke the self rule, delete the group) after the
			// DNS rules that reference it are gone, then the policy
			// still names it.
			sabotage: func(t *testing.T, tt *tutorial) {
				ctx := t.Context()
				tt.revokeDNS(t)
				_, err := tt.ec2.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{
					GroupId: aws.String(tt.ids.PodSecurityGroupID), SecurityGroupRuleIds: []string{tt.ids.PodSelfRuleID},
				})
				require.NoError(t, err)
				_, err = tt.ec2.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(tt.ids.PodSecurityGroupID)})
				require.NoError(t, err)
			},
			want: []preflight.Code{preflight.CodeGroupNotFound},
		},
		{
			name:     "DNS rules revoked (step 7)",
			sabotage: func(t *testing.T, tt *tutorial) { tt.revokeDNS(t) },
			want:     []preflight.Code{preflight.CodeDNSIngressBlocked},
		},
		{
			name: "probe port without a rule from the node groups",
			sabotage: func(_ *testing.T, tt *tutorial) {
				tt.cluster.Workloads[0].ProbePorts = []preflight.Port{{Protocol: preflight.TCP, Port: 8080}}
			},
			want: []preflight.Code{preflight.CodeProbeBlocked},
		},
		{
			name: "probe port with a rule from the node group",
			sabotage: func(t *testing.T, tt *tutorial) {
				tt.cluster.Workloads[0].ProbePorts = []preflight.Port{{Protocol: preflight.TCP, Port: 8080}}
				tt.ec2.AddIngress(tt.ids.PodSecurityGroupID, fake.TCP(8080, tt.ids.NodeSecurityGroupID))
			},
		},
		{
			name: "t3 nodes",
			sabotage: func(_ *testing.T, tt *tutorial) {
				tt.cluster.NodeGroups[0].InstanceTypes = []string{"t3.large"}
			},
			want: []preflight.Code{preflight.CodeInstanceTypeNotTrunk},
		},
		{
			name:     "46 replicas on five m5.large nodes",
			sabotage: func(_ *testing.T, tt *tutorial) { tt.cluster.Workloads[0].Replicas = 46 },
			want:     []preflight.Code{preflight.CodeBranchCapacityExceeded},
		},
		{
			name: "Fargate without the cluster security group",
			sabotage: func(_ *testing.T, tt *tutorial) {
				tt.cluster.FargateProfiles = []preflight.FargateProfile{{
					Name:      "my-profile",
					Selectors: []preflight.FargateSelector{{Namespace: "my-namespace"}},
					Subnets:   tt.cluster.NodeGroups[0].Subnets,
				}}
			},
			want: []preflight.Code{preflight.CodeFargateClusterGroupMissing},
		},
		{
			name:     "strict mode with NodeLocal DNSCache",
			sabotage: func(_ *testing.T, tt *tutorial) { tt.cluster.NodeLocalDNSCache = true },
			want:     []preflight.Code{preflight.CodeStrictNodeLocalDNS},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tt := newTutorial(t)
			tc.sabotage(t, tt)
			r := tt.run(t)
			if diff := cmp.Diff(tc.want, r.Codes(), cmp.Comparer(func(a, b []preflight.Code) bool {
				return len(a) == 0 && len(b) == 0 || cmp.Equal(a, b)
			})); diff != "" {
				var b strings.Builder
				require.NoError(t, r.WriteText(&b))
				t.Fatalf("codes mismatch (-want +got):\n%s\n%s", diff, b.String())
			}
			require.Equal(t, len(tc.want) == 0, r.OK())
		})
	}
}

// The finding for a deleted group quotes EC2's own error.
func TestTutorialDeletedGroupQuotesEC2(t *testing.T) {
	tt := newTutorial(t)
	gone := "sg-0123456789abcdef0"
	tt.policies[0].Spec.SecurityGroups.Groups = append(tt.policies[0].Spec.SecurityGroups.Groups, gone)
	r := tt.run(t)
	require.Equal(t, []preflight.Code{preflight.CodeGroupNotFound}, r.Codes())
	f := r.Findings[0]
	require.Equal(t, "security group "+gone, f.Subject)
	require.Contains(t, f.Problem, "InvalidGroup.NotFound: The security group '"+gone+"' does not exist")
	require.Contains(t, f.Problem, "policy my-namespace/my-security-group-policy")
}

// The capacity finding says how many pods will stay Pending.
func TestTutorialCapacityFigures(t *testing.T) {
	tt := newTutorial(t)
	tt.cluster.Workloads[0].Replicas = 50
	r := tt.run(t)
	require.Equal(t, []preflight.Code{preflight.CodeBranchCapacityExceeded}, r.Codes())
	require.Contains(t, r.Findings[0].Problem, "at most 45 branch ENIs (5 × 9 in my-nodegroup)")
	require.Equal(t, "5 pods will stay Pending until pods with security groups are deleted", r.Findings[0].Impact)
}

func BenchmarkTutorialRun(b *testing.B) {
	// Throttling off: the benchmark measures preflight, not EC2's buckets.
	tt := newTutorial(b, fake.Options{DisableThrottling: true})
	c, err := preflight.New(tt.ec2, preflight.Options{})
	require.NoError(b, err)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Run(ctx, tt.cluster, tt.policies); err != nil {
			b.Fatal(err)
		}
	}
}
