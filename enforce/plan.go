package enforce

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/podsg/podsg/api/podeni"
)

// Well-known routing tables, rule priorities, chains and marks. They match
// the VPC CNI plugin, so a node wired by this package and one wired by the
// plugin look the same.
const (
	// TableDefault, TableMain and TableLocal are the kernel's default, main
	// and local routing tables. No branch ENI's table may be one of them
	// (see RouteTable).
	TableDefault = 253
	TableMain    = 254
	TableLocal   = 255
	// TableOffset is added to a branch ENI's VLAN ID to number its routing
	// table: VLAN 3 uses table 103.
	TableOffset = 100

	// PriorityIIF is the priority of strict mode's "iif <link> lookup <table>"
	// rules.
	PriorityIIF = 10
	// PriorityLocal is where strict mode moves the rule that looks up the
	// local table (from priority 0), so that the iif rules come first.
	PriorityLocal = 20
	// PriorityToPod is the priority of standard mode's "to <podIP> lookup
	// main" rule.
	PriorityToPod = 512
	// PriorityFwmark is the priority of the rule that sends connections
	// marked ConnMark to the main table (out of the primary interface).
	PriorityFwmark = 1024
	// PriorityFromPod is the priority of standard mode's "from <podIP>
	// lookup <table>" rule.
	PriorityFromPod = 1536

	// SNATChain is the nat chain, jumped to from POSTROUTING, that SNATs
	// traffic leaving the VPC to the node's primary IP.
	SNATChain = "AWS-SNAT-CHAIN-0"
	// ConnmarkChain is the nat chain, jumped to from PREROUTING for traffic
	// coming from standard-mode veths, that marks connections leaving the
	// VPC with ConnMark.
	ConnmarkChain = "AWS-CONNMARK-CHAIN-0"
	// ProtoICMPv6 is the IP protocol number of ICMPv6, for IPRule.IPProto.
	ProtoICMPv6 = 58

	// ConnMark is the connection mark (and mask) of pod connections that
	// leave the VPC through the primary interface.
	ConnMark uint32 = 0x80

	// ConnmarkTableName is the nftables table (family ip) that holds the
	// connection marking on nodes whose iptables is the nf_tables variant,
	// as the VPC CNI plugin names it.
	ConnmarkTableName = "aws-cni"
	// ConnmarkPriority is the priority of the table's nat prerouting chain:
	// just after DNAT (-100), so that it sees the addresses kube-proxy
	// rewrote.
	ConnmarkPriority = -90

	// StrictVethPrefix is the host veth prefix of strict-mode pods.
	StrictVethPrefix = "vlan"
	// DefaultVethPrefix is the host veth prefix of standard-mode pods unless
	// Options.VethPrefix says otherwise.
	DefaultVethPrefix = "eni"
	// DefaultMTU is the MTU of the VLAN link and veth pair unless Options.MTU
	// says otherwise (the VPC's jumbo-frame MTU).
	DefaultMTU = 9001
)

// PodGateway is the link-local address that a pod uses as its default
// gateway; a permanent neighbour entry maps it to the host veth's MAC.
var PodGateway = netip.AddrFrom4([4]byte{169, 254, 1, 1})

// PodGatewayV6 is the IPv6 counterpart of PodGateway: the link-local
// address (fe80::1) an IPv6 pod routes through, mapped to the host veth's
// MAC by a permanent neighbour entry.
var PodGatewayV6 = netip.AddrFrom16([16]byte{0: 0xfe, 1: 0x80, 15: 1})

// VPCGatewayV6 is the IPv6 router of every VPC subnet, fe80:ec2::1: the
// link-local address from which the VPC's router advertisements come and
// at which the subnet's gateway always answers. An IPv6 branch routes
// through it, as the VPC CNI plugin does, instead of through the first
// address of the subnet (the IPv4 rule).
var VPCGatewayV6 = netip.AddrFrom16([16]byte{0: 0xfe, 1: 0x80, 2: 0x0e, 3: 0xc2, 15: 1})

// Family is an IP address family: the zero value IPv4, or IPv6.
type Family uint8

const (
	// IPv4 is the zero Family.
	IPv4 Family = iota
	// IPv6 is the family of IPv6 clusters (the VPC CNI plugin's
	// ENABLE_IPv6=true).
	IPv6
)

// String returns "ipv4" or "ipv6" (or "Family(N)").
func (f Family) String() string {
	switch f {
	case IPv4:
		return "ipv4"
	case IPv6:
		return "ipv6"
	}
	return fmt.Sprintf("Family(%d)", uint8(f))
}

// Valid reports whether f is IPv4 or IPv6.
func (f Family) Valid() bool { return f == IPv4 || f == IPv6 }

// familyOf returns the family of an address.
func familyOf(a netip.Addr) Family {
	if a.Is6() && !a.Is4In6() {
		return IPv6
	}
	return IPv4
}

// Namespace says in which network namespace a plan item lives.
type Namespace uint8

const (
	// HostNS is the node's network namespace.
	HostNS Namespace = iota
	// PodNS is the pod's network namespace, Plan.PodNetNS.
	PodNS
)

func (n Namespace) String() string {
	if n == PodNS {
		return "pod"
	}
	return "host"
}

// Scope is a route scope.
type Scope uint8

const (
	// ScopeUniverse is the scope of routes through a gateway (the zero value).
	ScopeUniverse Scope = iota
	// ScopeLink is the scope of routes to destinations on the link itself.
	ScopeLink
)

// Kind says what a plan is for.
type Kind uint8

const (
	// NodeSetup plans are applied once per node, before any pod.
	NodeSetup Kind = iota
	// PodSetup plans wire one pod (CNI ADD).
	PodSetup
	// PodTeardown plans remove one pod's state (CNI DEL).
	PodTeardown
)

func (k Kind) String() string {
	switch k {
	case NodeSetup:
		return "node setup"
	case PodSetup:
		return "pod setup"
	case PodTeardown:
		return "pod teardown"
	}
	return "Kind(?)"
}

// Plan is a declarative description of what must and must not exist in the
// node's (and a pod's) network namespaces. Builder makes plans; an Applier
// makes them true; Script renders them as shell commands.
//
// Applying a plan means: everything in Want exists afterwards, exactly as
// described, and nothing that matches Purge exists afterwards unless it is
// in Want. Plans are plain values: compare them with go-cmp, copy them with
// Clone. A Plan is not safe for concurrent mutation; share it read-only.
type Plan struct {
	Kind Kind
	Mode Mode
	// Pod names the pod of a PodSetup or PodTeardown plan ("namespace/name").
	Pod string
	// PodNetNS is the path of the pod's network namespace, where items with
	// NS == PodNS live. Empty in node plans and teardown plans.
	PodNetNS string
	// Want is what must exist.
	Want State
	// Purge is what must not exist (stale state of earlier pods, the other
	// mode's rules, everything of a pod being torn down).
	Purge Purge
}

// State is a set of network objects, in the order an applier creates them.
type State struct {
	VLANs     []VLANLink
	Veths     []VethPair
	Addrs     []Addr
	Neighbors []Neighbor
	Routes    []Route
	Rules     []IPRule
	Sysctls   []Sysctl
	// Chains are chains this package owns: each must exist with exactly
	// these rules, in this order.
	Chains []Chain
	// IPTables are rules in chains this package does not own (built-in
	// chains such as nat POSTROUTING); each must be present, in this
	// relative order.
	IPTables []IPTablesRule
	// ConnmarkTables are nftables tables this package owns, each with
	// exactly the chains and rules ConnmarkTable describes.
	ConnmarkTables []ConnmarkTable
}

// Purge selects objects to delete. A selector matches whatever it does not
// leave unset; the objects in Plan.Want are never purged.
type Purge struct {
	Links  []LinkRef
	Rules  []IPRuleMatch
	Routes []RouteMatch
	// IPTables are removed from their chains (every copy).
	IPTables []IPTablesRule
	// Chains are flushed and deleted (after IPTables, which may jump to them).
	Chains []ChainRef
	// NFTables are nftables tables deleted with all they hold.
	NFTables []NFTableRef
}

// VLANLink is the 802.1Q link of a branch ENI on the trunk link, in the host
// namespace. Its MAC is the branch ENI's, so that the VPC delivers the
// branch's frames to it.
type VLANLink struct {
	Name   string // "vlan.eth.<VLANID>"
	Parent string // the trunk link
	VLANID int
	MAC    podeni.MAC
	MTU    int
}

// VethPair is the veth pair between the host namespace (HostName, with
// HostMAC) and the pod namespace (PodName, the container interface).
type VethPair struct {
	HostName string
	HostMAC  podeni.MAC
	PodName  string
	MTU      int
}

// Addr is an address on a link.
type Addr struct {
	NS     Namespace
	Dev    string
	Prefix netip.Prefix
	// NoDAD adds an IPv6 address without duplicate address detection, so
	// that it is usable at once rather than tentative for a second or more.
	NoDAD bool
}

// Neighbor is a permanent neighbour (ARP) entry.
type Neighbor struct {
	NS  Namespace
	Dev string
	IP  netip.Addr
	MAC podeni.MAC
}

// Route is a route in one routing table. A zero Gw means a route straight
// out of Dev. Its family is that of Dst. IPv6 routes have no scope (the
// kernel ignores it), so theirs is ScopeUniverse.
type Route struct {
	NS    Namespace
	Table int
	Dst   netip.Prefix
	Gw    netip.Addr
	Dev   string
	Scope Scope
}

// Family returns the family of r's destination.
func (r Route) Family() Family { return familyOf(r.Dst.Addr()) }

// IPRule is a policy-routing rule ("ip rule") in the host namespace, as
// opposed to an IPTablesRule or a security-group rule. Unset fields
// (invalid prefixes, empty IIF, zero Mask, zero IPProto) select everything
// of the rule's Family.
type IPRule struct {
	Family   Family
	Priority int
	Table    int
	Src      netip.Prefix
	Dst      netip.Prefix
	IIF      string
	// IPProto selects one IP protocol (58 for ICMPv6), 0 every protocol.
	IPProto uint8
	Mark    uint32
	Mask    uint32
}

// Sysctl is a kernel parameter, Key in sysctl(8) spelling
// ("net.ipv4.tcp_early_demux"; a dot inside an interface name is written
// as "/").
type Sysctl struct {
	NS    Namespace
	Key   string
	Value string
	// Optional sysctls are skipped where the kernel lacks them (IPv6
	// parameters on a kernel booted with IPv6 disabled), as the VPC CNI
	// plugin skips them.
	Optional bool
}

// Chain is a chain owned by this package, with its exact content.
type Chain struct {
	Table string
	Name  string
	Rules [][]string
}

// ChainRef names a chain.
type ChainRef struct {
	Table string
	Name  string
}

// IPTablesRule is one rule: the arguments that follow "iptables -t Table
// -A Chain", in the order iptables prints them.
type IPTablesRule struct {
	Table string
	Chain string
	Spec  []string
}

// ConnmarkTable is the nftables form of the connection marking that
// AWS-CONNMARK-CHAIN-0 does in iptables: the VPC CNI plugin (v1.23) writes
// it on nodes whose iptables is the nf_tables variant, in table ip
// Name, as:
//
//	table ip aws-cni {
//		chain nat-prerouting {
//			type nat hook prerouting priority -90; policy accept;
//			fib daddr type local return
//			iifname "eni*" counter jump snat-mark
//			counter meta mark set ct mark & 0x00000080
//		}
//		chain snat-mark {
//			counter ip daddr 10.0.0.0/16 return
//			counter ct mark set ct mark | 0x00000080
//		}
//	}
//
// with one return rule per Exempt CIDR (in any order), VethPrefix in
// place of "eni" and Mark in place of 0x80. Appliers write the plugin's
// exact expressions, so that each recognises the other's rules.
type ConnmarkTable struct {
	Name string
	// VethPrefix selects the pods' host veths by name prefix.
	VethPrefix string
	// Mark is the connection mark and mask.
	Mark uint32
	// Exempt are the destinations never marked: the VPC's and the
	// excluded CIDRs.
	Exempt []netip.Prefix
}

// Ref names the table.
func (t ConnmarkTable) Ref() NFTableRef { return NFTableRef{Family: "ip", Name: t.Name} }

// NFTableRef names an nftables table: family ("ip") and name.
type NFTableRef struct {
	Family string
	Name   string
}

// LinkRef names a link.
type LinkRef struct {
	NS   Namespace
	Name string
}

// IPRuleMatch selects ip rules of one family by priority and, where set,
// by table (non-zero), IIF, Src and Dst.
type IPRuleMatch struct {
	Family   Family
	Priority int
	Table    int
	IIF      string
	Src      netip.Prefix
	Dst      netip.Prefix
}

// Matches reports whether r is selected by m.
func (m IPRuleMatch) Matches(r IPRule) bool {
	return r.Family == m.Family && r.Priority == m.Priority &&
		(m.Table == 0 || r.Table == m.Table) &&
		(m.IIF == "" || r.IIF == m.IIF) &&
		(!m.Src.IsValid() || r.Src == m.Src) &&
		(!m.Dst.IsValid() || r.Dst == m.Dst)
}

// RouteMatch selects the routes of one family in one table, all of them or
// those to Dst.
type RouteMatch struct {
	NS     Namespace
	Family Family
	Table  int
	Dst    netip.Prefix
}

// Matches reports whether r is selected by m.
func (m RouteMatch) Matches(r Route) bool {
	return r.NS == m.NS && r.Family() == m.Family && r.Table == m.Table && (!m.Dst.IsValid() || r.Dst == m.Dst)
}

// Equal reports whether two iptables rules are the same.
func (r IPTablesRule) Equal(o IPTablesRule) bool {
	return r.Table == o.Table && r.Chain == o.Chain && slices.Equal(r.Spec, o.Spec)
}

// Clone returns a deep copy of p.
func (p *Plan) Clone() Plan {
	c := *p
	c.Want = p.Want.clone()
	c.Purge = Purge{
		Links:    slices.Clone(p.Purge.Links),
		Rules:    slices.Clone(p.Purge.Rules),
		Routes:   slices.Clone(p.Purge.Routes),
		IPTables: cloneIPT(p.Purge.IPTables),
		Chains:   slices.Clone(p.Purge.Chains),
		NFTables: slices.Clone(p.Purge.NFTables),
	}
	return c
}

func (s State) clone() State {
	c := State{
		VLANs:     slices.Clone(s.VLANs),
		Veths:     slices.Clone(s.Veths),
		Addrs:     slices.Clone(s.Addrs),
		Neighbors: slices.Clone(s.Neighbors),
		Routes:    slices.Clone(s.Routes),
		Rules:     slices.Clone(s.Rules),
		Sysctls:   slices.Clone(s.Sysctls),
		IPTables:  cloneIPT(s.IPTables),
	}
	if s.ConnmarkTables != nil {
		c.ConnmarkTables = make([]ConnmarkTable, len(s.ConnmarkTables))
		for i, t := range s.ConnmarkTables {
			t.Exempt = slices.Clone(t.Exempt)
			c.ConnmarkTables[i] = t
		}
	}
	if s.Chains != nil {
		c.Chains = make([]Chain, len(s.Chains))
		for i, ch := range s.Chains {
			c.Chains[i] = Chain{Table: ch.Table, Name: ch.Name, Rules: make([][]string, len(ch.Rules))}
			for j, r := range ch.Rules {
				c.Chains[i].Rules[j] = slices.Clone(r)
			}
		}
	}
	return c
}

func cloneIPT(rs []IPTablesRule) []IPTablesRule {
	if rs == nil {
		return nil
	}
	out := make([]IPTablesRule, len(rs))
	for i, r := range rs {
		out[i] = IPTablesRule{Table: r.Table, Chain: r.Chain, Spec: slices.Clone(r.Spec)}
	}
	return out
}
