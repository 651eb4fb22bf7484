package fake_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/fake"
)

func TestCreateNetworkInterfacePermission(t *testing.T) {
	const account = "123456789012"
	tests := []struct {
		name string
		in   func(eni string) *ec2.CreateNetworkInterfacePermissionInput
		code string // "" for success
	}{
		{"granted", func(eni string) *ec2.CreateNetworkInterfacePermissionInput {
			return &ec2.CreateNetworkInterfacePermissionInput{NetworkInterfaceId: aws.String(eni),
				Permission: types.InterfacePermissionTypeInstanceAttach, AwsAccountId: aws.String(account)}
		}, ""},
		{"unknown interface", func(string) *ec2.CreateNetworkInterfacePermissionInput {
			return &ec2.CreateNetworkInterfacePermissionInput{NetworkInterfaceId: aws.String("eni-0123456789abcdef0"),
				Permission: types.InterfacePermissionTypeInstanceAttach, AwsAccountId: aws.String(account)}
		}, "InvalidNetworkInterfaceID.NotFound"},
		{"no permission", func(eni string) *ec2.CreateNetworkInterfacePermissionInput {
			return &ec2.CreateNetworkInterfacePermissionInput{NetworkInterfaceId: aws.String(eni), AwsAccountId: aws.String(account)}
		}, fake.CodeMissingParameter},
		{"no account", func(eni string) *ec2.CreateNetworkInterfacePermissionInput {
			return &ec2.CreateNetworkInterfacePermissionInput{NetworkInterfaceId: aws.String(eni), Permission: types.InterfacePermissionTypeInstanceAttach}
		}, fake.CodeMissingParameter},
		{"service instead of account", func(eni string) *ec2.CreateNetworkInterfacePermissionInput {
			return &ec2.CreateNetworkInterfacePermissionInput{NetworkInterfaceId: aws.String(eni),
				Permission: types.InterfacePermissionTypeInstanceAttach, AwsService: aws.String("eks.amazonaws.com")}
		}, fake.CodeInvalidParameterValue},
		{"malformed account", func(eni string) *ec2.CreateNetworkInterfacePermissionInput {
			return &ec2.CreateNetworkInterfacePermissionInput{NetworkInterfaceId: aws.String(eni),
				Permission: types.InterfacePermissionTypeInstanceAttach, AwsAccountId: aws.String("12345")}
		}, fake.CodeInvalidParameterValue},
		{"dry run", func(eni string) *ec2.CreateNetworkInterfacePermissionInput {
			return &ec2.CreateNetworkInterfacePermissionInput{NetworkInterfaceId: aws.String(eni),
				Permission: types.InterfacePermissionTypeInstanceAttach, AwsAccountId: aws.String(account), DryRun: aws.Bool(true)}
		}, fake.CodeDryRunOperation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			eni := w.eni(t, w.podSG)
			out, err := w.f.CreateNetworkInterfacePermission(t.Context(), tt.in(eni))
			if tt.code != "" {
				require.Equal(t, tt.code, fake.ErrorCode(err), "%v", err)
				require.Equal(t, 1, w.f.Count(fake.ActionCreateNetworkInterfacePermission).Calls)
				// Nothing was granted: a valid request still succeeds.
				_, err = w.f.CreateNetworkInterfacePermission(t.Context(), tests[0].in(eni))
				require.NoError(t, err)
				return
			}
			require.NoError(t, err)
			p := out.InterfacePermission
			require.Equal(t, eni, aws.ToString(p.NetworkInterfaceId))
			require.Equal(t, account, aws.ToString(p.AwsAccountId))
			require.Equal(t, types.InterfacePermissionTypeInstanceAttach, p.Permission)
			require.Equal(t, types.NetworkInterfacePermissionStateCodeGranted, p.PermissionState.State)
			// EC2 grants a permission to one account at a time.
			_, err = w.f.CreateNetworkInterfacePermission(t.Context(), tt.in(eni))
			require.Equal(t, fake.CodeInvalidParameterValue, fake.ErrorCode(err))
			// The permission goes with its interface, and the interface
			// can still be associated.
			require.NoError(t, w.associate(t, 3, eni))
		})
	}
}
