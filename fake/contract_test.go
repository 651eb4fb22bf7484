package fake_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/fake"
	"github.com/podsg/podsg/fake/internal/ec2doc"
)

// describe calls the Describe action of f by name with an input built by
// set, so that one test covers every Describe action.
func describe(ctx context.Context, f *fake.EC2, action fake.Action, set func(in reflect.Value)) error {
	m := reflect.ValueOf(f).MethodByName(string(action))
	in := reflect.New(m.Type().In(1).Elem())
	set(in.Elem())
	out := m.Call([]reflect.Value{reflect.ValueOf(ctx), in})
	err, _ := out[1].Interface().(error)
	return err
}

func describeActions() []fake.Action {
	var out []fake.Action
	for _, a := range fake.Actions() {
		if strings.HasPrefix(string(a), "Describe") {
			out = append(out, a)
		}
	}
	return out
}

func withFilters(fs ...types.Filter) func(reflect.Value) {
	return func(in reflect.Value) { in.FieldByName("Filters").Set(reflect.ValueOf(fs)) }
}

// TestDocumentedFiltersAreAccepted calls every Describe action with every
// filter name the SDK documents for it: each is either evaluated or refused
// as not modelled by the fake, never called invalid. The names on the
// evidence list are evaluated.
func TestDocumentedFiltersAreAccepted(t *testing.T) {
	ctx := t.Context()
	f := fake.New(fake.Options{DisableThrottling: true})
	_, err := fake.SeedTutorial(ctx, f)
	require.NoError(t, err)
	modelled := 0
	for _, a := range describeActions() {
		doc, ok := ec2doc.Lookup(string(a))
		require.True(t, ok, a)
		for _, name := range doc.Filters {
			if name == "tag:" {
				name = "tag:Name"
			}
			err := describe(ctx, f, a, withFilters(types.Filter{Name: aws.String(name), Values: []string{"x*"}}))
			if err == nil {
				modelled++
				continue
			}
			require.Equal(t, fake.CodeInvalidParameterValue, fake.ErrorCode(err), "%s %s: %v", a, name, err)
			require.Contains(t, err.Error(), "does not model it", "%s %s", a, name)
		}
	}
	require.Greater(t, modelled, 60, "the fake models most of what podsg and its tests filter on")
	for _, e := range fake.UndocumentedFilters() {
		err := describe(ctx, f, e.Action, withFilters(types.Filter{Name: aws.String(e.Name), Values: []string{"x"}}))
		require.NoError(t, err, "%s %s (%s)", e.Action, e.Name, e.Source)
	}
}

// TestUndocumentedFiltersAreRefused checks names EC2 does not document for
// the operation, several of which the fake used to accept, and a misspelt
// documented one: EC2's answer is InvalidParameterValue, "The filter '…' is
// invalid".
func TestUndocumentedFiltersAreRefused(t *testing.T) {
	ctx := t.Context()
	f := fake.New(fake.Options{DisableThrottling: true})
	tests := []struct {
		action fake.Action
		name   string
	}{
		{fake.ActionDescribeTrunkInterfaceAssociations, "trunk-interface-association.branch-interface-id"},
		{fake.ActionDescribeTrunkInterfaceAssociations, "trunk-interface-association.id"},
		{fake.ActionDescribeTrunkInterfaceAssociations, "vlan-id"},
		{fake.ActionDescribeTrunkInterfaceAssociations, "tag:Name"}, // no tag filters documented
		{fake.ActionDescribeSecurityGroupRules, "is-egress"},
		{fake.ActionDescribeSecurityGroupRules, "referenced-group-id"},
		{fake.ActionDescribeSecurityGroupRules, "cidr"},
		{fake.ActionDescribeSecurityGroupRules, "protocol"},
		{fake.ActionDescribeSecurityGroupRules, "tag-key"},
		{fake.ActionDescribeNetworkInterfaces, "tag-value"},
		{fake.ActionDescribeNetworkInterfaces, "group-name"},
		{fake.ActionDescribeNetworkInterfaces, "attachment.network-card-index"},
		{fake.ActionDescribeNetworkInterfaces, "Attachment.Instance-Id"}, // names are case-sensitive
		{fake.ActionDescribeNetworkInterfaces, "tag:"},                   // a tag filter needs a key
		{fake.ActionDescribeInstances, "group-id"},
		{fake.ActionDescribeSubnets, "cidr"},
		{fake.ActionDescribeVpcs, "cidr-block"},
		{fake.ActionDescribeInstanceTypes, "tag:Name"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s", tt.action, tt.name), func(t *testing.T) {
			err := describe(ctx, f, tt.action, withFilters(types.Filter{Name: aws.String(tt.name), Values: []string{"x"}}))
			require.Equal(t, fake.CodeInvalidParameterValue, fake.ErrorCode(err), "%v", err)
			require.ErrorContains(t, err, fmt.Sprintf("The filter '%s' is invalid", tt.name))
		})
	}
}

// TestFilterValueLimit checks EC2's limit of 200 filter values per call,
// counted over all the filters of the request.
func TestFilterValueLimit(t *testing.T) {
	ctx := t.Context()
	f := fake.New(fake.Options{DisableThrottling: true})
	values := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("i-%017x", i)
		}
		return out
	}
	for _, a := range describeActions() {
		doc, _ := ec2doc.Lookup(string(a))
		name := doc.Filters[0]
		if name == "tag:" {
			name = "tag:Name"
		}
		flt := func(n int) types.Filter { return types.Filter{Name: aws.String(name), Values: values(n)} }
		t.Run(string(a), func(t *testing.T) {
			err := describe(ctx, f, a, withFilters(flt(150), flt(50)))
			if err != nil {
				require.NotEqual(t, fake.CodeFilterLimitExceeded, fake.ErrorCode(err), "200 values are allowed")
			}
			err = describe(ctx, f, a, withFilters(flt(150), flt(51)))
			require.Equal(t, fake.CodeFilterLimitExceeded, fake.ErrorCode(err), "%v", err)
			require.ErrorContains(t, err, "The maximum number of filter values specified on a single call is 200")
			err = describe(ctx, f, a, withFilters(flt(201)))
			require.Equal(t, fake.CodeFilterLimitExceeded, fake.ErrorCode(err))
		})
	}
}

// TestPaginationFollowsTheSDK checks every Describe action's MaxResults
// range and ID exclusion against the SDK's documentation where it states
// them, then checks the behaviour: the bounds pass, one beyond them is
// InvalidParameterValue, and an excluded ID list with MaxResults is
// InvalidParameterCombination (and accepted elsewhere).
func TestPaginationFollowsTheSDK(t *testing.T) {
	ctx := t.Context()
	f := fake.New(fake.Options{DisableThrottling: true})
	for _, a := range describeActions() {
		t.Run(string(a), func(t *testing.T) {
			p, ok := fake.PaginationOf(a)
			require.True(t, ok)
			doc, _ := ec2doc.Lookup(string(a))
			require.True(t, doc.HasMaxResults)
			if doc.MaxResultsMax > 0 {
				require.Equal(t, [2]int32{doc.MaxResultsMin, doc.MaxResultsMax}, [2]int32{p.MinResults, p.MaxResults}, "the SDK documents the range")
			}
			require.Equal(t, doc.MaxResultsExcludes, p.Excludes)

			maxResults := func(n int32) func(reflect.Value) {
				return func(in reflect.Value) { in.FieldByName("MaxResults").Set(reflect.ValueOf(aws.Int32(n))) }
			}
			require.NoError(t, describe(ctx, f, a, maxResults(p.MinResults)))
			require.NoError(t, describe(ctx, f, a, maxResults(p.MaxResults)))
			for _, n := range []int32{p.MinResults - 1, p.MaxResults + 1} {
				err := describe(ctx, f, a, maxResults(n))
				require.Equal(t, fake.CodeInvalidParameterValue, fake.ErrorCode(err), "MaxResults %d: %v", n, err)
				require.ErrorContains(t, err, "maxResults")
			}

			ids := reflect.ValueOf(f).MethodByName(string(a)).Type().In(1).Elem()
			for i := range ids.NumField() {
				fld := ids.Field(i)
				if !strings.HasSuffix(fld.Name, "Ids") || fld.Type != reflect.TypeFor[[]string]() {
					continue
				}
				err := describe(ctx, f, a, func(in reflect.Value) {
					maxResults(p.MaxResults)(in)
					in.FieldByName(fld.Name).Set(reflect.ValueOf([]string{"malformed"}))
				})
				if fld.Name == p.Excludes {
					require.Equal(t, fake.CodeInvalidParameterCombination, fake.ErrorCode(err), "%s with MaxResults: %v", fld.Name, err)
				} else {
					require.NotEqual(t, fake.CodeInvalidParameterCombination, fake.ErrorCode(err), "%s with MaxResults: %v", fld.Name, err)
				}
			}
		})
	}
}

// TestEnumsAreChecked gives enumerated parameters values the service model
// does not list: EC2 refuses them with InvalidParameterValue naming the
// parameter and the valid values, before changing anything.
func TestEnumsAreChecked(t *testing.T) {
	ctx := t.Context()
	w := newWorld(t)
	tests := []struct {
		name  string
		call  func() error
		param string
	}{
		{"interface type", func() error {
			_, err := w.f.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(w.subnet), InterfaceType: "Trunk"})
			return err
		}, "interfaceType"},
		{"tag resource type", func() error {
			_, err := w.f.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("g"), Description: aws.String("d"),
				VpcId: aws.String(w.vpc), TagSpecifications: []types.TagSpecification{{ResourceType: "securitygroup"}}})
			return err
		}, "resourceType"},
		{"tenancy", func() error {
			_, err := w.f.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.9.0.0/16"), InstanceTenancy: "shared"})
			return err
		}, "instanceTenancy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(w.f.Calls())
			err := tt.call()
			require.Equal(t, fake.CodeInvalidParameterValue, fake.ErrorCode(err), "%v", err)
			require.ErrorContains(t, err, "for parameter "+tt.param+" is invalid. Valid values are: ")
			require.Equal(t, fake.OutcomeError, w.f.Calls()[before].Outcome)
		})
	}
	// A value of the enumeration passes.
	_, err := w.f.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(w.subnet), InterfaceType: types.NetworkInterfaceCreationTypeTrunk})
	require.NoError(t, err)
}
