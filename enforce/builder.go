package enforce

import (
	"crypto/sha1"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/podsg/podsg/api/podeni"
)

// ErrInvalidOptions is matched (errors.Is) by every error that NewBuilder and
// ParseMode return for bad options.
var ErrInvalidOptions = errors.New("enforce: invalid options")

// ErrInvalidPod is matched (errors.Is) by every error that Builder.Setup and
// Builder.Teardown return for a bad Pod.
var ErrInvalidPod = errors.New("enforce: invalid pod")

// FieldError says which input field is wrong, its value and what is
// expected. Several of them are joined with errors.Join when more than one
// field is wrong.
type FieldError struct {
	// Field is the path of the field, like "Options.VPCCIDRs[1]" or
	// "Pod.Branch.vlanId".
	Field string
	// Value is the offending value, quoted for strings.
	Value string
	// Reason says what is expected.
	Reason string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("enforce: %s = %s: %s", e.Field, e.Value, e.Reason)
}

// Is makes a FieldError about a Pod field ("Pod.…") match ErrInvalidPod, and
// one about any other field match ErrInvalidOptions.
func (e *FieldError) Is(target error) bool {
	if strings.HasPrefix(e.Field, "Pod.") {
		return target == ErrInvalidPod
	}
	return target == ErrInvalidOptions
}

// Options are the node-wide settings of a Builder. NewBuilder checks the
// fields marked Required; the zero value of every other field means its
// documented default.
type Options struct {
	// Mode is the enforcing mode; the zero value is Strict.
	Mode Mode
	// Family is the IP family of the cluster's pods: IPv4 (the zero value)
	// or IPv6 (the VPC CNI plugin's ENABLE_IPv6=true). A pod gets the
	// address of its branch ENI in this family: privateIp and subnetCidr
	// on an IPv4 node, ipv6Addr and subnetV6Cidr on an IPv6 node, whatever
	// else the annotation carries (the plugin gives a pod one address). An
	// IPv6 node has no SNAT or connmark rules, as the plugin's has none.
	Family Family
	// TrunkLink is the name of the trunk ENI's link on the node, the parent
	// of every VLAN link. Required.
	TrunkLink string
	// PrimaryInterface is the link of the node's primary ENI ("eth0").
	// Required.
	PrimaryInterface string
	// PrimaryIP is the node's primary private IPv4 address, the SNAT source.
	// Required on an IPv4 node unless ExternalSNAT is set.
	PrimaryIP netip.Addr
	// VPCCIDRs are the IPv4 CIDRs of the VPC: traffic to them is never
	// SNATed. Required on an IPv4 node unless ExternalSNAT is set.
	VPCCIDRs []netip.Prefix
	// SNATExcludedCIDRs are further destinations that are never SNATed
	// (AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS).
	SNATExcludedCIDRs []netip.Prefix
	// ExternalSNAT, when set, leaves SNAT to a NAT gateway: no SNAT and no
	// marking of pods' connections to outside the VPC on the node, which
	// then leave through their branch ENI in both modes
	// (AWS_VPC_K8S_CNI_EXTERNALSNAT=true). NodePort support keeps its own
	// marks and the fwmark rule.
	ExternalSNAT bool
	// DisableNodePortSupport turns off what makes NodePort services answer
	// through the node's primary interface (AWS_VPC_CNI_NODE_PORT_SUPPORT=
	// false). By default, as in the VPC CNI plugin, connections that come
	// in on PrimaryInterface to a local address are marked (mangle
	// PREROUTING, CONNMARK 0x80), the mark is restored on their replies from
	// pods (from veths and vlan+ links), and the priority-1024 fwmark rule
	// sends those replies out of the primary interface, even with
	// ExternalSNAT. Without it, the reply of a pod whose traffic otherwise
	// leaves through its branch ENI leaves through the branch, with the
	// node's address as source, and is dropped by the VPC.
	DisableNodePortSupport bool
	// NFTables says that the node's iptables is the nf_tables variant
	// ("iptables --version" prints "(nf_tables)", as on Amazon Linux 2023):
	// the connection marking then lives in the nftables table aws-cni
	// (ConnmarkTable) and AWS-CONNMARK-CHAIN-0 is removed, as the VPC CNI
	// plugin does since v1.23, so that the two never undo each other's
	// rules. kernel.IPTables reports the variant of its iptables and refuses
	// a node plan built for the other one.
	NFTables bool
	// DisableTCPEarlyDemux sets net.ipv4.tcp_early_demux to 0, as the VPC
	// CNI plugin's DISABLE_TCP_EARLY_DEMUX=true does; by default it is 1.
	// The plugin's documentation asks for it on strict-mode nodes whose
	// kubelet probes pods with security groups over TCP, at a small cost in
	// local TCP latency.
	DisableTCPEarlyDemux bool
	// MTU of VLAN links and veths; 0 means DefaultMTU. Valid: 576 to 9001.
	MTU int
	// VethPrefix is the host veth prefix of standard-mode pods; "" means
	// DefaultVethPrefix. 1 to 4 characters, not "vlan". Strict mode always
	// uses StrictVethPrefix.
	VethPrefix string
}

// Pod is the per-pod input of Builder.Setup and Builder.Teardown.
type Pod struct {
	// Namespace and Name identify the pod; they name its host veth.
	Namespace string
	Name      string
	// NetNS is the path of the pod's network namespace
	// ("/var/run/netns/cni-…"). Not needed by Teardown.
	NetNS string
	// IfName is the pod's interface (CNI_IFNAME, usually "eth0"). Not needed
	// by Teardown.
	IfName string
	// Branch is element 0 of the pod-eni annotation (podeni.Parse).
	// Teardown needs only its VLANID and PrivateIP.
	Branch podeni.BranchENI
}

// Builder turns a pod's branch ENI into plans for one node. It validates
// the node configuration once; building a plan does no I/O. A Builder is
// immutable and safe for concurrent use.
type Builder struct {
	mode         Mode
	family       Family
	nodePort     bool
	earlyDemux   bool
	nft          bool
	trunk        string
	primaryIf    string
	primaryIP    netip.Addr
	noSNAT       []netip.Prefix // VPC CIDRs then excluded CIDRs, masked
	vpcCIDRs     int            // how many of noSNAT are VPC CIDRs
	externalSNAT bool
	mtu          int
	vethPrefix   string // of this node's mode
	otherPrefix  string // of the other mode, purged on setup
}

// NewBuilder validates opts and returns a Builder for it. Every bad field is
// reported (errors.Join of *FieldError, each naming the field, its value and
// what is expected, matching ErrInvalidOptions). The Builder keeps its own
// copy of opts' slices.
func NewBuilder(opts Options) (*Builder, error) {
	var errs []error
	bad := func(field, value, reason string) {
		errs = append(errs, &FieldError{Field: "Options." + field, Value: value, Reason: reason})
	}
	if !opts.Mode.Valid() {
		bad("Mode", opts.Mode.String(), "want Strict or Standard")
	}
	if !opts.Family.Valid() {
		bad("Family", opts.Family.String(), "want IPv4 or IPv6")
	}
	if r := ifNameProblem(opts.TrunkLink); r != "" {
		bad("TrunkLink", strconv.Quote(opts.TrunkLink), r)
	}
	if r := ifNameProblem(opts.PrimaryInterface); r != "" {
		bad("PrimaryInterface", strconv.Quote(opts.PrimaryInterface), r)
	}
	if !opts.ExternalSNAT && opts.Family != IPv6 {
		if !opts.PrimaryIP.Is4() {
			bad("PrimaryIP", strconv.Quote(addrString(opts.PrimaryIP)), "want the node's primary private IPv4 address (the SNAT source), or set ExternalSNAT")
		}
		if len(opts.VPCCIDRs) == 0 {
			bad("VPCCIDRs", "[]", "want at least one IPv4 CIDR of the VPC, or set ExternalSNAT")
		}
	} else if opts.PrimaryIP.IsValid() && !opts.PrimaryIP.Is4() {
		bad("PrimaryIP", strconv.Quote(opts.PrimaryIP.String()), "want an IPv4 address")
	}
	b := &Builder{
		mode:         opts.Mode,
		family:       opts.Family,
		nodePort:     !opts.DisableNodePortSupport,
		earlyDemux:   !opts.DisableTCPEarlyDemux,
		nft:          opts.NFTables,
		trunk:        opts.TrunkLink,
		primaryIf:    opts.PrimaryInterface,
		primaryIP:    opts.PrimaryIP,
		externalSNAT: opts.ExternalSNAT,
		mtu:          opts.MTU,
		vethPrefix:   opts.VethPrefix,
	}
	for _, l := range []struct {
		name  string
		cidrs []netip.Prefix
	}{{"VPCCIDRs", opts.VPCCIDRs}, {"SNATExcludedCIDRs", opts.SNATExcludedCIDRs}} {
		for i, p := range l.cidrs {
			if !p.IsValid() || !p.Addr().Is4() {
				bad(fmt.Sprintf("%s[%d]", l.name, i), strconv.Quote(prefixString(p)), "want an IPv4 CIDR like 10.0.0.0/16")
				continue
			}
			if p.Masked() != p {
				bad(fmt.Sprintf("%s[%d]", l.name, i), strconv.Quote(p.String()), fmt.Sprintf("host bits are set; did you mean %s?", p.Masked()))
				continue
			}
			b.noSNAT = append(b.noSNAT, p)
		}
		if l.name == "VPCCIDRs" {
			b.vpcCIDRs = len(b.noSNAT)
		}
	}
	if b.mtu == 0 {
		b.mtu = DefaultMTU
	} else if b.mtu < 576 || b.mtu > DefaultMTU {
		bad("MTU", strconv.Itoa(opts.MTU), "want 576 to 9001, or 0 for 9001")
	}
	if b.vethPrefix == "" {
		b.vethPrefix = DefaultVethPrefix
	}
	switch {
	case len(b.vethPrefix) > 4:
		bad("VethPrefix", strconv.Quote(opts.VethPrefix), "want 1 to 4 characters: the prefix and 11 hex digits must fit a 15-character interface name")
	case b.vethPrefix == StrictVethPrefix:
		bad("VethPrefix", strconv.Quote(opts.VethPrefix), `"vlan" is reserved for strict mode; the SNAT rule never SNATs vlan+ links`)
	case ifNameProblem(b.vethPrefix) != "" || strings.ContainsAny(b.vethPrefix, "+.!"):
		bad("VethPrefix", strconv.Quote(opts.VethPrefix), "want letters and digits usable in an interface name")
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	b.otherPrefix = StrictVethPrefix
	if b.mode == Strict {
		b.vethPrefix, b.otherPrefix = StrictVethPrefix, b.vethPrefix
	}
	return b, nil
}

// Mode returns the node's enforcing mode.
func (b *Builder) Mode() Mode { return b.mode }

// Family returns the IP family of the node's pods.
func (b *Builder) Family() Family { return b.family }

// VethPrefix returns the host veth prefix of this node's mode.
func (b *Builder) VethPrefix() string { return b.vethPrefix }

// VLANLinkName returns the name of the VLAN link of a branch ENI:
// "vlan.eth.<vlanID>".
func VLANLinkName(vlanID int) string { return "vlan.eth." + strconv.Itoa(vlanID) }

// RouteTable returns the routing table of a branch ENI: vlanID + 100. A
// pod whose VLAN would take table TableDefault, TableMain or TableLocal
// (VLANs 153 to 155) is refused by Setup and Teardown.
func RouteTable(vlanID int) int { return vlanID + TableOffset }

// HostVethName returns the host veth name of a pod: prefix followed by the
// first 11 hex digits of sha1("<namespace>.<name>"), as the CNI plugin
// names it.
func HostVethName(prefix, namespace, name string) string {
	sum := podHash(namespace, name)
	return vethName(prefix, &sum)
}

func podHash(namespace, name string) [sha1.Size]byte {
	var buf [128]byte
	key := append(append(append(buf[:0], namespace...), '.'), name...)
	return sha1.Sum(key)
}

func vethName(prefix string, sum *[sha1.Size]byte) string {
	const digits = "0123456789abcdef"
	var buf [32]byte
	n := copy(buf[:], prefix)
	for i := range 11 {
		c := sum[i/2]
		if i%2 == 0 {
			c >>= 4
		}
		buf[n] = digits[c&0xf]
		n++
	}
	return string(buf[:n])
}

// hostVethMAC derives a stable, locally administered unicast MAC for a
// pod's host veth, so that a plan names the MAC of the pod's gateway
// neighbour entry before the veth exists.
func hostVethMAC(sum *[sha1.Size]byte) podeni.MAC {
	return podeni.MAC{0x02, sum[11], sum[12], sum[13], sum[14], sum[15]}
}

// Node returns the node-level plan: sysctls, the local-table rule, the
// fwmark rule and the SNAT and connmark chains. Apply it once per node
// before pods (again after a mode or SNAT change: it purges the other
// settings).
//
// Its content follows the VPC CNI plugin (and its init container): IP
// forwarding on, loose reverse-path filtering on the primary interface,
// tcp_early_demux as Options.DisableTCPEarlyDemux says; in strict mode the
// local-table rule moves to priority 20; the priority-1024 rule "fwmark
// 0x80/0x80 lookup main" unless both NodePort support and SNAT are off;
// the NodePort mangle rules (see Options.DisableNodePortSupport); without
// ExternalSNAT, chain AWS-SNAT-CHAIN-0 (SNAT to the node's IP for
// everything but the VPC's and the excluded CIDRs, never out of vlan+
// links) and the connection marking of pod traffic that leaves the VPC.
// Rule texts and comments are the plugin's, so that neither it nor this
// package sees the other's rules as stale.
//
// On an IPv6 node the rules are IPv6 rules, strict mode adds the rule that
// lets the VPC router's ICMPv6 (neighbour discovery) reach the local table
// ("pref 0 from fe80:ec2::1 ipproto ipv6-icmp lookup local"), and the
// sysctls are those the plugin's init container sets for IPv6 (IPv6 on,
// forwarding on, router advertisements still accepted on the primary
// interface); there is no SNAT or connmark, as in the plugin.
func (b *Builder) Node() Plan {
	p := Plan{Kind: NodeSetup, Mode: b.mode}
	w, pg := &p.Want, &p.Purge
	fam := b.family
	demux := "1"
	if !b.earlyDemux {
		demux = "0"
	}
	w.Sysctls = append(w.Sysctls,
		Sysctl{Key: "net.ipv4.ip_forward", Value: "1"},
		Sysctl{Key: "net.ipv4.conf." + sysctlName(b.primaryIf) + ".rp_filter", Value: "2"},
		Sysctl{Key: "net.ipv4.tcp_early_demux", Value: demux})
	if fam == IPv6 {
		w.Sysctls = append(w.Sysctls,
			Sysctl{Key: "net.ipv6.conf." + sysctlName(b.primaryIf) + ".accept_ra", Value: "2"},
			Sysctl{Key: "net.ipv6.conf.all.disable_ipv6", Value: "0"},
			Sysctl{Key: "net.ipv6.conf.all.forwarding", Value: "1"})
	}
	local := IPRule{Family: fam, Priority: 0, Table: TableLocal}
	stale := IPRuleMatch{Family: fam, Priority: PriorityLocal, Table: TableLocal}
	if b.mode == Strict {
		local.Priority, stale.Priority = PriorityLocal, 0
	}
	w.Rules = append(w.Rules, local)
	pg.Rules = append(pg.Rules, stale)
	if fam == IPv6 {
		gwRule := IPRule{Family: IPv6, Priority: 0, Table: TableLocal, Src: netip.PrefixFrom(VPCGatewayV6, 128), IPProto: ProtoICMPv6}
		if b.mode == Strict {
			w.Rules = append(w.Rules, gwRule)
		} else {
			pg.Rules = append(pg.Rules, IPRuleMatch{Family: IPv6, Priority: 0, Table: TableLocal, Src: gwRule.Src})
		}
	}
	if b.nodePort || !b.externalSNAT {
		w.Rules = append(w.Rules, IPRule{Family: fam, Priority: PriorityFwmark, Table: TableMain, Mark: ConnMark, Mask: ConnMark})
	} else {
		pg.Rules = append(pg.Rules, IPRuleMatch{Family: fam, Priority: PriorityFwmark, Table: TableMain})
	}
	if fam == IPv6 {
		return p
	}

	// The standard-mode veths (the plugin's AWS_VPC_K8S_CNI_VETHPREFIX),
	// whatever this node's mode.
	veths := b.vethPrefix + "+"
	if b.mode == Strict {
		veths = b.otherPrefix + "+"
	}
	mark := fmt.Sprintf("%#x", ConnMark)
	keep := func(ok bool, rs ...IPTablesRule) {
		if ok {
			w.IPTables = append(w.IPTables, rs...)
		} else {
			pg.IPTables = append(pg.IPTables, rs...)
		}
	}
	// nat: the jump to the SNAT chain, then the connection marking, in
	// iptables or (nf_tables nodes) in nftables.
	keep(!b.externalSNAT, IPTablesRule{Table: "nat", Chain: "POSTROUTING", Spec: []string{"-m", "comment", "--comment", "AWS SNAT CHAIN", "-j", SNATChain}})
	iptConnmark := !b.externalSNAT && !b.nft
	keep(iptConnmark,
		IPTablesRule{Table: "nat", Chain: "PREROUTING", Spec: []string{"-i", veths, "-m", "comment", "--comment", "AWS, outbound connections", "-j", ConnmarkChain}},
		IPTablesRule{Table: "nat", Chain: "PREROUTING", Spec: []string{"-m", "comment", "--comment", "AWS, CONNMARK", "-j", "CONNMARK", "--restore-mark", "--mask", mark}})
	if !b.externalSNAT && b.nft {
		// One return rule per CIDR, as the plugin's (it keys them by CIDR).
		var exempt []netip.Prefix
		for _, c := range b.noSNAT {
			if !slices.Contains(exempt, c) {
				exempt = append(exempt, c)
			}
		}
		w.ConnmarkTables = []ConnmarkTable{{Name: ConnmarkTableName, VethPrefix: strings.TrimSuffix(veths, "+"), Mark: ConnMark, Exempt: exempt}}
	} else {
		pg.NFTables = []NFTableRef{{Family: "ip", Name: ConnmarkTableName}}
	}
	// mangle, in the plugin's order: mark what comes in on the primary
	// interface for this node (NodePort), restore the mark on what pods
	// send back.
	keep(b.nodePort, IPTablesRule{Table: "mangle", Chain: "PREROUTING", Spec: []string{"-i", b.primaryIf, "-m", "comment", "--comment", "AWS, primary ENI", "-m", "addrtype", "--dst-type", "LOCAL", "--limit-iface-in", "-j", "CONNMARK", "--set-mark", mark + "/" + mark}})
	keep(b.nodePort || !b.externalSNAT, IPTablesRule{Table: "mangle", Chain: "PREROUTING", Spec: []string{"-i", veths, "-m", "comment", "--comment", "AWS, primary ENI", "-j", "CONNMARK", "--restore-mark", "--mask", mark}})
	keep(b.nodePort, IPTablesRule{Table: "mangle", Chain: "PREROUTING", Spec: []string{"-i", StrictVethPrefix + "+", "-m", "comment", "--comment", "AWS, primary ENI", "-j", "CONNMARK", "--restore-mark", "--mask", mark}})

	// The plugin keeps AWS-SNAT-CHAIN-0, empty, with external SNAT.
	snat := Chain{Table: "nat", Name: SNATChain, Rules: [][]string{}}
	marks := Chain{Table: "nat", Name: ConnmarkChain}
	if !b.externalSNAT {
		for i, c := range b.noSNAT {
			comment := "AWS SNAT CHAIN"
			if i >= b.vpcCIDRs {
				comment = "AWS SNAT CHAIN EXCLUSION"
			}
			snat.Rules = append(snat.Rules, cidrReturn(c, comment))
			marks.Rules = append(marks.Rules, cidrReturn(c, "AWS CONNMARK CHAIN"))
		}
		snat.Rules = append(snat.Rules, []string{"!", "-o", StrictVethPrefix + "+", "-m", "comment", "--comment", "AWS, SNAT", "-m", "addrtype", "!", "--dst-type", "LOCAL", "-j", "SNAT", "--to-source", b.primaryIP.String(), "--random-fully"})
		marks.Rules = append(marks.Rules, []string{"-m", "comment", "--comment", "AWS, CONNMARK", "-j", "CONNMARK", "--set-xmark", mark + "/" + mark})
	}
	w.Chains = []Chain{snat}
	if iptConnmark {
		w.Chains = append(w.Chains, marks)
	} else {
		pg.Chains = []ChainRef{{Table: "nat", Name: ConnmarkChain}}
	}
	return p
}

// cidrReturn is the rule that returns from a SNAT or connmark chain for a
// destination; for 0.0.0.0/0 it has no "-d", as iptables prints it.
func cidrReturn(c netip.Prefix, comment string) []string {
	if c.Bits() == 0 {
		return []string{"-m", "comment", "--comment", comment, "-j", "RETURN"}
	}
	return []string{"-d", c.String(), "-m", "comment", "--comment", comment, "-j", "RETURN"}
}

// sysctlName writes an interface name the way sysctl(8) expects inside a
// dotted key: dots become slashes.
func sysctlName(ifname string) string { return strings.ReplaceAll(ifname, ".", "/") }

// linkSysctls are the IPv6 settings the VPC CNI plugin gives the VLAN link
// and the host veth of every branch pod, before the link comes up: no
// router advertisements (a pod must not become the node's router), ICMPv6
// redirects accepted, and host (not router) behaviour. On an IPv4 node
// they are optional, as the plugin ignores them where IPv6 is missing.
var linkSysctls = [3][2]string{{"accept_ra", "0"}, {"accept_redirects", "1"}, {"forwarding", "0"}}

// ipv6Keys returns the keys of the IPv6 parameters a pod plan sets: the
// three linkSysctls of the VLAN link, the same of the host veth, and
// disable_ipv6 of the pod's interface, cut from one allocation.
func ipv6Keys(vlan, veth, podIf string) (keys [7]string) {
	const prefix = "net.ipv6.conf."
	type key struct{ dev, param string }
	var ks [7]key
	for i, dev := range [2]string{vlan, veth} {
		for j, kv := range linkSysctls {
			ks[3*i+j] = key{dev, kv[0]}
		}
	}
	ks[6] = key{podIf, "disable_ipv6"}
	size := 0
	for _, k := range ks {
		size += len(prefix) + len(k.dev) + 1 + len(k.param)
	}
	var b strings.Builder
	b.Grow(size)
	var ends [7]int
	for i, k := range ks {
		b.WriteString(prefix)
		for j := 0; j < len(k.dev); j++ {
			c := k.dev[j]
			if c == '.' {
				c = '/' // sysctlName
			}
			b.WriteByte(c)
		}
		b.WriteByte('.')
		b.WriteString(k.param)
		ends[i] = b.Len()
	}
	all, start := b.String(), 0
	for i, end := range ends {
		keys[i], start = all[start:end], end
	}
	return keys
}

// podPlan holds every slice of a pod plan in one allocation.
type podPlan struct {
	vlan    [1]VLANLink
	veth    [1]VethPair
	addr    [1]Addr
	neigh   [1]Neighbor
	routes  [5]Route
	rules   [2]IPRule
	sysctls [8]Sysctl
	links   [1]LinkRef
	prules  [4]IPRuleMatch
	proute  [2]RouteMatch
}

// Setup returns the plan that wires pod p: the VLAN link with the branch
// ENI's MAC on the trunk, the veth pair, the pod's address, gateway
// neighbour and routes, the branch's routing table and the mode's rules. It
// also purges what a force-deleted pod may have left behind: other rules of
// the branch's table, rules of the pod's IP and veth, and the pod's veth of
// the other mode.
//
// On an IPv6 node the pod gets the branch's IPv6 address (/128, without
// duplicate address detection: its veth has no other host), fe80::1 as its
// gateway (PodGatewayV6), IPv6 enabled on its interface and loopback, and
// the branch table routes through the VPC's router fe80:ec2::1
// (VPCGatewayV6); the rules are IPv6 rules.
//
// Every bad or missing field of p is reported (errors.Join of *FieldError,
// matching ErrInvalidPod); no plan is returned then.
func (b *Builder) Setup(p Pod) (Plan, error) {
	if err := b.validatePod(p, true); err != nil {
		return Plan{}, err
	}
	br := &p.Branch
	fam := b.family
	sum := podHash(p.Namespace, p.Name)
	veth := vethName(b.vethPrefix, &sum)
	vlan := VLANLinkName(br.VLANID)
	table := RouteTable(br.VLANID)
	mac := hostVethMAC(&sum)
	var podIP netip.Prefix
	var gw, podGW netip.Addr
	var anyDst netip.Prefix
	linkScope := ScopeLink
	if fam == IPv6 {
		podIP = netip.PrefixFrom(br.IPv6, 128)
		gw, podGW = VPCGatewayV6, PodGatewayV6
		anyDst = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		linkScope = ScopeUniverse
	} else {
		podIP = netip.PrefixFrom(br.PrivateIP, 32)
		gw, podGW = br.Gateway(), PodGateway
		anyDst = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
	}

	a := new(podPlan)
	a.vlan[0] = VLANLink{Name: vlan, Parent: b.trunk, VLANID: br.VLANID, MAC: br.MAC, MTU: b.mtu}
	a.veth[0] = VethPair{HostName: veth, HostMAC: mac, PodName: p.IfName, MTU: b.mtu}
	a.addr[0] = Addr{NS: PodNS, Dev: p.IfName, Prefix: podIP, NoDAD: fam == IPv6}
	a.neigh[0] = Neighbor{NS: PodNS, Dev: p.IfName, IP: podGW, MAC: mac}
	a.routes[0] = Route{NS: PodNS, Table: TableMain, Dst: netip.PrefixFrom(podGW, podGW.BitLen()), Dev: p.IfName, Scope: linkScope}
	a.routes[1] = Route{NS: PodNS, Table: TableMain, Dst: anyDst, Gw: podGW, Dev: p.IfName}
	a.routes[2] = Route{Table: table, Dst: netip.PrefixFrom(gw, gw.BitLen()), Dev: vlan, Scope: linkScope}
	a.routes[3] = Route{Table: table, Dst: anyDst, Gw: gw, Dev: vlan}
	keys := ipv6Keys(vlan, veth, p.IfName)
	n := 0
	for range 2 {
		for _, kv := range linkSysctls {
			a.sysctls[n] = Sysctl{Key: keys[n], Value: kv[1], Optional: fam == IPv4}
			n++
		}
	}
	if fam == IPv6 {
		a.sysctls[n] = Sysctl{NS: PodNS, Key: keys[n], Value: "0"}
		a.sysctls[n+1] = Sysctl{NS: PodNS, Key: "net.ipv6.conf.lo.disable_ipv6", Value: "0"}
		n += 2
	}
	a.links[0] = LinkRef{Name: vethName(b.otherPrefix, &sum)}
	a.prules = [4]IPRuleMatch{
		{Family: fam, Priority: PriorityIIF, Table: table},
		{Family: fam, Priority: PriorityIIF, IIF: veth},
		{Family: fam, Priority: PriorityToPod, Dst: podIP},
		{Family: fam, Priority: PriorityFromPod, Src: podIP},
	}
	a.proute = [2]RouteMatch{{Family: fam, Table: table}, {Family: fam, Table: TableMain, Dst: podIP}}
	if b.mode == Strict {
		a.routes[4] = Route{Table: table, Dst: podIP, Dev: veth, Scope: linkScope}
		a.rules = [2]IPRule{{Family: fam, Priority: PriorityIIF, Table: table, IIF: vlan}, {Family: fam, Priority: PriorityIIF, Table: table, IIF: veth}}
	} else {
		a.routes[4] = Route{Table: TableMain, Dst: podIP, Dev: veth, Scope: linkScope}
		a.rules = [2]IPRule{{Family: fam, Priority: PriorityToPod, Table: TableMain, Dst: podIP}, {Family: fam, Priority: PriorityFromPod, Table: table, Src: podIP}}
	}
	return Plan{
		Kind:     PodSetup,
		Mode:     b.mode,
		Pod:      p.Namespace + "/" + p.Name,
		PodNetNS: p.NetNS,
		Want: State{
			VLANs:     a.vlan[:],
			Veths:     a.veth[:],
			Addrs:     a.addr[:],
			Neighbors: a.neigh[:],
			Routes:    a.routes[:],
			Rules:     a.rules[:],
			Sysctls:   a.sysctls[:n],
		},
		Purge: Purge{Links: a.links[:], Rules: a.prules[:], Routes: a.proute[:]},
	}, nil
}

type teardownPlan struct {
	links  [3]LinkRef
	rules  [5]IPRuleMatch
	routes [2]RouteMatch
}

// Teardown returns the plan that removes pod p from the node whatever the
// mode it was set up in: every priority-10 rule of the branch's table and
// of either host veth, the pod IP's priority-512 and 1536 rules, the branch
// table's routes, the pod's main-table route, the VLAN link and both
// possible host veths (deleting a veth also removes its pod end). It needs
// p.Namespace, p.Name, p.Branch.VLANID and the pod's address in the node's
// family: p.Branch.PrivateIP (IPv4) or p.Branch.IPv6.
func (b *Builder) Teardown(p Pod) (Plan, error) {
	if err := b.validatePod(p, false); err != nil {
		return Plan{}, err
	}
	fam := b.family
	sum := podHash(p.Namespace, p.Name)
	strictVeth := vethName(StrictVethPrefix, &sum)
	stdVeth := vethName(b.otherPrefix, &sum)
	if b.mode == Standard {
		stdVeth = vethName(b.vethPrefix, &sum)
	}
	table := RouteTable(p.Branch.VLANID)
	podIP := netip.PrefixFrom(p.Branch.PrivateIP, 32)
	if fam == IPv6 {
		podIP = netip.PrefixFrom(p.Branch.IPv6, 128)
	}
	a := new(teardownPlan)
	a.rules = [5]IPRuleMatch{
		{Family: fam, Priority: PriorityIIF, Table: table},
		{Family: fam, Priority: PriorityIIF, IIF: strictVeth},
		{Family: fam, Priority: PriorityIIF, IIF: stdVeth},
		{Family: fam, Priority: PriorityToPod, Dst: podIP},
		{Family: fam, Priority: PriorityFromPod, Src: podIP},
	}
	a.routes = [2]RouteMatch{{Family: fam, Table: table}, {Family: fam, Table: TableMain, Dst: podIP}}
	a.links = [3]LinkRef{{Name: VLANLinkName(p.Branch.VLANID)}, {Name: strictVeth}, {Name: stdVeth}}
	return Plan{
		Kind:  PodTeardown,
		Mode:  b.mode,
		Pod:   p.Namespace + "/" + p.Name,
		Purge: Purge{Links: a.links[:], Rules: a.rules[:], Routes: a.routes[:]},
	}, nil
}

func (b *Builder) validatePod(p Pod, setup bool) error {
	var errs []error
	bad := func(field, value, reason string) {
		errs = append(errs, &FieldError{Field: "Pod." + field, Value: value, Reason: reason})
	}
	if r := dnsNameProblem(p.Namespace, 63, false); r != "" {
		bad("Namespace", strconv.Quote(p.Namespace), r)
	}
	if r := dnsNameProblem(p.Name, 253, true); r != "" {
		bad("Name", strconv.Quote(p.Name), r)
	}
	if setup {
		if !strings.HasPrefix(p.NetNS, "/") {
			bad("NetNS", strconv.Quote(p.NetNS), "want the absolute path of the pod's network namespace (CNI_NETNS)")
		}
		if r := ifNameProblem(p.IfName); r != "" {
			bad("IfName", strconv.Quote(p.IfName), r+" (CNI_IFNAME, usually eth0)")
		}
		if err := p.Branch.Validate(); err != nil {
			var ae *podeni.Error
			if errors.As(err, &ae) {
				bad("Branch."+ae.Field, ae.Value, ae.Reason)
			} else {
				bad("Branch", "", err.Error())
			}
		} else if b.family == IPv6 {
			// As the CNI plugin of an IPv6 cluster: the pod's address is
			// ipv6Addr, and subnetV6Cidr must parse.
			if !p.Branch.IPv6.IsValid() {
				bad("Branch.ipv6Addr", `""`, "this node is IPv6 (Options.Family); the branch ENI has no IPv6 address (create it in a subnet with an IPv6 CIDR)")
			} else if !p.Branch.SubnetV6CIDR.IsValid() {
				bad("Branch.subnetV6Cidr", `""`, "this node is IPv6 (Options.Family); want the subnet's IPv6 CIDR")
			}
		} else if !p.Branch.PrivateIP.IsValid() {
			bad("Branch.privateIp", `""`, "this node is IPv4 (Options.Family); the branch ENI has no IPv4 address (an IPv6 cluster's node needs Options.Family = IPv6)")
		}
	} else {
		if p.Branch.VLANID < podeni.MinVLAN || p.Branch.VLANID > podeni.MaxVLAN {
			bad("Branch.vlanId", strconv.Itoa(p.Branch.VLANID), "want the pod's VLAN ID, 1 to 4094")
		}
		if b.family == IPv6 {
			if a := p.Branch.IPv6; !a.Is6() || a.Is4In6() {
				bad("Branch.ipv6Addr", strconv.Quote(addrString(a)), "want the pod's IPv6 address")
			}
		} else if !p.Branch.PrivateIP.Is4() {
			bad("Branch.privateIp", strconv.Quote(addrString(p.Branch.PrivateIP)), "want the pod's IPv4 address")
		}
	}
	// A branch routes through table VLAN + TableOffset, as the VPC CNI
	// plugin numbers it: VLANs 153 to 155 would give a pod the kernel's
	// default, main or local table, whose rules and routes the node needs.
	// Controllers hand out VLAN IDs 1 to 120, so only a corrupt annotation
	// carries one.
	if v := p.Branch.VLANID; v >= podeni.MinVLAN && v <= podeni.MaxVLAN {
		if t := RouteTable(v); t >= TableDefault && t <= TableLocal {
			bad("Branch.vlanId", strconv.Itoa(v), fmt.Sprintf("VLAN %d would route through table %d, the kernel's default, main or local table; controllers hand out VLAN IDs 1 to 120", v, t))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return nil
}

// ifNameProblem says what is wrong with a Linux interface name, or "".
func ifNameProblem(s string) string {
	switch {
	case s == "":
		return "an interface name is required"
	case len(s) > 15:
		return "an interface name has at most 15 characters"
	case s == "." || s == "..":
		return "not a valid interface name"
	case strings.ContainsAny(s, "/: \t\n"):
		return "an interface name cannot contain '/', ':' or whitespace"
	}
	return ""
}

// dnsNameProblem checks a Kubernetes namespace (DNS label) or pod name (DNS
// subdomain).
func dnsNameProblem(s string, maxLen int, dots bool) string {
	if s == "" {
		return "required"
	}
	if len(s) > maxLen {
		return fmt.Sprintf("at most %d characters", maxLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || dots && c == '.' {
			continue
		}
		if dots {
			return "want lowercase letters, digits, '-' and '.'"
		}
		return "want lowercase letters, digits and '-'"
	}
	return ""
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func prefixString(p netip.Prefix) string {
	if !p.IsValid() {
		return ""
	}
	return p.String()
}
