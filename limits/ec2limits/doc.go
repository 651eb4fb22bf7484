// Package ec2limits fills the limits table with instance types it lacks,
// from EC2's DescribeInstanceTypes.
//
// The built-in table of package limits is a snapshot; EC2 launches types
// after it. DescribeInstanceTypes reports everything about a type's
// networking that podsg needs — ENIs, IPv4 addresses per ENI, network cards,
// default card, hypervisor, bare metal — except branch-ENI counts, which no
// public API exposes. So:
//
//   - FromInstanceTypeInfo converts one types.InstanceTypeInfo into a
//     limits.Limits that is not trunking-compatible (MaxBranchENIs 0).
//   - Refresh pages through DescribeInstanceTypes and returns a *limits.Table
//     made of a base table (limits.Default unless Options.Base says otherwise)
//     plus every described type the base lacks. For types the base already
//     has, the base row wins — it is the only source of branch counts — unless
//     Options.UpdateKnown asks for EC2's ENI, address and card figures, and
//     even then the base's trunking and branch count are kept.
//   - Options.BranchENIs supplies branch counts the operator knows, for new
//     types (making them trunking-compatible) or to replace a base row's.
//
// Refresh never removes rows: a type EC2 does not describe (another region,
// a filtered request) keeps its base row.
//
// The package calls EC2 through DescribeInstanceTypesAPI, a one-method
// interface with the SDK's exact signature, so *ec2.Client and any test fake
// satisfy it. Retries and throttling are left to the client's retryer.
//
// Unlike package limits, this package imports the EC2 SDK; node-side code
// that must not compile the SDK should import only package limits.
package ec2limits
