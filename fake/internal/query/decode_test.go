package query

import (
	"errors"
	"net/url"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"
)

func TestQueryDecode(t *testing.T) {
	tests := []struct {
		name string
		form string
		into any
		want any
	}{
		{
			name: "wire names differ from Go names",
			form: "SubnetId=subnet-1&SecurityGroupId.1=sg-1&SecurityGroupId.2=sg-2&InterfaceType=trunk&Description=aws-k8s-trunk-eni" +
				"&TagSpecification.1.ResourceType=network-interface&TagSpecification.1.Tag.1.Key=k&TagSpecification.1.Tag.1.Value=v&ClientToken=tok",
			into: &ec2.CreateNetworkInterfaceInput{},
			want: &ec2.CreateNetworkInterfaceInput{
				SubnetId:      aws.String("subnet-1"),
				Groups:        []string{"sg-1", "sg-2"},
				InterfaceType: types.NetworkInterfaceCreationTypeTrunk,
				Description:   aws.String("aws-k8s-trunk-eni"),
				ClientToken:   aws.String("tok"),
				TagSpecifications: []types.TagSpecification{{
					ResourceType: types.ResourceTypeNetworkInterface,
					Tags:         []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}},
				}},
			},
		},
		{
			name: "filters, pagination, list gaps closed in index order",
			form: "Filter.1.Name=tag:owner&Filter.1.Value.10=b&Filter.1.Value.2=a&Filter.2.Name=subnet-id&Filter.2.Value.1=subnet-1&MaxResults=5&NextToken=t",
			into: &ec2.DescribeNetworkInterfacesInput{},
			want: &ec2.DescribeNetworkInterfacesInput{
				Filters: []types.Filter{
					{Name: aws.String("tag:owner"), Values: []string{"a", "b"}},
					{Name: aws.String("subnet-id"), Values: []string{"subnet-1"}},
				},
				MaxResults: aws.Int32(5),
				NextToken:  aws.String("t"),
			},
		},
		{
			name: "nested structure and booleans",
			form: "NetworkInterfaceId=eni-1&Attachment.AttachmentId=eni-attach-1&Attachment.DeleteOnTermination=TRUE&SourceDestCheck.Value=false",
			into: &ec2.ModifyNetworkInterfaceAttributeInput{},
			want: &ec2.ModifyNetworkInterfaceAttributeInput{
				NetworkInterfaceId: aws.String("eni-1"),
				Attachment: &types.NetworkInterfaceAttachmentChanges{
					AttachmentId:        aws.String("eni-attach-1"),
					DeleteOnTermination: aws.Bool(true),
				},
				SourceDestCheck: &types.AttributeBooleanValue{Value: aws.Bool(false)},
			},
		},
		{
			name: "revoke by rule IDs",
			form: "GroupId=sg-1&SecurityGroupRuleId.1=sgr-1&SecurityGroupRuleId.2=sgr-2",
			into: &ec2.RevokeSecurityGroupIngressInput{},
			want: &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String("sg-1"), SecurityGroupRuleIds: []string{"sgr-1", "sgr-2"}},
		},
		{
			name: "empty list spelled as a bare name",
			form: "NetworkInterfaceId=",
			into: &ec2.DescribeNetworkInterfacesInput{},
			want: &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{}},
		},
		{
			name: "nothing",
			form: "",
			into: &ec2.DescribeVpcsInput{},
			want: &ec2.DescribeVpcsInput{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form, err := url.ParseQuery(tt.form)
			require.NoError(t, err)
			require.NoError(t, Decode(form, tt.into))
			if diff := cmp.Diff(tt.want, tt.into, sdkCompare); diff != "" {
				t.Errorf("Decode (-want +got):\n%s", diff)
			}
		})
	}
}

func TestQueryDecodeErrors(t *testing.T) {
	tests := []struct {
		name     string
		form     url.Values
		into     any
		wantCode string
		wantMsg  string
	}{
		{"unknown top-level", url.Values{"Bogus": {"1"}}, &ec2.DeleteVpcInput{}, CodeUnknownParameter, "The parameter Bogus is not recognized"},
		{"unknown nested", url.Values{"Filter.1.Nom": {"x"}}, &ec2.DescribeSubnetsInput{}, CodeUnknownParameter, "The parameter Filter.1.Nom is not recognized"},
		{"Go name instead of wire name", url.Values{"Groups.1": {"sg-1"}}, &ec2.CreateNetworkInterfaceInput{}, CodeUnknownParameter, "The parameter Groups.1 is not recognized"},
		{"value for a structure", url.Values{"Attachment": {"x"}}, &ec2.ModifyNetworkInterfaceAttributeInput{}, CodeUnknownParameter, "The parameter Attachment is not recognized"},
		{"below a scalar", url.Values{"SubnetId.Foo": {"x"}}, &ec2.CreateNetworkInterfaceInput{}, CodeUnknownParameter, "The parameter SubnetId.Foo is not recognized"},
		{"list without index", url.Values{"SecurityGroupId": {"sg-1"}}, &ec2.CreateNetworkInterfaceInput{}, CodeUnknownParameter, "The parameter SecurityGroupId is not recognized"},
		{"trailing dot", url.Values{"SubnetId.": {"x"}}, &ec2.CreateNetworkInterfaceInput{}, CodeUnknownParameter, "The parameter SubnetId. is not recognized"},
		{"bad integer", url.Values{"MaxResults": {"ten"}}, &ec2.DescribeVpcsInput{}, CodeInvalidParameterValue, "Value (ten) for parameter MaxResults is invalid. Expected an integer."},
		{"integer overflow", url.Values{"VlanId": {"99999999999"}}, &ec2.AssociateTrunkInterfaceInput{}, CodeInvalidParameterValue, "Value (99999999999) for parameter VlanId is invalid. Expected an integer."},
		{"bad boolean", url.Values{"DryRun": {"yes"}}, &ec2.DescribeVpcsInput{}, CodeInvalidParameterValue, "Value (yes) for parameter DryRun is invalid. Expected true or false."},
		{"index zero", url.Values{"SecurityGroupId.0": {"sg-1"}}, &ec2.CreateNetworkInterfaceInput{}, CodeInvalidParameterValue, `The parameter SecurityGroupId.0 has list index "0"; indexes are decimal integers from 1.`},
		{"padded index", url.Values{"SecurityGroupId.01": {"sg-1"}}, &ec2.CreateNetworkInterfaceInput{}, CodeInvalidParameterValue, `The parameter SecurityGroupId.01 has list index "01"; indexes are decimal integers from 1.`},
		{"repeated", url.Values{"SubnetId": {"a", "b"}}, &ec2.CreateNetworkInterfaceInput{}, CodeInvalidParameterValue, "The parameter SubnetId was given 2 times; give it once."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Decode(tt.form, tt.into)
			var apiErr smithy.APIError
			require.ErrorAs(t, err, &apiErr)
			require.Equal(t, tt.wantCode, apiErr.ErrorCode())
			require.Equal(t, tt.wantMsg, apiErr.ErrorMessage())
			require.Equal(t, smithy.FaultClient, apiErr.ErrorFault())
		})
	}
}

func TestQueryUnsupportedTypes(t *testing.T) {
	var n int
	for _, in := range []any{nil, &n, &ec2.Options{}, (*ec2.DescribeVpcsInput)(nil), struct{}{}} {
		require.ErrorIs(t, Decode(url.Values{}, in), ErrUnsupported, "%T", in)
	}
	require.ErrorIs(t, CheckOutput(reflect.TypeFor[ec2.DescribeImagesOutput]()), ErrUnsupported)
	require.ErrorIs(t, CheckOutput(reflect.TypeFor[types.Vpc]()), ErrUnsupported)
	require.ErrorIs(t, EncodeOutput(nil, "DescribeImages", "r", &ec2.DescribeImagesOutput{}), ErrUnsupported)
	require.NoError(t, CheckInput(reflect.TypeFor[ec2.DescribeImagesInput]()), "inputs are learned for any operation")
	require.ErrorIs(t, CheckInput(reflect.TypeFor[types.Vpc]()), ErrUnsupported)
}

// FuzzQueryDecode checks that Decode never panics and that whatever it
// accepts survives a trip through the SDK's serializer unchanged.
func FuzzQueryDecode(f *testing.F) {
	f.Add("SubnetId=subnet-1&SecurityGroupId.1=sg-1&TagSpecification.1.Tag.1.Key=k&Ipv6AddressCount=2")
	f.Add("SecurityGroupId.3=a&SecurityGroupId.1=b&PrivateIpAddresses.1.Primary=true&PrivateIpAddresses.1.PrivateIpAddress=10.0.0.1")
	f.Add("ConnectionTrackingSpecification.TcpEstablishedTimeout=60&Description=%26%3C")
	f.Add("SecurityGroupId=&Ipv4Prefix.2.Ipv4Prefix=10.0.0.0/28")
	f.Fuzz(func(t *testing.T, raw string) {
		form, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		var in ec2.CreateNetworkInterfaceInput
		if err := Decode(form, &in); err != nil {
			var qe *Error
			if !errors.As(err, &qe) {
				t.Fatalf("Decode(%q) = %v, want *Error", raw, err)
			}
			return
		}
		if in.ClientToken == nil {
			in.ClientToken = aws.String("fixed") // else the SDK generates one per call
		}
		form1, err := serialize("CreateNetworkInterface", reflect.ValueOf(&in))
		require.NoError(t, err)
		var back ec2.CreateNetworkInterfaceInput
		require.NoError(t, Decode(form1, &back))
		// The protocol cannot spell empty lists or list elements without
		// members, so the SDK drops them: compare what goes on the wire.
		form2, err := serialize("CreateNetworkInterface", reflect.ValueOf(&back))
		require.NoError(t, err)
		if diff := cmp.Diff(form1, form2); diff != "" {
			t.Errorf("decoded input serializes differently after a round trip (-first +second):\n%s", diff)
		}
		if diff := cmp.Diff(back, in, sdkCompare, cmpopts.EquateEmpty(), cmpopts.IgnoreFields(ec2.CreateNetworkInterfaceInput{}, "TagSpecifications", "PrivateIpAddresses", "Ipv4Prefixes", "Ipv6Addresses", "Ipv6Prefixes")); diff != "" {
			t.Errorf("scalar members changed in a round trip (-round-tripped +decoded):\n%s", diff)
		}
	})
}
