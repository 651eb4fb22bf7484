// Package fake is an in-process EC2 that behaves like EC2 for the calls
// security groups for pods depends on: VPCs, subnets, security groups and
// their rules, instances, network interfaces of type interface, trunk and
// branch, trunk associations, and tags.
//
// # Why
//
// EC2 itself cannot run in a unit test, and public fakes model neither trunk
// nor branch interfaces nor the rules EC2 enforces around them. Code that
// passes against this fake should work against EC2: every operation is a
// method of *EC2 with the exact signature of the *ec2.Client method of the
// same name, so the fake satisfies any interface written for the SDK client,
// and failures are EC2's own error codes and messages, returned the way the
// SDK returns them (a *smithy.OperationError wrapping a
// *smithy.GenericAPIError; use errors.As with smithy.APIError, or ErrorCode).
//
// # What it enforces
//
//   - Subnets hand out real addresses, skipping the four reserved at the
//     start of the range and the broadcast address; when none is left,
//     InsufficientFreeAddressesInSubnet.
//   - Attachments respect the instance type's per-network-card interface
//     limit (AttachmentLimitExceeded) and device indexes (a taken index is
//     InvalidParameterValue). Limits come from package limits (or the table
//     in Options.Limits).
//   - Trunk interfaces attach only to trunking-compatible types
//     (UnsupportedOperation); a trunk holds at most the type's branch limit
//     of associations (AttachmentLimitExceeded), each with a VLAN ID unique
//     on the trunk.
//   - An attached or associated interface cannot be deleted
//     (InvalidNetworkInterface.InUse), nor a trunk with associations, nor a
//     security group used by an interface or referenced by another group's
//     rule (DependencyViolation).
//   - Unknown IDs give EC2's NotFound codes and messages. The interface calls
//     (CreateNetworkInterface, ModifyNetworkInterfaceAttribute, RunInstances)
//     report unknown groups as InvalidSecurityGroupID.NotFound ("The
//     securityGroup ID 'sg-…' does not exist"), while the security-group
//     calls (Describe/Delete/Authorize/Revoke) report InvalidGroup.NotFound
//     ("The security group 'sg-…' does not exist"), as EC2 does. Malformed
//     IDs give the matching ….Malformed code.
//   - At most Options.MaxGroupsPerENI groups per interface (default 5,
//     SecurityGroupsPerInterfaceLimitExceeded).
//   - ClientToken makes CreateNetworkInterface, AssociateTrunkInterface,
//     DisassociateTrunkInterface and RunInstances idempotent; reusing a
//     token with other parameters is IdempotentParameterMismatch.
//   - DryRun validates and answers DryRunOperation without changing state.
//   - Describe calls take the filters each method documents (tag:<key>,
//     tag-key and tag-value everywhere; * and ? wildcards), reject unknown
//     filter names, and paginate with MaxResults/NextToken within EC2's
//     bounds (5..1000 for most).
//
// # Load and faults
//
// Throttling is on by default with EC2's documented token buckets, one per
// action, sized by category (see DefaultBuckets and CategoryOf); an empty
// bucket answers RequestLimitExceeded, which a server maps to HTTP 503 with
// HTTPStatus. SetLatency delays calls, InjectFault fails them (with a
// probability or on the Nth call) or loses their response after applying
// them (ErrLostResponse, the failure that leaks interfaces in production),
// SetVisibilityDelay hides new resources from Describe calls for a while.
// All waiting uses the time package, so whole simulations run in
// testing/synctest bubbles in virtual time, and every pseudo-random choice
// derives from Options.Seed.
//
// Calls, CallsOf, Count and AllCounts expose a call log and per-action
// counters for assertions and benchmarks. The controls name actions with the
// Action constants (ActionCreateNetworkInterface, …) and panic on an action
// the fake does not implement, so a misspelt name fails loudly instead of
// letting a fault test pass without injecting anything.
//
// # Seeding
//
// State can be built through the API or with the Add* builders (AddVPC,
// AddSubnet, AddSecurityGroup, AddIngress, AddNode, AddTrunk, AddBranch,
// Tag), which skip throttling and the log. SeedTutorial builds the world the
// EKS tutorial "Security groups for pods" starts from.
//
// An *EC2 is safe for concurrent use by any number of goroutines.
package fake
