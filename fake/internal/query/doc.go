// Package query encodes and decodes the EC2 query protocol ("ec2query") using
// the aws-sdk-go-v2 Input and Output types themselves, by reflection.
//
// A request is a form ("Action=CreateNetworkInterface&Version=2016-11-15&
// SubnetId=subnet-1&SecurityGroupId.1=sg-1&TagSpecification.1.Tag.1.Key=k"):
// lists are flattened with 1-based indexes and nested structures are joined
// with dots. A response is XML whose root element is the action name followed
// by "Response", with lower-camel element names and lists wrapped as
// <groupSet><item>…</item></groupSet>. Errors use EC2's own envelope,
// <Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>.
//
// Wire names cannot be derived from Go field names
// (CreateNetworkInterfaceInput.Groups is "SecurityGroupId.N" on the wire,
// NetworkInterface.Groups is "groupSet"), so the package takes them from the
// SDK:
//
//   - Request names are learned the first time an Input type is decoded: the
//     package fills an Input with distinct sentinel values, runs it through
//     the SDK's own serializer on an ec2.Client whose HTTP client captures the
//     body and never touches the network, and inverts the resulting form.
//   - Response names come from a table generated (go generate, see shapegen)
//     from the SDK's deserializers.go. It covers the outputs of the operations
//     listed in operations.txt; [Operations] reports them.
//
// Round-trip tests drive a real ec2.Client against both directions, so an SDK
// upgrade that changes a name fails the tests instead of the wire.
//
// All functions are safe for concurrent use.
package query
