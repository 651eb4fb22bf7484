// Package eni is the per-node side of branch ENIs on the controller: which
// ENI a pod gets, when an ENI is reused and when it is deleted. It imports
// no EC2 SDK; package trunk drives it against EC2.
//
// The annotation a pod's branch ENI is written to (vpc.amazonaws.com/pod-eni)
// and its element type, podeni.BranchENI, are package api/podeni: the wire
// format the node reads, kept apart so that a CNI plugin can import it
// without this package.
//
// # Security-group sets and VLANs
//
// GroupSet is a de-duplicated set of security-group IDs that keeps the order
// it was given in, the order EC2 receives (a pod's policy order); its
// Canonical form (ascending) compares with == for any order and keys the
// pool's ENIs, so an ENI serves every pod that wants its groups in any order. VLANs allocates the VLAN IDs of one trunk (1..120, at most
// the node's branch-ENI limit at a time, never one ID twice).
//
// # The pool
//
// Pool holds the branch ENIs of one node and hands them to pods:
//
//	         Acquire (free slot)            Release
//	(none) ──────────────────► creating ─► in use ────► cooling
//	                              ▲           ▲            │ CoolDown (60 s)
//	             Retarget (1 call)│           │ Acquire,   ▼
//	                              └────────── │ same key   warm ──► deleting ──► (none)
//	                                          └───────────┘  idle timeout, cap,
//	                                                         eviction, NoWarm
//
// Every state holds one of the node's slots, so in use + cooling + warm +
// deleting (+ creating) never exceeds the branch-ENI limit. A pod whose key
// (security-group set and subnet) matches a warm ENI takes it without any
// call to EC2. When the node is full and nothing can be freed, Acquire
// returns an error matching ErrNoCapacity, and the pod waits for one to cool
// down. Policy sets the cool-down, idle timeout, warm cap, retarget rule,
// fixed warm targets and demand-driven pre-warming (PrewarmPolicy: the
// node's spare slots kept warm for the groups of the pods that started
// there recently); its zero value gives the documented defaults, and
// OnDemandPolicy gives the production controller's behaviour (no reuse).
//
// A Backend (package trunk on EC2, or anything in tests) does the creating,
// deleting and retargeting. After a restart, Pool.Reconcile rebuilds a pool
// from the ENIs EC2 reports and the node's live pods; without a complete pod
// list it never lets an ENI go towards deletion.
package eni
