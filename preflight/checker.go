package preflight

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/podsg/podsg/api/v1beta1"
	"github.com/podsg/podsg/limits"
)

// CheckName names one check. Names are stable.
type CheckName string

// The checks, in the order Run runs them.
const (
	// CheckPolicies validates each policy and matches policies to
	// workloads.
	CheckPolicies CheckName = "policies"
	// CheckGroups verifies that every group exists, is in the cluster's
	// VPC, and that no pod gets more groups than the per-ENI quota.
	CheckGroups CheckName = "security-groups"
	// CheckProbes verifies that the node groups reach each probe port.
	CheckProbes CheckName = "probes"
	// CheckDNS verifies that the pods reach CoreDNS on TCP and UDP 53.
	CheckDNS CheckName = "dns"
	// CheckPeers verifies that the pods of a workload reach each other on
	// their peer ports.
	CheckPeers CheckName = "peers"
	// CheckFargate verifies that Fargate pods reach the control plane.
	CheckFargate CheckName = "fargate"
	// CheckNodes verifies instance types and branch-ENI capacity.
	CheckNodes CheckName = "nodes"
	// CheckSupport reports setups security groups for pods do not support.
	CheckSupport CheckName = "support"
	// CheckMode verifies that the enforcing mode suits the cluster.
	CheckMode CheckName = "enforcing-mode"
)

// AllChecks returns every check, in run order.
func AllChecks() []CheckName {
	return []CheckName{CheckPolicies, CheckGroups, CheckProbes, CheckDNS, CheckPeers, CheckFargate, CheckNodes, CheckSupport, CheckMode}
}

// needsEC2 reports whether check reads security groups.
func (n CheckName) needsEC2() bool {
	switch n {
	case CheckGroups, CheckProbes, CheckDNS, CheckPeers, CheckFargate:
		return true
	}
	return false
}

// LimitsSource gives the limits of an instance type. *limits.Table satisfies
// it; so does a table with overrides. An unknown type must give an error
// matching limits.ErrUnknownInstanceType.
type LimitsSource interface {
	Lookup(instanceType string) (limits.Limits, error)
}

// Options configure a Checker. The zero value runs every check, with
// limits.Default() and EC2's default quota of security groups per network
// interface, silently.
type Options struct {
	// Checks selects the checks to run, in the order given. Empty means
	// AllChecks(). Each name must be one of AllChecks(), once.
	Checks []CheckName
	// Limits gives the limits of instance types. Nil means
	// limits.Default(); pass a table with overrides (limits.WithOverrides,
	// limits/ec2limits.Refresh) for types newer than the built-in table.
	Limits LimitsSource
	// GroupsPerENI is the account's quota of security groups per network
	// interface, 1 to v1beta1.MaxGroupsCeiling (16). Zero means EC2's
	// default, v1beta1.DefaultMaxGroups (5).
	GroupsPerENI int
	// Logger receives progress messages at debug level. Nil discards them.
	Logger *slog.Logger
}

// ErrInvalidOptions is matched (errors.Is) by the errors New returns for bad
// options; the message names the field, its value and what to do.
var ErrInvalidOptions = errors.New("preflight: invalid options")

// Checker runs preflight checks against EC2 and a cluster description. It
// only reads EC2 (DescribeSecurityGroups). A Checker is immutable after New
// and safe for concurrent use, as long as the EC2 client is.
type Checker struct {
	ec2          EC2
	limits       LimitsSource
	groupsPerENI int
	checks       []CheckName
	log          *slog.Logger
}

// New returns a Checker that reads security groups through client. client
// may be nil when only checks that need no EC2 call are selected
// (CheckPolicies, CheckNodes, CheckSupport, CheckMode). Bad options, or a nil
// client with checks that read EC2, give an error matching
// ErrInvalidOptions.
func New(client EC2, opts Options) (*Checker, error) {
	c := &Checker{
		ec2:          client,
		limits:       opts.Limits,
		groupsPerENI: opts.GroupsPerENI,
		checks:       slices.Clone(opts.Checks),
		log:          opts.Logger,
	}
	if c.limits == nil {
		c.limits = limits.Default()
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	switch {
	case c.groupsPerENI == 0:
		c.groupsPerENI = v1beta1.DefaultMaxGroups
	case c.groupsPerENI < 1 || c.groupsPerENI > v1beta1.MaxGroupsCeiling:
		return nil, fmt.Errorf("%w: Options.GroupsPerENI = %d: want the account's quota of security groups per network interface, 1 to %d, or 0 for EC2's default %d",
			ErrInvalidOptions, opts.GroupsPerENI, v1beta1.MaxGroupsCeiling, v1beta1.DefaultMaxGroups)
	}
	if len(c.checks) == 0 {
		c.checks = AllChecks()
	}
	for i, n := range c.checks {
		if !slices.Contains(AllChecks(), n) {
			return nil, fmt.Errorf("%w: Options.Checks[%d] = %q: not a check; known checks: %v", ErrInvalidOptions, i, n, AllChecks())
		}
		if j := slices.Index(c.checks, n); j < i {
			return nil, fmt.Errorf("%w: Options.Checks[%d] = %q: also given as Options.Checks[%d]; give each check once", ErrInvalidOptions, i, n, j)
		}
	}
	if client == nil && slices.ContainsFunc(c.checks, CheckName.needsEC2) {
		return nil, fmt.Errorf("%w: checks %v read security groups from EC2, and the EC2 client is nil: pass one to New, or select only %s, %s, %s and %s in Options.Checks",
			ErrInvalidOptions, slices.DeleteFunc(slices.Clone(c.checks), func(n CheckName) bool { return !n.needsEC2() }), CheckPolicies, CheckNodes, CheckSupport, CheckMode)
	}
	return c, nil
}

// ErrInvalidCluster is returned (wrapped) by Run when the cluster description
// itself is wrong; the message names each bad field and value.
var ErrInvalidCluster = errors.New("preflight: invalid cluster description")

// Run checks policies against cluster and returns every finding.
//
// Findings describe the cluster and EC2; an error means the checks could not
// run: a description that does not validate (ErrInvalidCluster) or an EC2
// call that failed for another reason than a missing
// group (throttling, permissions, network), wrapped with the operation. A
// group EC2 does not know is a finding, not an error. Run does not modify its
// arguments.
func (c *Checker) Run(ctx context.Context, cluster *Cluster, policies []v1beta1.SecurityGroupPolicy) (*Report, error) {
	if cluster == nil {
		cluster = &Cluster{}
	}
	if err := cluster.Validate(); err != nil {
		return nil, err
	}
	r := newRun(c, cluster, policies)
	if slices.ContainsFunc(c.checks, CheckName.needsEC2) {
		ids := r.allGroupIDs()
		c.log.DebugContext(ctx, "preflight: describing security groups", "count", len(ids))
		g, missing, err := LoadGroups(ctx, c.ec2, ids)
		if err != nil {
			return nil, err
		}
		r.groups = g
		for _, m := range missing {
			r.missing[m.ID] = m
		}
	}
	report := &Report{Checks: slices.Clone(c.checks)}
	for _, n := range c.checks {
		before := len(r.findings)
		checkFuncs[n](r)
		c.log.DebugContext(ctx, "preflight: check done", "check", string(n), "findings", len(r.findings)-before)
	}
	report.Findings = r.findings
	sortFindings(report.Findings)
	return report, nil
}

var checkFuncs = map[CheckName]func(*run){
	CheckPolicies: (*run).checkPolicies,
	CheckGroups:   (*run).checkGroups,
	CheckProbes:   (*run).checkProbes,
	CheckDNS:      (*run).checkDNS,
	CheckPeers:    (*run).checkPeers,
	CheckFargate:  (*run).checkFargate,
	CheckNodes:    (*run).checkNodes,
	CheckSupport:  (*run).checkSupport,
	CheckMode:     (*run).checkMode,
}

// Validate reports every field of c that preflight cannot interpret, each
// naming the field and its value. The error matches ErrInvalidCluster.
func (c *Cluster) Validate() error {
	var errs []string
	bad := func(field string, format string, args ...any) {
		errs = append(errs, field+": "+fmt.Sprintf(format, args...))
	}
	switch c.IPFamily {
	case "", IPv4, IPv6:
	default:
		bad("ipFamily", "%q is not ipv4 or ipv6", c.IPFamily)
	}
	if !c.CNI.EnforcingMode.Valid() {
		bad("cni.enforcingMode", "%s is not strict or standard", c.CNI.EnforcingMode)
	}
	if c.CNI.Version != "" {
		if _, err := cniVersion(c.CNI.Version); err != nil {
			bad("cni.version", "%q is not a version such as v1.18.3", c.CNI.Version)
		}
	}
	checkOS := func(field string, os OS) {
		switch os {
		case "", Linux, Windows:
		default:
			bad(field, "%q is not linux or windows", os)
		}
	}
	checkPorts := func(field string, ports []Port) {
		for i, p := range ports {
			if _, err := p.Protocol.number(); err != nil || p.Protocol == AllProtocols {
				bad(fmt.Sprintf("%s[%d].protocol", field, i), "%q is not tcp, udp or a protocol number", p.Protocol)
			}
			if p.Port < 0 || p.Port > 65535 {
				bad(fmt.Sprintf("%s[%d].port", field, i), "%d is not in 0..65535", p.Port)
			}
		}
	}
	checkGroups := func(field string, ids []string) {
		for i, id := range ids {
			if !v1beta1.ValidGroupID(id) {
				bad(fmt.Sprintf("%s[%d]", field, i), "%q is not a security group ID (sg- followed by 8 or 17 hex digits)", id)
			}
		}
	}
	if c.ClusterSecurityGroup != "" && !v1beta1.ValidGroupID(c.ClusterSecurityGroup) {
		bad("clusterSecurityGroup", "%q is not a security group ID (sg- followed by 8 or 17 hex digits)", c.ClusterSecurityGroup)
	}
	checkGroups("coreDNS.securityGroups", c.CoreDNS.SecurityGroups)
	names := map[string]bool{}
	for i, ng := range c.NodeGroups {
		f := fmt.Sprintf("nodeGroups[%d]", i)
		if ng.Name == "" {
			bad(f+".name", "empty; name each node group")
		} else if names[ng.Name] {
			bad(f+".name", "%q is used by two node groups", ng.Name)
		}
		names[ng.Name] = true
		if ng.Nodes < 0 {
			bad(f+".nodes", "%d is negative", ng.Nodes)
		}
		checkOS(f+".os", ng.OS)
		checkGroups(f+".securityGroups", ng.SecurityGroups)
		if len(ng.InstanceTypes) == 0 {
			bad(f+".instanceTypes", "empty; list the group's instance types")
		}
	}
	for i, w := range c.Workloads {
		f := fmt.Sprintf("workloads[%d]", i)
		if w.Namespace == "" || w.Name == "" {
			bad(f, "namespace %q and name %q must both be set", w.Namespace, w.Name)
		}
		if w.Replicas < 0 {
			bad(f+".replicas", "%d is negative", w.Replicas)
		}
		checkOS(f+".os", w.OS)
		checkPorts(f+".probePorts", w.ProbePorts)
		checkPorts(f+".peerPorts", w.PeerPorts)
		for j, n := range w.NodeGroups {
			if !names[n] {
				bad(fmt.Sprintf("%s.nodeGroups[%d]", f, j), "%q is not the name of a node group", n)
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrInvalidCluster, strings.Join(errs, "; "))
}
