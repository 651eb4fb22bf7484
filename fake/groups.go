package fake

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// newGroup creates a group with EC2's default outbound rule, which appears
// with the group.
func (f *EC2) newGroup(vpcID, name, desc string, t tags) *secGroup {
	g := &secGroup{meta: f.newMeta(prefixGroup, t), name: name, desc: desc, vpcID: vpcID}
	f.st.groups[g.id] = g
	r := f.addRule(g, true, ruleSpec{proto: "-1", from: -1, to: -1, cidr4: "0.0.0.0/0"})
	r.visibleAt = g.visibleAt
	return g
}

// deleteGroup deletes a group and its rules. Describe calls keep showing
// them until the deletion propagates (Consistency.Delete).
func (f *EC2) deleteGroup(g *secGroup) {
	if g == nil {
		return
	}
	d := f.lag(lagDelete, g.id)
	for _, id := range append(slices.Clone(g.ingress), g.egress...) {
		f.ghostRule(f.st.rules[id], d)
		delete(f.st.rules, id)
	}
	delete(f.st.groups, g.id)
	if d > 0 && g.visible(f.now) {
		g.goneAt = f.now.Add(d)
		f.st.goneGroups[g.id] = g
	}
}

// shownGroup returns the group Describe calls show under id at now.
func (f *EC2) shownGroup(id string, now time.Time) *secGroup {
	if g := f.st.groups[id]; g != nil && g.visible(now) {
		return g
	}
	if g := f.st.goneGroups[id]; g != nil && g.shown(now) {
		return g
	}
	return nil
}

// groupsOf validates the security groups given to a network interface or
// instance in VPC vpcID: each must exist (InvalidSecurityGroupID.NotFound),
// belong to the VPC, and there may be at most MaxGroupsPerENI of them. No
// groups means the VPC's default group.
func (f *EC2) groupsOf(ids []string, vpcID string) ([]string, error) {
	ids = dedupe(ids)
	if len(ids) == 0 {
		if v := f.st.vpcs[vpcID]; v != nil {
			return []string{v.defaultSG}, nil
		}
	}
	var missingIDs []string
	for _, id := range ids {
		if err := checkID(id, prefixGroup, CodeGroupIDMalformed); err != nil {
			return nil, err
		}
		g := f.st.groups[id]
		if g == nil || !f.sees(&g.meta) {
			missingIDs = append(missingIDs, id)
			continue
		}
		if g.vpcID != vpcID {
			return nil, apiError(CodeInvalidParameter,
				"Security group %s and subnet belong to different networks.", id)
		}
	}
	if len(missingIDs) > 0 {
		return nil, notFound(CodeSecurityGroupIDNotFound, "securityGroup", missingIDs...)
	}
	if len(ids) > f.opts.MaxGroupsPerENI {
		return nil, apiError(CodeSecurityGroupsPerInterface,
			"The maximum number of security groups per interface has been reached (%d groups, quota %d).",
			len(ids), f.opts.MaxGroupsPerENI)
	}
	return ids, nil
}

// lookupGroup finds a group by ID, or by name (in the only VPC holding a
// group of that name) when the ID is empty. Unknown groups give
// InvalidGroup.NotFound, as the security-group calls of EC2 answer.
func (f *EC2) lookupGroup(id, name string) (*secGroup, error) {
	if id != "" {
		if err := checkID(id, prefixGroup, CodeGroupIDMalformed); err != nil {
			return nil, err
		}
		g := f.st.groups[id]
		if g == nil || !f.sees(&g.meta) {
			return nil, apiError(CodeGroupNotFound, "The security group '%s' does not exist", id)
		}
		return g, nil
	}
	if name == "" {
		return nil, missing("GroupId")
	}
	var found *secGroup
	for _, gid := range sortedIDs(f.st.groups) {
		g := f.st.groups[gid]
		if g.name != name || !f.sees(&g.meta) {
			continue
		}
		if v := f.st.vpcs[g.vpcID]; found == nil || (v != nil && v.isDefault) {
			found = g
		}
	}
	if found == nil {
		return nil, apiError(CodeGroupNotFound, "The security group '%s' does not exist", name)
	}
	return found, nil
}

func (f *EC2) createGroup(vpcID, name, desc string, t tags, dryRun bool) (*secGroup, error) {
	if name == "" {
		return nil, missing("GroupName")
	}
	if desc == "" {
		return nil, missing("GroupDescription")
	}
	if len(name) > 255 || len(desc) > 255 {
		return nil, invalidValue("Group name and description must be at most 255 characters.")
	}
	if strings.HasPrefix(name, prefixGroup) {
		return nil, invalidValue("Group names may not be in the format sg-*.")
	}
	if vpcID == "" {
		for _, id := range sortedIDs(f.st.vpcs) {
			if f.st.vpcs[id].isDefault {
				vpcID = id
			}
		}
		if vpcID == "" {
			return nil, apiError(CodeVPCIDNotSpecified, "No default VPC for this user")
		}
	}
	v, err := f.lookupVPC(vpcID)
	if err != nil {
		return nil, err
	}
	for _, g := range f.st.groups {
		if g.vpcID == v.id && g.name == name {
			return nil, apiError(CodeGroupDuplicate, "The security group '%s' already exists for VPC '%s'", name, v.id)
		}
	}
	if dryRun {
		return nil, dryRunError()
	}
	return f.newGroup(v.id, name, desc, t), nil
}

// CreateSecurityGroup creates a security group in a VPC (the default VPC when
// VpcId is empty and one exists) with EC2's default outbound rule allowing
// all traffic. Names are unique per VPC (InvalidGroup.Duplicate).
func (f *EC2) CreateSecurityGroup(ctx context.Context, in *ec2.CreateSecurityGroupInput, _ ...func(*ec2.Options)) (*ec2.CreateSecurityGroupOutput, error) {
	return call(ctx, f, ActionCreateSecurityGroup, in, true, func(in *ec2.CreateSecurityGroupInput) (*ec2.CreateSecurityGroupOutput, error) {
		t, err := tagSpecs(in.TagSpecifications, types.ResourceTypeSecurityGroup)
		if err != nil {
			return nil, err
		}
		g, err := f.createGroup(aws.ToString(in.VpcId), aws.ToString(in.GroupName), aws.ToString(in.Description), t, dry(in.DryRun))
		if err != nil {
			return nil, err
		}
		return &ec2.CreateSecurityGroupOutput{GroupId: aws.String(g.id), SecurityGroupArn: aws.String(f.groupARN(g.id)), Tags: g.tags.list()}, nil
	})
}

func (f *EC2) groupARN(id string) string {
	return fmt.Sprintf("arn:aws:ec2:%s:%s:security-group/%s", f.opts.Region, f.opts.AccountID, id)
}

// DeleteSecurityGroup deletes a security group by ID (or by name). A group
// still used by a network interface, or referenced by a rule of another
// group, cannot be deleted (DependencyViolation); nor can a VPC's default
// group (CannotDelete).
func (f *EC2) DeleteSecurityGroup(ctx context.Context, in *ec2.DeleteSecurityGroupInput, _ ...func(*ec2.Options)) (*ec2.DeleteSecurityGroupOutput, error) {
	return call(ctx, f, ActionDeleteSecurityGroup, in, true, func(in *ec2.DeleteSecurityGroupInput) (*ec2.DeleteSecurityGroupOutput, error) {
		g, err := f.lookupGroup(aws.ToString(in.GroupId), aws.ToString(in.GroupName))
		if err != nil {
			return nil, err
		}
		if v := f.st.vpcs[g.vpcID]; v != nil && v.defaultSG == g.id {
			return nil, apiError(CodeGroupCannotDelete, "the specified group: \"%s\" name: \"default\" cannot be deleted by a user", g.id)
		}
		if err := f.groupInUse(g.id); err != nil {
			return nil, err
		}
		if dry(in.DryRun) {
			return nil, dryRunError()
		}
		f.deleteGroup(g)
		return &ec2.DeleteSecurityGroupOutput{GroupId: aws.String(g.id), Return: aws.Bool(true)}, nil
	})
}

func (f *EC2) groupInUse(id string) error {
	for _, eid := range sortedIDs(f.st.enis) {
		if slices.Contains(f.st.enis[eid].groups, id) {
			return apiError(CodeDependencyViolation, "resource %s has a dependent object", id)
		}
	}
	for _, r := range f.st.rules {
		if r.refGroup == id && r.groupID != id {
			return apiError(CodeDependencyViolation, "resource %s has a dependent object", id)
		}
	}
	return nil
}

// renderGroup renders g with the rules Describe calls show at now.
func (f *EC2) renderGroup(g *secGroup, now time.Time) types.SecurityGroup {
	perms := renderPermissions(f.shownRules(g, false, now))
	for i := range perms {
		for j := range perms[i].UserIdGroupPairs {
			perms[i].UserIdGroupPairs[j].UserId = aws.String(f.opts.AccountID)
		}
	}
	egress := renderPermissions(f.shownRules(g, true, now))
	for i := range egress {
		for j := range egress[i].UserIdGroupPairs {
			egress[i].UserIdGroupPairs[j].UserId = aws.String(f.opts.AccountID)
		}
	}
	return types.SecurityGroup{
		GroupId:             aws.String(g.id),
		GroupName:           aws.String(g.name),
		Description:         aws.String(g.desc),
		VpcId:               aws.String(g.vpcID),
		OwnerId:             aws.String(f.opts.AccountID),
		SecurityGroupArn:    aws.String(f.groupARN(g.id)),
		IpPermissions:       perms,
		IpPermissionsEgress: egress,
		Tags:                g.tags.list(),
	}
}

// permissionField answers an ip-permission.* (egress false) or
// egress.ip-permission.* (egress true) filter over the group's rules.
func permissionField(egress bool, get func(f *EC2, sp ruleSpec) []string) filterField[*secGroup] {
	return func(f *EC2, g *secGroup) []string {
		var vals []string
		for _, sp := range f.shownRules(g, egress, f.now) {
			vals = append(vals, get(f, sp)...)
		}
		return vals
	}
}

// nonEmpty returns s as a one-value list, or nothing when it is empty.
func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return one(s)
}

// groupFilterFields returns the filters of DescribeSecurityGroups the fake
// models.
func groupFilterFields() map[string]filterField[*secGroup] {
	m := map[string]filterField[*secGroup]{
		"group-id":    func(_ *EC2, g *secGroup) []string { return one(g.id) },
		"group-name":  func(_ *EC2, g *secGroup) []string { return one(g.name) },
		"description": func(_ *EC2, g *secGroup) []string { return one(g.desc) },
		"vpc-id":      func(_ *EC2, g *secGroup) []string { return one(g.vpcID) },
		"owner-id":    func(f *EC2, _ *secGroup) []string { return one(f.opts.AccountID) },
	}
	perms := map[string]func(f *EC2, sp ruleSpec) []string{
		"cidr":           func(_ *EC2, sp ruleSpec) []string { return nonEmpty(sp.cidr4) },
		"ipv6-cidr":      func(_ *EC2, sp ruleSpec) []string { return nonEmpty(sp.cidr6) },
		"prefix-list-id": func(_ *EC2, sp ruleSpec) []string { return nonEmpty(sp.prefixID) },
		"group-id":       func(_ *EC2, sp ruleSpec) []string { return nonEmpty(sp.refGroup) },
		"group-name": func(f *EC2, sp ruleSpec) []string {
			if rg := f.st.groups[sp.refGroup]; rg != nil {
				return one(rg.name)
			}
			return nil
		},
		"protocol":  func(_ *EC2, sp ruleSpec) []string { return one(sp.proto) },
		"from-port": func(_ *EC2, sp ruleSpec) []string { return one(strconv.Itoa(int(sp.from))) },
		"to-port":   func(_ *EC2, sp ruleSpec) []string { return one(strconv.Itoa(int(sp.to))) },
		"user-id": func(f *EC2, sp ruleSpec) []string {
			if sp.refGroup == "" {
				return nil
			}
			return one(f.opts.AccountID)
		},
	}
	for name, get := range perms {
		m["ip-permission."+name] = permissionField(false, get)
		m["egress.ip-permission."+name] = permissionField(true, get)
	}
	return m
}

// groupFilters are the filters of DescribeSecurityGroups the fake models.
// Every name is in the SDK's documentation of the operation (checked by a
// test).
var groupFilters = newFilterTable(ActionDescribeSecurityGroups, groupFilterFields())

// DescribeSecurityGroups lists security groups with their rules as IP
// permissions. Unknown IDs give InvalidGroup.NotFound. Filters: group-id,
// group-name, description, vpc-id, owner-id, ip-permission.{cidr,
// ipv6-cidr, prefix-list-id, group-id, group-name, protocol, from-port,
// to-port, user-id} and the same under egress.ip-permission., tag:<key>,
// tag-key: every filter the SDK documents for the operation. MaxResults is
// 5..1000.
func (f *EC2) DescribeSecurityGroups(ctx context.Context, in *ec2.DescribeSecurityGroupsInput, _ ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupsOutput, error) {
	narrowed := in != nil && filtered(in.Filters, len(in.GroupIds)+len(in.GroupNames), in.MaxResults)
	return call(ctx, f, ActionDescribeSecurityGroups, in, narrowed, func(in *ec2.DescribeSecurityGroupsInput) (*ec2.DescribeSecurityGroupsOutput, error) {
		if err := pages[ActionDescribeSecurityGroups].check(in.MaxResults, len(in.GroupIds) > 0); err != nil {
			return nil, err
		}
		fs, err := groupFilters.compile(in.Filters)
		if err != nil {
			return nil, err
		}
		now := f.now
		match := func(id string) (bool, bool) {
			g := f.shownGroup(id, now)
			if g == nil {
				return false, false
			}
			return true, fs.match(f, g, g.tags)
		}
		var ids []string
		if len(in.GroupIds) > 0 {
			var missingIDs []string
			for _, id := range dedupe(in.GroupIds) {
				if err := checkID(id, prefixGroup, CodeGroupIDMalformed); err != nil {
					return nil, err
				}
				shown, pass := match(id)
				if !shown {
					missingIDs = append(missingIDs, id)
				} else if pass {
					ids = append(ids, id)
				}
			}
			if len(missingIDs) > 0 {
				return nil, apiError(CodeGroupNotFound, "The security group '%s' does not exist", strings.Join(missingIDs, "', '"))
			}
			slices.Sort(ids)
		} else {
			ids, _ = f.selectIDs(nil, "", "", "", "", match,
				withGone(sortedIDs(f.st.groups), f.st.goneGroups, func(g *secGroup) *meta { return &g.meta }, now))
		}
		if len(in.GroupNames) > 0 {
			names := dedupe(in.GroupNames)
			ids = slices.DeleteFunc(ids, func(id string) bool { return !slices.Contains(names, f.shownGroup(id, now).name) })
			for _, n := range names {
				if !slices.ContainsFunc(ids, func(id string) bool { return f.shownGroup(id, now).name == n }) {
					return nil, apiError(CodeGroupNotFound, "The security group '%s' does not exist", n)
				}
			}
		}
		ids, next, err := pages[ActionDescribeSecurityGroups].paginate(ids, in.MaxResults, in.NextToken, len(in.GroupIds) > 0)
		if err != nil {
			return nil, err
		}
		out := &ec2.DescribeSecurityGroupsOutput{NextToken: next, SecurityGroups: make([]types.SecurityGroup, 0, len(ids))}
		for _, id := range ids {
			out.SecurityGroups = append(out.SecurityGroups, f.renderGroup(f.shownGroup(id, now), now))
		}
		return out, nil
	})
}
