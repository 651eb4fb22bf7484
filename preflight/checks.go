package preflight

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/podsg/podsg/api/v1beta1"
	"github.com/podsg/podsg/enforce"
	"github.com/podsg/podsg/limits"
)

// checkPolicies validates each policy and relates policies and workloads.
func (r *run) checkPolicies() {
	for i, p := range r.policies {
		if r.checkPolicy(p) {
			continue
		}
		if len(r.cluster.Workloads) == 0 || r.compiled[i].Ignored() != "" {
			continue
		}
		matched := slices.ContainsFunc(r.work, func(wi *workloadInfo) bool {
			return wi.w.Namespace == p.Namespace && slices.Contains(wi.policies, p.Name)
		})
		if !matched {
			r.add(Finding{
				Severity: Info, Code: CodePolicyMatchesNone, Subject: policyName(p),
				Problem: "no described workload in namespace " + p.Namespace + " matches its selectors",
				Impact:  "its security groups are given to no pod",
				Fix:     "check the selector labels against the pod template (and service account) labels, or delete the policy if it is no longer needed",
			})
		}
	}
	for _, wi := range r.work {
		switch {
		case len(wi.policies) == 0:
			r.add(Finding{
				Severity: Info, Code: CodeWorkloadNoPolicy, Subject: wi.w.String(),
				Problem: "no SecurityGroupPolicy of namespace " + wi.w.Namespace + " selects its pods: " + wi.whyNoMatch(),
				Impact:  "its pods use the security groups of their node, not groups of their own",
				Fix:     "if the pods should have their own groups, add a policy whose podSelector or serviceAccountSelector matches them",
			})
		case wi.w.HostNetwork:
			r.add(Finding{
				Severity: Info, Code: CodeHostNetworkIgnored, Subject: wi.w.String(),
				Problem: fmt.Sprintf("policies %s select it, but its pods use the host network", strings.Join(wi.policies, ", ")),
				Impact:  "host-network pods get no branch ENI: the policy's groups do not apply to them",
				Fix:     "drop hostNetwork from the pods, or narrow the policy's selectors to exclude them",
			})
		}
	}
}

// policyProblem is what kind of problem one v1beta1.Validate error is.
func policyProblem(e *field.Error) Code {
	groups := field.NewPath("spec", "securityGroups", "groupIds").String()
	switch {
	case e.Type == field.ErrorTypeRequired && e.Field == field.NewPath("spec", "podSelector").String():
		return CodePolicyNoSelector
	case e.Type == field.ErrorTypeInvalid && strings.HasPrefix(e.Field, groups+"["):
		return CodePolicyGroupIDMalformed
	case e.Type == field.ErrorTypeTooMany && e.Field == groups:
		return CodePolicyTooManyGroups
	case e.Type == field.ErrorTypeDuplicate && strings.HasPrefix(e.Field, groups+"["):
		return CodePolicyDuplicateGroup
	}
	return CodePolicyInvalid
}

// checkPolicy reports the problems v1beta1.Validate finds in p, one finding
// per kind, and reports whether p is too broken to relate to workloads.
func (r *run) checkPolicy(p *v1beta1.SecurityGroupPolicy) (broken bool) {
	byCode := map[Code]field.ErrorList{}
	var invalid []string
	if p.Namespace == "" || p.Name == "" {
		invalid = append(invalid, fmt.Sprintf("metadata: namespace %q and name %q must both be set", p.Namespace, p.Name))
	}
	for _, e := range v1beta1.Validate(p, v1beta1.ValidateOptions{MaxGroups: r.c.groupsPerENI}) {
		code := policyProblem(e)
		byCode[code] = append(byCode[code], e)
	}
	if errs := byCode[CodePolicyInvalid]; len(errs) > 0 {
		invalid = append(invalid, joinFieldErrors(errs))
	}
	subject := policyName(p)
	if len(invalid) > 0 {
		r.add(Finding{
			Severity: Error, Code: CodePolicyInvalid, Subject: subject,
			Problem: strings.Join(invalid, "; "),
			Impact:  "the API server refuses the policy, or the controller ignores it: the pods it is meant for start without its security groups",
			Fix:     "correct the fields named above and apply the policy again",
		})
	}
	if errs := byCode[CodePolicyNoSelector]; len(errs) > 0 {
		r.add(Finding{
			Severity: Warning, Code: CodePolicyNoSelector, Subject: subject,
			Problem: "neither spec.podSelector nor spec.serviceAccountSelector is set",
			Impact:  "the API server stores the policy (as EKS does), but the controller ignores it: its groups go to no pod",
			Fix:     "set podSelector ({} selects every pod of the namespace), serviceAccountSelector, or both",
		})
	}
	if errs := byCode[CodePolicyGroupIDMalformed]; len(errs) > 0 {
		var ids []string
		for _, e := range errs {
			ids = append(ids, fmt.Sprintf("%s %q", e.Field, e.BadValue))
		}
		r.add(Finding{
			Severity: Error, Code: CodePolicyGroupIDMalformed, Subject: subject,
			Problem: "not a security group ID (sg- followed by 8 or 17 lowercase hex digits): " + strings.Join(ids, ", "),
			Impact:  "the controller passes the ID to EC2, which refuses it: the pods the policy selects stay in ContainerCreating (on Fargate, they do not start)",
			Fix:     "replace it with the ID of an existing security group of the cluster's VPC (the tutorial's my_pod_security_group_id is a placeholder)",
		})
	}
	if errs := byCode[CodePolicyTooManyGroups]; len(errs) > 0 {
		r.add(Finding{
			Severity: Error, Code: CodePolicyTooManyGroups, Subject: subject,
			Problem: fmt.Sprintf("it lists %d security groups; an ENI carries at most %d under the account's quota",
				len(p.Spec.SecurityGroups.Groups), r.c.groupsPerENI),
			Impact: "every pod it selects gets at least that many groups: creating their branch ENIs fails, and the pods stay in ContainerCreating",
			Fix:    fmt.Sprintf("merge rules into fewer groups, or raise the \"security groups per network interface\" quota (up to %d) and pass the new quota to preflight", v1beta1.MaxGroupsCeiling),
		})
	}
	if errs := byCode[CodePolicyDuplicateGroup]; len(errs) > 0 {
		var ids []string
		for _, e := range errs {
			ids = append(ids, fmt.Sprintf("%s %q", e.Field, e.BadValue))
		}
		r.add(Finding{
			Severity: Info, Code: CodePolicyDuplicateGroup, Subject: subject,
			Problem: "listed more than once: " + strings.Join(ids, ", "),
			Impact:  "none: the controller uses each group once",
			Fix:     "remove the repeated IDs",
		})
	}
	return len(invalid) > 0
}

// checkGroups reports missing groups, groups of another VPC, and pods
// given more groups than an ENI can carry.
func (r *run) checkGroups() {
	users := map[string][]string{}
	for _, p := range r.policies {
		for _, id := range p.Spec.SecurityGroups.Groups {
			if !slices.Contains(users[id], policyName(p)) {
				users[id] = append(users[id], policyName(p))
			}
		}
	}
	for id, by := range r.cluster.referencedGroups() {
		users[id] = append(users[id], by...)
	}
	for _, id := range r.allGroupIDs() {
		if m, ok := r.missing[id]; ok {
			r.add(Finding{
				Severity: Error, Code: CodeGroupNotFound, Subject: "security group " + id,
				Problem: fmt.Sprintf("EC2 does not know it (%s); it is named by %s", apiMessage(m.Err), strings.Join(users[id], ", ")),
				Impact:  "pods given this group stay in ContainerCreating: creating their branch ENI fails with InvalidSecurityGroupID.NotFound",
				Fix:     "create the group in the cluster's VPC (and region), or replace the ID with an existing group's",
			})
			continue
		}
		if vpc := r.groups.VPC(id); r.cluster.VPCID != "" && vpc != "" && vpc != r.cluster.VPCID {
			r.add(Finding{
				Severity: Error, Code: CodeGroupOtherVPC, Subject: "security group " + id,
				Problem: fmt.Sprintf("it belongs to %s, not to the cluster's VPC %s; it is named by %s", vpc, r.cluster.VPCID, strings.Join(users[id], ", ")),
				Impact:  "a branch ENI can only carry groups of its own VPC: pods given this group cannot start",
				Fix:     "use a group created in " + r.cluster.VPCID,
			})
		}
	}
	for _, wi := range r.work {
		if wi.hasGroups() && len(wi.groups) > r.c.groupsPerENI {
			r.add(Finding{
				Severity: Error, Code: CodeTooManyGroups, Subject: wi.w.String(),
				Problem: fmt.Sprintf("policies %s give its pods %d security groups (%s); an ENI carries at most %d",
					strings.Join(wi.policies, ", "), len(wi.groups), joinGroups(wi.groups), r.c.groupsPerENI),
				Impact: "creating the pods' branch ENIs fails: the pods stay in ContainerCreating",
				Fix:    "merge rules into fewer groups, narrow the selectors so fewer policies match, or raise the \"security groups per network interface\" quota (up to 16) and pass the new quota to preflight",
			})
		}
	}
}

// checkProbes verifies, in strict mode, that the groups of each node group
// admit kubelet's probes, and that TCP early demux is off.
func (r *run) checkProbes() {
	if r.cluster.CNI.EnforcingMode != enforce.Strict {
		return
	}
	probing := false
	for _, wi := range r.ec2Workloads() {
		if len(wi.w.ProbePorts) == 0 {
			continue
		}
		if slices.ContainsFunc(wi.w.ProbePorts, func(p Port) bool { return p.Protocol == TCP }) {
			probing = true
		}
		if r.anyMissing(wi.groups) {
			continue
		}
		var blocked []Port
		var why []string
		for _, ng := range wi.nodeGroups {
			nodeGroups := r.cluster.nodeGroupGroups(ng)
			if len(nodeGroups) == 0 {
				r.add(Finding{
					Severity: Warning, Code: CodeProbeNodeUnknown, Subject: "node group " + ng.Name,
					Problem: "its security groups are not given and the cluster security group is not known",
					Impact:  "preflight cannot tell whether kubelet reaches the probe ports of " + wi.w.Namespace + "/" + wi.w.Name,
					Fix:     "set the node group's securityGroups (or the cluster's clusterSecurityGroup) in the description",
				})
				continue
			}
			if r.anyMissing(nodeGroups) {
				continue
			}
			for _, p := range wi.w.ProbePorts {
				for _, s := range subnetsOrUnknown(ng.Subnets) {
					node := Endpoint{Groups: nodeGroups, Prefix: s}
					pod := Endpoint{Groups: wi.groups, Prefix: s}
					if v, f, denied := r.blocked([]Endpoint{node}, []Endpoint{pod}, p); denied {
						if !slices.Contains(blocked, p) {
							blocked = append(blocked, p)
							why = append(why, describeDenial(v, f, "node group "+ng.Name))
						}
						break
					}
				}
			}
		}
		if len(blocked) > 0 {
			r.add(Finding{
				Severity: Error, Code: CodeProbeBlocked, Subject: wi.w.String(),
				Problem: fmt.Sprintf("kubelet cannot reach probe ports %s: %s", joinPorts(blocked), strings.Join(why, "; ")),
				Impact:  "in strict mode kubelet's probes reach the pod through its branch ENI and its security groups: the probes time out, the pods never become Ready and are restarted",
				Fix: fmt.Sprintf("add inbound rules to one of %s allowing %s from the node security group (%s)",
					joinGroups(wi.groups), joinPorts(blocked), joinGroups(r.nodeGroupsOf(wi))),
			})
		}
	}
	if probing && !r.cluster.CNI.DisableTCPEarlyDemux {
		r.add(Finding{
			Severity: Error, Code: CodeTCPEarlyDemuxOn, Subject: "aws-node DaemonSet",
			Problem: "pods with security groups have TCP probes, and DISABLE_TCP_EARLY_DEMUX is not true on the aws-vpc-cni-init container",
			Impact:  "in strict mode the replies to kubelet's TCP probes come back on another interface; with early demux on they are dropped and the probes fail",
			Fix:     `kubectl patch daemonset aws-node -n kube-system -p '{"spec":{"template":{"spec":{"initContainers":[{"name":"aws-vpc-cni-init","env":[{"name":"DISABLE_TCP_EARLY_DEMUX","value":"true"}]}]}}}}', or use POD_SECURITY_GROUP_ENFORCING_MODE=standard`,
		})
	}
}

func (r *run) nodeGroupsOf(wi *workloadInfo) []string {
	var out []string
	for _, ng := range wi.nodeGroups {
		for _, g := range r.cluster.nodeGroupGroups(ng) {
			if !slices.Contains(out, g) {
				out = append(out, g)
			}
		}
	}
	return out
}

// subnetsOrUnknown returns the subnets' CIDRs, or one invalid prefix
// (address unknown) when none is known.
func subnetsOrUnknown(subnets []Subnet) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range subnets {
		if s.CIDR.IsValid() {
			out = append(out, s.CIDR.Masked())
		}
	}
	if len(out) == 0 {
		out = append(out, netip.Prefix{})
	}
	return out
}

// describeDenial explains which side of f denied it.
func describeDenial(v Verdict, f Flow, from string) string {
	var parts []string
	if !v.Egress.Allowed {
		parts = append(parts, fmt.Sprintf("no egress rule of %s allows %s/%d to %s", joinGroups(f.From.Groups), f.Protocol, f.Port, f.To))
	}
	if !v.Ingress.Allowed {
		parts = append(parts, fmt.Sprintf("no ingress rule of %s admits %s/%d from %s", joinGroups(f.To.Groups), f.Protocol, f.Port, from))
	}
	return strings.Join(parts, ", and ")
}

// dnsTargets returns the endpoints of CoreDNS, or nil when they are not
// known.
func (r *run) dnsTargets() []Endpoint {
	c := r.cluster
	if len(c.CoreDNS.SecurityGroups) > 0 {
		subnets := c.CoreDNS.Subnets
		if len(subnets) == 0 {
			for _, ng := range c.NodeGroups {
				if ng.OS != Windows {
					subnets = append(subnets, ng.Subnets...)
				}
			}
		}
		return endpoints(c.CoreDNS.SecurityGroups, subnets)
	}
	var out []Endpoint
	for i := range c.NodeGroups {
		ng := &c.NodeGroups[i]
		if ng.OS == Windows {
			continue
		}
		if groups := c.nodeGroupGroups(ng); len(groups) > 0 {
			out = append(out, endpoints(groups, ng.Subnets)...)
		}
	}
	if len(out) == 0 && c.ClusterSecurityGroup != "" {
		out = endpoints([]string{c.ClusterSecurityGroup}, nil)
	}
	return out
}

var dnsPorts = []Port{{TCP, 53}, {UDP, 53}}

// checkDNS verifies that pods with groups reach CoreDNS on TCP and UDP 53,
// egress from their groups and ingress into CoreDNS's.
func (r *run) checkDNS() {
	if r.cluster.CNI.EnforcingMode == enforce.Standard && r.cluster.NodeLocalDNSCache {
		// Pods query the cache on their own node over the veth, outside
		// their groups; the cache reaches CoreDNS with the node's groups.
		return
	}
	targets := r.dnsTargets()
	var dnsGroups []string
	for _, t := range targets {
		for _, g := range t.Groups {
			if !slices.Contains(dnsGroups, g) {
				dnsGroups = append(dnsGroups, g)
			}
		}
	}
	for _, wi := range r.work {
		if !wi.hasGroups() || r.anyMissing(wi.groups) {
			continue
		}
		if len(targets) == 0 {
			r.add(Finding{
				Severity: Warning, Code: CodeDNSGroupsUnknown, Subject: wi.w.String(),
				Problem: "the security groups of CoreDNS are not known: no coreDNS.securityGroups, node group groups or cluster security group in the description",
				Impact:  "preflight cannot tell whether the pods can resolve names",
				Fix:     "describe the groups of the CoreDNS pods (or of their nodes) in coreDNS.securityGroups",
			})
			continue
		}
		if r.anyMissing(dnsGroups) {
			continue
		}
		var egress, ingress []string // blocked ports, "tcp/53"
		for _, p := range dnsPorts {
			for _, t := range targets {
				v, _, denied := r.blocked(r.podEndpoints(wi), []Endpoint{t}, p)
				if !denied {
					continue
				}
				if !v.Egress.Allowed && !slices.Contains(egress, p.String()) {
					egress = append(egress, p.String())
				}
				if !v.Ingress.Allowed && !slices.Contains(ingress, p.String()) {
					ingress = append(ingress, p.String())
				}
			}
		}
		impact := "name lookups from the pods time out (\"Could not resolve host\"): anything that connects by name fails, while connections by IP still work"
		if len(egress) > 0 {
			r.add(Finding{
				Severity: Error, Code: CodeDNSEgressBlocked, Subject: wi.w.String(),
				Problem: fmt.Sprintf("no outbound rule of the pods' groups (%s) allows %s to the CoreDNS groups (%s)",
					joinGroups(wi.groups), strings.Join(egress, " and "), joinGroups(dnsGroups)),
				Impact: impact,
				Fix:    fmt.Sprintf("add outbound rules for TCP and UDP port 53 to %s, with %s as destination", wi.groups[0], dnsGroups[0]),
			})
		}
		if len(ingress) > 0 {
			r.add(Finding{
				Severity: Error, Code: CodeDNSIngressBlocked, Subject: wi.w.String(),
				Problem: fmt.Sprintf("no inbound rule of the CoreDNS groups (%s) admits %s from the pods' groups (%s)",
					joinGroups(dnsGroups), strings.Join(ingress, " and "), joinGroups(wi.groups)),
				Impact: impact,
				Fix:    fmt.Sprintf("add inbound rules for TCP and UDP port 53 from %s to %s", wi.groups[0], dnsGroups[0]),
			})
		}
	}
}

// checkPeers verifies each workload's peer ports between its own pods.
func (r *run) checkPeers() {
	for _, wi := range r.work {
		if !wi.hasGroups() || len(wi.w.PeerPorts) == 0 || r.anyMissing(wi.groups) {
			continue
		}
		eps := r.podEndpoints(wi)
		var blocked []Port
		var why []string
		for _, p := range wi.w.PeerPorts {
			if v, f, denied := r.blocked(eps, eps, p); denied {
				blocked = append(blocked, p)
				why = append(why, describeDenial(v, f, "the same groups"))
			}
		}
		if len(blocked) > 0 {
			r.add(Finding{
				Severity: Error, Code: CodePeerBlocked, Subject: wi.w.String(),
				Problem: fmt.Sprintf("its pods cannot reach each other on %s: %s", joinPorts(blocked), strings.Join(why, "; ")),
				Impact:  "connections between pods of the workload (through its Service or directly) time out when they land on another pod",
				Fix:     fmt.Sprintf("add to %s an inbound rule from the group itself (a self rule) for %s, as the tutorial's pod group has", wi.groups[0], joinPorts(blocked)),
			})
		}
	}
}

// Control-plane ports a Fargate pod needs: it reaches the API server on 443,
// and the API server reaches its kubelet on 10250 (logs, exec).
var (
	apiServerPort = Port{TCP, 443}
	kubeletPort   = Port{TCP, 10250}
)

// checkFargate verifies that Fargate pods with groups can talk with the
// control plane, which the cluster security group gives them.
func (r *run) checkFargate() {
	cg := r.cluster.ClusterSecurityGroup
	for _, wi := range r.work {
		if wi.fargate == nil || !wi.hasGroups() || slices.Contains(wi.groups, cg) {
			continue
		}
		if cg == "" {
			r.add(Finding{
				Severity: Warning, Code: CodeFargateClusterGroupMissing, Subject: wi.w.String(),
				Problem: fmt.Sprintf("its pods run on Fargate profile %s with groups %s; the cluster security group is not in the description, so preflight cannot tell whether they reach the control plane", wi.fargate.Name, joinGroups(wi.groups)),
				Impact:  "Fargate pods that cannot reach the control plane never start",
				Fix:     "set clusterSecurityGroup in the description (aws eks describe-cluster --query cluster.resourcesVpcConfig.clusterSecurityGroupId)",
			})
			continue
		}
		if r.anyMissing(wi.groups) || r.anyMissing([]string{cg}) {
			continue
		}
		pods := r.podEndpoints(wi)
		plane := []Endpoint{{Groups: []string{cg}}}
		var why []string
		if v, f, denied := r.blocked(pods, plane, apiServerPort); denied {
			why = append(why, "to the API server: "+describeDenial(v, f, "the pods' groups"))
		}
		if v, f, denied := r.blocked(plane, pods, kubeletPort); denied {
			why = append(why, "from the API server to the kubelet: "+describeDenial(v, f, "the cluster security group"))
		}
		if len(why) == 0 {
			continue
		}
		r.add(Finding{
			Severity: Error, Code: CodeFargateClusterGroupMissing, Subject: wi.w.String(),
			Problem: fmt.Sprintf("its pods run on Fargate profile %s with groups %s, without the cluster security group %s, and their rules do not replace it (%s)",
				wi.fargate.Name, joinGroups(wi.groups), cg, strings.Join(why, "; ")),
			Impact: "the pods cannot talk with the Kubernetes control plane: they never start",
			Fix:    fmt.Sprintf("add the cluster security group %s to the policy's groupIds (the simplest way), or rules allowing tcp/443 to it and tcp/10250 from it", cg),
		})
	}
}

// checkNodes verifies instance types and branch-ENI capacity.
func (r *run) checkNodes() {
	ec2Work := r.ec2Workloads()
	var candidates []*NodeGroup
	if len(r.cluster.Workloads) == 0 {
		for i := range r.cluster.NodeGroups {
			if r.cluster.NodeGroups[i].OS != Windows {
				candidates = append(candidates, &r.cluster.NodeGroups[i])
			}
		}
	} else {
		for _, wi := range ec2Work {
			for _, ng := range wi.nodeGroups {
				if !slices.Contains(candidates, ng) {
					candidates = append(candidates, ng)
				}
			}
		}
	}
	slices.SortFunc(candidates, func(a, b *NodeGroup) int { return strings.Compare(a.Name, b.Name) })

	capacity, typeFindings := 0, 0
	var parts []string
	for _, ng := range candidates {
		per := -1
		for _, it := range ng.InstanceTypes {
			l, err := r.c.limits.Lookup(it)
			switch {
			case errors.Is(err, limits.ErrUnknownInstanceType):
				typeFindings++
				per = 0
				r.add(Finding{
					Severity: Error, Code: CodeInstanceTypeUnknown, Subject: "node group " + ng.Name,
					Problem: fmt.Sprintf("instance type %s is not in the limits table (%v)", it, err),
					Impact:  "its nodes get no trunk ENI and advertise no vpc.amazonaws.com/pod-eni capacity: pods with security groups are never scheduled there",
					Fix:     "if the type is trunk-compatible, supply its limits as an override; otherwise use a supported Nitro type such as m5.large",
				})
			case err != nil:
				typeFindings++
				per = 0
				r.add(Finding{
					Severity: Error, Code: CodeInstanceTypeUnknown, Subject: "node group " + ng.Name,
					Problem: fmt.Sprintf("the limits of instance type %s cannot be read: %v", it, err),
					Impact:  "preflight cannot tell how many pods with security groups its nodes host",
					Fix:     "repair the limits source given to preflight",
				})
			case !l.TrunkingCompatible || l.MaxBranchENIs <= 0:
				typeFindings++
				per = 0
				why := "it is not trunk-compatible"
				if isTFamily(it) {
					why = "no type of the t family supports trunk ENIs"
				}
				r.add(Finding{
					Severity: Error, Code: CodeInstanceTypeNotTrunk, Subject: "node group " + ng.Name,
					Problem: fmt.Sprintf("instance type %s cannot host branch ENIs: %s", it, why),
					Impact:  "its nodes advertise no vpc.amazonaws.com/pod-eni capacity: pods with security groups stay Pending unless other nodes host them",
					Fix:     "run those pods on a trunk-compatible Nitro type (for example m5, c5, r5, m6g), listed as trunking-compatible in the limits table",
				})
			default:
				if per < 0 || l.MaxBranchENIs < per {
					per = l.MaxBranchENIs
				}
			}
		}
		if per > 0 && ng.Nodes > 0 {
			capacity += per * ng.Nodes
			parts = append(parts, fmt.Sprintf("%d × %d in %s", ng.Nodes, per, ng.Name))
		}
	}

	replicas := 0
	for _, wi := range ec2Work {
		replicas += wi.w.Replicas
	}
	switch {
	case replicas == 0:
	case capacity == 0 && typeFindings == 0:
		r.add(Finding{
			Severity: Error, Code: CodeNoTrunkNodes, Subject: "cluster " + r.cluster.Name,
			Problem: fmt.Sprintf("%d pods with security groups, and no EC2 node they may run on can host a branch ENI (no Linux node group, or none with nodes)", replicas),
			Impact:  "every pod with security groups stays Pending",
			Fix:     "add nodes of a trunk-compatible instance type (for example m5.large, 9 branch ENIs each) where the pods may run",
		})
	case capacity > 0 && replicas > capacity:
		r.add(Finding{
			Severity: Error, Code: CodeBranchCapacityExceeded, Subject: "cluster " + r.cluster.Name,
			Problem: fmt.Sprintf("%d pods with security groups, but the nodes they may run on host at most %d branch ENIs (%s)", replicas, capacity, strings.Join(parts, ", ")),
			Impact:  fmt.Sprintf("%s will stay Pending until pods with security groups are deleted", plural(replicas-capacity, "pod")),
			Fix:     fmt.Sprintf("add nodes (or larger instance types) for %s, or run fewer replicas", plural(replicas-capacity, "more branch ENI")),
		})
	}
}

// checkSupport reports setups that security groups for pods do not support.
func (r *run) checkSupport() {
	c := r.cluster
	ec2Work := r.ec2Workloads()
	anyGroups := slices.ContainsFunc(r.work, (*workloadInfo).hasGroups) || (len(c.Workloads) == 0 && len(r.policies) > 0)
	anyEC2 := len(ec2Work) > 0 || (len(c.Workloads) == 0 && len(r.policies) > 0 && len(c.NodeGroups) > 0)

	for i := range c.NodeGroups {
		ng := &c.NodeGroups[i]
		if ng.OS != Windows || !anyGroups {
			continue
		}
		r.add(Finding{
			Severity: Warning, Code: CodeWindowsNodes, Subject: "node group " + ng.Name,
			Problem: "it runs Windows nodes",
			Impact:  "security groups for pods do not work on Windows nodes: pods with security groups cannot run there",
			Fix:     "keep pods with security groups on Linux nodes (nodeSelector kubernetes.io/os: linux)",
		})
	}
	for _, wi := range r.work {
		if len(wi.groups) > 0 && wi.w.OS == Windows && !wi.w.HostNetwork {
			r.add(Finding{
				Severity: Error, Code: CodeWindowsWorkload, Subject: wi.w.String(),
				Problem: fmt.Sprintf("it runs Windows pods, and policies %s give them security groups", strings.Join(wi.policies, ", ")),
				Impact:  "Windows pods cannot have security groups of their own",
				Fix:     "exclude the workload from the policies' selectors, and secure it with its node's groups",
			})
		}
	}
	if c.IPFamily == IPv6 && anyEC2 {
		r.add(Finding{
			Severity: Error, Code: CodeIPv6WithEC2Nodes, Subject: "cluster " + c.Name,
			Problem: "the cluster is IPv6 and pods with security groups would run on EC2 nodes",
			Impact:  "security groups for pods are not supported on EC2 nodes of IPv6 clusters: those pods do not get their groups",
			Fix:     "run the pods with security groups on Fargate (supported in IPv6 clusters), or use an IPv4 cluster",
		})
	}
	if anyEC2 && !c.CNI.EnablePodENI {
		r.add(Finding{
			Severity: Error, Code: CodePodENIDisabled, Subject: "aws-node DaemonSet",
			Problem: "ENABLE_POD_ENI is not true",
			Impact:  "no node gets a trunk ENI or advertises vpc.amazonaws.com/pod-eni capacity: every pod with security groups stays Pending",
			Fix:     "kubectl set env daemonset aws-node -n kube-system ENABLE_POD_ENI=true (and attach the AmazonEKSVPCResourceController policy to the cluster role)",
		})
	}
	if v, err := cniVersion(c.CNI.Version); err == nil && c.CNI.Version != "" && versionLess(v, [3]int{1, 7, 7}) && anyGroups {
		r.add(Finding{
			Severity: Error, Code: CodeCNITooOld, Subject: "aws-node DaemonSet",
			Problem: fmt.Sprintf("the VPC CNI plugin is %s; security groups for pods need 1.7.7 or later", c.CNI.Version),
			Impact:  "the plugin does not wire branch ENIs into pods",
			Fix:     "upgrade the Amazon VPC CNI add-on",
		})
	}
}

// checkMode verifies that the enforcing mode suits what the cluster runs.
func (r *run) checkMode() {
	c := r.cluster
	ec2Work := r.ec2Workloads()
	if len(ec2Work) == 0 && !(len(c.Workloads) == 0 && len(r.policies) > 0) {
		return
	}
	const toStandard = "kubectl set env daemonset aws-node -n kube-system POD_SECURITY_GROUP_ENFORCING_MODE=standard (VPC CNI 1.11 or later), then restart the pods with security groups"
	if c.CNI.EnforcingMode == enforce.Standard {
		if v, err := cniVersion(c.CNI.Version); err == nil && c.CNI.Version != "" && versionLess(v, [3]int{1, 11, 0}) {
			r.add(Finding{
				Severity: Error, Code: CodeStandardNeedsCNI111, Subject: "aws-node DaemonSet",
				Problem: fmt.Sprintf("POD_SECURITY_GROUP_ENFORCING_MODE=standard needs VPC CNI 1.11 or later; the plugin is %s", c.CNI.Version),
				Impact:  "the setting is ignored: pods behave as in strict mode",
				Fix:     "upgrade the Amazon VPC CNI add-on to 1.11 or later",
			})
		}
		r.add(Finding{
			Severity: Info, Code: CodeStandardNodeLocal, Subject: "aws-node DaemonSet",
			Problem: "standard mode: traffic between a pod and its own node (kubelet, NodeLocal DNSCache, pods on the same node) bypasses the pod's security groups, and traffic leaving the VPC uses the node's groups unless external SNAT is on",
			Impact:  "pod security groups filter only traffic that crosses the VPC",
			Fix:     "nothing to do if this is intended; use strict mode where every flow must obey the pod's groups",
		})
		return
	}
	if c.NodeLocalDNSCache {
		r.add(Finding{
			Severity: Error, Code: CodeStrictNodeLocalDNS, Subject: "aws-node DaemonSet",
			Problem: "NodeLocal DNSCache runs in the cluster and POD_SECURITY_GROUP_ENFORCING_MODE is strict",
			Impact:  "in strict mode a pod's traffic to the cache on its own node leaves through the trunk and never reaches it: DNS fails in pods with security groups",
			Fix:     toStandard,
		})
	}
	if c.Calico {
		r.add(Finding{
			Severity: Error, Code: CodeStrictCalico, Subject: "aws-node DaemonSet",
			Problem: "Calico network policies are in use and POD_SECURITY_GROUP_ENFORCING_MODE is strict",
			Impact:  "in strict mode traffic of pods with security groups bypasses Calico: its network policies are silently not enforced for them",
			Fix:     toStandard,
		})
	}
	for _, wi := range ec2Work {
		if wi.w.ExternalTrafficPolicyLocal {
			r.add(Finding{
				Severity: Error, Code: CodeStrictExternalLocal, Subject: wi.w.String(),
				Problem: "its pods back a NodePort or LoadBalancer Service with instance targets and externalTrafficPolicy: Local, and POD_SECURITY_GROUP_ENFORCING_MODE is strict",
				Impact:  "strict mode does not support such Services: traffic from the node to the pods is not delivered",
				Fix:     toStandard + "; or use IP targets",
			})
		}
	}
	var public []string
	for _, wi := range ec2Work {
		for _, ng := range wi.nodeGroups {
			if slices.ContainsFunc(ng.Subnets, func(s Subnet) bool { return s.Public }) && !slices.Contains(public, ng.Name) {
				public = append(public, ng.Name)
			}
		}
	}
	slices.Sort(public)
	for _, name := range public {
		r.add(Finding{
			Severity: Warning, Code: CodeStrictPublicSubnet, Subject: "node group " + name,
			Problem: "its nodes are in public subnets and POD_SECURITY_GROUP_ENFORCING_MODE is strict",
			Impact:  "strict mode does not SNAT traffic of pods with security groups: those pods cannot reach the internet from a public subnet",
			Fix:     "run the pods in private subnets with a NAT gateway, or " + toStandard,
		})
	}
}

func joinFieldErrors(errs field.ErrorList) string {
	s := make([]string, len(errs))
	for i, e := range errs {
		s[i] = e.Error()
	}
	return strings.Join(s, "; ")
}

// isTFamily reports whether instanceType belongs to the burstable t family
// (t2, t3, t3a, t4g, ...), none of which supports trunk ENIs.
func isTFamily(instanceType string) bool {
	family, _, _ := strings.Cut(instanceType, ".")
	return len(family) >= 2 && family[0] == 't' && family[1] >= '0' && family[1] <= '9'
}
