package enforce

import (
	"net/netip"
	"slices"

	"github.com/podsg/podsg/api/podeni"
)

// Well-known routing tables, rule priorities, chains and marks. They match
// the VPC CNI plugin, so a node wired by this package and one wired by the
// plugin look the same.
const (
	// TableMain and TableLocal are the kernel's main and local routing tables.
	TableMain  = 254
	TableLocal = 255
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
	// ConnMark is the connection mark (and mask) of pod connections that
	// leave the VPC through the primary interface.
	ConnMark uint32 = 0x80

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
}

// Neighbor is a permanent neighbour (ARP) entry.
type Neighbor struct {
	NS  Namespace
	Dev string
	IP  netip.Addr
	MAC podeni.MAC
}

// Route is a route in one routing table. A zero Gw means a route straight
// out of Dev.
type Route struct {
	NS    Namespace
	Table int
	Dst   netip.Prefix
	Gw    netip.Addr
	Dev   string
	Scope Scope
}

// IPRule is an IPv4 policy-routing rule ("ip rule") in the host namespace,
// as opposed to an IPTablesRule or a security-group rule. Unset fields
// (invalid prefixes, empty IIF, zero Mask) select everything.
type IPRule struct {
	Priority int
	Table    int
	Src      netip.Prefix
	Dst      netip.Prefix
	IIF      string
	Mark     uint32
	Mask     uint32
}

// Sysctl is a kernel parameter, Key in sysctl(8) spelling
// ("net.ipv4.tcp_early_demux"; a dot inside an interface name is written
// as "/").
type Sysctl struct {
	NS    Namespace
	Key   string
	Value string
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

// LinkRef names a link.
type LinkRef struct {
	NS   Namespace
	Name string
}

// IPRuleMatch selects ip rules by priority and, where set, by table (non-zero),
// IIF, Src and Dst.
type IPRuleMatch struct {
	Priority int
	Table    int
	IIF      string
	Src      netip.Prefix
	Dst      netip.Prefix
}

// Matches reports whether r is selected by m.
func (m IPRuleMatch) Matches(r IPRule) bool {
	return r.Priority == m.Priority &&
		(m.Table == 0 || r.Table == m.Table) &&
		(m.IIF == "" || r.IIF == m.IIF) &&
		(!m.Src.IsValid() || r.Src == m.Src) &&
		(!m.Dst.IsValid() || r.Dst == m.Dst)
}

// RouteMatch selects the routes of one table, all of them or those to Dst.
type RouteMatch struct {
	NS    Namespace
	Table int
	Dst   netip.Prefix
}

// Matches reports whether r is selected by m.
func (m RouteMatch) Matches(r Route) bool {
	return r.NS == m.NS && r.Table == m.Table && (!m.Dst.IsValid() || r.Dst == m.Dst)
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
