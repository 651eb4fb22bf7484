package trunk

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
)

// EC2 is the part of the EC2 API that trunk uses. Each method has the exact
// signature of the *ec2.Client method of the same name, so *ec2.Client, and
// any fake written for the SDK, satisfies it.
type EC2 interface {
	DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
	DescribeSubnets(ctx context.Context, in *ec2.DescribeSubnetsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error)
	DescribeNetworkInterfaces(ctx context.Context, in *ec2.DescribeNetworkInterfacesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeNetworkInterfacesOutput, error)
	CreateNetworkInterface(ctx context.Context, in *ec2.CreateNetworkInterfaceInput, optFns ...func(*ec2.Options)) (*ec2.CreateNetworkInterfaceOutput, error)
	DeleteNetworkInterface(ctx context.Context, in *ec2.DeleteNetworkInterfaceInput, optFns ...func(*ec2.Options)) (*ec2.DeleteNetworkInterfaceOutput, error)
	AttachNetworkInterface(ctx context.Context, in *ec2.AttachNetworkInterfaceInput, optFns ...func(*ec2.Options)) (*ec2.AttachNetworkInterfaceOutput, error)
	ModifyNetworkInterfaceAttribute(ctx context.Context, in *ec2.ModifyNetworkInterfaceAttributeInput, optFns ...func(*ec2.Options)) (*ec2.ModifyNetworkInterfaceAttributeOutput, error)
	AssociateTrunkInterface(ctx context.Context, in *ec2.AssociateTrunkInterfaceInput, optFns ...func(*ec2.Options)) (*ec2.AssociateTrunkInterfaceOutput, error)
	DisassociateTrunkInterface(ctx context.Context, in *ec2.DisassociateTrunkInterfaceInput, optFns ...func(*ec2.Options)) (*ec2.DisassociateTrunkInterfaceOutput, error)
	DescribeTrunkInterfaceAssociations(ctx context.Context, in *ec2.DescribeTrunkInterfaceAssociationsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeTrunkInterfaceAssociationsOutput, error)
}

var _ EC2 = (*ec2.Client)(nil)

// Descriptions and tags the VPC resource controller puts on the ENIs it
// manages; trunk uses the same, so that either can find the other's ENIs.
const (
	TrunkDescription  = "aws-k8s-trunk-eni"
	BranchDescription = "aws-k8s-branch-eni"

	TagVLANID     = "vpcresources.k8s.aws/vlan-id"
	TagTrunkENIID = "vpcresources.k8s.aws/trunk-eni-id"
	TagInstanceID = "node.k8s.amazonaws.com/instance_id"
	TagOwner      = "eks:eni:owner"
	// DefaultOwner is the value of TagOwner unless Options.Owner says
	// otherwise.
	DefaultOwner = "eks-vpc-resource-controller"
	// ClusterTagPrefix followed by the cluster name is the cluster tag; its
	// value is "owned".
	ClusterTagPrefix = "kubernetes.io/cluster/"
)

// ErrTrunkingUnsupported is matched (errors.Is) by the error returned for a
// node whose instance type cannot host a trunk ENI (every t-family type, and
// any type not flagged trunk-compatible). Pods needing security groups must
// run on another instance type.
var ErrTrunkingUnsupported = errors.New("instance type does not support ENI trunking")

// ErrNoFreeSlot is matched by the error returned when a node has no free
// ENI slot on its default network card for the trunk ENI.
var ErrNoFreeSlot = errors.New("no free ENI slot for the trunk ENI")

// ErrUnknownNode is matched by errors for an instance that EC2 does not know
// or that is not running, and for a node being removed (RemoveNode).
var ErrUnknownNode = errors.New("unknown node")

// UnsupportedTypeError names the node and instance type that cannot host a
// trunk ENI. It matches ErrTrunkingUnsupported.
type UnsupportedTypeError struct {
	InstanceID   string
	InstanceType string
}

func (e *UnsupportedTypeError) Error() string {
	return fmt.Sprintf("trunk: node %s: instance type %s does not support ENI trunking, so it cannot host pods with security groups; "+
		"use a trunking-compatible Nitro type (for example m5.large) for these pods", e.InstanceID, e.InstanceType)
}

// Is makes UnsupportedTypeError match ErrTrunkingUnsupported.
func (e *UnsupportedTypeError) Is(target error) bool { return target == ErrTrunkingUnsupported }
