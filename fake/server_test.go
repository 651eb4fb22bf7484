package fake_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/fake"
)

// startServer serves f on a free local port for the duration of the test
// and returns a real SDK client for it that does not retry.
func startServer(t testing.TB, f any, opts ...fake.ServerOptions) (*fake.Server, *ec2.Client) {
	t.Helper()
	srv, err := fake.NewServer(f, opts...)
	require.NoError(t, err)
	require.NoError(t, srv.Start("127.0.0.1:0"))
	t.Cleanup(func() { require.NoError(t, srv.Shutdown(context.WithoutCancel(t.Context()))) })
	return srv, srv.Client(func(o *ec2.Options) { o.Retryer = aws.NopRetryer{} })
}

func apiError(t *testing.T, err error) smithy.APIError {
	t.Helper()
	var ae smithy.APIError
	require.ErrorAs(t, err, &ae)
	return ae
}

func httpStatus(t *testing.T, err error) int {
	t.Helper()
	var re *awshttp.ResponseError
	require.ErrorAs(t, err, &re)
	return re.HTTPStatusCode()
}

func tagSpec(rt types.ResourceType, kv ...string) []types.TagSpecification {
	spec := types.TagSpecification{ResourceType: rt}
	for i := 0; i+1 < len(kv); i += 2 {
		spec.Tags = append(spec.Tags, types.Tag{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
	}
	return []types.TagSpecification{spec}
}

// TestServerServesEveryOperation checks that every method *fake.EC2 shares
// with *ec2.Client (same name, same signature) is served over HTTP.
func TestServerServesEveryOperation(t *testing.T) {
	srv, err := fake.NewServer(fake.New())
	require.NoError(t, err)
	var want []string
	fv, cv := reflect.ValueOf(fake.New()), reflect.ValueOf(&ec2.Client{})
	for i := range fv.NumMethod() {
		name := fv.Type().Method(i).Name
		if cm := cv.MethodByName(name); cm.IsValid() && cm.Type() == fv.Method(i).Type() {
			want = append(want, name)
		}
	}
	require.NotEmpty(t, want)
	if diff := cmp.Diff(want, srv.Operations()); diff != "" {
		t.Errorf("served operations (-EC2 methods with ec2.Client signatures +served):\n%s", diff)
	}
}

// TestServerEveryOperation walks a whole lifecycle through a real SDK
// client over HTTP, touching every operation the server serves, and checks
// the answers.
func TestServerEveryOperation(t *testing.T) {
	f := fake.New(fake.Options{DisableThrottling: true})
	srv, c := startServer(t, f)
	ctx := t.Context()

	vpc, err := c.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16"), TagSpecifications: tagSpec(types.ResourceTypeVpc, "Name", "wire")})
	require.NoError(t, err)
	vpcID := aws.ToString(vpc.Vpc.VpcId)
	require.True(t, strings.HasPrefix(vpcID, "vpc-"), vpcID)
	vpcs, err := c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{vpcID}})
	require.NoError(t, err)
	require.Len(t, vpcs.Vpcs, 1)
	require.Equal(t, "10.0.0.0/16", aws.ToString(vpcs.Vpcs[0].CidrBlock))

	sub, err := c.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(vpcID), CidrBlock: aws.String("10.0.1.0/24"), AvailabilityZone: aws.String(srv.Region() + "a")})
	require.NoError(t, err)
	subnetID := aws.ToString(sub.Subnet.SubnetId)
	subs, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []types.Filter{{Name: aws.String("vpc-id"), Values: []string{vpcID}}}})
	require.NoError(t, err)
	require.Len(t, subs.Subnets, 1)
	require.Equal(t, subnetID, aws.ToString(subs.Subnets[0].SubnetId))
	require.Equal(t, int32(251), aws.ToInt32(subs.Subnets[0].AvailableIpAddressCount), "a /24 minus EC2's five reserved addresses")

	// Dual-stack: an Amazon-provided /56 for the VPC, a /64 of it for the
	// subnet.
	v6, err := c.AssociateVpcCidrBlock(ctx, &ec2.AssociateVpcCidrBlockInput{VpcId: aws.String(vpcID), AmazonProvidedIpv6CidrBlock: aws.Bool(true)})
	require.NoError(t, err)
	block := netip.MustParsePrefix(aws.ToString(v6.Ipv6CidrBlockAssociation.Ipv6CidrBlock))
	require.Equal(t, 56, block.Bits())
	require.Equal(t, "Amazon", aws.ToString(v6.Ipv6CidrBlockAssociation.Ipv6Pool))
	sub64 := netip.PrefixFrom(block.Addr(), 64)
	s6, err := c.AssociateSubnetCidrBlock(ctx, &ec2.AssociateSubnetCidrBlockInput{SubnetId: aws.String(subnetID), Ipv6CidrBlock: aws.String(sub64.String())})
	require.NoError(t, err)
	require.Equal(t, types.SubnetCidrBlockStateCodeAssociating, s6.Ipv6CidrBlockAssociation.Ipv6CidrBlockState.State)
	subs, err = c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{subnetID}})
	require.NoError(t, err)
	require.Len(t, subs.Subnets[0].Ipv6CidrBlockAssociationSet, 1)
	require.Equal(t, sub64.String(), aws.ToString(subs.Subnets[0].Ipv6CidrBlockAssociationSet[0].Ipv6CidrBlock))
	require.Equal(t, types.SubnetCidrBlockStateCodeAssociated, subs.Subnets[0].Ipv6CidrBlockAssociationSet[0].Ipv6CidrBlockState.State)

	sg, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
		GroupName: aws.String("pods"), Description: aws.String("pod group"), VpcId: aws.String(vpcID),
		TagSpecifications: tagSpec(types.ResourceTypeSecurityGroup, "team", "net"),
	})
	require.NoError(t, err)
	sgID := aws.ToString(sg.GroupId)
	groups, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{sgID}})
	require.NoError(t, err)
	require.Len(t, groups.SecurityGroups, 1)
	require.Equal(t, "pods", aws.ToString(groups.SecurityGroups[0].GroupName))
	require.Equal(t, []types.Tag{{Key: aws.String("team"), Value: aws.String("net")}}, groups.SecurityGroups[0].Tags)

	in, err := c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(sgID), IpPermissions: []types.IpPermission{{
		IpProtocol: aws.String("tcp"), FromPort: aws.Int32(443), ToPort: aws.Int32(443),
		IpRanges: []types.IpRange{{CidrIp: aws.String("10.0.0.0/8"), Description: aws.String("https")}},
	}}})
	require.NoError(t, err)
	require.True(t, aws.ToBool(in.Return))
	require.Len(t, in.SecurityGroupRules, 1)
	ingressRuleID := aws.ToString(in.SecurityGroupRules[0].SecurityGroupRuleId)
	require.True(t, strings.HasPrefix(ingressRuleID, "sgr-"), ingressRuleID)
	eg, err := c.AuthorizeSecurityGroupEgress(ctx, &ec2.AuthorizeSecurityGroupEgressInput{GroupId: aws.String(sgID), IpPermissions: []types.IpPermission{{
		IpProtocol: aws.String("udp"), FromPort: aws.Int32(53), ToPort: aws.Int32(53),
		UserIdGroupPairs: []types.UserIdGroupPair{{GroupId: aws.String(sgID)}},
	}}})
	require.NoError(t, err)
	require.Len(t, eg.SecurityGroupRules, 1)
	rules, err := c.DescribeSecurityGroupRules(ctx, &ec2.DescribeSecurityGroupRulesInput{Filters: []types.Filter{{Name: aws.String("group-id"), Values: []string{sgID}}}})
	require.NoError(t, err)
	require.Len(t, rules.SecurityGroupRules, 3, "default egress, the ingress and the egress rule")

	itypes, err := c.DescribeInstanceTypes(ctx, &ec2.DescribeInstanceTypesInput{InstanceTypes: []types.InstanceType{types.InstanceTypeM5Large}})
	require.NoError(t, err)
	require.Len(t, itypes.InstanceTypes, 1)
	require.Equal(t, int32(3), aws.ToInt32(itypes.InstanceTypes[0].NetworkInfo.MaximumNetworkInterfaces))

	run, err := c.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: aws.String("ami-0123456789abcdef0"), InstanceType: types.InstanceTypeM5Large,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: aws.String(subnetID), SecurityGroupIds: []string{sgID},
	})
	require.NoError(t, err)
	require.Len(t, run.Instances, 1)
	instanceID := aws.ToString(run.Instances[0].InstanceId)
	insts, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{instanceID}})
	require.NoError(t, err)
	require.Len(t, insts.Reservations, 1)
	require.Len(t, insts.Reservations[0].Instances[0].NetworkInterfaces, 1, "the primary interface")

	trunk, err := c.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{
		SubnetId: aws.String(subnetID), Groups: []string{sgID}, InterfaceType: types.NetworkInterfaceCreationTypeTrunk,
		Description: aws.String("aws-k8s-trunk-eni"),
	})
	require.NoError(t, err)
	trunkID := aws.ToString(trunk.NetworkInterface.NetworkInterfaceId)
	require.Equal(t, types.NetworkInterfaceTypeTrunk, trunk.NetworkInterface.InterfaceType)
	att, err := c.AttachNetworkInterface(ctx, &ec2.AttachNetworkInterfaceInput{NetworkInterfaceId: aws.String(trunkID), InstanceId: aws.String(instanceID), DeviceIndex: aws.Int32(2)})
	require.NoError(t, err)
	_, err = c.ModifyNetworkInterfaceAttribute(ctx, &ec2.ModifyNetworkInterfaceAttributeInput{NetworkInterfaceId: aws.String(trunkID),
		Attachment: &types.NetworkInterfaceAttachmentChanges{AttachmentId: att.AttachmentId, DeleteOnTermination: aws.Bool(true)}})
	require.NoError(t, err)

	branch, err := c.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{
		SubnetId: aws.String(subnetID), Groups: []string{sgID}, Description: aws.String("aws-k8s-branch-eni"),
		TagSpecifications: tagSpec(types.ResourceTypeNetworkInterface, "vpcresources.k8s.aws/trunk-eni-id", trunkID),
		Ipv6AddressCount:  aws.Int32(1),
	})
	require.NoError(t, err)
	branchID := aws.ToString(branch.NetworkInterface.NetworkInterfaceId)
	perm, err := c.CreateNetworkInterfacePermission(ctx, &ec2.CreateNetworkInterfacePermissionInput{
		NetworkInterfaceId: aws.String(branchID), Permission: types.InterfacePermissionTypeInstanceAttach, AwsAccountId: aws.String("123456789012"),
	})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(aws.ToString(perm.InterfacePermission.NetworkInterfacePermissionId), "eni-perm-"), aws.ToString(perm.InterfacePermission.NetworkInterfacePermissionId))
	require.Equal(t, types.NetworkInterfacePermissionStateCodeGranted, perm.InterfacePermission.PermissionState.State)
	assoc, err := c.AssociateTrunkInterface(ctx, &ec2.AssociateTrunkInterfaceInput{BranchInterfaceId: aws.String(branchID), TrunkInterfaceId: aws.String(trunkID), VlanId: aws.Int32(7)})
	require.NoError(t, err)
	assocID := aws.ToString(assoc.InterfaceAssociation.AssociationId)
	require.True(t, strings.HasPrefix(assocID, "trunk-assoc-"), assocID)
	assocs, err := c.DescribeTrunkInterfaceAssociations(ctx, &ec2.DescribeTrunkInterfaceAssociationsInput{AssociationIds: []string{assocID}})
	require.NoError(t, err)
	require.Len(t, assocs.InterfaceAssociations, 1)
	require.Equal(t, int32(7), aws.ToInt32(assocs.InterfaceAssociations[0].VlanId))

	_, err = c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{branchID}, Tags: []types.Tag{{Key: aws.String("vpcresources.k8s.aws/vlan-id"), Value: aws.String("7")}, {Key: aws.String("scratch"), Value: aws.String("x")}}})
	require.NoError(t, err)
	_, err = c.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: []string{branchID}, Tags: []types.Tag{{Key: aws.String("scratch")}}})
	require.NoError(t, err)
	enis, err := c.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{Filters: []types.Filter{
		{Name: aws.String("tag:vpcresources.k8s.aws/trunk-eni-id"), Values: []string{trunkID}},
		{Name: aws.String("description"), Values: []string{"aws-k8s-branch-eni"}},
	}})
	require.NoError(t, err)
	require.Len(t, enis.NetworkInterfaces, 1)
	got := enis.NetworkInterfaces[0]
	require.Equal(t, branchID, aws.ToString(got.NetworkInterfaceId))
	require.Equal(t, types.NetworkInterfaceTypeBranch, got.InterfaceType)
	require.Equal(t, []types.GroupIdentifier{{GroupId: aws.String(sgID), GroupName: aws.String("pods")}}, got.Groups)
	require.Len(t, got.TagSet, 2)
	require.NotEmpty(t, aws.ToString(got.MacAddress))
	require.NotEmpty(t, aws.ToString(got.PrivateIpAddress))
	require.Len(t, got.Ipv6Addresses, 1)
	require.Equal(t, aws.ToString(got.Ipv6Addresses[0].Ipv6Address), aws.ToString(got.Ipv6Address))
	require.True(t, sub64.Contains(netip.MustParseAddr(aws.ToString(got.Ipv6Address))), aws.ToString(got.Ipv6Address))

	_, err = c.DisassociateTrunkInterface(ctx, &ec2.DisassociateTrunkInterfaceInput{AssociationId: aws.String(assocID)})
	require.NoError(t, err)
	_, err = c.DeleteNetworkInterface(ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: aws.String(branchID)})
	require.NoError(t, err)
	_, err = c.DetachNetworkInterface(ctx, &ec2.DetachNetworkInterfaceInput{AttachmentId: att.AttachmentId})
	require.NoError(t, err)
	_, err = c.DeleteNetworkInterface(ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: aws.String(trunkID)})
	require.NoError(t, err)

	_, err = c.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(sgID), SecurityGroupRuleIds: []string{ingressRuleID}})
	require.NoError(t, err)
	_, err = c.RevokeSecurityGroupEgress(ctx, &ec2.RevokeSecurityGroupEgressInput{GroupId: aws.String(sgID), IpPermissions: []types.IpPermission{{
		IpProtocol: aws.String("udp"), FromPort: aws.Int32(53), ToPort: aws.Int32(53), UserIdGroupPairs: []types.UserIdGroupPair{{GroupId: aws.String(sgID)}},
	}}})
	require.NoError(t, err)
	rules, err = c.DescribeSecurityGroupRules(ctx, &ec2.DescribeSecurityGroupRulesInput{Filters: []types.Filter{{Name: aws.String("group-id"), Values: []string{sgID}}}})
	require.NoError(t, err)
	require.Len(t, rules.SecurityGroupRules, 1, "only the default egress rule is left")

	term, err := c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{instanceID}})
	require.NoError(t, err)
	require.Len(t, term.TerminatingInstances, 1)
	_, err = c.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(sgID)})
	require.NoError(t, err)
	_, err = c.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: aws.String(subnetID)})
	require.NoError(t, err)
	_, err = c.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: aws.String(vpcID)})
	require.NoError(t, err)

	var called []string
	for action, n := range f.AllCounts() {
		if n.Calls > 0 {
			called = append(called, string(action))
		}
	}
	slices.Sort(called)
	if diff := cmp.Diff(srv.Operations(), called); diff != "" {
		t.Errorf("operations exercised over HTTP (-served +called):\n%s", diff)
	}
}

// TestServerErrors checks that EC2 errors reach the SDK with their code,
// message and HTTP status.
func TestServerErrors(t *testing.T) {
	f := fake.New(fake.Options{DisableThrottling: true})
	_, c := startServer(t, f)
	ctx := t.Context()
	vpcID := f.AddVPC("10.1.0.0/16")
	subnetID := f.AddSubnet(vpcID, "10.1.0.0/24", "")
	sgID := f.AddSecurityGroup(vpcID, "in-use")
	f.AddENI(subnetID, "holds the group", sgID)

	tests := []struct {
		name       string
		call       func() error
		wantCode   string
		wantMsg    string
		wantStatus int
	}{
		{
			name: "unknown group on create",
			call: func() error {
				_, err := c.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(subnetID), Groups: []string{"sg-0123456789abcdef0"}})
				return err
			},
			wantCode: "InvalidSecurityGroupID.NotFound", wantMsg: "The securityGroup ID 'sg-0123456789abcdef0' does not exist", wantStatus: 400,
		},
		{
			name: "unknown interface",
			call: func() error {
				_, err := c.DeleteNetworkInterface(ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: aws.String("eni-0123456789abcdef0")})
				return err
			},
			wantCode: "InvalidNetworkInterfaceID.NotFound", wantMsg: "The networkInterface ID 'eni-0123456789abcdef0' does not exist", wantStatus: 400,
		},
		{
			name: "group in use",
			call: func() error {
				_, err := c.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(sgID)})
				return err
			},
			wantCode: "DependencyViolation", wantStatus: 400,
		},
		{
			name: "dry run",
			call: func() error {
				_, err := c.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.8.0.0/16"), DryRun: aws.Bool(true)})
				return err
			},
			wantCode: "DryRunOperation", wantMsg: "Request would have succeeded, but DryRun flag is set.", wantStatus: 412,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			ae := apiError(t, err)
			require.Equal(t, tt.wantCode, ae.ErrorCode())
			if tt.wantMsg != "" {
				require.Equal(t, tt.wantMsg, ae.ErrorMessage())
			} else {
				require.NotEmpty(t, ae.ErrorMessage())
			}
			require.Equal(t, tt.wantStatus, httpStatus(t, err))
			var ge *smithy.GenericAPIError
			require.ErrorAs(t, err, &ge, "EC2 errors surface as *smithy.GenericAPIError")
		})
	}
}

// TestServerProtocolErrors sends hand-made requests to check what the
// server answers before an operation runs.
func TestServerProtocolErrors(t *testing.T) {
	srv, _ := startServer(t, fake.New())
	const sig = "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-west-2/ec2/aws4_request, SignedHeaders=host, Signature=00"
	tests := []struct {
		name       string
		method     string
		form       string
		auth       string
		wantStatus int
		wantBody   []string
	}{
		{"missing action", "POST", "Version=2016-11-15", sig, 400, []string{"<Code>MissingAction</Code>"}},
		{"unknown action", "POST", "Action=DescribeImages&Version=2016-11-15", sig, 400, []string{"<Code>InvalidAction</Code>", "The action DescribeImages is not valid for this web service."}},
		{"unsigned", "POST", "Action=DescribeVpcs&Version=2016-11-15", "", 401, []string{"<Code>MissingAuthenticationToken</Code>"}},
		{"missing version", "POST", "Action=DescribeVpcs", sig, 400, []string{"<Code>MissingParameter</Code>"}},
		{"other version", "POST", "Action=DescribeVpcs&Version=2014-01-01", sig, 400, []string{"<Code>NoSuchVersion</Code>"}},
		{"unknown parameter", "POST", "Action=DescribeVpcs&Version=2016-11-15&VpcIds.1=vpc-1", sig, 400, []string{"<Code>UnknownParameter</Code>", "The parameter VpcIds.1 is not recognized"}},
		{"bad integer", "POST", "Action=DescribeVpcs&Version=2016-11-15&MaxResults=many", sig, 400, []string{"<Code>InvalidParameterValue</Code>"}},
		{"PUT", "PUT", "Action=DescribeVpcs&Version=2016-11-15", sig, 405, []string{"<Code>InvalidHttpRequest</Code>"}},
		{"GET works", "GET", "Action=DescribeVpcs&Version=2016-11-15&VpcId.1=vpc-0123456789abcdef0", sig, 400, []string{"<Code>InvalidVpcID.NotFound</Code>"}},
		{"POST works", "POST", "Action=DescribeVpcs&Version=2016-11-15", sig, 200, []string{`<DescribeVpcsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req *http.Request
			var err error
			if tt.method == "GET" {
				req, err = http.NewRequest(tt.method, srv.URL()+"/?"+tt.form, nil)
			} else {
				req, err = http.NewRequest(tt.method, srv.URL()+"/", strings.NewReader(tt.form))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			require.NoError(t, err)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, resp.Body.Close())
			require.NoError(t, err)
			require.Equal(t, tt.wantStatus, resp.StatusCode, string(body))
			require.Equal(t, "text/xml;charset=UTF-8", resp.Header.Get("Content-Type"))
			for _, want := range tt.wantBody {
				require.Contains(t, string(body), want)
			}
			if resp.StatusCode != 200 {
				require.Regexp(t, `<RequestID>[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}</RequestID>`, string(body))
			}
		})
	}
}

// TestServerPagination pages through interfaces with the SDK's paginator.
func TestServerPagination(t *testing.T) {
	f := fake.New(fake.Options{DisableThrottling: true})
	_, c := startServer(t, f)
	vpcID := f.AddVPC("10.2.0.0/16")
	subnetID := f.AddSubnet(vpcID, "10.2.0.0/24", "")
	other := f.AddSubnet(vpcID, "10.2.1.0/24", "")
	var want []string
	for range 23 {
		want = append(want, f.AddENI(subnetID, "paged"))
		f.AddENI(other, "not paged")
	}
	slices.Sort(want)

	p := ec2.NewDescribeNetworkInterfacesPaginator(c, &ec2.DescribeNetworkInterfacesInput{
		Filters:    []types.Filter{{Name: aws.String("subnet-id"), Values: []string{subnetID}}},
		MaxResults: aws.Int32(5),
	})
	var got []string
	pages := 0
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		require.NoError(t, err)
		pages++
		require.LessOrEqual(t, len(page.NetworkInterfaces), 5)
		for _, eni := range page.NetworkInterfaces {
			got = append(got, aws.ToString(eni.NetworkInterfaceId))
		}
	}
	slices.Sort(got)
	require.Equal(t, want, got)
	require.Equal(t, 5, pages, "23 interfaces in pages of 5")
}

// TestServerThrottling checks that an empty bucket answers 503
// RequestLimitExceeded, which the SDK classifies as throttling.
func TestServerThrottling(t *testing.T) {
	f := fake.New()
	f.SetActionBucket(fake.ActionDescribeVpcs, fake.Bucket{Size: 2, RefillPerSecond: 0.001})
	_, c := startServer(t, f)
	ctx := t.Context()
	for range 2 {
		_, err := c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
		require.NoError(t, err)
	}
	_, err := c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
	ae := apiError(t, err)
	require.Equal(t, fake.CodeRequestLimitExceeded, ae.ErrorCode())
	require.Equal(t, http.StatusServiceUnavailable, httpStatus(t, err))
	require.True(t, fake.IsThrottle(err))
	require.Equal(t, 1, f.Count(fake.ActionDescribeVpcs).Throttled)
}

// TestServerLostResponse checks that a lost response applies the change and
// drops the connection: the SDK sees a transport error, not an EC2 error.
func TestServerLostResponse(t *testing.T) {
	f := fake.New(fake.Options{DisableThrottling: true})
	srv, c := startServer(t, f)
	ctx := t.Context()
	vpcID := f.AddVPC("10.3.0.0/16")
	subnetID := f.AddSubnet(vpcID, "10.3.0.0/24", "")
	describe := func(c *ec2.Client) []types.NetworkInterface {
		out, err := c.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{Filters: []types.Filter{{Name: aws.String("subnet-id"), Values: []string{subnetID}}}})
		require.NoError(t, err)
		return out.NetworkInterfaces
	}

	f.InjectFault(fake.Fault{Action: fake.ActionCreateNetworkInterface, OnCall: 1, Lost: true})
	_, err := c.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(subnetID)})
	require.Error(t, err)
	var ae smithy.APIError
	require.NotErrorAs(t, err, &ae, "a dropped connection carries no EC2 error: %v", err)
	var sendErr *smithyhttp.RequestSendError
	require.ErrorAs(t, err, &sendErr, "the connection dropped before a response")
	require.Len(t, describe(c), 1, "the interface was created although the caller saw an error")

	// With the SDK's standard retryer and a ClientToken, the retry finds the
	// interface the lost call created instead of making a second one.
	retrying := srv.Client()
	f.InjectFault(fake.Fault{Action: fake.ActionCreateNetworkInterface, OnCall: 1, Lost: true})
	out, err := retrying.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(subnetID), ClientToken: aws.String("pod-1")})
	require.NoError(t, err)
	require.Len(t, describe(c), 2)
	require.Equal(t, 2, f.Count(fake.ActionCreateNetworkInterface).Calls-1, "the lost attempt and its retry")
	require.Contains(t, []string{aws.ToString(describe(c)[0].NetworkInterfaceId), aws.ToString(describe(c)[1].NetworkInterfaceId)}, aws.ToString(out.NetworkInterface.NetworkInterfaceId))
}

// apiSubset is an API value other than *fake.EC2: the server serves any
// value with ec2.Client-shaped methods.
type apiSubset struct{ err error }

func (a apiSubset) DescribeVpcs(ctx context.Context, in *ec2.DescribeVpcsInput, _ ...func(*ec2.Options)) (*ec2.DescribeVpcsOutput, error) {
	if a.err != nil {
		return nil, a.err
	}
	var vpcs []types.Vpc
	for _, id := range in.VpcIds {
		vpcs = append(vpcs, types.Vpc{VpcId: aws.String(id), CidrBlock: aws.String("10.9.0.0/16")})
	}
	return &ec2.DescribeVpcsOutput{Vpcs: vpcs}, nil
}

// Helper has no operation signature and is not served.
func (apiSubset) Helper(ctx context.Context, in *ec2.DescribeVpcsInput) error { return nil }

type notEncodable struct{}

func (notEncodable) DescribeImages(context.Context, *ec2.DescribeImagesInput, ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error) {
	return &ec2.DescribeImagesOutput{}, nil
}

func TestServerOtherAPIs(t *testing.T) {
	srv, c := startServer(t, apiSubset{})
	require.Equal(t, []string{"DescribeVpcs"}, srv.Operations())
	require.Equal(t, fake.DefaultRegion, srv.Region())
	out, err := c.DescribeVpcs(t.Context(), &ec2.DescribeVpcsInput{VpcIds: []string{"vpc-a", "vpc-b"}})
	require.NoError(t, err)
	require.Len(t, out.Vpcs, 2)
	require.Equal(t, "vpc-b", aws.ToString(out.Vpcs[1].VpcId))

	_, c = startServer(t, apiSubset{err: errors.New("disk on fire")})
	_, err = c.DescribeVpcs(t.Context(), &ec2.DescribeVpcsInput{})
	require.Equal(t, fake.CodeInternalError, apiError(t, err).ErrorCode())
	require.Equal(t, http.StatusInternalServerError, httpStatus(t, err))

	for _, api := range []any{nil, struct{}{}, notEncodable{}} {
		_, err := fake.NewServer(api)
		require.Error(t, err, "%T", api)
	}
	_, err = fake.NewServer(notEncodable{})
	require.ErrorContains(t, err, "operations.txt")

	srv, err = fake.NewServer(apiSubset{}, fake.ServerOptions{Region: "eu-central-1"})
	require.NoError(t, err)
	require.Equal(t, "eu-central-1", srv.Region())
	require.Empty(t, srv.URL(), "not started")
	require.NoError(t, srv.Close(), "closing an unstarted server is a no-op")
	require.NoError(t, srv.Start(""))
	require.Error(t, srv.Start(""), "already started")
	u, err := url.Parse(srv.URL())
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1", u.Hostname())
	require.NoError(t, srv.Close())
}
