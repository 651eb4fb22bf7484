package preflight

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/podsg/podsg/enforce"
)

// IPFamily is the IP family of a cluster. The zero value means IPv4.
type IPFamily string

// IP families.
const (
	IPv4 IPFamily = "ipv4"
	IPv6 IPFamily = "ipv6"
)

// OS is the operating system of nodes or pods. The zero value means Linux.
type OS string

// Operating systems.
const (
	Linux   OS = "linux"
	Windows OS = "windows"
)

// Cluster describes what preflight needs to know about an EKS cluster
// beyond its SecurityGroupPolicies. Build it from the EKS API, from kubectl,
// or by hand; a zero field means "default" or "not in use" as each field
// says. A Cluster is read, never modified, by preflight.
type Cluster struct {
	// Name is the cluster name, used in messages.
	Name string `json:"name,omitempty"`
	// VPCID is the cluster's VPC. When set, groups of another VPC are
	// reported: a branch ENI cannot carry them.
	VPCID string `json:"vpcId,omitempty"`
	// IPFamily is the cluster's IP family; empty means IPv4.
	IPFamily IPFamily `json:"ipFamily,omitempty"`
	// ClusterSecurityGroup is the security group EKS created for the
	// cluster. It is on the control plane's ENIs and, by default, on the
	// nodes of managed node groups.
	ClusterSecurityGroup string `json:"clusterSecurityGroup,omitempty"`

	// CNI is the configuration of the VPC CNI plugin (the aws-node
	// DaemonSet).
	CNI CNI `json:"cni"`
	// CoreDNS says where the cluster DNS runs.
	CoreDNS CoreDNS `json:"coreDNS"`

	// NodeGroups are the EC2 node groups.
	NodeGroups []NodeGroup `json:"nodeGroups,omitempty"`
	// FargateProfiles are the Fargate profiles.
	FargateProfiles []FargateProfile `json:"fargateProfiles,omitempty"`
	// Workloads are the pods to check, one entry per Deployment,
	// StatefulSet or similar.
	Workloads []Workload `json:"workloads,omitempty"`

	// NodeLocalDNSCache is true when NodeLocal DNSCache runs in the
	// cluster.
	NodeLocalDNSCache bool `json:"nodeLocalDNSCache,omitempty"`
	// Calico is true when Calico network policies are in use.
	Calico bool `json:"calico,omitempty"`
}

// CNI is the configuration of the VPC CNI plugin.
type CNI struct {
	// Version is the plugin version, such as "v1.18.3". Empty skips the
	// version checks.
	Version string `json:"version,omitempty"`
	// EnablePodENI is ENABLE_POD_ENI: without it no node gets a trunk ENI.
	EnablePodENI bool `json:"enablePodENI"`
	// EnforcingMode is POD_SECURITY_GROUP_ENFORCING_MODE, "strict" or
	// "standard" in JSON and YAML; the zero value (or "") is
	// enforce.Strict, the plugin's default. Standard needs plugin 1.11 or
	// later.
	EnforcingMode enforce.Mode `json:"enforcingMode,omitempty"`
	// DisableTCPEarlyDemux is DISABLE_TCP_EARLY_DEMUX of the init
	// container: kubelet's TCP probes need it in strict mode.
	DisableTCPEarlyDemux bool `json:"disableTCPEarlyDemux,omitempty"`
}

// CoreDNS says which security groups the cluster DNS pods sit behind.
type CoreDNS struct {
	// SecurityGroups are the groups of the CoreDNS pods: their own groups
	// if a policy gives them some, else the groups of the nodes they run
	// on. Empty means CoreDNS runs on the EC2 node groups without groups of
	// its own, so every node group's groups must admit DNS.
	SecurityGroups []string `json:"securityGroups,omitempty"`
	// Subnets are the subnets of the CoreDNS pods, for rules by CIDR.
	// Empty means the subnets of the node groups.
	Subnets []Subnet `json:"subnets,omitempty"`
}

// Subnet is a VPC subnet.
type Subnet struct {
	// ID is the subnet ID, used in messages.
	ID string `json:"id,omitempty"`
	// CIDR is the subnet's range; pods' branch ENIs take addresses in the
	// subnet of their node. The zero value means unknown.
	CIDR netip.Prefix `json:"cidr"`
	// Public is true when the subnet routes to an internet gateway.
	Public bool `json:"public,omitempty"`
}

// NodeGroup is a group of EC2 nodes of the cluster.
type NodeGroup struct {
	// Name identifies the group in messages and in Workload.NodeGroups.
	Name string `json:"name"`
	// InstanceTypes are the group's instance types. With several types,
	// capacity is computed with the smallest branch-ENI limit.
	InstanceTypes []string `json:"instanceTypes"`
	// Nodes is the number of nodes (the desired size).
	Nodes int `json:"nodes"`
	// OS is the nodes' operating system; empty means Linux.
	OS OS `json:"os,omitempty"`
	// SecurityGroups are the groups of the nodes' primary ENI, the source
	// of kubelet's probes. Empty means the cluster security group, the
	// default of managed node groups.
	SecurityGroups []string `json:"securityGroups,omitempty"`
	// Subnets are the subnets the nodes run in.
	Subnets []Subnet `json:"subnets,omitempty"`
}

// FargateProfile is an EKS Fargate profile: pods matching one of its
// selectors run on Fargate.
type FargateProfile struct {
	// Name identifies the profile in messages.
	Name string `json:"name"`
	// Selectors are matched in order; a pod matches a selector when it is
	// in the selector's namespace and carries all the selector's labels.
	Selectors []FargateSelector `json:"selectors"`
	// Subnets are the profile's (private) subnets.
	Subnets []Subnet `json:"subnets,omitempty"`
}

// FargateSelector is one selector of a Fargate profile.
type FargateSelector struct {
	Namespace string            `json:"namespace"`
	Labels    map[string]string `json:"labels,omitempty"`
}

// Port is a protocol and a port number.
type Port struct {
	Protocol Protocol `json:"protocol"`
	Port     int32    `json:"port"`
}

// String renders p as "tcp/80".
func (p Port) String() string { return fmt.Sprintf("%s/%d", p.Protocol, p.Port) }

// Workload is a set of identical pods: a Deployment, a StatefulSet, a Job.
type Workload struct {
	// Namespace and Name identify the workload.
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Labels are the labels of the pod template.
	Labels map[string]string `json:"labels,omitempty"`
	// ServiceAccount names the pods' ServiceAccount, and
	// ServiceAccountLabels are that object's labels.
	ServiceAccount       string            `json:"serviceAccount,omitempty"`
	ServiceAccountLabels map[string]string `json:"serviceAccountLabels,omitempty"`
	// Replicas is the number of pods.
	Replicas int `json:"replicas"`
	// ProbePorts are the ports of the liveness, readiness and startup
	// probes (HTTP and gRPC probes are TCP).
	ProbePorts []Port `json:"probePorts,omitempty"`
	// PeerPorts are the ports on which pods of the workload connect to
	// each other, for example a Service whose backends are these same pods
	// or a cluster protocol. Each must be allowed between the pods' groups.
	PeerPorts []Port `json:"peerPorts,omitempty"`
	// HostNetwork is true for pods with hostNetwork: they get no branch
	// ENI and no security groups of their own.
	HostNetwork bool `json:"hostNetwork,omitempty"`
	// OS is the pods' operating system; empty means Linux.
	OS OS `json:"os,omitempty"`
	// ExternalTrafficPolicyLocal is true when the pods back a NodePort or
	// LoadBalancer Service with instance targets and
	// externalTrafficPolicy: Local.
	ExternalTrafficPolicyLocal bool `json:"externalTrafficPolicyLocal,omitempty"`
	// NodeGroups restricts the EC2 node groups the pods may run on (by
	// node selector or affinity). Empty means every Linux node group.
	NodeGroups []string `json:"nodeGroups,omitempty"`
}

// String returns "workload namespace/name".
func (w *Workload) String() string { return "workload " + w.Namespace + "/" + w.Name }

// fargateProfile returns the profile whose selectors w matches, or nil.
func (c *Cluster) fargateProfile(w *Workload) *FargateProfile {
	for i := range c.FargateProfiles {
		p := &c.FargateProfiles[i]
		for _, s := range p.Selectors {
			if s.Namespace != w.Namespace {
				continue
			}
			if isSubset(s.Labels, w.Labels) {
				return p
			}
		}
	}
	return nil
}

func isSubset(want, have map[string]string) bool {
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			return false
		}
	}
	return true
}

// nodeGroupsFor returns the Linux node groups w may run on.
func (c *Cluster) nodeGroupsFor(w *Workload) []*NodeGroup {
	var out []*NodeGroup
	for i := range c.NodeGroups {
		ng := &c.NodeGroups[i]
		if ng.OS == Windows {
			continue
		}
		if len(w.NodeGroups) > 0 && !slices.Contains(w.NodeGroups, ng.Name) {
			continue
		}
		out = append(out, ng)
	}
	return out
}

// nodeGroups returns the security groups of ng's nodes.
func (c *Cluster) nodeGroupGroups(ng *NodeGroup) []string {
	if len(ng.SecurityGroups) > 0 {
		return ng.SecurityGroups
	}
	if c.ClusterSecurityGroup != "" {
		return []string{c.ClusterSecurityGroup}
	}
	return nil
}

// endpoints returns one endpoint per subnet, all carrying groups, or a
// single endpoint of unknown address when no subnet is known.
func endpoints(groups []string, subnets []Subnet) []Endpoint {
	var out []Endpoint
	for _, s := range subnets {
		if s.CIDR.IsValid() {
			out = append(out, Endpoint{Groups: groups, Prefix: s.CIDR.Masked()})
		}
	}
	if len(out) == 0 {
		out = append(out, Endpoint{Groups: groups})
	}
	return out
}

// referencedGroups returns every group the description names.
func (c *Cluster) referencedGroups() map[string][]string {
	refs := map[string][]string{}
	add := func(id, by string) {
		if id != "" && !slices.Contains(refs[id], by) {
			refs[id] = append(refs[id], by)
		}
	}
	add(c.ClusterSecurityGroup, "the cluster security group")
	for _, id := range c.CoreDNS.SecurityGroups {
		add(id, "the CoreDNS groups")
	}
	for _, ng := range c.NodeGroups {
		for _, id := range ng.SecurityGroups {
			add(id, "node group "+ng.Name)
		}
	}
	for _, v := range refs {
		slices.Sort(v)
	}
	return refs
}

// cniVersion parses "v1.11.0" or "1.11" into comparable numbers.
func cniVersion(s string) ([3]int, error) {
	var v [3]int
	t := strings.TrimPrefix(strings.TrimSpace(s), "v")
	if i := strings.IndexAny(t, "-+"); i >= 0 {
		t = t[:i]
	}
	parts := strings.Split(t, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return v, fmt.Errorf("preflight: CNI version %q is not of the form v1.2.3", s)
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return v, fmt.Errorf("preflight: CNI version %q is not of the form v1.2.3", s)
		}
		v[i] = n
	}
	return v, nil
}

func versionLess(a, b [3]int) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}
