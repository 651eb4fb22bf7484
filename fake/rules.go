package fake

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// ruleSpec is one rule: a protocol and port range with one peer.
type ruleSpec struct {
	proto    string
	from, to int32
	cidr4    string
	cidr6    string
	refGroup string
	prefixID string
	desc     string
}

// key identifies a rule within its group and direction, regardless of its
// description.
func (r ruleSpec) key() string {
	return fmt.Sprintf("%s|%d|%d|%s|%s|%s|%s", r.proto, r.from, r.to, r.cidr4, r.cidr6, r.refGroup, r.prefixID)
}

func (r *sgRule) spec() ruleSpec {
	return ruleSpec{proto: r.proto, from: r.from, to: r.to, cidr4: r.cidr4, cidr6: r.cidr6,
		refGroup: r.refGroup, prefixID: r.prefixID, desc: r.desc}
}

func (r ruleSpec) peer() string {
	switch {
	case r.cidr4 != "":
		return r.cidr4
	case r.cidr6 != "":
		return r.cidr6
	case r.prefixID != "":
		return r.prefixID
	}
	return r.refGroup
}

func (f *EC2) addRule(g *secGroup, egress bool, sp ruleSpec) *sgRule {
	r := &sgRule{meta: f.newMeta(prefixRule, nil), groupID: g.id, egress: egress,
		proto: sp.proto, from: sp.from, to: sp.to, cidr4: sp.cidr4, cidr6: sp.cidr6,
		refGroup: sp.refGroup, prefixID: sp.prefixID, desc: sp.desc}
	f.st.rules[r.id] = r
	if egress {
		g.egress = append(g.egress, r.id)
	} else {
		g.ingress = append(g.ingress, r.id)
	}
	return r
}

// removeRule deletes a rule. Describe calls keep showing it until the
// deletion propagates (Consistency.Delete).
func (f *EC2) removeRule(r *sgRule) {
	g := f.st.groups[r.groupID]
	if g != nil {
		g.ingress = slices.DeleteFunc(g.ingress, func(id string) bool { return id == r.id })
		g.egress = slices.DeleteFunc(g.egress, func(id string) bool { return id == r.id })
	}
	delete(f.st.rules, r.id)
	f.ghostRule(r, f.lag(lagDelete, r.id))
}

func (f *EC2) ghostRule(r *sgRule, d time.Duration) {
	if d > 0 && r.visible(f.now) {
		r.goneAt = f.now.Add(d)
		f.st.goneRules[r.id] = r
	}
}

// shownRule returns the rule Describe calls show under id at now.
func (f *EC2) shownRule(id string, now time.Time) *sgRule {
	if r := f.st.rules[id]; r != nil && r.visible(now) {
		return r
	}
	if r := f.st.goneRules[id]; r != nil && r.shown(now) {
		return r
	}
	return nil
}

// shownRules returns the rules of g in one direction that Describe calls
// show at now: those whose creation has propagated, in creation order, then
// those deleted too recently for the deletion to have propagated.
func (f *EC2) shownRules(g *secGroup, egress bool, now time.Time) []ruleSpec {
	ids := g.ingress
	if egress {
		ids = g.egress
	}
	var out []ruleSpec
	for _, id := range ids {
		if r := f.shownRule(id, now); r != nil {
			out = append(out, r.spec())
		}
	}
	if len(f.st.goneRules) > 0 {
		for _, id := range sortedIDs(f.st.goneRules) {
			r := f.st.goneRules[id]
			if r.groupID == g.id && r.egress == egress && r.shown(now) && !slices.Contains(ids, id) {
				out = append(out, r.spec())
			}
		}
	}
	return out
}

// normProto normalizes an IP protocol as EC2 stores it.
func normProto(p string) (string, error) {
	switch strings.ToLower(p) {
	case "":
		return "", missing("IpProtocol")
	case "-1", "all":
		return "-1", nil
	case "tcp", "6":
		return "tcp", nil
	case "udp", "17":
		return "udp", nil
	case "icmp", "1":
		return "icmp", nil
	case "icmpv6", "58":
		return "icmpv6", nil
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 255 {
		return "", invalidValue("Invalid value '%s' for IP protocol. Unknown protocol.", p)
	}
	return p, nil
}

// expand turns IP permissions into rule specs, checking every field as EC2
// does. self is the group being changed, whose VPC bounds referenced groups.
func (f *EC2) expand(perms []types.IpPermission, self *secGroup) ([]ruleSpec, error) {
	var out []ruleSpec
	for _, p := range perms {
		proto, err := normProto(aws.ToString(p.IpProtocol))
		if err != nil {
			return nil, err
		}
		from, to := int32(-1), int32(-1)
		switch proto {
		case "tcp", "udp":
			if p.FromPort == nil || p.ToPort == nil {
				return nil, invalidValue("Invalid value for portRange. Must specify both from and to ports with TCP/UDP.")
			}
			from, to = *p.FromPort, *p.ToPort
			if from < 0 || to > 65535 || from > to {
				return nil, invalidValue("Invalid value '%d-%d' for portRange. Must be between 0 and 65535 with fromPort <= toPort.", from, to)
			}
		case "icmp", "icmpv6":
			from, to = aws.ToInt32(p.FromPort), aws.ToInt32(p.ToPort)
			if p.FromPort == nil {
				from = -1
			}
			if p.ToPort == nil {
				to = -1
			}
			if from < -1 || from > 255 || to < -1 || to > 255 {
				return nil, invalidValue("Invalid value '%d/%d' for ICMP type/code.", from, to)
			}
		}
		n := len(out)
		for _, r := range p.IpRanges {
			c := aws.ToString(r.CidrIp)
			if pr, ok := parseIPv4Prefix(c); !ok || pr.String() != c {
				return nil, invalidValue("CIDR block %s is malformed", c)
			}
			out = append(out, ruleSpec{proto: proto, from: from, to: to, cidr4: c, desc: aws.ToString(r.Description)})
		}
		for _, r := range p.Ipv6Ranges {
			c := aws.ToString(r.CidrIpv6)
			pr, err := netip.ParsePrefix(c)
			if err != nil || !pr.Addr().Is6() || pr.Masked() != pr {
				return nil, invalidValue("CIDR block %s is malformed", c)
			}
			out = append(out, ruleSpec{proto: proto, from: from, to: to, cidr6: pr.String(), desc: aws.ToString(r.Description)})
		}
		for _, r := range p.PrefixListIds {
			id := aws.ToString(r.PrefixListId)
			if !strings.HasPrefix(id, "pl-") {
				return nil, apiError("InvalidPrefixListId.Malformed", "Invalid id: \"%s\" (expecting \"pl-...\")", id)
			}
			out = append(out, ruleSpec{proto: proto, from: from, to: to, prefixID: id, desc: aws.ToString(r.Description)})
		}
		for _, pair := range p.UserIdGroupPairs {
			ref, err := f.lookupGroup(aws.ToString(pair.GroupId), aws.ToString(pair.GroupName))
			if err != nil {
				return nil, err
			}
			if ref.vpcID != self.vpcID {
				return nil, invalidValue("You have specified two resources that belong to different networks: %s and %s.", ref.id, self.id)
			}
			out = append(out, ruleSpec{proto: proto, from: from, to: to, refGroup: ref.id, desc: aws.ToString(pair.Description)})
		}
		if len(out) == n {
			return nil, missing("IpPermissions.IpRanges, Ipv6Ranges, PrefixListIds or UserIdGroupPairs")
		}
	}
	if len(out) == 0 {
		return nil, missing("IpPermissions")
	}
	return out, nil
}

// flatPermission turns the legacy single-rule parameters of the authorize and
// revoke calls into an IP permission (nil when none is set).
func flatPermission(cidr, proto, srcName *string, from, to *int32) []types.IpPermission {
	if cidr == nil && proto == nil && srcName == nil && from == nil && to == nil {
		return nil
	}
	p := types.IpPermission{IpProtocol: proto, FromPort: from, ToPort: to}
	if p.IpProtocol == nil {
		p.IpProtocol = aws.String("-1")
	}
	if cidr != nil {
		p.IpRanges = []types.IpRange{{CidrIp: cidr}}
	}
	if srcName != nil {
		p.UserIdGroupPairs = []types.UserIdGroupPair{{GroupName: srcName}}
	}
	return []types.IpPermission{p}
}

func ruleText(sp ruleSpec) string {
	proto := strings.ToUpper(sp.proto)
	if sp.proto == "-1" {
		proto = "ALL"
	}
	return fmt.Sprintf("peer: %s, %s, from port: %d, to port: %d, ALLOW", sp.peer(), proto, sp.from, sp.to)
}

func (f *EC2) authorize(g *secGroup, egress bool, perms []types.IpPermission, specTags []types.TagSpecification, dryRun bool) ([]types.SecurityGroupRule, error) {
	t, err := tagSpecs(specTags, types.ResourceTypeSecurityGroupRule)
	if err != nil {
		return nil, err
	}
	specs, err := f.expand(perms, g)
	if err != nil {
		return nil, err
	}
	ids := g.ingress
	if egress {
		ids = g.egress
	}
	have := make(map[string]bool, len(ids)+len(specs))
	for _, id := range ids {
		have[f.st.rules[id].spec().key()] = true
	}
	for _, sp := range specs {
		if have[sp.key()] {
			return nil, apiError(CodePermissionDuplicate, "the specified rule \"%s\" already exists", ruleText(sp))
		}
		have[sp.key()] = true
	}
	if len(ids)+len(specs) > f.opts.RulesPerGroup {
		return nil, apiError(CodeRulesPerSecurityGroup, "The maximum number of rules per security group has been reached.")
	}
	if dryRun {
		return nil, dryRunError()
	}
	out := make([]types.SecurityGroupRule, 0, len(specs))
	for _, sp := range specs {
		r := f.addRule(g, egress, sp)
		if len(t) > 0 {
			r.tags = make(tags, len(t))
			for k, v := range t {
				r.tags[k] = v
			}
		}
		out = append(out, f.renderRule(r))
	}
	return out, nil
}

// AuthorizeSecurityGroupIngress adds inbound rules to a group, one rule per
// CIDR, prefix list or referenced group of each IP permission, and returns
// them with their sgr- IDs. A rule that exists already fails the whole call
// with InvalidPermission.Duplicate; nothing is added then.
func (f *EC2) AuthorizeSecurityGroupIngress(ctx context.Context, in *ec2.AuthorizeSecurityGroupIngressInput, _ ...func(*ec2.Options)) (*ec2.AuthorizeSecurityGroupIngressOutput, error) {
	return call(ctx, f, ActionAuthorizeSecurityGroupIngress, in, true, func(in *ec2.AuthorizeSecurityGroupIngressInput) (*ec2.AuthorizeSecurityGroupIngressOutput, error) {
		g, err := f.lookupGroup(aws.ToString(in.GroupId), aws.ToString(in.GroupName))
		if err != nil {
			return nil, err
		}
		perms := append(flatPermission(in.CidrIp, in.IpProtocol, in.SourceSecurityGroupName, in.FromPort, in.ToPort), in.IpPermissions...)
		rules, err := f.authorize(g, false, perms, in.TagSpecifications, dry(in.DryRun))
		if err != nil {
			return nil, err
		}
		return &ec2.AuthorizeSecurityGroupIngressOutput{Return: aws.Bool(true), SecurityGroupRules: rules}, nil
	})
}

// AuthorizeSecurityGroupEgress adds outbound rules to a group; see
// AuthorizeSecurityGroupIngress.
func (f *EC2) AuthorizeSecurityGroupEgress(ctx context.Context, in *ec2.AuthorizeSecurityGroupEgressInput, _ ...func(*ec2.Options)) (*ec2.AuthorizeSecurityGroupEgressOutput, error) {
	return call(ctx, f, ActionAuthorizeSecurityGroupEgress, in, true, func(in *ec2.AuthorizeSecurityGroupEgressInput) (*ec2.AuthorizeSecurityGroupEgressOutput, error) {
		g, err := f.lookupGroup(aws.ToString(in.GroupId), "")
		if err != nil {
			return nil, err
		}
		perms := append(flatPermission(in.CidrIp, in.IpProtocol, in.SourceSecurityGroupName, in.FromPort, in.ToPort), in.IpPermissions...)
		rules, err := f.authorize(g, true, perms, in.TagSpecifications, dry(in.DryRun))
		if err != nil {
			return nil, err
		}
		return &ec2.AuthorizeSecurityGroupEgressOutput{Return: aws.Bool(true), SecurityGroupRules: rules}, nil
	})
}

// revoke removes rules of g in one direction, by rule IDs or by
// permissions (not both). By IDs, every ID must name a rule of g in that
// direction (InvalidSecurityGroupRuleId.NotFound), and nothing is revoked
// otherwise. By permissions, as the SDK documents RevokeSecurityGroupIngress:
// "For a non-default VPC, if the values you specify do not match the
// existing rule's values, an InvalidPermission.NotFound client error is
// returned, and no rules are revoked"; in a default VPC "no error is
// returned, and the output describes the security group rules that were not
// revoked" (the matching ones are). RevokeSecurityGroupEgress documents only
// the default-VPC case; the fake refuses the same way in other VPCs.
func (f *EC2) revoke(g *secGroup, egress bool, ruleIDs []string, perms []types.IpPermission, dryRun bool) ([]types.RevokedSecurityGroupRule, []types.IpPermission, error) {
	if len(ruleIDs) > 0 && len(perms) > 0 {
		return nil, nil, apiError(CodeInvalidParameterCombination,
			"The parameter SecurityGroupRuleIds cannot be used with the parameter IpPermissions")
	}
	var victims []*sgRule
	var unknown []types.IpPermission
	if len(ruleIDs) > 0 {
		var missingIDs []string
		for _, id := range dedupe(ruleIDs) {
			if err := checkID(id, prefixRule, CodeSecurityGroupRuleIDMalformed); err != nil {
				return nil, nil, err
			}
			r := f.st.rules[id]
			if r == nil || !f.sees(&r.meta) || r.groupID != g.id || r.egress != egress {
				missingIDs = append(missingIDs, id)
				continue
			}
			victims = append(victims, r)
		}
		if len(missingIDs) > 0 {
			return nil, nil, notFound(CodeSecurityGroupRuleIDNotFound, "security group rule", missingIDs...)
		}
	} else {
		ids := g.ingress
		if egress {
			ids = g.egress
		}
		byKey := make(map[string]*sgRule, len(ids))
		for _, id := range ids {
			byKey[f.st.rules[id].spec().key()] = f.st.rules[id]
		}
		for _, p := range perms {
			specs, err := f.expand([]types.IpPermission{p}, g)
			if err != nil {
				return nil, nil, err
			}
			for _, sp := range specs {
				if r := byKey[sp.key()]; r != nil {
					victims = append(victims, r)
					delete(byKey, sp.key())
				} else {
					unknown = append(unknown, renderPermissions([]ruleSpec{sp})...)
				}
			}
		}
		if v := f.st.vpcs[g.vpcID]; len(unknown) > 0 && (v == nil || !v.isDefault) {
			return nil, nil, apiError(CodePermissionNotFound, "The specified rule does not exist in this security group.")
		}
	}
	if dryRun {
		return nil, nil, dryRunError()
	}
	out := make([]types.RevokedSecurityGroupRule, 0, len(victims))
	for _, r := range victims {
		rr := f.renderRule(r)
		out = append(out, types.RevokedSecurityGroupRule{
			SecurityGroupRuleId: rr.SecurityGroupRuleId, GroupId: rr.GroupId, IsEgress: rr.IsEgress,
			IpProtocol: rr.IpProtocol, FromPort: rr.FromPort, ToPort: rr.ToPort,
			CidrIpv4: rr.CidrIpv4, CidrIpv6: rr.CidrIpv6, PrefixListId: rr.PrefixListId,
			Description: rr.Description, ReferencedGroupId: optString(r.refGroup),
		})
		f.removeRule(r)
	}
	return out, unknown, nil
}

// RevokeSecurityGroupIngress removes inbound rules, by SecurityGroupRuleIds
// or by IP permissions; see the rules on revoke in the package overview.
func (f *EC2) RevokeSecurityGroupIngress(ctx context.Context, in *ec2.RevokeSecurityGroupIngressInput, _ ...func(*ec2.Options)) (*ec2.RevokeSecurityGroupIngressOutput, error) {
	return call(ctx, f, ActionRevokeSecurityGroupIngress, in, true, func(in *ec2.RevokeSecurityGroupIngressInput) (*ec2.RevokeSecurityGroupIngressOutput, error) {
		g, err := f.lookupGroup(aws.ToString(in.GroupId), aws.ToString(in.GroupName))
		if err != nil {
			return nil, err
		}
		perms := append(flatPermission(in.CidrIp, in.IpProtocol, in.SourceSecurityGroupName, in.FromPort, in.ToPort), in.IpPermissions...)
		if len(perms) == 0 && len(in.SecurityGroupRuleIds) == 0 {
			return nil, missing("IpPermissions or SecurityGroupRuleIds")
		}
		revoked, unknown, err := f.revoke(g, false, in.SecurityGroupRuleIds, perms, dry(in.DryRun))
		if err != nil {
			return nil, err
		}
		return &ec2.RevokeSecurityGroupIngressOutput{Return: aws.Bool(true), RevokedSecurityGroupRules: revoked, UnknownIpPermissions: unknown}, nil
	})
}

// RevokeSecurityGroupEgress removes outbound rules; see
// RevokeSecurityGroupIngress.
func (f *EC2) RevokeSecurityGroupEgress(ctx context.Context, in *ec2.RevokeSecurityGroupEgressInput, _ ...func(*ec2.Options)) (*ec2.RevokeSecurityGroupEgressOutput, error) {
	return call(ctx, f, ActionRevokeSecurityGroupEgress, in, true, func(in *ec2.RevokeSecurityGroupEgressInput) (*ec2.RevokeSecurityGroupEgressOutput, error) {
		g, err := f.lookupGroup(aws.ToString(in.GroupId), "")
		if err != nil {
			return nil, err
		}
		perms := append(flatPermission(in.CidrIp, in.IpProtocol, in.SourceSecurityGroupName, in.FromPort, in.ToPort), in.IpPermissions...)
		if len(perms) == 0 && len(in.SecurityGroupRuleIds) == 0 {
			return nil, missing("IpPermissions or SecurityGroupRuleIds")
		}
		revoked, unknown, err := f.revoke(g, true, in.SecurityGroupRuleIds, perms, dry(in.DryRun))
		if err != nil {
			return nil, err
		}
		return &ec2.RevokeSecurityGroupEgressOutput{Return: aws.Bool(true), RevokedSecurityGroupRules: revoked, UnknownIpPermissions: unknown}, nil
	})
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

func (f *EC2) renderRule(r *sgRule) types.SecurityGroupRule {
	out := types.SecurityGroupRule{
		SecurityGroupRuleId:  aws.String(r.id),
		SecurityGroupRuleArn: aws.String(fmt.Sprintf("arn:aws:ec2:%s:%s:security-group-rule/%s", f.opts.Region, f.opts.AccountID, r.id)),
		GroupId:              aws.String(r.groupID),
		GroupOwnerId:         aws.String(f.opts.AccountID),
		IsEgress:             aws.Bool(r.egress),
		IpProtocol:           aws.String(r.proto),
		FromPort:             aws.Int32(r.from),
		ToPort:               aws.Int32(r.to),
		CidrIpv4:             optString(r.cidr4),
		CidrIpv6:             optString(r.cidr6),
		PrefixListId:         optString(r.prefixID),
		Description:          optString(r.desc),
		Tags:                 r.tags.list(),
	}
	if r.refGroup != "" {
		out.ReferencedGroupInfo = &types.ReferencedSecurityGroup{GroupId: aws.String(r.refGroup), UserId: aws.String(f.opts.AccountID)}
	}
	return out
}

// renderPermissions groups rule specs into IP permissions by protocol and
// port range, in order of first appearance, as DescribeSecurityGroups does.
func renderPermissions(specs []ruleSpec) []types.IpPermission {
	var out []types.IpPermission
	index := make(map[string]int)
	for _, sp := range specs {
		k := fmt.Sprintf("%s|%d|%d", sp.proto, sp.from, sp.to)
		i, ok := index[k]
		if !ok {
			p := types.IpPermission{IpProtocol: aws.String(sp.proto)}
			if sp.proto != "-1" {
				p.FromPort, p.ToPort = aws.Int32(sp.from), aws.Int32(sp.to)
			}
			out = append(out, p)
			i = len(out) - 1
			index[k] = i
		}
		p := &out[i]
		switch {
		case sp.cidr4 != "":
			p.IpRanges = append(p.IpRanges, types.IpRange{CidrIp: aws.String(sp.cidr4), Description: optString(sp.desc)})
		case sp.cidr6 != "":
			p.Ipv6Ranges = append(p.Ipv6Ranges, types.Ipv6Range{CidrIpv6: aws.String(sp.cidr6), Description: optString(sp.desc)})
		case sp.prefixID != "":
			p.PrefixListIds = append(p.PrefixListIds, types.PrefixListId{PrefixListId: aws.String(sp.prefixID), Description: optString(sp.desc)})
		default:
			p.UserIdGroupPairs = append(p.UserIdGroupPairs, types.UserIdGroupPair{GroupId: aws.String(sp.refGroup), Description: optString(sp.desc)})
		}
	}
	return out
}

// ruleFilters are the filters of DescribeSecurityGroupRules: the SDK
// documents group-id, security-group-rule-id and tag:<key>, and nothing else.
var ruleFilters = newFilterTable(ActionDescribeSecurityGroupRules, map[string]filterField[*sgRule]{
	"group-id":               func(_ *EC2, r *sgRule) []string { return one(r.groupID) },
	"security-group-rule-id": func(_ *EC2, r *sgRule) []string { return one(r.id) },
})

// DescribeSecurityGroupRules lists rules. Unknown IDs give
// InvalidSecurityGroupRuleId.NotFound. Filters: group-id,
// security-group-rule-id and tag:<key>, the only ones the SDK documents for
// the operation. MaxResults is 5..1000; rules are listed in ID order.
func (f *EC2) DescribeSecurityGroupRules(ctx context.Context, in *ec2.DescribeSecurityGroupRulesInput, _ ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupRulesOutput, error) {
	narrowed := in != nil && filtered(in.Filters, len(in.SecurityGroupRuleIds), in.MaxResults)
	return call(ctx, f, ActionDescribeSecurityGroupRules, in, narrowed, func(in *ec2.DescribeSecurityGroupRulesInput) (*ec2.DescribeSecurityGroupRulesOutput, error) {
		if err := pages[ActionDescribeSecurityGroupRules].check(in.MaxResults, len(in.SecurityGroupRuleIds) > 0); err != nil {
			return nil, err
		}
		fs, err := ruleFilters.compile(in.Filters)
		if err != nil {
			return nil, err
		}
		ids, err := f.selectIDs(in.SecurityGroupRuleIds, prefixRule, CodeSecurityGroupRuleIDMalformed,
			CodeSecurityGroupRuleIDNotFound, "security group rule",
			func(id string) (bool, bool) {
				r := f.shownRule(id, f.now)
				if r == nil {
					return false, false
				}
				return true, fs.match(f, r, r.tags)
			}, withGone(sortedIDs(f.st.rules), f.st.goneRules, func(r *sgRule) *meta { return &r.meta }, f.now))
		if err != nil {
			return nil, err
		}
		ids, next, err := pages[ActionDescribeSecurityGroupRules].paginate(ids, in.MaxResults, in.NextToken, len(in.SecurityGroupRuleIds) > 0)
		if err != nil {
			return nil, err
		}
		out := &ec2.DescribeSecurityGroupRulesOutput{NextToken: next, SecurityGroupRules: make([]types.SecurityGroupRule, 0, len(ids))}
		for _, id := range ids {
			out.SecurityGroupRules = append(out.SecurityGroupRules, f.renderRule(f.shownRule(id, f.now)))
		}
		return out, nil
	})
}
