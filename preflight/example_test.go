package preflight_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/podsg/podsg/api/v1beta1"
	"github.com/podsg/podsg/fake"
	"github.com/podsg/podsg/preflight"
)

// Step 7 of the EKS tutorial revokes the DNS rules from the cluster security
// group. preflight finds it before any pod fails to resolve a name.
func ExampleChecker_Run() {
	ctx := context.Background()
	f := fake.New()
	t, err := fake.SeedTutorial(ctx, f)
	if err != nil {
		panic(err)
	}
	if _, err := f.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{
		GroupId:              aws.String(t.ClusterSecurityGroupID),
		SecurityGroupRuleIds: []string{t.DNSTCPRuleID, t.DNSUDPRuleID},
	}); err != nil {
		panic(err)
	}

	policy := v1beta1.SecurityGroupPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "my-namespace", Name: "my-security-group-policy"},
		Spec: v1beta1.SecurityGroupPolicySpec{
			PodSelector:    &metav1.LabelSelector{MatchLabels: map[string]string{"role": "my-role"}},
			SecurityGroups: v1beta1.GroupIDs{Groups: []string{t.PodSecurityGroupID}},
		},
	}
	cluster := &preflight.Cluster{
		Name:                 t.ClusterName,
		VPCID:                t.VPCID,
		ClusterSecurityGroup: t.ClusterSecurityGroupID,
		CNI:                  preflight.CNI{EnablePodENI: true},
		NodeGroups: []preflight.NodeGroup{{
			Name:           "my-nodegroup",
			InstanceTypes:  []string{"m5.large"},
			Nodes:          5,
			SecurityGroups: []string{t.ClusterSecurityGroupID, t.NodeSecurityGroupID},
		}},
		Workloads: []preflight.Workload{{
			Namespace: "my-namespace", Name: "my-deployment",
			Labels:   map[string]string{"app": "my-app", "role": "my-role"},
			Replicas: 4,
		}},
	}

	checker, err := preflight.New(f, preflight.Options{})
	if err != nil {
		panic(err)
	}
	report, err := checker.Run(ctx, cluster, []v1beta1.SecurityGroupPolicy{policy})
	if err != nil {
		panic(err)
	}
	fmt.Println(report.Codes())

	// Name the generated IDs as the tutorial does, for a stable output.
	names := strings.NewReplacer(
		t.PodSecurityGroupID, "$my_pod_security_group_id",
		t.ClusterSecurityGroupID, "$my_cluster_security_group_id",
		t.NodeSecurityGroupID, "$my_node_security_group_id",
	)
	var text strings.Builder
	if err := report.WriteText(&text); err != nil {
		panic(err)
	}
	fmt.Print(names.Replace(text.String()))
	// Output:
	// [dns-ingress-blocked]
	// ERROR dns-ingress-blocked: workload my-namespace/my-deployment
	//   problem: no inbound rule of the CoreDNS groups ($my_cluster_security_group_id, $my_node_security_group_id) admits tcp/53 and udp/53 from the pods' groups ($my_pod_security_group_id)
	//   impact:  name lookups from the pods time out ("Could not resolve host"): anything that connects by name fails, while connections by IP still work
	//   fix:     add inbound rules for TCP and UDP port 53 from $my_pod_security_group_id to $my_cluster_security_group_id
	// not ready: 1 error, 0 warnings, 0 notes (9 checks)
}

// Checks can run alone. The capacity check needs no EC2 call: five m5.large
// nodes host 45 branch ENIs, so the 46th pod stays Pending.
func ExampleOptions_checks() {
	cluster := &preflight.Cluster{
		Name:       "my-cluster",
		NodeGroups: []preflight.NodeGroup{{Name: "my-nodegroup", InstanceTypes: []string{"m5.large"}, Nodes: 5}},
		Workloads: []preflight.Workload{{
			Namespace: "my-namespace", Name: "my-deployment",
			Labels: map[string]string{"role": "my-role"}, Replicas: 46,
		}},
	}
	policy := v1beta1.SecurityGroupPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "my-namespace", Name: "my-security-group-policy"},
		Spec: v1beta1.SecurityGroupPolicySpec{
			PodSelector:    &metav1.LabelSelector{MatchLabels: map[string]string{"role": "my-role"}},
			SecurityGroups: v1beta1.GroupIDs{Groups: []string{"sg-0123456789abcdef0"}},
		},
	}
	checker, err := preflight.New(nil, preflight.Options{Checks: []preflight.CheckName{preflight.CheckNodes}})
	if err != nil {
		panic(err)
	}
	report, err := checker.Run(context.Background(), cluster, []v1beta1.SecurityGroupPolicy{policy})
	if err != nil {
		panic(err)
	}
	if err := report.WriteText(os.Stdout); err != nil {
		panic(err)
	}
	// Output:
	// ERROR branch-capacity-exceeded: cluster my-cluster
	//   problem: 46 pods with security groups, but the nodes they may run on host at most 45 branch ENIs (5 × 9 in my-nodegroup)
	//   impact:  1 pod will stay Pending until pods with security groups are deleted
	//   fix:     add nodes (or larger instance types) for 1 more branch ENI, or run fewer replicas
	// not ready: 1 error, 0 warnings, 0 notes (1 check)
}

// Evaluate answers whether one flow is allowed, and by which rules: here a
// pod of the tutorial querying CoreDNS on a node, over UDP.
func ExampleGroups_Evaluate() {
	ctx := context.Background()
	f := fake.New()
	t, err := fake.SeedTutorial(ctx, f)
	if err != nil {
		panic(err)
	}
	groups, missing, err := preflight.LoadGroups(ctx, f, []string{t.PodSecurityGroupID, t.ClusterSecurityGroupID})
	if err != nil || len(missing) > 0 {
		panic(fmt.Sprint(err, missing))
	}
	subnet := netip.MustParsePrefix("192.168.32.0/19")
	v, err := groups.Evaluate(preflight.Flow{
		From:     preflight.Endpoint{Groups: []string{t.PodSecurityGroupID}, Prefix: subnet},
		To:       preflight.Endpoint{Groups: []string{t.ClusterSecurityGroupID}, Prefix: subnet},
		Protocol: preflight.UDP,
		Port:     53,
	})
	if err != nil {
		panic(err)
	}
	names := strings.NewReplacer(t.PodSecurityGroupID, "pod-sg", t.ClusterSecurityGroupID, "cluster-sg")
	fmt.Println("allowed:", v.Allowed)
	fmt.Println("egress: ", names.Replace(v.Egress.Rule.String()))
	fmt.Println("ingress:", names.Replace(v.Ingress.Rule.String()))
	// Output:
	// allowed: true
	// egress:  pod-sg egress -1 all to 0.0.0.0/0
	// ingress: cluster-sg ingress udp 53-53 from pod-sg
}
