package trunk_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/podsg/podsg/fake"
)

// strictEC2 holds the fake to two rules of EC2's that the fake itself does
// not enforce: a call carries at most 200 filter values
// (FilterLimitExceeded), and filter names are those the SDK documents for
// the operation (aws-sdk-go-v2/service/ec2, the Filters field of each
// Describe*Input) or the one undocumented name the VPC resource controller
// is known to use against real EC2 (InvalidParameterValue, "The filter
// '<name>' is invalid", otherwise).
type strictEC2 struct{ *fake.EC2 }

// documentedFilters lists, per operation trunk calls with filters, the names
// its code may use. Every name is in the SDK's documentation of the
// operation's input (service/ec2 v1.345.0, api_op_<Operation>.go), except
// trunk-interface-association.trunk-interface-id: the VPC resource
// controller lists a trunk's branches with it (ec2APIHelper's
// DescribeTrunkInterfaceAssociation in aws/amazon-vpc-resource-controller-k8s,
// pkg/aws/ec2/api/helper.go), and EC2 accepts it.
var documentedFilters = map[string][]string{
	"DescribeNetworkInterfaces": {"attachment.instance-id", "attachment.status", "description", "group-id",
		"interface-type", "network-interface-id", "status", "subnet-id", "tag-key", "vpc-id"},
	"DescribeTrunkInterfaceAssociations": {"gre-key", "interface-protocol",
		"trunk-interface-association.trunk-interface-id"},
	"DescribeInstances": {"instance-id", "instance-state-name", "instance-type", "subnet-id", "tag-key", "vpc-id"},
	"DescribeSubnets":   {"subnet-id", "vpc-id", "cidr-block", "tag-key"},
}

// ec2MaxFilterValues is EC2's bound on the filter values of one call.
const ec2MaxFilterValues = 200

func checkFilters(op string, fs []types.Filter) error {
	n := 0
	for _, f := range fs {
		n += len(f.Values)
		name := ""
		if f.Name != nil {
			name = *f.Name
		}
		if strings.HasPrefix(name, "tag:") {
			continue
		}
		ok := false
		for _, d := range documentedFilters[op] {
			ok = ok || d == name
		}
		if !ok {
			return &smithy.OperationError{ServiceID: "EC2", OperationName: op, Err: &smithy.GenericAPIError{
				Code: fake.CodeInvalidParameterValue, Message: fmt.Sprintf("The filter '%s' is invalid", name)}}
		}
	}
	if n > ec2MaxFilterValues {
		return &smithy.OperationError{ServiceID: "EC2", OperationName: op, Err: &smithy.GenericAPIError{
			Code: "FilterLimitExceeded", Message: fmt.Sprintf("The maximum number of filter values specified on a single call is %d", ec2MaxFilterValues)}}
	}
	return nil
}

func (s strictEC2) DescribeNetworkInterfaces(ctx context.Context, in *ec2.DescribeNetworkInterfacesInput, o ...func(*ec2.Options)) (*ec2.DescribeNetworkInterfacesOutput, error) {
	if err := checkFilters("DescribeNetworkInterfaces", in.Filters); err != nil {
		return nil, err
	}
	return s.EC2.DescribeNetworkInterfaces(ctx, in, o...)
}

func (s strictEC2) DescribeTrunkInterfaceAssociations(ctx context.Context, in *ec2.DescribeTrunkInterfaceAssociationsInput, o ...func(*ec2.Options)) (*ec2.DescribeTrunkInterfaceAssociationsOutput, error) {
	if err := checkFilters("DescribeTrunkInterfaceAssociations", in.Filters); err != nil {
		return nil, err
	}
	return s.EC2.DescribeTrunkInterfaceAssociations(ctx, in, o...)
}

func (s strictEC2) DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, o ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	if err := checkFilters("DescribeInstances", in.Filters); err != nil {
		return nil, err
	}
	return s.EC2.DescribeInstances(ctx, in, o...)
}

func (s strictEC2) DescribeSubnets(ctx context.Context, in *ec2.DescribeSubnetsInput, o ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error) {
	if err := checkFilters("DescribeSubnets", in.Filters); err != nil {
		return nil, err
	}
	return s.EC2.DescribeSubnets(ctx, in, o...)
}
