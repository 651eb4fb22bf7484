// Package trunk gives pods branch ENIs on their nodes' trunk ENIs through the
// EC2 API, fast, reused, and without leaks across crashes.
//
// A Manager serves many nodes over one EC2 client. It takes the client
// through the EC2 interface, whose methods have the SDK's exact signatures:
// pass an *ec2.Client, or a *fake.EC2 in tests.
//
//	m, err := trunk.New(ec2.NewFromConfig(cfg), trunk.Options{ClusterName: "prod"})
//	go m.Run(ctx)                               // cool-downs, deletions, GC
//	res, err := m.ReconcileAll(ctx, nodesWithTheirLivePods) // after every start; res[id].Err per node
//	res, err := m.Acquire(ctx, instanceID, pod, groups)
//	// write res.Annotation to the pod's vpc.amazonaws.com/pod-eni annotation
//	m.Release(instanceID, pod)                  // when the pod ends
//
// # Nodes and trunks
//
// EnsureNode (called by Acquire and the reconcilers) finds a node's trunk ENI
// or creates one (InterfaceType trunk, description aws-k8s-trunk-eni, the
// cluster, owner and instance tags), attaches it at the highest free device
// index of the default network card with DeleteOnTermination, and waits
// until it is attached. A type that cannot trunk gives an error matching
// ErrTrunkingUnsupported; a node with no free slot one matching
// ErrNoFreeSlot.
//
// # Custom networking and IPv6
//
// Options.CustomNetworking gives a node the subnet and trunk groups of its
// ENIConfig, as the VPC resource controller does: the trunk is created in
// that subnet with those groups, and the node's branch ENIs in that subnet
// (see CustomNetwork). Options.IPv6 makes branch ENIs of an IPv6 cluster:
// each with one IPv6 address, written to the annotation ("ipv6Addr",
// "subnetV6Cidr"; "privateIp":"" in an IPv6-only subnet). A node whose
// subnet cannot serve its pods gives an error matching ErrNodeNetwork.
//
// # Branch ENIs
//
// Each node has an eni.Pool; package trunk is its Backend. A new branch ENI
// costs two calls: CreateNetworkInterface (description aws-k8s-branch-eni,
// the pod's groups, the VPC resource controller's tags including the VLAN
// and trunk) and AssociateTrunkInterface. Both carry a ClientToken derived
// from the request, so a retry after a lost response returns the same ENI
// and association instead of leaking a second one. Between the two, the
// Manager waits until DescribeNetworkInterfaces lists the new ENI (one
// listing at once and then every 200 ms for all the new ENIs waiting, up to
// 10 s), so that the association is not spent on EC2 not knowing the ENI
// yet; Options from OnDemandOptions associate at once. A failed association
// deletes the ENI. A warm ENI of the same groups costs no call; a
// retarget one ModifyNetworkInterfaceAttribute call (see eni.RetargetPolicy).
// Deletion is DisassociateTrunkInterface then DeleteNetworkInterface, at
// background priority. EC2 errors keep their code: errors.As to
// smithy.APIError, or ErrorCode.
//
// # The EC2 budget
//
// Every call passes a Budget: one token bucket per action below EC2's own
// (10 % headroom by default), where calls a pod waits on reserve tokens ahead
// and deletions and garbage collection leave a reserve to them. Retryable
// failures (throttling, server faults, lost responses) are retried with the
// SDK's exponential jitter back-off (aws/retry); the SDK client's own
// retries are turned off per call so that every attempt is budgeted and
// counted. Contexts are honoured everywhere.
//
// # Restarts and leaks
//
// All state is rebuilt from EC2. ReconcileAll lists the branch ENIs of up to
// 199 nodes per DescribeNetworkInterfaces call by the instance tag (EC2 takes
// 200 filter values per call, the cluster tag's one included), 1,000 per
// page (never unpaginated), and matches them with the live pods the caller
// lists: ENIs named by a live pod's annotation stay in use on their VLAN,
// others cool down, ENIs created but never associated are deleted. A caller
// that cannot vouch its pod list is complete gets no deletions. Each node
// succeeds or fails on its own: an instance EC2 no longer knows, a type that
// cannot trunk or an EC2 error is reported in that node's NodeResult, and
// every other node is served. A node served before its rebuild first loads
// the branch ENIs its trunk already has, so their VLANs are never reused.
// CollectGarbage deletes available ENIs with the cluster and owner tags that
// no pool holds, on their second sighting. RemoveNode releases everything of
// a terminated node.
//
// # Eventual consistency
//
// EC2 is eventually consistent: a call may not see a change made moments
// before, and EC2 asks its clients to retry, "starting with a couple of
// seconds of wait time, and increasing gradually up to five minutes" (EC2
// Developer Guide, "Eventual consistency in the Amazon EC2 API"). The
// Manager does so at the root, for every call:
//   - it remembers the IDs EC2 gave it (ENIs and trunks it created,
//     association and attachment IDs) for five minutes; a NotFound answer
//     for one of them, until a call naming it has succeeded, means "not
//     yet": the call is asked again after 1 s, doubling up to a minute
//     (Metrics.NotFoundRetries counts these repeats). NotFound for anything
//     else (a pod's missing security group, an instance) is final at once;
//   - so a rollback deletes a fresh ENI once EC2 knows it instead of taking
//     NotFound for "already gone", and a deletion waits out an association
//     made moments before that is not listed yet (the ENI in use);
//   - it waits for a new trunk's attachment to go from "attaching" to
//     "attached";
//   - no listing alone makes it forget an ENI or report a pod Missing: an
//     ENI it created in the last five minutes is kept, and any other only
//     when two listings in a row lacked it; an ENI a live pod names that is
//     listed as available (its association not listed yet) is kept on the
//     VLAN of its tag;
//   - no listing alone makes it use an ENI either: ENIs it deleted in the
//     last five minutes are ignored where listings still show them, and an
//     ENI adopted from a listing that no live pod names is reused only once
//     a second listing, 20 s later, shows it too (otherwise it is deleted
//     after its cool-down);
//   - the pod list of a rebuild never overrides what the Manager did after
//     the list was taken.
//
// The package's scenario tests (the tutorial, chaos, churn, scale and the
// simulation) run against fake.EventualConsistency.
//
// Filter names are those the SDK documents for each operation, plus
// trunk-interface-association.trunk-interface-id, which the VPC resource
// controller uses to list a trunk's associations against real EC2.
//
// # Concurrency
//
// Every method may be called from many goroutines, and calls may overlap:
// ReconcileAll calls over the same nodes, RemoveNode against Acquire on the
// node, Run stopped and started again. No lock is held across an EC2 call
// that Nodes, Metrics, Pool, Release or garbage collection would wait for;
// the locks that do span EC2 calls (a node's set-up, a node held while it is
// reconciled) are taken in one global order, and every wait for them ends
// with the caller's context. TestSimulation runs seeded schedules of all of
// this, with crashes and EC2 faults, and checks the invariants after every
// step.
//
// # Observability and scale
//
// Metrics returns EC2 calls by action and outcome, throttles, retries, pool
// states and the ENI-ready latency. Goroutines are bounded by
// Options.Workers, not by pods or nodes; all state is per node, so a large
// cluster can be sharded across controller replicas by node.
//
// A strategy is a set of Options: the zero Options give podsg's defaults,
// OnDemandOptions the production controller's (no reuse, 24 requests/s with
// burst 36, 30 workers).
package trunk
