package main

import (
	"bufio"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/podsg/podsg/api/podeni"
	"github.com/podsg/podsg/api/v1beta1"
	"github.com/podsg/podsg/eni"
	"github.com/podsg/podsg/preflight"
	"github.com/podsg/podsg/selector"
	"github.com/podsg/podsg/selector/kube"
	"github.com/podsg/podsg/trunk"
)

//go:embed manifests/my-security-group-policy.yaml
var policyYAML string

//go:embed manifests/sample-application.yaml
var applicationYAML string

// placeholder is the group ID the tutorial's policy names until the reader
// substitutes an existing group.
const placeholder = "my_pod_security_group_id"

// pod is a pod of the simulated cluster.
type pod struct {
	ref    eni.PodRef
	labels map[string]string
	node   *node
	status string // Running, Pending, ContainerCreating
	// event is the last warning event of a pod that is not running.
	event  string
	result trunk.Result
}

// tutorial is the simulated cluster and the controller that serves it.
type tutorial struct {
	p      printer
	opts   options
	client ec2API
	w      *world
	m      *trunk.Manager
	index  *selector.Index
	pods   []*pod
	// template is the pod template of my-deployment, and svc the Service in
	// front of it.
	template corev1.PodTemplateSpec
	svc      *corev1.Service
	// namespaces are the namespaces of the simulated cluster.
	namespaces map[string]bool
}

// run plays the tutorial, writing what a person would see to out.
func run(ctx context.Context, out io.Writer, client ec2API, o options) error {
	// The cool-down the pools apply: the default for 0, at least 30 s.
	o.CoolDown = eni.EffectiveCoolDown(o.CoolDown)
	t := &tutorial{p: printer{out}, opts: o, client: client, index: selector.NewIndex(selector.Options{}),
		namespaces: map[string]bool{"default": true, "kube-system": true}}
	start := time.Now()
	where := "the embedded fake EC2"
	if o.Endpoint != "" {
		where = "EC2 at " + o.Endpoint
	}
	t.p.f("Security groups for pods, the EKS tutorial replayed with podsg on %s (region %s).\n", where, o.Region)

	w, err := buildWorld(ctx, client, o.Region)
	if err != nil {
		return fmt.Errorf("setting up the tutorial's VPC: %w", err)
	}
	t.w = w
	t.m, err = trunk.New(client, trunk.Options{
		ClusterName: clusterName,
		// The production controller's strategy: a new ENI per pod, deleted
		// after its cool-down, never reused.
		Policy: eni.Policy{CoolDown: o.CoolDown, MaxWarm: eni.NoWarm},
		// The tutorial is the account's only client: use EC2's whole
		// request rate rather than keeping headroom for others.
		Budget: trunk.BudgetOptions{Headroom: -1},
	})
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = t.m.Run(runCtx) })
	defer func() {
		cancel()
		wg.Wait()
	}()

	steps := []func(context.Context) error{
		t.before, t.step1, t.step2, t.step3, t.step4, t.step5, t.step6,
	}
	if !o.SkipTroubleshooting {
		steps = append(steps, t.troubleMissingGroup, t.troubleCapacity)
	}
	steps = append(steps, t.step7)
	for _, s := range steps {
		if err := s(ctx); err != nil {
			return err
		}
	}
	t.p.f("\nDone in %.1f s of wall time.\n", time.Since(start).Seconds())
	return nil
}

func (t *tutorial) before(context.Context) error {
	w := t.w
	t.p.step("Before you start", "the cluster's VPC, security groups and node group")
	t.p.f("VPC %s %s, private subnets:", w.VPCID, vpcCIDR)
	for _, n := range w.sortedSubnets() {
		t.p.f(" %s %s", n, w.Subnets[n])
	}
	t.p.f("\ncluster security group %s ($my_cluster_security_group_id): all traffic from itself,\n", w.ClusterSG)
	t.p.f("  tcp 53 from the pod group (%s = $my_tcp_rule_id), udp 53 from the pod group (%s = $my_udp_rule_id)\n", w.DNSTCPRule, w.DNSUDPRule)
	t.p.f("node group security group %s: all traffic from itself and from the cluster group\n", w.NodeSG)
	t.p.f("pod security group %s ($my_pod_security_group_id): tcp 80 from itself (%s = $my_inbound_self_rule_id)\n", w.PodSG, w.PodSelfRule)
	t.p.f("node group my-nodegroup: %d %s nodes in the cluster and node groups; CoreDNS runs on them\n", len(w.Nodes), instanceType)
	return nil
}

func (w *world) sortedSubnets() []string {
	var ids []string
	for id := range w.Subnets {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int { return strings.Compare(w.Subnets[a], w.Subnets[b]) })
	return ids
}

// step1 enables pod ENIs: the controller gives every node a trunk ENI.
func (t *tutorial) step1(ctx context.Context) error {
	t.p.step("Step 1", "enable pod ENIs; every node gets a trunk ENI")
	t.p.cmd("kubectl set env daemonset aws-node -n kube-system ENABLE_POD_ENI=true")
	infos := make([]trunk.NodeInfo, len(t.w.Nodes))
	for i, n := range t.w.Nodes {
		info, err := t.m.EnsureNode(ctx, n.InstanceID)
		if err != nil {
			return fmt.Errorf("step 1: giving node %s a trunk ENI: %w", n.Name, err)
		}
		infos[i] = info
	}
	status, err := t.nodeStatus(ctx, infos)
	if err != nil {
		return fmt.Errorf("step 1: %w", err)
	}
	t.p.cmd("kubectl get nodes -o wide -l vpc.amazonaws.com/has-trunk-attached=true")
	tw := tabwriter.NewWriter(t.p.w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATUS\tINTERNAL-IP\tINSTANCE-ID\tINSTANCE-TYPE\tTRUNK-ENI\tvpc.amazonaws.com/pod-eni")
	for i, n := range t.w.Nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\n", n.Name, status[i], n.PrivateIP, n.InstanceID, infos[i].InstanceType, infos[i].TrunkENIID, infos[i].BranchLimit)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for i, s := range status {
		if s != "Ready" {
			return fmt.Errorf("step 1: node %s is %s", t.w.Nodes[i].Name, s)
		}
	}
	trunks, err := t.awaitENIs(ctx, trunk.TrunkDescription, len(t.w.Nodes))
	if err != nil {
		return err
	}
	t.p.f("EC2 holds %d trunk ENIs (description %s); each node advertises its branch-ENI limit as vpc.amazonaws.com/pod-eni capacity.\n", trunks, trunk.TrunkDescription)
	return nil
}

// nodeStatus is each node's STATUS as the simulated cluster derives it from
// EC2: Ready when its instance is running and its trunk ENI attached, as
// EC2's Describe calls show them once the changes have propagated (the
// manager has just attached the trunks); NotReady otherwise.
func (t *tutorial) nodeStatus(ctx context.Context, infos []trunk.NodeInfo) ([]string, error) {
	ids, trunks := make([]string, len(t.w.Nodes)), make([]string, len(infos))
	for i, n := range t.w.Nodes {
		ids[i], trunks[i] = n.InstanceID, infos[i].TrunkENIID
	}
	status := make([]string, len(ids))
	err := waitFor(ctx, "the nodes' instances running with their trunk ENIs attached", func() (bool, error) {
		insts, err := t.client.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids})
		if err != nil {
			return false, err
		}
		running := map[string]bool{}
		for _, r := range insts.Reservations {
			for _, in := range r.Instances {
				running[aws.ToString(in.InstanceId)] = in.State != nil && in.State.Name == types.InstanceStateNameRunning
			}
		}
		var enis *ec2.DescribeNetworkInterfacesOutput
		err = settle(ctx, func() (err error) {
			enis, err = t.client.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: trunks})
			return err
		})
		if err != nil {
			return false, err
		}
		attached := map[string]string{} // trunk → instance it is attached to
		for _, e := range enis.NetworkInterfaces {
			if a := e.Attachment; a != nil && a.Status == types.AttachmentStatusAttached {
				attached[aws.ToString(e.NetworkInterfaceId)] = aws.ToString(a.InstanceId)
			}
		}
		all := true
		for i, id := range ids {
			status[i] = "NotReady"
			if running[id] && attached[trunks[i]] == id {
				status[i] = "Ready"
			} else {
				all = false
			}
		}
		return all, nil
	})
	if err != nil && !errors.Is(err, errNotSettled) {
		return nil, err
	}
	return status, nil
}

// step2 creates the namespace and applies the policy, validated first.
func (t *tutorial) step2(context.Context) error {
	t.p.step("Step 2", "create the namespace and apply the SecurityGroupPolicy")
	t.p.cmd("kubectl create namespace my-namespace")
	if t.namespaces["my-namespace"] {
		return errors.New("step 2: namespace my-namespace exists already")
	}
	t.namespaces["my-namespace"] = true
	t.p.f("namespace/my-namespace created\n")
	manifest := strings.ReplaceAll(policyYAML, placeholder, t.w.PodSG)
	t.p.cmd("sed -i 's/%s/%s/' my-security-group-policy.yaml", placeholder, t.w.PodSG)
	p, err := v1beta1.Decode([]byte(manifest))
	if err != nil {
		return fmt.Errorf("step 2: %w", err)
	}
	if errs := v1beta1.Validate(p, v1beta1.ValidateOptions{}); len(errs) > 0 {
		return fmt.Errorf("step 2: the policy does not validate: %w", errs.ToAggregate())
	}
	if err := t.index.Upsert(p); err != nil {
		return fmt.Errorf("step 2: %w", err)
	}
	t.p.cmd("kubectl apply -f my-security-group-policy.yaml")
	if !t.namespaces[p.Namespace] {
		return fmt.Errorf("step 2: namespaces %q not found", p.Namespace)
	}
	t.p.f("securitygrouppolicy.vpcresources.k8s.aws/%s created (validated: podSelector %s, groupIds [%s])\n",
		p.Name, metav1.FormatLabelSelector(p.Spec.PodSelector), strings.Join(p.Spec.SecurityGroups.Groups, " "))
	return nil
}

// step3 deploys the sample application: four pods, each with a branch ENI.
func (t *tutorial) step3(ctx context.Context) error {
	t.p.step("Step 3", "deploy the sample application")
	t.p.cmd("kubectl apply -f sample-application.yaml")
	dep, svc, err := readApplication()
	if err != nil {
		return fmt.Errorf("step 3: %w", err)
	}
	t.template, t.svc = dep.Spec.Template, svc
	for _, ns := range []string{dep.Namespace, svc.Namespace} {
		if !t.namespaces[ns] {
			return fmt.Errorf("step 3: namespaces %q not found", ns)
		}
	}
	t.p.f("deployment.apps/%s created\nservice/%s created\n", dep.Name, svc.Name)
	if err := t.scale(ctx, int(aws.ToInt32(dep.Spec.Replicas))); err != nil {
		return err
	}
	t.p.cmd("kubectl get pods -n my-namespace -o wide")
	if err := t.printPods(); err != nil {
		return err
	}
	first := t.pods[0]
	t.p.cmd(`kubectl get pod %s -n my-namespace -o jsonpath='{.metadata.annotations.vpc\.amazonaws\.com/pod-eni}'`, first.ref.Name)
	t.p.f("%s\n", first.result.Annotation)
	if _, err := podeni.Parse(first.result.Annotation); err != nil {
		return fmt.Errorf("step 3: the annotation the CNI would read: %w", err)
	}
	enis, err := t.checkBranches(ctx)
	if err != nil {
		return fmt.Errorf("step 3: %w", err)
	}
	t.p.f("EC2 holds %d branch ENIs (description %s), each only in pod security group %s and associated with its node's trunk on its pod's VLAN.\n",
		enis, trunk.BranchDescription, t.w.PodSG)
	return nil
}

// checkBranches reads the branch ENIs back from EC2 and checks what step 3
// says of them: one per running pod, in the pod security group alone, and
// associated with the trunk of the pod's node on the pod's VLAN. It waits
// for EC2's Describe calls to show the associations, which lag behind them,
// and returns how many branch ENIs EC2 holds.
func (t *tutorial) checkBranches(ctx context.Context) (int, error) {
	trunks := map[string]string{} // instance → trunk ENI
	for _, info := range t.m.Nodes() {
		trunks[info.InstanceID] = info.TrunkENIID
	}
	var problem error
	n := 0
	look := func() error {
		want := map[string]*pod{} // branch ENI → pod
		for _, pd := range t.pods {
			if pd.status == "Running" {
				want[pd.result.Branch.ENI.ID] = pd
			}
		}
		enis, err := t.listENIs(ctx, trunk.BranchDescription)
		if err != nil {
			return err
		}
		n = len(enis)
		if len(enis) != len(want) {
			return fmt.Errorf("EC2 lists %d branch ENIs for %d running pods", len(enis), len(want))
		}
		for _, e := range enis {
			id := aws.ToString(e.NetworkInterfaceId)
			pd := want[id]
			switch {
			case pd == nil:
				return fmt.Errorf("EC2 lists branch ENI %s, which no pod holds", id)
			case len(e.Groups) != 1 || aws.ToString(e.Groups[0].GroupId) != t.w.PodSG:
				return fmt.Errorf("branch ENI %s of pod %s is not in pod security group %s alone", id, pd.ref, t.w.PodSG)
			case e.InterfaceType != types.NetworkInterfaceTypeBranch:
				return fmt.Errorf("branch ENI %s of pod %s is not associated with a trunk", id, pd.ref)
			}
		}
		for _, nd := range t.w.Nodes {
			out, err := t.client.DescribeTrunkInterfaceAssociations(ctx, &ec2.DescribeTrunkInterfaceAssociationsInput{
				Filters: []types.Filter{{Name: aws.String("trunk-interface-association.trunk-interface-id"), Values: []string{trunks[nd.InstanceID]}}}})
			if err != nil {
				return err
			}
			for _, a := range out.InterfaceAssociations {
				id := aws.ToString(a.BranchInterfaceId)
				pd := want[id]
				if pd == nil || pd.node.InstanceID != nd.InstanceID || int(aws.ToInt32(a.VlanId)) != pd.result.Branch.ENI.VLANID {
					return fmt.Errorf("the trunk of node %s associates branch ENI %s on VLAN %d, which no pod of the node holds on that VLAN",
						nd.Name, id, aws.ToInt32(a.VlanId))
				}
				delete(want, id)
			}
		}
		if len(want) > 0 {
			return fmt.Errorf("%d branch ENIs are in no trunk association", len(want))
		}
		return nil
	}
	err := waitFor(ctx, "the branch ENIs associated as the pods need", func() (bool, error) {
		problem = look()
		var ae interface{ ErrorCode() string }
		if errors.As(problem, &ae) {
			return false, problem // EC2 refused the listing: stop
		}
		return problem == nil, nil
	})
	if errors.Is(err, errNotSettled) && problem != nil {
		return 0, problem
	}
	if err != nil {
		return 0, err
	}
	return n, nil
}

func readApplication() (*appsv1.Deployment, *corev1.Service, error) {
	var dep *appsv1.Deployment
	var svc *corev1.Service
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(applicationYAML)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		var kind struct{ Kind string }
		if err := yaml.Unmarshal(doc, &kind); err != nil {
			return nil, nil, err
		}
		switch kind.Kind {
		case "Deployment":
			dep = new(appsv1.Deployment)
			if err := yaml.UnmarshalStrict(doc, dep); err != nil {
				return nil, nil, err
			}
		case "Service":
			svc = new(corev1.Service)
			if err := yaml.UnmarshalStrict(doc, svc); err != nil {
				return nil, nil, err
			}
		}
	}
	if dep == nil || svc == nil {
		return nil, nil, errors.New("sample-application.yaml lacks the Deployment or the Service")
	}
	return dep, svc, nil
}

// step4 runs "curl my-app" from one pod: DNS to CoreDNS, then HTTP to a pod
// behind the Service, each decided by the groups' rules.
func (t *tutorial) step4(ctx context.Context) error {
	t.p.step("Step 4", "curl my-app from a pod")
	return t.curl(ctx, "my-app", true)
}

// step5 revokes the DNS rules on the cluster group, by rule ID.
func (t *tutorial) step5(ctx context.Context) error {
	t.p.step("Step 5", "revoke the DNS rules of the cluster security group")
	for _, id := range []string{t.w.DNSTCPRule, t.w.DNSUDPRule} {
		t.p.cmd("aws ec2 revoke-security-group-ingress --group-id %s --security-group-rule-ids %s", t.w.ClusterSG, id)
		out, err := t.client.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{
			GroupId: aws.String(t.w.ClusterSG), SecurityGroupRuleIds: []string{id}})
		if err != nil {
			return fmt.Errorf("step 5: revoking %s: %w", id, err)
		}
		t.p.f("{ \"Return\": %t }\n", aws.ToBool(out.Return))
		if !aws.ToBool(out.Return) {
			return fmt.Errorf("step 5: revoking %s returned false", id)
		}
	}
	// curl reads the groups' rules back from EC2, whose listing shows a
	// revocation only once it has propagated: wait for that.
	err := waitFor(ctx, "EC2 no longer listing the revoked DNS rules", func() (bool, error) {
		for _, id := range []string{t.w.DNSTCPRule, t.w.DNSUDPRule} {
			_, err := t.client.DescribeSecurityGroupRules(ctx, &ec2.DescribeSecurityGroupRulesInput{SecurityGroupRuleIds: []string{id}})
			if err == nil {
				return false, nil // still listed
			}
			if trunk.ErrorCode(err) != "InvalidSecurityGroupRuleId.NotFound" {
				return false, err
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("step 5: %w", err)
	}
	return nil
}

// step6 runs curl again: the name does not resolve, a pod IP still answers.
func (t *tutorial) step6(ctx context.Context) error {
	t.p.step("Step 6", "curl my-app again, then a pod IP")
	if err := t.curl(ctx, "my-app", false); err != nil {
		return err
	}
	return t.curl(ctx, t.pods[1].result.Branch.ENI.PrivateIP.String(), true)
}

// curl decides whether "curl target" from the first pod works. target is
// "my-app" (resolved through CoreDNS to the Service, whose traffic goes to
// any of the running pods its selector picks, so every one of them must
// answer) or a pod IP.
func (t *tutorial) curl(ctx context.Context, target string, wantOK bool) error {
	from := t.pods[0]
	var to []*pod
	if target == t.svc.Name {
		sel := labels.SelectorFromSet(t.svc.Spec.Selector)
		for _, pd := range t.pods {
			if pd.status == "Running" && pd.ref.Namespace == t.svc.Namespace && sel.Matches(labels.Set(pd.labels)) {
				to = append(to, pd)
			}
		}
		if len(to) == 0 {
			return fmt.Errorf("curl %s: the Service's selector %s picks no running pod", target, sel)
		}
	} else {
		for _, pd := range t.pods {
			if pd.status == "Running" && pd.result.Branch.ENI.PrivateIP.String() == target {
				to = append(to, pd)
			}
		}
		if len(to) != 1 {
			return fmt.Errorf("curl %s: %d running pods have that address", target, len(to))
		}
	}
	t.p.cmd("kubectl exec -it -n my-namespace %s -- curl %s", from.ref.Name, target)
	groups, _, err := preflight.LoadGroups(ctx, t.client, []string{t.w.ClusterSG, t.w.NodeSG, t.w.PodSG})
	if err != nil {
		return fmt.Errorf("reading the security groups: %w", err)
	}
	src := preflight.Endpoint{Groups: from.result.Branch.Groups.IDs(), Prefix: host(from.result.Branch.ENI.PrivateIP)}
	ok := true
	if target == t.svc.Name {
		dns := t.w.Nodes[0]
		coreDNS := preflight.Endpoint{Groups: []string{t.w.ClusterSG, t.w.NodeSG}, Prefix: host(netip.MustParseAddr(dns.PrivateIP))}
		for _, proto := range []preflight.Protocol{preflight.UDP, preflight.TCP} {
			v, err := groups.Evaluate(preflight.Flow{From: src, To: coreDNS, Protocol: proto, Port: 53})
			if err != nil {
				return err
			}
			t.p.f("  # DNS %s/53 to CoreDNS (on %s, groups %s, %s): %s\n", proto, dns.Name, t.w.ClusterSG, t.w.NodeSG, verdict(v))
			ok = ok && v.Allowed
		}
		if !ok {
			t.p.f("curl: (6) Could not resolve host: %s\n", target)
			return expect(wantOK, false, "curl "+target)
		}
		t.p.f("  # Service %s selects %s: %d running pods\n", t.svc.Name, labels.SelectorFromSet(t.svc.Spec.Selector), len(to))
	}
	for _, pd := range to {
		dst := preflight.Endpoint{Groups: pd.result.Branch.Groups.IDs(), Prefix: host(pd.result.Branch.ENI.PrivateIP)}
		v, err := groups.Evaluate(preflight.Flow{From: src, To: dst, Protocol: preflight.TCP, Port: 80})
		if err != nil {
			return err
		}
		t.p.f("  # HTTP tcp/80 to pod %s (%s, branch ENI %s): %s\n", pd.ref.Name, pd.result.Branch.ENI.PrivateIP, pd.result.Branch.ENI.ID, verdict(v))
		ok = ok && v.Allowed
	}
	if !ok {
		t.p.f("curl: (28) Failed to connect to %s port 80: Connection timed out\n", target)
		return expect(wantOK, false, "curl "+target)
	}
	t.p.f("<!DOCTYPE html> <html> <head> <title>Welcome to nginx!</title> ...\n")
	return expect(wantOK, true, "curl "+target)
}

// expect checks that the groups' rules decided as the tutorial says they do.
func expect(want, got bool, what string) error {
	if want != got {
		return fmt.Errorf("%s: the security groups' rules decided %t where the tutorial expects %t", what, got, want)
	}
	return nil
}

func host(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, a.BitLen()) }

// verdict describes the evaluator's decision and the rules behind it.
func verdict(v preflight.Verdict) string {
	side := func(s preflight.Side, dir string) string {
		switch {
		case !s.Needed:
			return dir + " not filtered"
		case s.Allowed:
			return dir + " by " + s.Rule.String()
		}
		return "no " + dir + " rule allows it"
	}
	if v.Allowed {
		return "allowed (" + side(v.Egress, "egress") + "; " + side(v.Ingress, "ingress") + ")"
	}
	if !v.Egress.Allowed {
		return "DENIED: " + side(v.Egress, "egress")
	}
	return "DENIED: " + side(v.Ingress, "ingress")
}

// step7 cleans up: the namespace goes, the ENIs cool down and are deleted,
// the group is deleted.
func (t *tutorial) step7(ctx context.Context) error {
	t.p.step("Step 7", "clean up")
	t.p.cmd("kubectl delete namespace my-namespace")
	if !t.namespaces["my-namespace"] {
		return errors.New("step 7: namespace my-namespace not found")
	}
	t.pods = slices.DeleteFunc(t.pods, func(pd *pod) bool {
		if pd.ref.Namespace != "my-namespace" {
			return false
		}
		if pd.node != nil {
			t.m.Release(pd.node.InstanceID, pd.ref)
		}
		return true
	})
	delete(t.namespaces, "my-namespace")
	t.p.f("namespace \"my-namespace\" deleted\n")
	st := t.m.Metrics().Pools
	t.p.f("branch ENIs cooling down: %d (cool-down %v, so that ARP caches forget the pods' addresses)\n", st.Cooling, t.opts.CoolDown)

	t.p.cmd("aws ec2 revoke-security-group-ingress --group-id %s --security-group-rule-ids %s", t.w.PodSG, t.w.PodSelfRule)
	out, err := t.client.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{
		GroupId: aws.String(t.w.PodSG), SecurityGroupRuleIds: []string{t.w.PodSelfRule}})
	if err != nil {
		return fmt.Errorf("step 7: %w", err)
	}
	t.p.f("{ \"Return\": %t }\n", aws.ToBool(out.Return))
	if !aws.ToBool(out.Return) {
		return fmt.Errorf("step 7: revoking %s returned false", t.w.PodSelfRule)
	}

	if t.opts.Wait {
		t.p.cmd("sleep %v  # the cool-down", t.opts.CoolDown)
		if err := sleep(ctx, t.opts.CoolDown); err != nil {
			return fmt.Errorf("step 7: %w", err)
		}
	} else {
		t.p.f("# instead of sleeping %v, drain the nodes' pools: every branch ENI is disassociated and deleted at once (run with -wait for the real cool-down)\n", t.opts.CoolDown)
		for _, n := range t.w.Nodes {
			if err := t.m.RemoveNode(ctx, n.InstanceID); err != nil {
				return fmt.Errorf("step 7: %w", err)
			}
		}
	}
	n, err := t.awaitENIs(ctx, trunk.BranchDescription, 0)
	t.p.cmd("aws ec2 describe-network-interfaces --filters Name=description,Values=%s Name=vpc-id,Values=%s --query 'length(NetworkInterfaces)'", trunk.BranchDescription, t.w.VPCID)
	t.p.f("%d\n", n)
	if err != nil {
		return fmt.Errorf("step 7: EC2 still holds branch ENIs after the cleanup: %w", err)
	}
	t.p.cmd("aws ec2 delete-security-group --group-id %s", t.w.PodSG)
	del, err := t.client.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(t.w.PodSG)})
	if err != nil {
		return fmt.Errorf("step 7: deleting the pod security group: %w", err)
	}
	t.p.f("{ \"Return\": %t, \"GroupId\": %q }\n", aws.ToBool(del.Return), aws.ToString(del.GroupId))
	if !aws.ToBool(del.Return) || aws.ToString(del.GroupId) != t.w.PodSG {
		return fmt.Errorf("step 7: deleting %s returned %t for %s", t.w.PodSG, aws.ToBool(del.Return), aws.ToString(del.GroupId))
	}
	t.p.f("EC2 holds no branch ENI, and it deleted the pod security group.\n")
	return nil
}

// listENIs lists the ENIs of the tutorial's VPC with a description,
// following pages.
func (t *tutorial) listENIs(ctx context.Context, description string) ([]types.NetworkInterface, error) {
	p := ec2.NewDescribeNetworkInterfacesPaginator(t.client, &ec2.DescribeNetworkInterfacesInput{
		Filters: []types.Filter{
			{Name: aws.String("description"), Values: []string{description}},
			{Name: aws.String("vpc-id"), Values: []string{t.w.VPCID}},
		},
		MaxResults: aws.Int32(1000),
	})
	var out []types.NetworkInterface
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing %s ENIs: %w", description, err)
		}
		out = append(out, page.NetworkInterfaces...)
	}
	return out, nil
}

// awaitENIs returns how many ENIs with a description the VPC holds, once
// EC2's listing shows want of them: a listing lags behind the creations and
// deletions that just happened, so one look proves nothing. It fails when
// the listing never shows want.
func (t *tutorial) awaitENIs(ctx context.Context, description string, want int) (int, error) {
	n := 0
	err := waitFor(ctx, fmt.Sprintf("EC2 listing %d %s ENIs", want, description), func() (bool, error) {
		enis, err := t.listENIs(ctx, description)
		n = len(enis)
		return n == want, err
	})
	if err != nil {
		return n, fmt.Errorf("%w (it lists %d)", err, n)
	}
	return n, nil
}

// scale brings my-deployment to replicas pods: it creates pods (matched by
// the policies, scheduled on a node with free pod-eni capacity, given a
// branch ENI by the controller) or deletes the newest ones.
func (t *tutorial) scale(ctx context.Context, replicas int) error {
	for len(t.pods) > replicas {
		last := t.pods[len(t.pods)-1]
		if last.node != nil {
			t.m.Release(last.node.InstanceID, last.ref)
		}
		t.pods = t.pods[:len(t.pods)-1]
	}
	for i := len(t.pods); i < replicas; i++ {
		name := "my-deployment-5df6f7687b-" + podSuffix(i)
		pd := &pod{ref: eni.PodRef{Namespace: "my-namespace", Name: name, UID: fmt.Sprintf("uid-%04d", i)}, labels: t.template.Labels}
		t.pods = append(t.pods, pd)
		if err := t.start(ctx, pd, &corev1.Pod{ObjectMeta: t.template.ObjectMeta, Spec: t.template.Spec}); err != nil {
			return err
		}
	}
	return nil
}

// start plays the controller, the scheduler and the CNI for a new pod.
func (t *tutorial) start(ctx context.Context, pd *pod, spec *corev1.Pod) error {
	spec = spec.DeepCopy()
	spec.Namespace, spec.Name = pd.ref.Namespace, pd.ref.Name
	res := t.index.Match(kube.Pod(spec, nil))
	if res.Treatment != selector.TreatBranchENI {
		return fmt.Errorf("pod %s: the policy does not select it (%s)", pd.ref, res)
	}
	// The scheduler: the node with the most free pod-eni capacity.
	var best *node
	bestFree := 0
	for i := range t.w.Nodes {
		n := &t.w.Nodes[i]
		free := t.capacity(n) - t.requests(n)
		if free > bestFree {
			best, bestFree = n, free
		}
	}
	if best == nil {
		pd.status = "Pending"
		pd.event = fmt.Sprintf("Warning  FailedScheduling  0/%d nodes are available: %d Insufficient vpc.amazonaws.com/pod-eni.", len(t.w.Nodes), len(t.w.Nodes))
		return nil
	}
	pd.node = best
	groups, err := eni.ParseGroupSet(res.Groups...)
	if err != nil {
		return fmt.Errorf("pod %s: %w", pd.ref, err)
	}
	r, err := t.m.Acquire(ctx, best.InstanceID, pd.ref, groups)
	if err != nil {
		pd.status = "ContainerCreating"
		pd.event = "Warning  FailedCreatePodSandBox  " + err.Error()
		return nil
	}
	pd.result, pd.status = r, "Running"
	return nil
}

// capacity is the node's advertised vpc.amazonaws.com/pod-eni.
func (t *tutorial) capacity(n *node) int {
	p, ok := t.m.Pool(n.InstanceID)
	if !ok {
		return 0
	}
	return p.Limit()
}

// requests counts the pods the scheduler placed on n.
func (t *tutorial) requests(n *node) int {
	c := 0
	for _, pd := range t.pods {
		if pd.node == n {
			c++
		}
	}
	return c
}

// podSuffix returns the i-th pod name suffix: those of the tutorial's
// sample output first, then names in the same alphabet.
func podSuffix(i int) string {
	known := []string{"4fbjm", "j9fl4", "rjxcz", "zmb42"}
	if i < len(known) {
		return known[i]
	}
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	b := make([]byte, 5)
	x := i*7919 + 104729
	for j := range b {
		b[j] = alphabet[x%len(alphabet)]
		x /= len(alphabet)
	}
	return string(b)
}

// printPods prints the pods like kubectl get pods -o wide, with the branch
// ENI and VLAN of each. The simulated cluster restarts no container, so the
// RESTARTS column is left out rather than printed as a constant.
func (t *tutorial) printPods() error {
	tw := tabwriter.NewWriter(t.p.w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tREADY\tSTATUS\tIP\tNODE\tBRANCH-ENI\tVLAN")
	for _, pd := range t.pods {
		ip, nodeName, id, vlan := "<none>", "<none>", "<none>", "<none>"
		ready := "0/1"
		if pd.node != nil {
			nodeName = pd.node.Name
		}
		if pd.status == "Running" {
			b := pd.result.Branch.ENI
			ip, id, vlan, ready = b.PrivateIP.String(), b.ID, fmt.Sprint(b.VLANID), "1/1"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", pd.ref.Name, ready, pd.status, ip, nodeName, id, vlan)
	}
	return tw.Flush()
}

// troubleCapacity scales the deployment to 46 pods on five m5.large nodes:
// 45 branch ENIs fit, the 46th pod stays Pending.
func (t *tutorial) troubleCapacity(ctx context.Context) error {
	t.p.step("Troubleshooting", "the 46th pod on five m5.large nodes stays Pending")
	t.p.cmd("kubectl scale deployment my-deployment -n my-namespace --replicas=46")
	t.p.f("deployment.apps/my-deployment scaled\n")
	if err := t.scale(ctx, 46); err != nil {
		return err
	}
	counts := map[string]int{}
	for _, pd := range t.pods {
		counts[pd.status]++
	}
	t.p.cmd("kubectl get pods -n my-namespace --no-headers | awk '{print $3}' | sort | uniq -c")
	for _, s := range []string{"ContainerCreating", "Pending", "Running"} {
		if counts[s] > 0 {
			t.p.f("%7d %s\n", counts[s], s)
		}
	}
	last := t.pods[len(t.pods)-1]
	t.p.cmd("kubectl describe pod %s -n my-namespace | grep -A1 Events", last.ref.Name)
	t.p.f("Events:\n  %s\n", last.event)
	total, byType := 0, map[string]int{}
	for i := range t.w.Nodes {
		total += t.capacity(&t.w.Nodes[i])
	}
	for _, info := range t.m.Nodes() {
		byType[info.InstanceType]++
	}
	if counts["Running"] != total || last.status != "Pending" {
		return fmt.Errorf("troubleshooting: %d pods running and the last %s, where the nodes' capacity is %d and the last must be Pending",
			counts["Running"], last.status, total)
	}
	var kinds []string
	for typ, n := range byType {
		kinds = append(kinds, fmt.Sprintf("%d %s", n, typ))
	}
	slices.Sort(kinds)
	t.p.f("# %s nodes advertise %d vpc.amazonaws.com/pod-eni in all, and %d pods hold one each: the 46th fits on no node and stays Pending.\n",
		strings.Join(kinds, ", "), total, counts["Running"])
	t.p.cmd("kubectl scale deployment my-deployment -n my-namespace --replicas=4")
	before := t.m.Metrics().Pools.Cooling
	if err := t.scale(ctx, 4); err != nil {
		return err
	}
	t.p.f("deployment.apps/my-deployment scaled (%d more branch ENIs cooling down)\n", t.m.Metrics().Pools.Cooling-before)
	return nil
}

// troubleMissingGroup applies a policy naming a group that does not exist:
// its pod is stuck, and preflight would have said so before.
func (t *tutorial) troubleMissingGroup(ctx context.Context) error {
	const missing = "sg-05b1d815d1e7a3c90"
	t.p.step("Troubleshooting", "a policy names a security group that does not exist")
	p, err := v1beta1.Decode([]byte(strings.NewReplacer(placeholder, missing, "my-security-group-policy", "typo-policy", "role: my-role", "role: typo").Replace(policyYAML)))
	if err != nil {
		return err
	}
	if err := t.index.Upsert(p); err != nil {
		return err
	}
	t.p.cmd("kubectl apply -f typo-policy.yaml   # groupIds: [%s]", missing)
	t.p.f("securitygrouppolicy.vpcresources.k8s.aws/typo-policy created\n")
	t.p.cmd("kubectl run typo -n my-namespace --image=public.ecr.aws/nginx/nginx:1.23 --labels=role=typo")
	pd := &pod{ref: eni.PodRef{Namespace: "my-namespace", Name: "typo", UID: "uid-typo"}, labels: map[string]string{"role": "typo"}}
	spec := &corev1.Pod{}
	spec.Labels = pd.labels
	t.pods = append(t.pods, pd)
	if err := t.start(ctx, pd, spec); err != nil {
		return err
	}
	t.p.cmd("kubectl describe pod typo -n my-namespace | grep -A1 Events")
	t.p.f("Status: %s\nEvents:\n  %s\n", pd.status, pd.event)
	if pd.status != "ContainerCreating" || !strings.Contains(pd.event, "InvalidSecurityGroupID.NotFound") {
		return fmt.Errorf("troubleshooting: pod typo failed with %q, where the tutorial expects InvalidSecurityGroupID.NotFound", pd.event)
	}
	// preflight finds it before any pod is created.
	t.p.cmd("podsg preflight --cluster cluster.yaml -f typo-policy.yaml --check security-groups")
	checker, err := preflight.New(t.client, preflight.Options{Checks: []preflight.CheckName{preflight.CheckGroups}})
	if err != nil {
		return err
	}
	rep, err := checker.Run(ctx,
		&preflight.Cluster{Name: clusterName, VPCID: t.w.VPCID, ClusterSecurityGroup: t.w.ClusterSG,
			CNI: preflight.CNI{EnablePodENI: true}}, []v1beta1.SecurityGroupPolicy{*p})
	if err != nil {
		return err
	}
	if err := rep.WriteText(t.p.w); err != nil {
		return err
	}
	t.p.cmd("kubectl delete pod typo -n my-namespace; kubectl delete sgp typo-policy -n my-namespace")
	t.pods = t.pods[:len(t.pods)-1]
	t.index.Delete(p.Namespace, p.Name)
	return nil
}
