package fake_test

import (
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/fake"
)

// world is a small seeded account: one VPC, two subnets in two zones, a pod
// group, an m5.large node with a trunk at device index 2, and a t3.large node.
type world struct {
	f               *fake.EC2
	vpc             string
	subnet, subnet2 string
	podSG, nodeSG   string
	node            fake.Node
	trunk           string
	small           fake.Node
}

func newWorld(t testing.TB, opts ...fake.Options) *world {
	t.Helper()
	var o fake.Options
	if len(opts) > 0 {
		o = opts[0]
	}
	o.DisableThrottling = true
	f := fake.New(o)
	w := &world{f: f}
	w.vpc = f.AddVPC("10.0.0.0/16")
	w.subnet = f.AddSubnet(w.vpc, "10.0.0.0/19", "us-west-2a")
	w.subnet2 = f.AddSubnet(w.vpc, "10.0.32.0/19", "us-west-2b")
	w.podSG = f.AddSecurityGroup(w.vpc, "pods")
	w.nodeSG = f.AddSecurityGroup(w.vpc, "nodes")
	w.node = f.AddNode("m5.large", w.subnet, w.nodeSG)
	w.trunk = f.AddTrunk(w.node.InstanceID, 2)
	w.small = f.AddNode("t3.large", w.subnet, w.nodeSG)
	return w
}

func (w *world) eni(t testing.TB, groups ...string) string {
	t.Helper()
	out, err := w.f.CreateNetworkInterface(t.Context(), &ec2.CreateNetworkInterfaceInput{
		SubnetId: aws.String(w.subnet), Groups: groups})
	require.NoError(t, err)
	return aws.ToString(out.NetworkInterface.NetworkInterfaceId)
}

func (w *world) associate(t testing.TB, vlan int32, branch string) error {
	_, err := w.f.AssociateTrunkInterface(t.Context(), &ec2.AssociateTrunkInterfaceInput{
		TrunkInterfaceId: aws.String(w.trunk), BranchInterfaceId: aws.String(branch), VlanId: aws.Int32(vlan)})
	return err
}

// TestRules checks each rule EC2 enforces, and the code and message it
// answers with.
func TestRules(t *testing.T) {
	ctx := t.Context()
	tests := []struct {
		name    string
		opts    fake.Options
		call    func(t *testing.T, w *world) error
		code    string
		message string // exact message, when set
	}{
		{
			name: "create ENI with unknown security group",
			call: func(t *testing.T, w *world) error {
				_, err := w.f.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{
					SubnetId: aws.String(w.subnet), Groups: []string{"sg-05b1d815d1e0a0b0c"}})
				return err
			},
			code:    "InvalidSecurityGroupID.NotFound",
			message: "The securityGroup ID 'sg-05b1d815d1e0a0b0c' does not exist",
		},
		{
			name: "create ENI in unknown subnet",
			call: func(t *testing.T, w *world) error {
				_, err := w.f.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String("subnet-0123456789abcdef0")})
				return err
			},
			code:    "InvalidSubnetID.NotFound",
			message: "The subnet ID 'subnet-0123456789abcdef0' does not exist",
		},
		{
			name: "create ENI without subnet",
			call: func(t *testing.T, w *world) error {
				_, err := w.f.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{})
				return err
			},
			code: "MissingParameter",
		},
		{
			name: "delete unknown ENI",
			call: func(t *testing.T, w *world) error {
				_, err := w.f.DeleteNetworkInterface(ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: aws.String("eni-0123456789abcdef0")})
				return err
			},
			code:    "InvalidNetworkInterfaceID.NotFound",
			message: "The networkInterface ID 'eni-0123456789abcdef0' does not exist",
		},
		{
			name: "malformed ENI ID",
			call: func(t *testing.T, w *world) error {
				_, err := w.f.DeleteNetworkInterface(ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: aws.String("eni-xyz")})
				return err
			},
			code: "InvalidNetworkInterfaceID.Malformed",
		},
		{
			name: "describe two unknown ENIs",
			call: func(t *testing.T, w *world) error {
				_, err := w.f.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{
					NetworkInterfaceIds: []string{"eni-0123456789abcdef0", w.trunk, "eni-0123456789abcdef1"}})
				return err
			},
			code:    "InvalidNetworkInterfaceID.NotFound",
			message: "The networkInterface IDs 'eni-0123456789abcdef0, eni-0123456789abcdef1' do not exist",
		},
		{
			name: "six groups on one ENI with the default quota",
			call: func(t *testing.T, w *world) error {
				var groups []string
				for i := range 6 {
					groups = append(groups, w.f.AddSecurityGroup(w.vpc, fmt.Sprint("g", i)))
				}
				_, err := w.f.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(w.subnet), Groups: groups})
				return err
			},
			code: "SecurityGroupsPerInterfaceLimitExceeded",
		},
		{
			name: "six groups on one ENI with a raised quota",
			opts: fake.Options{MaxGroupsPerENI: 16},
			call: func(t *testing.T, w *world) error {
				var groups []string
				for i := range 6 {
					groups = append(groups, w.f.AddSecurityGroup(w.vpc, fmt.Sprint("g", i)))
				}
				_, err := w.f.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(w.subnet), Groups: groups})
				return err
			},
		},
		{
			name: "group of another VPC",
			call: func(t *testing.T, w *world) error {
				other := w.f.AddVPC("172.16.0.0/16")
				g := w.f.AddSecurityGroup(other, "elsewhere")
				_, err := w.f.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(w.subnet), Groups: []string{g}})
				return err
			},
			code: "InvalidParameter",
		},
		{
			name: "fourth ENI on an m5.large",
			call: func(t *testing.T, w *world) error {
				_, err := w.f.AttachNetworkInterface(ctx, &ec2.AttachNetworkInterfaceInput{
					NetworkInterfaceId: aws.String(w.eni(t)), InstanceId: aws.String(w.node.InstanceID), DeviceIndex: aws.Int32(1)})
				require.NoError(t, err)
				_, err = w.f.AttachNetworkInterface(ctx, &ec2.AttachNetworkInterfaceInput{
					NetworkInterfaceId: aws.String(w.eni(t)), InstanceId: aws.String(w.node.InstanceID), DeviceIndex: aws.Int32(3)})
				return err
			},
			code:    "AttachmentLimitExceeded",
			message: "Interface count 4 exceeds the limit for m5.large",
		},
		{
			name: "device index already taken",
			call: func(t *testing.T, w *world) error {
				_, err := w.f.AttachNetworkInterface(ctx, &ec2.AttachNetworkInterfaceInput{
					NetworkInterfaceId: aws.String(w.eni(t)), InstanceId: aws.String(w.node.InstanceID), DeviceIndex: aws.Int32(2)})
				return err
			},
			code: "InvalidParameterValue",
		},
		{
			name: "network card the type lacks",
			call: func(t *testing.T, w *world) error {
				_, err := w.f.AttachNetworkInterface(ctx, &ec2.AttachNetworkInterfaceInput{
					NetworkInterfaceId: aws.String(w.eni(t)), InstanceId: aws.String(w.node.InstanceID),
					DeviceIndex: aws.Int32(1), NetworkCardIndex: aws.Int32(1)})
				return err
			},
			code: "InvalidParameterValue",
		},
		{
			name: "attach an attached ENI",
			call: func(t *testing.T, w *world) error {
				_, err := w.f.AttachNetworkInterface(ctx, &ec2.AttachNetworkInterfaceInput{
					NetworkInterfaceId: aws.String(w.trunk), InstanceId: aws.String(w.node.InstanceID), DeviceIndex: aws.Int32(1)})
				return err
			},
			code: "InvalidNetworkInterface.InUse",
		},
		{
			name: "attach in another zone",
			call: func(t *testing.T, w *world) error {
				out, err := w.f.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(w.subnet2)})
				require.NoError(t, err)
				_, err = w.f.AttachNetworkInterface(ctx, &ec2.AttachNetworkInterfaceInput{
					NetworkInterfaceId: out.NetworkInterface.NetworkInterfaceId, InstanceId: aws.String(w.node.InstanceID), DeviceIndex: aws.Int32(1)})
				return err
			},
			code: "InvalidParameterCombination",
		},
		{
			name: "trunk on a t3.large",
			call: func(t *testing.T, w *world) error {
				out, err := w.f.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{
					SubnetId: aws.String(w.subnet), InterfaceType: types.NetworkInterfaceCreationTypeTrunk})
				require.NoError(t, err)
				_, err = w.f.AttachNetworkInterface(ctx, &ec2.AttachNetworkInterfaceInput{
					NetworkInterfaceId: out.NetworkInterface.NetworkInterfaceId, InstanceId: aws.String(w.small.InstanceID), DeviceIndex: aws.Int32(1)})
				return err
			},
			code: "UnsupportedOperation",
		},
		{
			name: "tenth branch on an m5.large trunk",
			call: func(t *testing.T, w *world) error {
				for vlan := int32(1); vlan <= 9; vlan++ {
					require.NoError(t, w.associate(t, vlan, w.eni(t, w.podSG)))
				}
				return w.associate(t, 10, w.eni(t, w.podSG))
			},
			code: "AttachmentLimitExceeded",
		},
		{
			name: "VLAN already used on the trunk",
			call: func(t *testing.T, w *world) error {
				require.NoError(t, w.associate(t, 7, w.eni(t)))
				return w.associate(t, 7, w.eni(t))
			},
			code: "InvalidParameterValue",
		},
		{
			name: "VLAN zero",
			call: func(t *testing.T, w *world) error { return w.associate(t, 0, w.eni(t)) },
			code: "InvalidParameterValue",
		},
		{
			name: "associate with a non-trunk",
			call: func(t *testing.T, w *world) error {
				_, err := w.f.AssociateTrunkInterface(ctx, &ec2.AssociateTrunkInterfaceInput{
					TrunkInterfaceId: aws.String(w.node.PrimaryENI), BranchInterfaceId: aws.String(w.eni(t)), VlanId: aws.Int32(1)})
				return err
			},
			code: "InvalidParameterValue",
		},
		{
			name: "associate a branch twice",
			call: func(t *testing.T, w *world) error {
				b := w.eni(t)
				require.NoError(t, w.associate(t, 1, b))
				return w.associate(t, 2, b)
			},
			code: "InvalidNetworkInterface.InUse",
		},
		{
			name: "delete an attached ENI",
			call: func(t *testing.T, w *world) error {
				_, err := w.f.DeleteNetworkInterface(ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: aws.String(w.trunk)})
				return err
			},
			code: "InvalidNetworkInterface.InUse",
		},
		{
			name: "delete an associated branch",
			call: func(t *testing.T, w *world) error {
				b := w.eni(t)
				require.NoError(t, w.associate(t, 1, b))
				_, err := w.f.DeleteNetworkInterface(ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: aws.String(b)})
				return err
			},
			code: "InvalidNetworkInterface.InUse",
		},
		{
			name: "delete a detached trunk that still has branches",
			call: func(t *testing.T, w *world) error {
				require.NoError(t, w.associate(t, 1, w.eni(t)))
				d, err := w.f.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{w.trunk}})
				require.NoError(t, err)
				_, err = w.f.DetachNetworkInterface(ctx, &ec2.DetachNetworkInterfaceInput{AttachmentId: d.NetworkInterfaces[0].Attachment.AttachmentId})
				require.NoError(t, err)
				_, err = w.f.DeleteNetworkInterface(ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: aws.String(w.trunk)})
				return err
			},
			code: "DependencyViolation",
		},
		{
			name: "detach the primary ENI",
			call: func(t *testing.T, w *world) error {
				d, err := w.f.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{w.node.PrimaryENI}})
				require.NoError(t, err)
				_, err = w.f.DetachNetworkInterface(ctx, &ec2.DetachNetworkInterfaceInput{AttachmentId: d.NetworkInterfaces[0].Attachment.AttachmentId})
				return err
			},
			code: "OperationNotPermitted",
		},
		{
			name: "detach an unknown attachment",
			call: func(t *testing.T, w *world) error {
				_, err := w.f.DetachNetworkInterface(ctx, &ec2.DetachNetworkInterfaceInput{AttachmentId: aws.String("eni-attach-0123456789abcdef0")})
				return err
			},
			code: "InvalidAttachmentID.NotFound",
		},
		{
			name: "delete a group used by an ENI",
			call: func(t *testing.T, w *world) error {
				w.eni(t, w.podSG)
				_, err := w.f.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(w.podSG)})
				return err
			},
			code: "DependencyViolation",
		},
		{
			name: "delete a group another group references",
			call: func(t *testing.T, w *world) error {
				w.f.AddIngress(w.nodeSG, fake.TCP(443, w.podSG))
				_, err := w.f.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(w.podSG)})
				return err
			},
			code: "DependencyViolation",
		},
		{
			name: "delete the default group",
			call: func(t *testing.T, w *world) error {
				_, err := w.f.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(w.f.DefaultSecurityGroup(w.vpc))})
				return err
			},
			code: "CannotDelete",
		},
		{
			name: "delete an unused group",
			call: func(t *testing.T, w *world) error {
				_, err := w.f.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(w.podSG)})
				return err
			},
		},
		{
			name: "describe an unknown group",
			call: func(t *testing.T, w *world) error {
				_, err := w.f.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{"sg-0123456789abcdef0"}})
				return err
			},
			code:    "InvalidGroup.NotFound",
			message: "The security group 'sg-0123456789abcdef0' does not exist",
		},
		{
			name: "duplicate group name",
			call: func(t *testing.T, w *world) error {
				_, err := w.f.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
					VpcId: aws.String(w.vpc), GroupName: aws.String("pods"), Description: aws.String("again")})
				return err
			},
			code: "InvalidGroup.Duplicate",
		},
		{
			name: "duplicate rule",
			call: func(t *testing.T, w *world) error {
				w.f.AddIngress(w.podSG, fake.TCP(80, "10.0.0.0/8"))
				_, err := w.f.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
					GroupId: aws.String(w.podSG), IpProtocol: aws.String("tcp"), FromPort: aws.Int32(80), ToPort: aws.Int32(80), CidrIp: aws.String("10.0.0.0/8")})
				return err
			},
			code: "InvalidPermission.Duplicate",
		},
		{
			name: "rule with a bad port range",
			call: func(t *testing.T, w *world) error {
				_, err := w.f.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
					GroupId: aws.String(w.podSG), IpProtocol: aws.String("tcp"), FromPort: aws.Int32(90), ToPort: aws.Int32(80), CidrIp: aws.String("10.0.0.0/8")})
				return err
			},
			code: "InvalidParameterValue",
		},
		{
			name: "revoke an unknown rule ID",
			call: func(t *testing.T, w *world) error {
				_, err := w.f.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{
					GroupId: aws.String(w.podSG), SecurityGroupRuleIds: []string{"sgr-0123456789abcdef0"}})
				return err
			},
			code: "InvalidSecurityGroupRuleId.NotFound",
		},
		{
			name: "revoke a rule that does not exist",
			call: func(t *testing.T, w *world) error {
				_, err := w.f.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{
					GroupId: aws.String(w.podSG), IpProtocol: aws.String("udp"), FromPort: aws.Int32(53), ToPort: aws.Int32(53), CidrIp: aws.String("10.0.0.0/8")})
				return err
			},
			code: "InvalidPermission.NotFound",
		},
		{
			name: "MaxResults below 5",
			call: func(t *testing.T, w *world) error {
				_, err := w.f.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{MaxResults: aws.Int32(4)})
				return err
			},
			code: "InvalidParameterValue",
		},
		{
			name: "MaxResults with IDs",
			call: func(t *testing.T, w *world) error {
				_, err := w.f.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{MaxResults: aws.Int32(5), NetworkInterfaceIds: []string{w.trunk}})
				return err
			},
			code: "InvalidParameterCombination",
		},
		{
			name: "unknown filter",
			call: func(t *testing.T, w *world) error {
				_, err := w.f.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{
					Filters: []types.Filter{{Name: aws.String("colour"), Values: []string{"blue"}}}})
				return err
			},
			code:    "InvalidParameterValue",
			message: "The filter 'colour' is invalid",
		},
		{
			name: "garbage NextToken",
			call: func(t *testing.T, w *world) error {
				_, err := w.f.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{NextToken: aws.String("nonsense")})
				return err
			},
			code: "InvalidPaginationToken",
		},
		{
			name: "dry run",
			call: func(t *testing.T, w *world) error {
				_, err := w.f.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(w.subnet), DryRun: aws.Bool(true)})
				return err
			},
			code: "DryRunOperation",
		},
		{
			name: "unknown instance type",
			call: func(t *testing.T, w *world) error {
				_, err := w.f.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-1"), InstanceType: "m5.huge",
					MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: aws.String(w.subnet)})
				return err
			},
			code: "InvalidParameterValue",
		},
		{
			name: "overlapping subnet",
			call: func(t *testing.T, w *world) error {
				_, err := w.f.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(w.vpc), CidrBlock: aws.String("10.0.1.0/24")})
				return err
			},
			code: "InvalidSubnet.Conflict",
		},
		{
			name: "subnet outside the VPC",
			call: func(t *testing.T, w *world) error {
				_, err := w.f.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(w.vpc), CidrBlock: aws.String("10.1.0.0/24")})
				return err
			},
			code: "InvalidSubnet.Range",
		},
		{
			name: "delete a VPC with subnets",
			call: func(t *testing.T, w *world) error {
				_, err := w.f.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: aws.String(w.vpc)})
				return err
			},
			code: "DependencyViolation",
		},
		{
			name: "delete a subnet with ENIs",
			call: func(t *testing.T, w *world) error {
				_, err := w.f.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: aws.String(w.subnet)})
				return err
			},
			code: "DependencyViolation",
		},
		{
			name: "modify two attributes at once",
			call: func(t *testing.T, w *world) error {
				_, err := w.f.ModifyNetworkInterfaceAttribute(ctx, &ec2.ModifyNetworkInterfaceAttributeInput{
					NetworkInterfaceId: aws.String(w.trunk), Groups: []string{w.podSG},
					Description: &types.AttributeValue{Value: aws.String("x")}})
				return err
			},
			code: "InvalidParameterCombination",
		},
		{
			name: "modify groups to an unknown group",
			call: func(t *testing.T, w *world) error {
				_, err := w.f.ModifyNetworkInterfaceAttribute(ctx, &ec2.ModifyNetworkInterfaceAttributeInput{
					NetworkInterfaceId: aws.String(w.trunk), Groups: []string{"sg-0123456789abcdef0"}})
				return err
			},
			code: "InvalidSecurityGroupID.NotFound",
		},
		{
			name: "reserved tag key",
			call: func(t *testing.T, w *world) error {
				_, err := w.f.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{w.trunk},
					Tags: []types.Tag{{Key: aws.String("aws:owner"), Value: aws.String("me")}}})
				return err
			},
			code: "InvalidParameterValue",
		},
		{
			name: "tag an unknown ENI",
			call: func(t *testing.T, w *world) error {
				_, err := w.f.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{"eni-0123456789abcdef0"},
					Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
				return err
			},
			code: "InvalidNetworkInterfaceID.NotFound",
		},
		{
			name: "terminate an unknown instance",
			call: func(t *testing.T, w *world) error {
				_, err := w.f.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{"i-0123456789abcdef0"}})
				return err
			},
			code:    "InvalidInstanceID.NotFound",
			message: "The instance ID 'i-0123456789abcdef0' does not exist",
		},
		{
			name: "describe an unknown instance type",
			call: func(t *testing.T, w *world) error {
				_, err := w.f.DescribeInstanceTypes(ctx, &ec2.DescribeInstanceTypesInput{InstanceTypes: []types.InstanceType{"m5.huge"}})
				return err
			},
			code: "InvalidInstanceType",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, tt.opts)
			err := tt.call(t, w)
			if tt.code == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			var apiErr smithy.APIError
			require.ErrorAs(t, err, &apiErr)
			require.Equal(t, tt.code, apiErr.ErrorCode(), "error: %v", err)
			require.NotEmpty(t, apiErr.ErrorMessage())
			if tt.message != "" {
				require.Equal(t, tt.message, apiErr.ErrorMessage())
			}
			var opErr *smithy.OperationError
			require.ErrorAs(t, err, &opErr)
			require.Equal(t, "EC2", opErr.ServiceID)
		})
	}
}
