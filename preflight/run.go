package preflight

import (
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/podsg/podsg/api/v1beta1"
)

// run is the state of one Checker.Run call.
type run struct {
	c        *Checker
	cluster  *Cluster
	policies []policyInfo
	work     []*workloadInfo
	groups   *Groups
	missing  map[string]MissingGroup
	findings []Finding
}

// policyInfo is a policy with its compiled selectors.
type policyInfo struct {
	p       *v1beta1.SecurityGroupPolicy
	pod, sa labels.Selector // nil when the selector is unset
	usable  bool            // selectors compile and at least one is set
}

func (p *policyInfo) String() string {
	return "policy " + p.p.Namespace + "/" + p.p.Name
}

// workloadInfo is a workload with what the policies give it.
type workloadInfo struct {
	w          *Workload
	groups     []string // union of the groups of matching policies, in policy order
	policies   []string // names of matching policies
	fargate    *FargateProfile
	nodeGroups []*NodeGroup // Linux node groups the pods may run on (nil on Fargate)
}

// hasGroups reports whether the workload's pods get a branch ENI (or, on
// Fargate, security groups).
func (wi *workloadInfo) hasGroups() bool { return len(wi.groups) > 0 && !wi.w.HostNetwork }

// onEC2 reports whether the pods get branch ENIs on EC2 nodes.
func (wi *workloadInfo) onEC2() bool { return wi.hasGroups() && wi.fargate == nil }

func newRun(c *Checker, cluster *Cluster, policies []v1beta1.SecurityGroupPolicy) *run {
	r := &run{c: c, cluster: cluster, missing: map[string]MissingGroup{}}
	for i := range policies {
		r.policies = append(r.policies, compilePolicy(&policies[i]))
	}
	for i := range cluster.Workloads {
		w := &cluster.Workloads[i]
		wi := &workloadInfo{w: w, fargate: cluster.fargateProfile(w)}
		if wi.fargate == nil {
			wi.nodeGroups = cluster.nodeGroupsFor(w)
		}
		for _, p := range r.policies {
			if p.matches(w) {
				wi.policies = append(wi.policies, p.p.Name)
				for _, g := range p.p.Spec.SecurityGroups.Groups {
					if !slices.Contains(wi.groups, g) {
						wi.groups = append(wi.groups, g)
					}
				}
			}
		}
		r.work = append(r.work, wi)
	}
	return r
}

func compilePolicy(p *v1beta1.SecurityGroupPolicy) policyInfo {
	pi := policyInfo{p: p, usable: true}
	compile := func(s *metav1.LabelSelector) labels.Selector {
		if s == nil {
			return nil
		}
		sel, err := metav1.LabelSelectorAsSelector(s)
		if err != nil {
			pi.usable = false
			return nil
		}
		return sel
	}
	pi.pod = compile(p.Spec.PodSelector)
	pi.sa = compile(p.Spec.ServiceAccountSelector)
	if p.Spec.PodSelector == nil && p.Spec.ServiceAccountSelector == nil {
		pi.usable = false
	}
	if len(p.Spec.SecurityGroups.Groups) == 0 {
		pi.usable = false
	}
	return pi
}

// matches applies the controller's rules: same namespace, every set
// selector matches.
func (p *policyInfo) matches(w *Workload) bool {
	if !p.usable || p.p.Namespace != w.Namespace {
		return false
	}
	if p.pod != nil && !p.pod.Matches(labels.Set(w.Labels)) {
		return false
	}
	if p.sa != nil && !p.sa.Matches(labels.Set(w.ServiceAccountLabels)) {
		return false
	}
	return true
}

// allGroupIDs returns every group named by a policy or the description.
// Malformed IDs in policies are left out: CheckPolicies reports them.
func (r *run) allGroupIDs() []string {
	var ids []string
	for _, p := range r.policies {
		for _, id := range p.p.Spec.SecurityGroups.Groups {
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
