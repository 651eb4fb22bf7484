package fake

import (
	"fmt"
	"slices"
)

// Action names an EC2 operation the fake implements, as EC2 spells it on the
// wire ("CreateNetworkInterface"). The test controls (InjectFault,
// SetLatency, SetActionBucket, Count, CallsOf) take an Action and panic on
// one the fake does not implement, so that a misspelt name fails the test
// that wrote it instead of silently injecting, delaying or counting
// nothing. Use the Action constants; Actions lists them all.
type Action string

// The actions the fake implements: one per EC2 operation method of *EC2.
const (
	ActionAssociateSubnetCidrBlock           Action = "AssociateSubnetCidrBlock"
	ActionAssociateTrunkInterface            Action = "AssociateTrunkInterface"
	ActionAssociateVpcCidrBlock              Action = "AssociateVpcCidrBlock"
	ActionAttachNetworkInterface             Action = "AttachNetworkInterface"
	ActionAuthorizeSecurityGroupEgress       Action = "AuthorizeSecurityGroupEgress"
	ActionAuthorizeSecurityGroupIngress      Action = "AuthorizeSecurityGroupIngress"
	ActionCreateNetworkInterface             Action = "CreateNetworkInterface"
	ActionCreateNetworkInterfacePermission   Action = "CreateNetworkInterfacePermission"
	ActionCreateSecurityGroup                Action = "CreateSecurityGroup"
	ActionCreateSubnet                       Action = "CreateSubnet"
	ActionCreateTags                         Action = "CreateTags"
	ActionCreateVpc                          Action = "CreateVpc"
	ActionDeleteNetworkInterface             Action = "DeleteNetworkInterface"
	ActionDeleteSecurityGroup                Action = "DeleteSecurityGroup"
	ActionDeleteSubnet                       Action = "DeleteSubnet"
	ActionDeleteTags                         Action = "DeleteTags"
	ActionDeleteVpc                          Action = "DeleteVpc"
	ActionDescribeInstanceTypes              Action = "DescribeInstanceTypes"
	ActionDescribeInstances                  Action = "DescribeInstances"
	ActionDescribeNetworkInterfaces          Action = "DescribeNetworkInterfaces"
	ActionDescribeSecurityGroupRules         Action = "DescribeSecurityGroupRules"
	ActionDescribeSecurityGroups             Action = "DescribeSecurityGroups"
	ActionDescribeSubnets                    Action = "DescribeSubnets"
	ActionDescribeTrunkInterfaceAssociations Action = "DescribeTrunkInterfaceAssociations"
	ActionDescribeVpcs                       Action = "DescribeVpcs"
	ActionDetachNetworkInterface             Action = "DetachNetworkInterface"
	ActionDisassociateTrunkInterface         Action = "DisassociateTrunkInterface"
	ActionModifyNetworkInterfaceAttribute    Action = "ModifyNetworkInterfaceAttribute"
	ActionRevokeSecurityGroupEgress          Action = "RevokeSecurityGroupEgress"
	ActionRevokeSecurityGroupIngress         Action = "RevokeSecurityGroupIngress"
	ActionRunInstances                       Action = "RunInstances"
	ActionTerminateInstances                 Action = "TerminateInstances"
)

var actions = []Action{
	ActionAssociateSubnetCidrBlock,
	ActionAssociateTrunkInterface,
	ActionAssociateVpcCidrBlock,
	ActionAttachNetworkInterface,
	ActionAuthorizeSecurityGroupEgress,
	ActionAuthorizeSecurityGroupIngress,
	ActionCreateNetworkInterface,
	ActionCreateNetworkInterfacePermission,
	ActionCreateSecurityGroup,
	ActionCreateSubnet,
	ActionCreateTags,
	ActionCreateVpc,
	ActionDeleteNetworkInterface,
	ActionDeleteSecurityGroup,
	ActionDeleteSubnet,
	ActionDeleteTags,
	ActionDeleteVpc,
	ActionDescribeInstanceTypes,
	ActionDescribeInstances,
	ActionDescribeNetworkInterfaces,
	ActionDescribeSecurityGroupRules,
	ActionDescribeSecurityGroups,
	ActionDescribeSubnets,
	ActionDescribeTrunkInterfaceAssociations,
	ActionDescribeVpcs,
	ActionDetachNetworkInterface,
	ActionDisassociateTrunkInterface,
	ActionModifyNetworkInterfaceAttribute,
	ActionRevokeSecurityGroupEgress,
	ActionRevokeSecurityGroupIngress,
	ActionRunInstances,
	ActionTerminateInstances,
}

// Actions returns every action the fake implements, sorted. The caller owns
// the slice.
func Actions() []Action { return slices.Clone(actions) }

// Implemented reports whether the fake implements a.
func (a Action) Implemented() bool {
	_, ok := slices.BinarySearch(actions, a)
	return ok
}

// mustAction panics when a is not an action the fake implements. what names
// the control, for the message; allowEmpty accepts "" where the control
// gives it a meaning (every action, the default latency).
func mustAction(what string, a Action, allowEmpty bool) {
	if a.Implemented() || (allowEmpty && a == "") {
		return
	}
	if a == "" {
		panic(fmt.Sprintf("fake: %s: empty action; use one of the fake.Action constants", what))
	}
	panic(fmt.Sprintf("fake: %s: the fake does not implement action %q; use one of the fake.Action constants (fake.Actions lists them)", what, string(a)))
}
