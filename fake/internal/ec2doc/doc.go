// Package ec2doc is what aws-sdk-go-v2 documents about the inputs of EC2's
// Describe operations, as data: for each operation, the filter names its
// Filters field lists, the range of MaxResults where one is documented, and
// the ID list that cannot be combined with MaxResults.
//
// The table is generated (go generate; see docgen) from the doc comments of
// the SDK version in go.mod, which the SDK renders from EC2's service model,
// so upgrading the SDK updates what package fake accepts. A test regenerates
// it and fails when the committed table is stale.
//
// All functions are safe for concurrent use.
package ec2doc

import "slices"

// Input is what the SDK documents about one operation's input. It is a plain
// value; the slices are shared and must not be modified.
type Input struct {
	// Filters are the documented filter names, sorted. "tag:" stands for
	// tag:<key>, a filter on the value of the tag <key>.
	Filters []string
	// HasMaxResults tells whether the input has a MaxResults field.
	HasMaxResults bool
	// MaxResultsMin and MaxResultsMax are the range of MaxResults the
	// documentation states; both are 0 when it states none.
	MaxResultsMin, MaxResultsMax int32
	// MaxResultsExcludes is the Go name of the ID list ("NetworkInterfaceIds")
	// the documentation says cannot be given together with MaxResults, or "".
	MaxResultsExcludes string
}

// Lookup returns what the SDK documents about the input of operation op
// ("DescribeNetworkInterfaces"), and whether op is in the table.
func Lookup(op string) (Input, bool) {
	in, ok := inputs[op]
	return in, ok
}

// Operations returns the operations in the table, sorted.
func Operations() []string {
	out := make([]string, 0, len(inputs))
	for op := range inputs {
		out = append(out, op)
	}
	slices.Sort(out)
	return out
}

// Documents reports whether the documentation of op lists the filter name.
// A name "tag:<key>" with a non-empty key matches the documented "tag:".
func (in Input) Documents(name string) bool {
	if key, ok := cutTag(name); ok {
		return key != "" && slices.Contains(in.Filters, "tag:")
	}
	_, ok := slices.BinarySearch(in.Filters, name)
	return ok
}

func cutTag(name string) (string, bool) {
	if len(name) >= 4 && name[:4] == "tag:" {
		return name[4:], true
	}
	return "", false
}
