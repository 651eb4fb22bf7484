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
//   - IPv6 as EC2 has it: VPCs get Amazon-provided /56 blocks (CreateVpc
//     or AssociateVpcCidrBlock with AmazonProvidedIpv6CidrBlock), subnets a
//     /44 to /64 of them (CreateSubnet with Ipv6CidrBlock,
//     AssociateSubnetCidrBlock), dual-stack or IPv6-only (Ipv6Native: no
//     IPv4 CIDR, interfaces without an IPv4 address). Interfaces get IPv6
//     addresses with Ipv6AddressCount or Ipv6Addresses, refused in a subnet
//     without an IPv6 block; the first four and the last address of a
//     subnet's block are reserved. Describe calls show them (Ipv6Address,
//     Ipv6Addresses, Ipv6CidrBlockAssociationSet) and filter on them as the
//     SDK documents. Pools, IPAM and prefixes are not modelled and refused
//     as such.
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
//   - Revoking rules by permissions that do not all exist is
//     InvalidPermission.NotFound with nothing revoked, except in a default
//     VPC, where the matching rules go and the others come back as
//     UnknownIpPermissions, as the SDK documents RevokeSecurityGroupIngress.
//   - ClientToken makes CreateNetworkInterface, AssociateTrunkInterface,
//     DisassociateTrunkInterface and RunInstances idempotent, per action,
//     as EC2 documents it: a retry returns the original answer (a copy of
//     its own; RunInstances with the instances' current state), reusing a
//     token with other parameters is IdempotentParameterMismatch, and a token
//     lapses 24 hours after its call (after its instances terminate, for
//     RunInstances).
//   - DryRun validates and answers DryRunOperation without changing state.
//   - Enumerated parameters (InterfaceType, TagSpecification.ResourceType,
//     …) take only the values the SDK's enumerations list
//     (InvalidParameterValue); instance types are checked against the
//     instance-type table instead.
//   - Describe calls take the filter names the SDK documents for the
//     operation (the Filters field of its Input, extracted by go generate
//     into fake/internal/ec2doc from the SDK version in go.mod) plus a short
//     evidence list of names real EC2 is seen to accept (UndocumentedFilters);
//     any other name is InvalidParameterValue, "The filter '<name>' is
//     invalid", as EC2 answers. tag:<key> and tag-key work where documented
//     (tag-value is documented nowhere today); values take the wildcards *
//     and ? and backslash escapes. More than 200 filter values in one call
//     is FilterLimitExceeded. A documented name the fake does not model is
//     refused with a message saying so, never silently ignored.
//   - MaxResults has each operation's range from EC2's service model
//     (InvalidParameterValue outside; see PaginationOf), and an ID list
//     with MaxResults is InvalidParameterCombination where the model
//     documents it (DescribeInstances, DescribeNetworkInterfaces).
//
// # Load and faults
//
// Throttling is on by default with EC2's documented token buckets, one per
// action, sized by category (see DefaultBuckets and CategoryOf); an empty
// bucket answers RequestLimitExceeded, which a server maps to HTTP 503 with
// HTTPStatus. SetLatency delays calls, InjectFault fails them (with a
// probability or on the Nth call) or loses their response after applying
// them (ErrLostResponse, the failure that leaks interfaces in production).
// All waiting uses the time package, so whole simulations run in
// testing/synctest bubbles in virtual time, and every pseudo-random choice
// (IDs, jitter, faults, lags) is a function of Options.Seed and of the
// request that makes it, not of the order in which concurrent calls arrive.
//
// Calls, CallsOf, Count and AllCounts expose a call log and per-action
// counters for assertions and benchmarks. The controls name actions with the
// Action constants (ActionCreateNetworkInterface, …) and panic on an action
// the fake does not implement, so a misspelt name fails loudly instead of
// letting a fault test pass without injecting anything.
//
// # Eventual consistency
//
// EC2 is eventually consistent, and Options.Consistency (or SetConsistency)
// models it: a new resource stays unknown for a while (not listed, NotFound
// to calls that name it), instances are pending before they run,
// attachments attaching before attached, and associations, detachments and
// deletions take a while to show. The zero value is strongly consistent, for
// small unit tests; EventualConsistency is the preset for scenario tests,
// with lags from EC2's guidance to clients. See Consistency.
//
// # Seeding
//
// State can be built through the API or with the Add* builders (AddVPC,
// AddSubnet, AddSecurityGroup, AddIngress, AddNode, AddTrunk, AddBranch,
// Tag), which skip throttling and the log, and whose results every call
// knows at once, whatever the Consistency: they build the world as it stands
// before the test. SeedTutorial builds the world the EKS tutorial "Security
// groups for pods" starts from.
//
// An *EC2 is safe for concurrent use by any number of goroutines.
package fake
