// Package preflight finds, before any pod is created, what would leave pods
// with security groups stuck or broken, and says how to fix it.
//
// Security groups for pods fail late: a pod whose policy names a deleted
// group waits in ContainerCreating with InvalidSecurityGroupID.NotFound, a
// pod on a t3 node or beyond the nodes' branch-ENI capacity stays Pending, a
// group without DNS rules gives pods that start but cannot resolve names, and
// strict enforcing mode silently breaks NodeLocal DNSCache. preflight checks
// these conditions up front against EC2 (real, or package fake) and a
// description of the cluster.
//
// # Reachability
//
// Groups evaluates EC2 security-group semantics offline: given the groups on
// the source and on the destination of a flow (or an address range outside
// any group), a protocol and a port, is the flow allowed, and by which
// rules? It needs an egress rule on the source and an ingress rule on the
// destination, is stateful (replies need no rule), matches rules by CIDR (the
// whole range of the peer must be inside the rule's CIDR) and by referenced
// group (any ENI carrying the group), and treats protocol -1 as everything.
// LoadGroups reads the groups with DescribeSecurityGroups, following pages,
// and separates groups EC2 does not know from real failures.
//
// # Checks
//
// A Checker, from New(client, Options{…}), runs named checks (all of
// AllChecks, or those in Options.Checks) over a set of
// SecurityGroupPolicies and a Cluster: node groups with instance types,
// security groups and subnets; the cluster security group; the CoreDNS
// groups; the workloads with their labels, replica counts, probe and peer
// ports; the IP family; the VPC CNI plugin's enforcing mode and settings;
// Fargate profiles; and whether NodeLocal DNSCache or Calico are in use.
// Each check adds Findings to a Report:
//
//   - policies: each policy validates (api/v1beta1.Validate), with a code per
//     kind of problem, since the API server stores what EKS's CRD accepts: no
//     selector (the policy is ignored), a malformed group ID or more groups
//     than an ENI takes (EC2 refuses the pods' ENIs), a repeated ID, anything
//     else; policies that match no workload and workloads that match no
//     policy are noted;
//   - security-groups: every group exists (EC2's own error is quoted), is in
//     the cluster's VPC, and no pod gets more groups than an ENI carries;
//   - probes: in strict mode, the node groups' security groups reach each
//     probe port, and TCP early demux is disabled;
//   - dns: the pods' groups allow egress on TCP and UDP 53 to the CoreDNS
//     groups, and those admit the pods' groups;
//   - peers: pods of one workload reach each other on their peer ports
//     (the tutorial's self rule);
//   - fargate: Fargate pods carry the cluster security group, or rules that
//     replace it;
//   - nodes: instance types are known to package limits and trunk-compatible
//     (no t family), and the nodes' branch-ENI capacity covers the replicas,
//     or the report says how many pods will stay Pending;
//   - support: Windows, IPv6 clusters with EC2 nodes, ENABLE_POD_ENI unset,
//     a plugin too old;
//   - enforcing-mode: strict mode with NodeLocal DNSCache, Calico or
//     externalTrafficPolicy: Local needs standard mode; strict mode in public
//     subnets has no internet access.
//
// A Finding has a Severity, a stable Code (CodeGroupNotFound, ...), a subject,
// and three sentences: what is wrong, why it matters, what to do. A Report
// renders as text (WriteText) or JSON (WriteJSON); Report.OK says whether no
// Error was found.
//
// preflight only reads EC2: its EC2 interface has the single method
// DescribeSecurityGroups, with the aws-sdk-go-v2 signature, so *ec2.Client and
// *fake.EC2 both satisfy it.
package preflight
