package fake

import (
	"encoding/base64"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// page describes the pagination limits of one Describe action.
type page struct {
	// idField and idParam are the Go and wire names of the ID list that
	// cannot be combined with MaxResults; empty when the combination is
	// allowed.
	idField, idParam string
	min, max         int32
}

// pages are the pagination limits of the Describe actions. The ranges are
// the @range traits of the MaxResults shapes in EC2's service model
// (DescribeNetworkInterfacesMaxResults 5..1000, DITMaxResults 5..100,
// DescribeTrunkInterfaceAssociationsMaxResults 5..255, and so on; the same
// numbers are in botocore's ec2 service-2.json). aws-sdk-go-v2 renders a
// range into the doc comment only for some operations; where it does, a
// test checks that it agrees (package ec2doc). DescribeInstances' member has
// no range trait; its documented range is 5..1000 (EC2 API Reference,
// DescribeInstances MaxResults, "This value can be between 5 and 1000").
//
// An ID list and MaxResults exclude each other only where the model's
// documentation says so ("You cannot specify this parameter and the
// instance IDs parameter in the same request"): DescribeInstances and
// DescribeNetworkInterfaces (ec2doc.Input.MaxResultsExcludes; checked by a
// test). Elsewhere IDs and MaxResults combine, which is what aws-sdk-ruby
// relies on when it sets MaxResults on every resource collection, breaking
// only the operations whose documentation excludes it (aws/aws-sdk-ruby#3028).
var pages = map[Action]page{
	ActionDescribeInstanceTypes:              {min: 5, max: 100},
	ActionDescribeInstances:                  {idField: "InstanceIds", idParam: "instancesSet", min: 5, max: 1000},
	ActionDescribeNetworkInterfaces:          {idField: "NetworkInterfaceIds", idParam: "NetworkInterfaceIds", min: 5, max: 1000},
	ActionDescribeSecurityGroupRules:         {min: 5, max: 1000},
	ActionDescribeSecurityGroups:             {min: 5, max: 1000},
	ActionDescribeSubnets:                    {min: 5, max: 1000},
	ActionDescribeTrunkInterfaceAssociations: {min: 5, max: 255},
	ActionDescribeVpcs:                       {min: 5, max: 1000},
}

// Pagination is how a Describe action paginates: the range of MaxResults
// and the ID list (by its Go field name) that cannot be combined with it, or
// "". It is a plain value.
type Pagination struct {
	MinResults, MaxResults int32
	Excludes               string
}

// PaginationOf returns how action paginates, and false for an action that
// does not (a mutating one). Tests use it to check the table against the
// SDK's documentation.
func PaginationOf(action Action) (Pagination, bool) {
	p, ok := pages[action]
	if !ok {
		return Pagination{}, false
	}
	return Pagination{MinResults: p.min, MaxResults: p.max, Excludes: p.idField}, true
}

// paginate checks MaxResults and NextToken, then returns the slice of ids
// (sorted) that forms the requested page, and the token of the next page.
// haveIDs tells whether the request listed IDs explicitly, which some
// actions do not allow together with MaxResults.
func (p page) paginate(ids []string, maxResults *int32, nextToken *string, haveIDs bool) ([]string, *string, error) {
	if err := p.check(maxResults, haveIDs); err != nil {
		return nil, nil, err
	}
	start := 0
	if tok := aws.ToString(nextToken); tok != "" {
		after, err := decodeToken(tok)
		if err != nil {
			return nil, nil, err
		}
		start, _ = slices.BinarySearch(ids, after)
		if start < len(ids) && ids[start] == after {
			start++
		}
	}
	ids = ids[start:]
	if maxResults == nil || int(*maxResults) >= len(ids) {
		return ids, nil, nil
	}
	ids = ids[:*maxResults]
	return ids, aws.String(encodeToken(ids[len(ids)-1])), nil
}

// check validates MaxResults, and its combination with an ID list, before
// the request looks at anything else.
func (p page) check(maxResults *int32, haveIDs bool) error {
	if maxResults == nil {
		return nil
	}
	if haveIDs && p.idParam != "" {
		return apiError(CodeInvalidParameterCombination,
			"The parameter %s cannot be used with the parameter maxResults", p.idParam)
	}
	if n := *maxResults; n < p.min || n > p.max {
		return invalidValue("Value ( %d ) for parameter maxResults is invalid. "+
			"Expecting a value between %d and %d.", n, p.min, p.max)
	}
	return nil
}

const tokenPrefix = "fake1:"

func encodeToken(after string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(tokenPrefix + after))
}

func decodeToken(tok string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	after, ok := strings.CutPrefix(string(raw), tokenPrefix)
	if err != nil || !ok || after == "" {
		return "", apiError(CodeInvalidPaginationToken, "Invalid pagination token: %s", tok)
	}
	return after, nil
}

// filtered tells the throttler whether a Describe request narrowed its
// result.
func filtered(fs []types.Filter, ids int, maxResults *int32) bool {
	return len(fs) > 0 || ids > 0 || maxResults != nil
}

// dedupe returns ids without repeats, in first-seen order.
func dedupe(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
