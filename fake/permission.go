package fake

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// prefixPermission is the prefix of network interface permission IDs
// ("eni-perm-055663b682ea24b48" in the EC2 documentation of
// AWS::EC2::NetworkInterfacePermission).
const prefixPermission = "eni-perm-"

// eniPermission is a permission granted on a network interface. It lives as
// long as its interface.
type eniPermission struct {
	id      string
	account string
	perm    types.InterfacePermissionType
}

// CreateNetworkInterfacePermission grants an account permission on a network
// interface, as the VPC resource controller does before associating a branch
// (INSTANCE-ATTACH for the account of its instance client; AssociateBranchToTrunk
// in pkg/aws/ec2/api/helper.go of aws/amazon-vpc-resource-controller-k8s).
//
// EC2's rules, from the SDK's documentation of the operation: NetworkInterfaceId
// and Permission (INSTANCE-ATTACH or EIP-ASSOCIATE) are required; permission
// goes to a single account, one account at a time; AwsService is "currently
// not supported". So the fake requires AwsAccountId (12 digits), refuses
// AwsService, and refuses a second permission of the same type on an
// interface (EC2 documents no answer for it; the fake refuses where unsure).
// The interface is named, so one created moments before may be unknown yet
// (Consistency.Create): InvalidNetworkInterfaceID.NotFound. The permission is
// granted at once, and goes with its interface. It is a mutating call
// (CategoryMutating).
func (f *EC2) CreateNetworkInterfacePermission(ctx context.Context, in *ec2.CreateNetworkInterfacePermissionInput, _ ...func(*ec2.Options)) (*ec2.CreateNetworkInterfacePermissionOutput, error) {
	return call(ctx, f, ActionCreateNetworkInterfacePermission, in, true, func(in *ec2.CreateNetworkInterfacePermissionInput) (*ec2.CreateNetworkInterfacePermissionOutput, error) {
		e, err := f.lookupENI(aws.ToString(in.NetworkInterfaceId))
		if err != nil {
			return nil, err
		}
		if in.Permission == "" {
			return nil, missing("Permission")
		}
		if in.AwsService != nil {
			return nil, invalidValue("The parameter AwsService is not supported; grant the permission to an account with AwsAccountId.")
		}
		account := aws.ToString(in.AwsAccountId)
		if account == "" {
			return nil, missing("AwsAccountId")
		}
		if !isAccountID(account) {
			return nil, invalidValue("Value (%s) for parameter awsAccountId is invalid. It must be a 12-digit AWS account ID.", account)
		}
		for _, p := range e.perms {
			if p.perm == in.Permission {
				return nil, invalidValue("Network interface %s already grants %s to account %s (%s); EC2 grants a permission to one account at a time.",
					e.id, p.perm, p.account, p.id)
			}
		}
		if dry(in.DryRun) {
			return nil, dryRunError()
		}
		p := &eniPermission{id: f.newID(prefixPermission), account: account, perm: in.Permission}
		e.perms = append(e.perms, p)
		return &ec2.CreateNetworkInterfacePermissionOutput{InterfacePermission: &types.NetworkInterfacePermission{
			NetworkInterfacePermissionId: aws.String(p.id),
			NetworkInterfaceId:           aws.String(e.id),
			AwsAccountId:                 aws.String(p.account),
			Permission:                   p.perm,
			PermissionState:              &types.NetworkInterfacePermissionState{State: types.NetworkInterfacePermissionStateCodeGranted},
		}}, nil
	})
}

// isAccountID reports whether s is a 12-digit account ID.
func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
