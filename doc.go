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
//	│      ▼                           │     │      ▼                    │
//	│ trunk ───── EC2: trunk, branch,  │     │ enforce ── links, routes, │
//	│      │      reconcile, GC        │     │   rules, NAT (strict or   │
//	│      ▼                           │     │   standard), teardown     │
//	│ EC2 (or fake)   limits ◄─────────┼─────┤ limits                    │
//	│ preflight ── checks before pods  │     │                           │
//	└──────────────────────────────────┘     └───────────────────────────┘
//
// Node-side packages (api/..., selector, limits, eni, enforce) never
// import the EC2 SDK, so a CNI fork can import them cheaply. Controller-side
// packages (trunk, preflight) and package fake take an EC2 client through a
// minimal interface whose methods have the SDK's exact signatures: pass
// *ec2.Client for real EC2, or *fake.EC2 in tests.
//
// Start with the README and examples/tutorial, which replays the EKS
// "Security groups for pods" tutorial end to end on the embedded fake EC2.
package podsg
