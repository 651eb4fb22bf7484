// Package podsg is the root of a Go SDK for security groups for pods: giving
// individual Kubernetes pods their own EC2 security groups through branch
// ENIs on a node's trunk ENI, compatible with Amazon EKS, the VPC resource
// controller and the VPC CNI plugin.
//
// The SDK is a set of independent packages, each behind small interfaces and
// each with a fake for tests. They split along the line between the
// controller, which talks to the Kubernetes API and EC2, and the node, which
// wires a pod's network namespace:
//
//	          controller side                          node side
//	┌──────────────────────────────────┐     ┌───────────────────────────┐
//	│ api/v1beta1  SecurityGroupPolicy │     │                           │
//	│      │                           │     │                           │
//	│      ▼                           │     │                           │
//	│ selector ── which groups a pod   │     │                           │
//	│      │      gets                 │     │                           │
//	│      ▼                           │ pod │                           │
//	│ eni.Pool ── per-node branch ENIs,│ ann.│ api/podeni.Parse          │
//	│      │      VLANs, reuse ────────┼────►│      │                    │
//	│      │      (api/podeni.Format)  │     │      ▼                    │
//	│      ▼                           │     │ enforce ── plans: links,  │
//	│ trunk ───── EC2: trunk, branch,  │     │   routes, rules, NAT      │
//	│      │      reconcile, GC        │     │   (strict or standard)    │
//	│      ▼                           │     │      │                    │
//	│ EC2 (or fake)                    │     │      ▼                    │
//	│ preflight ── checks before pods  │     │ enforce/kernel ── netlink,│
//	│ limits ── per-type limits        │     │   iptables (Linux)        │
//	└──────────────────────────────────┘     └───────────────────────────┘
//
// The wire format between the two sides is the pod annotation of package
// api/podeni, which imports only the standard library. A CNI plugin or node
// agent imports api/podeni and enforce (plus enforce/kernel to apply plans,
// enforce/enforcetest to test without root) and nothing of the controller
// side. Packages api/..., selector, limits, eni and enforce never import the
// EC2 SDK; selector, eni and enforce link neither netlink nor go-iptables;
// deps_test.go in this directory checks these promises. Controller-side
// packages (trunk, preflight, limits/ec2limits) and package fake take an EC2
// client through a minimal interface whose methods have the SDK's exact
// signatures: pass *ec2.Client for real EC2, or *fake.EC2 in tests.
//
// The package's Example walks one pod through both sides: its policy, the
// groups selector gives it, its branch ENI and annotation, and the commands
// that wire it on its node.
//
// # Configuration
//
// Every constructor follows one rule. It takes its required collaborators
// (an EC2 client, a Backend) as parameters and its settings as one struct
// named Options, passed by value: trunk.New(client, trunk.Options{…}),
// eni.NewPool(backend, eni.Options{…}), enforce.NewBuilder(enforce.Options{…}),
// preflight.New(client, preflight.Options{…}), selector.NewIndex(
// selector.Options{}). A package with a second settings struct names it after
// what it configures: trunk.BudgetOptions, fake.ServerOptions,
// kernel.NetlinkOptions.
//
// Fields documented "Required." are checked by the constructor; the zero
// value of every other field means its documented default, so Options{}
// holds the defaults wherever no field is required. Bad options give an
// error that names the field, the value and what to do, and matches the
// package's ErrInvalidOptions with errors.Is. There are no functional
// options and no With… option functions. Package fake alone, whose callers
// mostly want the defaults, takes its Options as an optional trailing
// argument: fake.New() or fake.New(fake.Options{…}).
//
// Start with the README and examples/tutorial, which replays the EKS
// "Security groups for pods" tutorial end to end on the embedded fake EC2.
package podsg
