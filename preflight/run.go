package preflight

import (
	"fmt"
	"slices"
	"strings"

	"github.com/podsg/podsg/api/v1beta1"
	"github.com/podsg/podsg/selector"
)

// run is the state of one Checker.Run call.
type run struct {
	c        *Checker
	cluster  *Cluster
	policies []*v1beta1.SecurityGroupPolicy
	compiled []*selector.Policy // parallel to policies
	work     []*workloadInfo
	groups   *Groups
	missing  map[string]MissingGroup
	findings []Finding
}

func policyName(p *v1beta1.SecurityGroupPolicy) string {
	return "policy " + p.Namespace + "/" + p.Name
}

// workloadInfo is a workload with what the policies give it.
type workloadInfo struct {
	w *Workload
	// groups are the union of the groups of the policies that select the
	// pods, sorted, as the controller computes them; policies are those
	// policies' names, sorted. They are filled in even for pods that get
	// no groups (host network, Windows), to report the mismatch.
	groups   []string
	policies []string
	// explanation says why each policy of the namespace selects the pods
	// or not.
	explanation selector.Explanation
	fargate     *FargateProfile
	nodeGroups  []*NodeGroup // Linux node groups the pods may run on (nil on Fargate)
}

// eligible reports whether the pods can have groups of their own at all.
func (wi *workloadInfo) eligible() bool { return !wi.w.HostNetwork && wi.w.OS != Windows }

// hasGroups reports whether the pods get security groups of their own (a
// branch ENI, or on Fargate the pod-sg annotation).
func (wi *workloadInfo) hasGroups() bool { return wi.eligible() && len(wi.groups) > 0 }

// onEC2 reports whether the pods get branch ENIs on EC2 nodes.
func (wi *workloadInfo) onEC2() bool { return wi.hasGroups() && wi.fargate == nil }

func newRun(c *Checker, cluster *Cluster, policies []v1beta1.SecurityGroupPolicy) *run {
	r := &run{c: c, cluster: cluster, missing: map[string]MissingGroup{}}
	opts := v1beta1.ValidateOptions{MaxGroups: c.groupsPerENI}
	index := selector.NewIndex(selector.Options{Validate: opts})
	for i := range policies {
		p := &policies[i]
		r.policies = append(r.policies, p)
		r.compiled = append(r.compiled, selector.Compile(p, opts))
	}
	// Invalid policies are stored and reported by CheckPolicies; the
	// error repeats what Validate says.
	_ = index.ReplaceAll(r.policies)
	for i := range cluster.Workloads {
		w := &cluster.Workloads[i]
		wi := &workloadInfo{w: w, fargate: cluster.fargateProfile(w)}
		pod := selector.Pod{
			Namespace: w.Namespace, Name: w.Name, Labels: w.Labels,
			ServiceAccountLabels: w.ServiceAccountLabels, HostNetwork: w.HostNetwork,
		}
		if w.OS == Windows {
			pod.NodeSelector = map[string]string{selector.OSLabel: selector.OSWindows}
		}
		if wi.fargate == nil {
			wi.nodeGroups = cluster.nodeGroupsFor(w)
		} else {
			pod.FargateProfile = wi.fargate.Name
		}
		wi.explanation = index.Explain(pod)
		for _, pe := range wi.explanation.Policies {
			if !pe.Matched {
				continue
			}
			wi.policies = append(wi.policies, pe.Name)
			for _, g := range pe.Groups {
				if !slices.Contains(wi.groups, g) {
					wi.groups = append(wi.groups, g)
				}
			}
		}
		slices.Sort(wi.groups)
		r.work = append(r.work, wi)
	}
	return r
}

// whyNoMatch summarises, for each policy of the workload's namespace, what
// keeps it from selecting the pods.
func (wi *workloadInfo) whyNoMatch() string {
	var parts []string
	for _, pe := range wi.explanation.Policies {
		switch {
		case pe.Ignored != "":
			parts = append(parts, fmt.Sprintf("policy %s is ignored (%s)", pe.Name, pe.Ignored))
		case !pe.PodSelector.Matched:
			parts = append(parts, fmt.Sprintf("policy %s: podSelector %s fails %s", pe.Name, pe.PodSelector.Selector, failed(pe.PodSelector)))
		case !pe.ServiceAccountSelector.Matched:
			parts = append(parts, fmt.Sprintf("policy %s: serviceAccountSelector %s fails %s", pe.Name, pe.ServiceAccountSelector.Selector, failed(pe.ServiceAccountSelector)))
		}
	}
	if len(parts) == 0 {
		return "the namespace has no policy"
	}
	return strings.Join(parts, "; ")
}

func failed(se selector.LabelMatch) string {
	var s []string
	for _, f := range se.Failed {
		if f.Present {
			s = append(s, fmt.Sprintf("%s (label %s is %q)", f.Requirement, f.Key, f.Value))
		} else {
			s = append(s, fmt.Sprintf("%s (no label %s)", f.Requirement, f.Key))
		}
	}
	return strings.Join(s, ", ")
}

// allGroupIDs returns every group named by a policy or the description.
// Malformed IDs in policies are left out: CheckPolicies reports them.
func (r *run) allGroupIDs() []string {
	var ids []string
	for _, p := range r.policies {
		for _, id := range p.Spec.SecurityGroups.Groups {
			if v1beta1.ValidGroupID(id) {
				ids = append(ids, id)
			}
		}
	}
	for id := range r.cluster.referencedGroups() {
		ids = append(ids, id)
	}
	return uniqueSorted(ids)
}

// anyMissing reports whether some of ids are groups EC2 does not know (or
// were not loaded at all).
func (r *run) anyMissing(ids []string) bool {
	for _, id := range ids {
		if _, ok := r.missing[id]; ok {
			return true
		}
		if r.groups == nil || !r.groups.Has(id) {
			return true
		}
	}
	return false
}

func (r *run) add(f Finding) { r.findings = append(r.findings, f) }

// ec2Workloads returns the workloads whose pods get branch ENIs.
func (r *run) ec2Workloads() []*workloadInfo {
	var out []*workloadInfo
	for _, wi := range r.work {
		if wi.onEC2() {
			out = append(out, wi)
		}
	}
	return out
}

// podEndpoints returns the endpoints of wi's pods: their groups, in the
// subnets of their node groups (branch ENIs take addresses in the node's
// subnet) or of their Fargate profile.
func (r *run) podEndpoints(wi *workloadInfo) []Endpoint {
	var subnets []Subnet
	if wi.fargate != nil {
		subnets = wi.fargate.Subnets
	} else {
		for _, ng := range wi.nodeGroups {
			subnets = append(subnets, ng.Subnets...)
		}
	}
	return endpoints(wi.groups, subnets)
}

// blocked evaluates every flow between from and to for port and returns the
// first verdict that denies it, or ok. Verdicts denied only because a group
// is missing from EC2 are not counted: the missing group is its own finding.
func (r *run) blocked(from, to []Endpoint, p Port) (v Verdict, f Flow, denied bool) {
	for _, a := range from {
		for _, b := range to {
			fl := Flow{From: a, To: b, Protocol: p.Protocol, Port: p.Port}
			v, err := r.groups.Evaluate(fl)
			if err != nil || v.Allowed {
				continue
			}
			if len(v.Egress.UnknownGroups) > 0 || len(v.Ingress.UnknownGroups) > 0 {
				continue
			}
			return v, fl, true
		}
	}
	return Verdict{}, Flow{}, false
}

func joinPorts(ps []Port) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

func joinGroups(ids []string) string { return strings.Join(ids, ", ") }
