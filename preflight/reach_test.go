package preflight

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// groupStore is a small in-test DescribeSecurityGroups: it answers by ID,
// fails the whole request with InvalidGroup.NotFound when one ID is unknown,
// and returns at most pageSize groups per page to exercise NextToken.
type groupStore struct {
	groups   map[string]types.SecurityGroup
	pageSize int
	calls    int
	failWith error
}

func (s *groupStore) DescribeSecurityGroups(_ context.Context, in *ec2.DescribeSecurityGroupsInput, _ ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupsOutput, error) {
	s.calls++
	if s.failWith != nil {
		return nil, s.failWith
	}
	var all []types.SecurityGroup
	for _, id := range in.GroupIds {
		sg, ok := s.groups[id]
		if !ok {
			return nil, &smithy.GenericAPIError{Code: "InvalidGroup.NotFound", Message: fmt.Sprintf("The security group '%s' does not exist", id)}
		}
		all = append(all, sg)
	}
	start := 0
	if in.NextToken != nil {
		start, _ = strconv.Atoi(*in.NextToken)
	}
	size := s.pageSize
	if size <= 0 {
		size = len(all)
	}
	end := min(start+size, len(all))
	out := &ec2.DescribeSecurityGroupsOutput{SecurityGroups: all[start:end]}
	if end < len(all) {
		out.NextToken = aws.String(strconv.Itoa(end))
	}
	return out, nil
}

func newStore(sgs ...types.SecurityGroup) *groupStore {
	s := &groupStore{groups: map[string]types.SecurityGroup{}, pageSize: 2}
	for _, sg := range sgs {
		s.groups[*sg.GroupId] = sg
	}
	return s
}

func sg(id string, ingress, egress []types.IpPermission) types.SecurityGroup {
	return types.SecurityGroup{GroupId: aws.String(id), VpcId: aws.String("vpc-1"), IpPermissions: ingress, IpPermissionsEgress: egress}
}

func perm(proto string, from, to int32, peers ...string) types.IpPermission {
	p := types.IpPermission{IpProtocol: aws.String(proto)}
	if proto != "-1" {
		p.FromPort, p.ToPort = aws.Int32(from), aws.Int32(to)
	}
	for _, peer := range peers {
		switch {
		case len(peer) > 3 && peer[:3] == "sg-":
			p.UserIdGroupPairs = append(p.UserIdGroupPairs, types.UserIdGroupPair{GroupId: aws.String(peer)})
		case len(peer) > 3 && peer[:3] == "pl-":
			p.PrefixListIds = append(p.PrefixListIds, types.PrefixListId{PrefixListId: aws.String(peer)})
		case netip.MustParsePrefix(peer).Addr().Is6():
			p.Ipv6Ranges = append(p.Ipv6Ranges, types.Ipv6Range{CidrIpv6: aws.String(peer)})
		default:
			p.IpRanges = append(p.IpRanges, types.IpRange{CidrIp: aws.String(peer)})
		}
	}
	return p
}

func perms(ps ...types.IpPermission) []types.IpPermission { return ps }

var allOut = perms(perm("-1", 0, 0, "0.0.0.0/0"))

func TestEvaluate(t *testing.T) {
	groups := []types.SecurityGroup{
		// A pod group: a self rule for all traffic, probes from the node
		// group, default egress.
		sg("sg-pod", perms(perm("-1", 0, 0, "sg-pod"), perm("tcp", 8080, 8080, "sg-node")), allOut),
		// A node group hosting CoreDNS: DNS from the pod group, by group.
		sg("sg-node", perms(perm("tcp", 53, 53, "sg-pod"), perm("udp", 53, 53, "sg-pod"), perm("-1", 0, 0, "sg-node")), allOut),
		// A web group: HTTPS from a CIDR and an IPv6 range, ICMP echo, a
		// port range, a prefix list, and egress limited to one CIDR.
		sg("sg-web",
			perms(
				perm("tcp", 443, 443, "10.0.0.0/16", "2001:db8::/32"),
				perm("icmp", 8, -1, "0.0.0.0/0"),
				perm("udp", 30000, 32767, "192.168.0.0/24"),
				perm("tcp", 22, 22, "pl-0123"),
				perm("6", 9000, 9000, "10.1.0.0/16"),
			),
			perms(perm("tcp", 5432, 5432, "10.2.0.0/24"))),
		// A group with no egress at all.
		sg("sg-mute", perms(perm("-1", 0, 0, "0.0.0.0/0")), nil),
	}
	g, err := NewGroups(groups)
	require.NoError(t, err)

	pod := Endpoint{Groups: []string{"sg-pod"}, Prefix: netip.MustParsePrefix("10.0.1.0/24")}
	node := Endpoint{Groups: []string{"sg-node"}, Prefix: netip.MustParsePrefix("10.0.2.0/24")}
	web := Endpoint{Groups: []string{"sg-web"}, Prefix: netip.MustParsePrefix("10.0.3.7/32")}
	ext := func(p string) Endpoint { return Endpoint{Prefix: netip.MustParsePrefix(p)} }
	rule := func(group string, egress bool, proto Protocol, from, to int32, peer string) *Rule {
		return &Rule{GroupID: group, Egress: egress, Protocol: proto, FromPort: from, ToPort: to, Peer: peer}
	}
	noGroups := Side{Needed: false, Allowed: true}

	tests := []struct {
		name string
		flow Flow
		want Verdict
	}{
		{
			name: "self rule admits the group's own members",
			flow: Flow{From: pod, To: pod, Protocol: TCP, Port: 80},
			want: Verdict{Allowed: true,
				Egress:  Side{Needed: true, Allowed: true, Rule: rule("sg-pod", true, AllProtocols, -1, -1, "0.0.0.0/0")},
				Ingress: Side{Needed: true, Allowed: true, Rule: rule("sg-pod", false, AllProtocols, -1, -1, "sg-pod")}},
		},
		{
			name: "all-protocols flow allowed by a -1 rule",
			flow: Flow{From: pod, To: pod, Protocol: AllProtocols},
			want: Verdict{Allowed: true,
				Egress:  Side{Needed: true, Allowed: true, Rule: rule("sg-pod", true, AllProtocols, -1, -1, "0.0.0.0/0")},
				Ingress: Side{Needed: true, Allowed: true, Rule: rule("sg-pod", false, AllProtocols, -1, -1, "sg-pod")}},
		},
		{
			name: "group reference: probe from the node group",
			flow: Flow{From: node, To: pod, Protocol: TCP, Port: 8080},
			want: Verdict{Allowed: true,
				Egress:  Side{Needed: true, Allowed: true, Rule: rule("sg-node", true, AllProtocols, -1, -1, "0.0.0.0/0")},
				Ingress: Side{Needed: true, Allowed: true, Rule: rule("sg-pod", false, TCP, 8080, 8080, "sg-node")}},
		},
		{
			name: "group reference does not match another group",
			flow: Flow{From: web, To: pod, Protocol: TCP, Port: 8080},
			want: Verdict{
				Egress:  Side{Needed: true},
				Ingress: Side{Needed: true}},
		},
		{
			name: "port outside the rule's range",
			flow: Flow{From: node, To: pod, Protocol: TCP, Port: 8081},
			want: Verdict{
				Egress:  Side{Needed: true, Allowed: true, Rule: rule("sg-node", true, AllProtocols, -1, -1, "0.0.0.0/0")},
				Ingress: Side{Needed: true}},
		},
		{
			name: "protocol mismatch: tcp rule does not admit udp",
			flow: Flow{From: node, To: pod, Protocol: UDP, Port: 8080},
			want: Verdict{
				Egress:  Side{Needed: true, Allowed: true, Rule: rule("sg-node", true, AllProtocols, -1, -1, "0.0.0.0/0")},
				Ingress: Side{Needed: true}},
		},
		{
			name: "DNS over udp to the CoreDNS group",
			flow: Flow{From: pod, To: node, Protocol: UDP, Port: 53},
			want: Verdict{Allowed: true,
				Egress:  Side{Needed: true, Allowed: true, Rule: rule("sg-pod", true, AllProtocols, -1, -1, "0.0.0.0/0")},
				Ingress: Side{Needed: true, Allowed: true, Rule: rule("sg-node", false, UDP, 53, 53, "sg-pod")}},
		},
		{
			name: "CIDR rule containing the source prefix",
			flow: Flow{From: pod, To: web, Protocol: TCP, Port: 443},
			want: Verdict{Allowed: true,
				Egress:  Side{Needed: true, Allowed: true, Rule: rule("sg-pod", true, AllProtocols, -1, -1, "0.0.0.0/0")},
				Ingress: Side{Needed: true, Allowed: true, Rule: rule("sg-web", false, TCP, 443, 443, "10.0.0.0/16")}},
		},
		{
			name: "CIDR rule covering only part of the source prefix does not match",
			flow: Flow{From: ext("10.0.0.0/15"), To: web, Protocol: TCP, Port: 443},
			want: Verdict{Egress: noGroups, Ingress: Side{Needed: true}},
		},
		{
			name: "IPv6 range",
			flow: Flow{From: ext("2001:db8:1::/48"), To: web, Protocol: TCP, Port: 443},
			want: Verdict{Allowed: true, Egress: noGroups,
				Ingress: Side{Needed: true, Allowed: true, Rule: rule("sg-web", false, TCP, 443, 443, "2001:db8::/32")}},
		},
		{
			name: "IPv4 rule does not match an IPv6 source",
			flow: Flow{From: ext("2001:db9::1/128"), To: web, Protocol: TCP, Port: 443},
			want: Verdict{Egress: noGroups, Ingress: Side{Needed: true}},
		},
		{
			name: "unknown source address matches only a /0 rule",
			flow: Flow{From: Endpoint{}, To: web, Protocol: ICMP, Port: 8},
			want: Verdict{Allowed: true, Egress: noGroups,
				Ingress: Side{Needed: true, Allowed: true, Rule: rule("sg-web", false, ICMP, 8, -1, "0.0.0.0/0")}},
		},
		{
			name: "unknown source address and a narrower CIDR rule",
			flow: Flow{From: Endpoint{}, To: web, Protocol: TCP, Port: 443},
			want: Verdict{Egress: noGroups, Ingress: Side{Needed: true}},
		},
		{
			name: "ICMP type other than the rule's",
			flow: Flow{From: ext("8.8.8.8/32"), To: web, Protocol: ICMP, Port: 0},
			want: Verdict{Egress: noGroups, Ingress: Side{Needed: true}},
		},
		{
			name: "udp port range",
			flow: Flow{From: ext("192.168.0.9/32"), To: web, Protocol: UDP, Port: 31000},
			want: Verdict{Allowed: true, Egress: noGroups,
				Ingress: Side{Needed: true, Allowed: true, Rule: rule("sg-web", false, UDP, 30000, 32767, "192.168.0.0/24")}},
		},
		{
			name: "numeric protocol in the rule",
			flow: Flow{From: ext("10.1.2.3/32"), To: web, Protocol: TCP, Port: 9000},
			want: Verdict{Allowed: true, Egress: noGroups,
				Ingress: Side{Needed: true, Allowed: true, Rule: rule("sg-web", false, "6", 9000, 9000, "10.1.0.0/16")}},
		},
		{
			name: "numeric protocol in the flow",
			flow: Flow{From: node, To: pod, Protocol: "17", Port: 8080},
			want: Verdict{
				Egress:  Side{Needed: true, Allowed: true, Rule: rule("sg-node", true, AllProtocols, -1, -1, "0.0.0.0/0")},
				Ingress: Side{Needed: true}},
		},
		{
			name: "prefix-list rules never match",
			flow: Flow{From: ext("10.9.9.9/32"), To: web, Protocol: TCP, Port: 22},
			want: Verdict{Egress: noGroups, Ingress: Side{Needed: true}},
		},
		{
			name: "restricted egress blocks a flow the destination admits",
			flow: Flow{From: web, To: node, Protocol: TCP, Port: 53},
			want: Verdict{
				Egress:  Side{Needed: true},
				Ingress: Side{Needed: true}},
		},
		{
			name: "restricted egress allows its own CIDR to an unfiltered address",
			flow: Flow{From: web, To: ext("10.2.0.5/32"), Protocol: TCP, Port: 5432},
			want: Verdict{Allowed: true,
				Egress:  Side{Needed: true, Allowed: true, Rule: rule("sg-web", true, TCP, 5432, 5432, "10.2.0.0/24")},
				Ingress: noGroups},
		},
		{
			name: "no egress rules at all",
			flow: Flow{From: Endpoint{Groups: []string{"sg-mute"}}, To: ext("1.1.1.1/32"), Protocol: UDP, Port: 53},
			want: Verdict{Egress: Side{Needed: true}, Ingress: noGroups},
		},
		{
			name: "stateful: a reply needs no rule, only the opening direction counts",
			// sg-mute admits everything in and nothing out: a client
			// with default egress reaches it, and the replies flow back
			// although sg-mute has no egress rule.
			flow: Flow{From: pod, To: Endpoint{Groups: []string{"sg-mute"}}, Protocol: TCP, Port: 5000},
			want: Verdict{Allowed: true,
				Egress:  Side{Needed: true, Allowed: true, Rule: rule("sg-pod", true, AllProtocols, -1, -1, "0.0.0.0/0")},
				Ingress: Side{Needed: true, Allowed: true, Rule: rule("sg-mute", false, AllProtocols, -1, -1, "0.0.0.0/0")}},
		},
		{
			name: "any group of several allows",
			flow: Flow{From: Endpoint{Groups: []string{"sg-mute", "sg-pod"}}, To: node, Protocol: TCP, Port: 53},
			want: Verdict{Allowed: true,
				Egress:  Side{Needed: true, Allowed: true, Rule: rule("sg-pod", true, AllProtocols, -1, -1, "0.0.0.0/0")},
				Ingress: Side{Needed: true, Allowed: true, Rule: rule("sg-node", false, TCP, 53, 53, "sg-pod")}},
		},
		{
			name: "groups missing from the snapshot are reported",
			flow: Flow{From: Endpoint{Groups: []string{"sg-gone", "sg-gone"}}, To: node, Protocol: TCP, Port: 53},
			want: Verdict{
				Egress:  Side{Needed: true, UnknownGroups: []string{"sg-gone"}},
				Ingress: Side{Needed: true}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := g.Evaluate(tt.flow)
			require.NoError(t, err)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Evaluate(%s) mismatch (-want +got):\n%s", tt.flow, diff)
			}
		})
	}
}

func TestEvaluateBadProtocol(t *testing.T) {
	g, err := NewGroups(nil)
	require.NoError(t, err)
	_, err = g.Evaluate(Flow{Protocol: "sctp"})
	require.ErrorContains(t, err, `"sctp"`)
}

func TestNewGroupsErrors(t *testing.T) {
	tests := []struct {
		name string
		sg   types.SecurityGroup
		want string
	}{
		{"bad CIDR", sg("sg-1", perms(perm("tcp", 1, 1, "10.0.0.0/16")), nil), `"10.0.0.0/99"`},
		{"bad protocol", sg("sg-2", perms(types.IpPermission{IpProtocol: aws.String("bogus")}), nil), `sg-2`},
		{"no ID", types.SecurityGroup{}, "GroupId"},
	}
	tests[0].sg.IpPermissions[0].IpRanges[0].CidrIp = aws.String("10.0.0.0/99")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewGroups([]types.SecurityGroup{tt.sg})
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestLoadGroups(t *testing.T) {
	store := newStore(
		sg("sg-a", nil, allOut), sg("sg-b", nil, allOut), sg("sg-c", nil, allOut),
	)
	store.groups["sg-c"] = types.SecurityGroup{GroupId: aws.String("sg-c"), VpcId: aws.String("vpc-2")}

	t.Run("all present, several pages", func(t *testing.T) {
		store.calls = 0
		g, missing, err := LoadGroups(t.Context(), store, []string{"sg-c", "sg-a", "", "sg-b", "sg-a"})
		require.NoError(t, err)
		require.Empty(t, missing)
		require.True(t, g.Has("sg-a") && g.Has("sg-b") && g.Has("sg-c"))
		require.Equal(t, "vpc-2", g.VPC("sg-c"))
		require.Equal(t, 2, store.calls, "three groups at two per page")
	})
	t.Run("one missing", func(t *testing.T) {
		g, missing, err := LoadGroups(t.Context(), store, []string{"sg-a", "sg-x", "sg-b"})
		require.NoError(t, err)
		require.True(t, g.Has("sg-a") && g.Has("sg-b"))
		require.False(t, g.Has("sg-x"))
		require.Len(t, missing, 1)
		require.Equal(t, "sg-x", missing[0].ID)
		require.Equal(t, "InvalidGroup.NotFound: The security group 'sg-x' does not exist", apiMessage(missing[0].Err))
	})
	t.Run("other errors are returned", func(t *testing.T) {
		failing := newStore()
		failing.failWith = &smithy.GenericAPIError{Code: "UnauthorizedOperation", Message: "You are not authorized to perform this operation."}
		_, _, err := LoadGroups(t.Context(), failing, []string{"sg-a"})
		var ae smithy.APIError
		require.ErrorAs(t, err, &ae)
		require.Equal(t, "UnauthorizedOperation", ae.ErrorCode())
		require.ErrorContains(t, err, "DescribeSecurityGroups")
	})
}

func TestRulesAndString(t *testing.T) {
	g, err := NewGroups([]types.SecurityGroup{sg("sg-1", perms(perm("tcp", 53, 53, "sg-2", "10.0.0.0/8")), allOut)})
	require.NoError(t, err)
	var got []string
	for _, r := range g.Rules("sg-1") {
		got = append(got, r.String())
	}
	want := []string{
		"sg-1 ingress tcp 53-53 from 10.0.0.0/8",
		"sg-1 ingress tcp 53-53 from sg-2",
		"sg-1 egress -1 all to 0.0.0.0/0",
	}
	require.Empty(t, cmp.Diff(want, got))
	require.Nil(t, g.Rules("sg-none"))
}

func BenchmarkEvaluate(b *testing.B) {
	g, err := NewGroups([]types.SecurityGroup{
		sg("sg-pod", perms(perm("-1", 0, 0, "sg-pod"), perm("tcp", 8080, 8080, "sg-node")), allOut),
		sg("sg-node", perms(perm("tcp", 53, 53, "sg-pod"), perm("udp", 53, 53, "sg-pod"), perm("-1", 0, 0, "sg-node")), allOut),
	})
	require.NoError(b, err)
	f := Flow{
		From:     Endpoint{Groups: []string{"sg-pod"}, Prefix: netip.MustParsePrefix("10.0.1.0/24")},
		To:       Endpoint{Groups: []string{"sg-node"}, Prefix: netip.MustParsePrefix("10.0.2.0/24")},
		Protocol: UDP, Port: 53,
	}
	b.ReportAllocs()
	for b.Loop() {
		v, err := g.Evaluate(f)
		if err != nil || !v.Allowed {
			b.Fatal(v, err)
		}
	}
}
