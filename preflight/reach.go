package preflight

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// Protocol is an IP protocol as EC2 security-group rules name it: "tcp",
// "udp", "icmp", "icmpv6", a protocol number such as "50", or "-1" for every
// protocol.
type Protocol string

// Protocols used by the checks.
const (
	TCP          Protocol = "tcp"
	UDP          Protocol = "udp"
	ICMP         Protocol = "icmp"
	ICMPv6       Protocol = "icmpv6"
	AllProtocols Protocol = "-1"
)

// protoAll is the normalised number of AllProtocols.
const protoAll = -1

// number returns the IANA protocol number of p, or protoAll for "-1".
func (p Protocol) number() (int, error) {
	switch strings.ToLower(string(p)) {
	case "tcp":
		return 6, nil
	case "udp":
		return 17, nil
	case "icmp":
		return 1, nil
	case "icmpv6":
		return 58, nil
	case "-1", "all":
		return protoAll, nil
	}
	n, err := strconv.Atoi(string(p))
	if err != nil || n < 0 || n > 255 {
		return 0, fmt.Errorf("preflight: protocol %q is not tcp, udp, icmp, icmpv6, -1 or a number from 0 to 255", string(p))
	}
	return n, nil
}

// hasPorts reports whether protocol number n has ports (TCP, UDP) or
// type/code pairs (ICMP, ICMPv6) that a rule's FromPort and ToPort restrict.
func hasPorts(n int) bool { return n == 6 || n == 17 || n == 1 || n == 58 }

// Endpoint is one end of a flow: an ENI carrying security groups, an address
// range outside any security group, or both.
//
// Groups are the security groups attached to the ENI. An endpoint without
// groups stands for traffic to or from addresses that no security group
// filters (a CIDR on the internet, an on-premises range): no egress rule is
// needed to leave it and no ingress rule to enter it.
//
// Prefix is the range the endpoint's address lies in (a single address is a
// /32 or /128). A CIDR rule matches the endpoint only if it contains the whole
// prefix, so a verdict holds for every address the endpoint may have. The zero
// Prefix means the address is unknown: only 0.0.0.0/0 and ::/0 rules match it.
type Endpoint struct {
	Groups []string
	Prefix netip.Prefix
}

// String describes e for messages: its groups, then its prefix.
func (e Endpoint) String() string {
	var parts []string
	if len(e.Groups) > 0 {
		parts = append(parts, strings.Join(e.Groups, ","))
	}
	if e.Prefix.IsValid() {
		parts = append(parts, e.Prefix.String())
	}
	if len(parts) == 0 {
		return "(unknown address)"
	}
	return strings.Join(parts, " ")
}

// Flow is a connection opened from From to To with Protocol, to destination
// port Port. For ICMP and ICMPv6, Port is the ICMP type. For AllProtocols the
// flow asks whether all traffic is allowed, and only rules of protocol -1
// allow it; Port is then ignored.
type Flow struct {
	From     Endpoint
	To       Endpoint
	Protocol Protocol
	Port     int32
}

// String describes f for messages, for example "tcp/53 from sg-1 to sg-2".
func (f Flow) String() string {
	proto := string(f.Protocol)
	if f.Protocol == AllProtocols {
		proto = "all traffic"
	} else {
		proto = fmt.Sprintf("%s/%d", proto, f.Port)
	}
	return fmt.Sprintf("%s from %s to %s", proto, f.From, f.To)
}

// Rule is one security-group rule in a form that names the group it belongs
// to and the single peer it admits. EC2's IpPermission, which may list several
// CIDRs and groups, becomes one Rule per peer.
type Rule struct {
	// GroupID is the security group the rule belongs to.
	GroupID string `json:"groupId"`
	// Egress is true for an outbound rule, false for an inbound one.
	Egress bool `json:"egress"`
	// Protocol is the rule's protocol as EC2 reported it.
	Protocol Protocol `json:"protocol"`
	// FromPort and ToPort bound the port range (ICMP: type and code); -1 or
	// absent means every port.
	FromPort int32 `json:"fromPort"`
	ToPort   int32 `json:"toPort"`
	// Peer is the CIDR, the referenced security group ID, or the prefix
	// list ID the rule admits.
	Peer string `json:"peer"`
}

// String renders r the way the EC2 console lists a rule, for example
// "sg-1 ingress tcp 53-53 from sg-2".
func (r Rule) String() string {
	dir, prep := "ingress", "from"
	if r.Egress {
		dir, prep = "egress", "to"
	}
	ports := "all"
	if r.Protocol != AllProtocols && (r.FromPort != -1 || r.ToPort != -1) {
		ports = fmt.Sprintf("%d-%d", r.FromPort, r.ToPort)
	}
	return fmt.Sprintf("%s %s %s %s %s %s", r.GroupID, dir, r.Protocol, ports, prep, r.Peer)
}

// compiledRule is a Rule ready for matching.
type compiledRule struct {
	Rule
	proto  int          // protocol number, protoAll for every protocol
	prefix netip.Prefix // CIDR peer, when valid
	group  string       // referenced group peer, when not empty
}

// group is the compiled form of one security group.
type group struct {
	id      string
	vpcID   string
	ingress []compiledRule
	egress  []compiledRule
}

// Groups is a snapshot of security groups and their rules, compiled for
// evaluating flows. It is immutable once built and safe for concurrent use.
//
// Groups models EC2 semantics:
//   - rules only allow; traffic is allowed when some rule allows it;
//   - a flow needs an egress rule on a group of its source and an ingress
//     rule on a group of its destination (endpoints without groups need none);
//   - groups are stateful: replies to an allowed flow are allowed whatever
//     the rules in the other direction say, so only the opening direction
//     is evaluated;
//   - a rule that references a group matches any endpoint carrying that
//     group, the rule's own group included (the "self" rule);
//   - protocol -1 matches every protocol and port.
//
// Rules that admit a managed prefix list are kept for display but never
// match: resolving prefix lists needs an API call Groups does not make.
type Groups struct {
	byID map[string]*group
}

// NewGroups compiles security groups as DescribeSecurityGroups returns them.
// A rule with a CIDR or protocol that does not parse is an error naming the
// group and the value.
func NewGroups(sgs []types.SecurityGroup) (*Groups, error) {
	g := &Groups{byID: make(map[string]*group, len(sgs))}
	for _, sg := range sgs {
		id := deref(sg.GroupId)
		if id == "" {
			return nil, fmt.Errorf("preflight: security group without a GroupId in the DescribeSecurityGroups output")
		}
		cg := &group{id: id, vpcID: deref(sg.VpcId)}
		var err error
		if cg.ingress, err = compilePermissions(id, false, sg.IpPermissions); err != nil {
			return nil, err
		}
		if cg.egress, err = compilePermissions(id, true, sg.IpPermissionsEgress); err != nil {
			return nil, err
		}
		g.byID[id] = cg
	}
	return g, nil
}

func compilePermissions(groupID string, egress bool, perms []types.IpPermission) ([]compiledRule, error) {
	var out []compiledRule
	for _, p := range perms {
		proto := Protocol(deref(p.IpProtocol))
		n, err := proto.number()
		if err != nil {
			return nil, fmt.Errorf("preflight: security group %s: %w", groupID, err)
		}
		base := compiledRule{
			Rule:  Rule{GroupID: groupID, Egress: egress, Protocol: proto, FromPort: -1, ToPort: -1},
			proto: n,
		}
		if n != protoAll && hasPorts(n) {
			if p.FromPort != nil {
				base.FromPort = *p.FromPort
			}
			if p.ToPort != nil {
				base.ToPort = *p.ToPort
			}
		}
		addCIDR := func(s string) error {
			pfx, err := netip.ParsePrefix(s)
			if err != nil {
				return fmt.Errorf("preflight: security group %s: rule CIDR %q: %w", groupID, s, err)
			}
			r := base
			r.Peer, r.prefix = s, pfx.Masked()
			out = append(out, r)
			return nil
		}
		for _, rng := range p.IpRanges {
			if err := addCIDR(deref(rng.CidrIp)); err != nil {
				return nil, err
			}
		}
		for _, rng := range p.Ipv6Ranges {
			if err := addCIDR(deref(rng.CidrIpv6)); err != nil {
				return nil, err
			}
		}
		for _, pair := range p.UserIdGroupPairs {
			r := base
			r.group = deref(pair.GroupId)
			r.Peer = r.group
			out = append(out, r)
		}
		for _, pl := range p.PrefixListIds {
			r := base
			r.Peer = deref(pl.PrefixListId)
			out = append(out, r)
		}
	}
	return out, nil
}

// Has reports whether the snapshot holds group id.
func (g *Groups) Has(id string) bool {
	_, ok := g.byID[id]
	return ok
}

// VPC returns the VPC of group id, or "" when the group is not in the
// snapshot or EC2 did not say.
func (g *Groups) VPC(id string) string {
	if sg, ok := g.byID[id]; ok {
		return sg.vpcID
	}
	return ""
}

// Rules returns the rules of group id, ingress first, in EC2's order.
func (g *Groups) Rules(id string) []Rule {
	sg, ok := g.byID[id]
	if !ok {
		return nil
	}
	out := make([]Rule, 0, len(sg.ingress)+len(sg.egress))
	for _, r := range sg.ingress {
		out = append(out, r.Rule)
	}
	for _, r := range sg.egress {
		out = append(out, r.Rule)
	}
	return out
}

// Side is the verdict of one direction of a flow: egress out of the source or
// ingress into the destination.
type Side struct {
	// Needed is false when the endpoint carries no groups, so nothing
	// filters this side.
	Needed bool `json:"needed"`
	// Allowed reports whether the side lets the flow pass (always true when
	// not Needed).
	Allowed bool `json:"allowed"`
	// Rule is the first rule found that allows the flow, when Needed and
	// Allowed.
	Rule *Rule `json:"rule,omitempty"`
	// UnknownGroups lists groups of the endpoint missing from the snapshot;
	// they contribute no rules.
	UnknownGroups []string `json:"unknownGroups,omitempty"`
}

// Verdict is the result of evaluating a Flow.
type Verdict struct {
	// Allowed reports whether the flow is allowed: both sides allow it.
	Allowed bool `json:"allowed"`
	// Egress is the verdict of the source's groups.
	Egress Side `json:"egress"`
	// Ingress is the verdict of the destination's groups.
	Ingress Side `json:"ingress"`
}

// Evaluate reports whether f is allowed by the groups in the snapshot, and by
// which rules. It returns an error only when f.Protocol does not parse.
func (g *Groups) Evaluate(f Flow) (Verdict, error) {
	proto, err := f.Protocol.number()
	if err != nil {
		return Verdict{}, err
	}
	v := Verdict{
		Egress:  g.side(f.From.Groups, true, proto, f.Port, f.To),
		Ingress: g.side(f.To.Groups, false, proto, f.Port, f.From),
	}
	v.Allowed = v.Egress.Allowed && v.Ingress.Allowed
	return v, nil
}

// side evaluates the rules of groups in one direction against the peer at the
// other end of the flow.
func (g *Groups) side(groups []string, egress bool, proto int, port int32, peer Endpoint) Side {
	if len(groups) == 0 {
		return Side{Needed: false, Allowed: true}
	}
	s := Side{Needed: true}
	for _, id := range groups {
		sg, ok := g.byID[id]
		if !ok {
			if !slices.Contains(s.UnknownGroups, id) {
				s.UnknownGroups = append(s.UnknownGroups, id)
			}
			continue
		}
		rules := sg.ingress
		if egress {
			rules = sg.egress
		}
		if s.Allowed {
			continue
		}
		for i := range rules {
			if rules[i].matches(proto, port, peer) {
				r := rules[i].Rule
				s.Allowed, s.Rule = true, &r
				break
			}
		}
	}
	return s
}

// matches reports whether r admits protocol proto to port from or to peer.
func (r *compiledRule) matches(proto int, port int32, peer Endpoint) bool {
	switch {
	case r.proto == protoAll:
	case proto == protoAll || r.proto != proto:
		return false
	case proto == 6 || proto == 17:
		if r.FromPort != -1 && (port < r.FromPort || port > r.ToPort) {
			return false
		}
	case proto == 1 || proto == 58:
		// FromPort is the ICMP type; -1 admits every type.
		if r.FromPort != -1 && port != r.FromPort {
			return false
		}
	}
	switch {
	case r.group != "":
		return slices.Contains(peer.Groups, r.group)
	case r.prefix.IsValid():
		if !peer.Prefix.IsValid() {
			return r.prefix.Bits() == 0
		}
		p := peer.Prefix.Masked()
		return r.prefix.Addr().Is4() == p.Addr().Is4() && r.prefix.Bits() <= p.Bits() && r.prefix.Contains(p.Addr())
	}
	return false
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
