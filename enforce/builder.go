package enforce

import (
	"crypto/sha1"
	"errors"
	"fmt"
	"net/netip"
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
	// TrunkLink is the name of the trunk ENI's link on the node, the parent
	// of every VLAN link. Required.
	TrunkLink string
	// PrimaryInterface is the link of the node's primary ENI ("eth0").
	// Required.
	PrimaryInterface string
	// PrimaryIP is the node's primary private IPv4 address, the SNAT source.
	// Required unless ExternalSNAT is set.
	PrimaryIP netip.Addr
	// VPCCIDRs are the IPv4 CIDRs of the VPC: traffic to them is never
	// SNATed. Required unless ExternalSNAT is set.
	VPCCIDRs []netip.Prefix
	// SNATExcludedCIDRs are further destinations that are never SNATed
	// (AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS).
	SNATExcludedCIDRs []netip.Prefix
	// ExternalSNAT, when set, leaves SNAT to a NAT gateway: no SNAT or
	// connmark rules on the node, and pods' traffic to outside the VPC
	// leaves through their branch ENI in both modes.
	ExternalSNAT bool
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
	trunk        string
	primaryIf    string
	primaryIP    netip.Addr
	noSNAT       []netip.Prefix // VPC CIDRs then excluded CIDRs, masked
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
	if r := ifNameProblem(opts.TrunkLink); r != "" {
		bad("TrunkLink", strconv.Quote(opts.TrunkLink), r)
	}
	if r := ifNameProblem(opts.PrimaryInterface); r != "" {
		bad("PrimaryInterface", strconv.Quote(opts.PrimaryInterface), r)
	}
	if !opts.ExternalSNAT {
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

// VethPrefix returns the host veth prefix of this node's mode.
func (b *Builder) VethPrefix() string { return b.vethPrefix }

// VLANLinkName returns the name of the VLAN link of a branch ENI:
// "vlan.eth.<vlanID>".
func VLANLinkName(vlanID int) string { return "vlan.eth." + strconv.Itoa(vlanID) }

// RouteTable returns the routing table of a branch ENI: vlanID + 100.
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
func (b *Builder) Node() Plan {
	p := Plan{Kind: NodeSetup, Mode: b.mode}
	w, pg := &p.Want, &p.Purge
	w.Sysctls = append(w.Sysctls, Sysctl{Key: "net.ipv4.ip_forward", Value: "1"})
	local := IPRule{Priority: 0, Table: TableLocal}
	stale := IPRuleMatch{Priority: PriorityLocal, Table: TableLocal}
	if b.mode == Strict {
		local.Priority, stale.Priority = PriorityLocal, 0
		w.Sysctls = append(w.Sysctls, Sysctl{Key: "net.ipv4.tcp_early_demux", Value: "0"})
	}
	w.Rules = append(w.Rules, local)
	pg.Rules = append(pg.Rules, stale)

	fwmark := IPRule{Priority: PriorityFwmark, Table: TableMain, Mark: ConnMark, Mask: ConnMark}
	otherVeths := b.vethPrefix + "+"
	if b.mode == Strict {
		otherVeths = b.otherPrefix + "+"
	}
	jumpSNAT := IPTablesRule{Table: "nat", Chain: "POSTROUTING", Spec: []string{"-m", "comment", "--comment", "AWS SNAT CHAIN", "-j", SNATChain}}
	jumpMark := IPTablesRule{Table: "nat", Chain: "PREROUTING", Spec: []string{"-i", otherVeths, "-m", "comment", "--comment", "AWS, outbound connections", "-j", ConnmarkChain}}
	restoreNat := IPTablesRule{Table: "nat", Chain: "PREROUTING", Spec: []string{"-m", "comment", "--comment", "AWS, CONNMARK", "-j", "CONNMARK", "--restore-mark", "--mask", "0x80"}}
	restoreMangle := IPTablesRule{Table: "mangle", Chain: "PREROUTING", Spec: []string{"-i", otherVeths, "-m", "comment", "--comment", "AWS, primary ENI", "-j", "CONNMARK", "--restore-mark", "--mask", "0x80"}}
	builtins := []IPTablesRule{jumpSNAT, jumpMark, restoreNat, restoreMangle}
	chains := []ChainRef{{Table: "nat", Name: SNATChain}, {Table: "nat", Name: ConnmarkChain}}

	if b.externalSNAT {
		pg.Rules = append(pg.Rules, IPRuleMatch{Priority: PriorityFwmark, Table: TableMain})
		pg.IPTables = builtins
		pg.Chains = chains
		return p
	}
	w.Sysctls = append(w.Sysctls, Sysctl{Key: "net.ipv4.conf." + sysctlName(b.primaryIf) + ".rp_filter", Value: "2"})
	w.Rules = append(w.Rules, fwmark)
	snat := Chain{Table: "nat", Name: SNATChain}
	mark := Chain{Table: "nat", Name: ConnmarkChain}
	for _, c := range b.noSNAT {
		snat.Rules = append(snat.Rules, []string{"-d", c.String(), "-m", "comment", "--comment", "AWS SNAT CHAIN", "-j", "RETURN"})
		mark.Rules = append(mark.Rules, []string{"-d", c.String(), "-m", "comment", "--comment", "AWS CONNMARK CHAIN, VPC CIDR", "-j", "RETURN"})
	}
	snat.Rules = append(snat.Rules, []string{"!", "-o", StrictVethPrefix + "+", "-m", "comment", "--comment", "AWS, SNAT", "-m", "addrtype", "!", "--dst-type", "LOCAL", "-j", "SNAT", "--to-source", b.primaryIP.String(), "--random-fully"})
	mark.Rules = append(mark.Rules, []string{"-m", "comment", "--comment", "AWS, CONNMARK", "-j", "CONNMARK", "--set-xmark", "0x80/0x80"})
	w.Chains = []Chain{snat, mark}
	w.IPTables = builtins
	return p
}

// sysctlName writes an interface name the way sysctl(8) expects inside a
// dotted key: dots become slashes.
func sysctlName(ifname string) string { return strings.ReplaceAll(ifname, ".", "/") }

// podPlan holds every slice of a pod plan in one allocation.
type podPlan struct {
	vlan   [1]VLANLink
	veth   [1]VethPair
	addr   [1]Addr
	neigh  [1]Neighbor
	routes [5]Route
	rules  [2]IPRule
	links  [1]LinkRef
	prules [4]IPRuleMatch
	proute [2]RouteMatch
}

// Setup returns the plan that wires pod p: the VLAN link with the branch
// ENI's MAC on the trunk, the veth pair, the pod's address, gateway
// neighbour and routes, the branch's routing table and the mode's rules. It
// also purges what a force-deleted pod may have left behind: other rules of
// the branch's table, rules of the pod's IP and veth, and the pod's veth of
// the other mode.
//
// Every bad or missing field of p is reported (errors.Join of *FieldError,
// matching ErrInvalidPod); no plan is returned then.
func (b *Builder) Setup(p Pod) (Plan, error) {
	if err := b.validatePod(p, true); err != nil {
		return Plan{}, err
	}
	br := &p.Branch
	sum := podHash(p.Namespace, p.Name)
	veth := vethName(b.vethPrefix, &sum)
	vlan := VLANLinkName(br.VLANID)
	table := RouteTable(br.VLANID)
	gw := br.Gateway()
	podIP := netip.PrefixFrom(br.PrivateIP, 32)
	mac := hostVethMAC(&sum)

	a := new(podPlan)
	a.vlan[0] = VLANLink{Name: vlan, Parent: b.trunk, VLANID: br.VLANID, MAC: br.MAC, MTU: b.mtu}
	a.veth[0] = VethPair{HostName: veth, HostMAC: mac, PodName: p.IfName, MTU: b.mtu}
	a.addr[0] = Addr{NS: PodNS, Dev: p.IfName, Prefix: podIP}
	a.neigh[0] = Neighbor{NS: PodNS, Dev: p.IfName, IP: PodGateway, MAC: mac}
	a.routes[0] = Route{NS: PodNS, Table: TableMain, Dst: netip.PrefixFrom(PodGateway, 32), Dev: p.IfName, Scope: ScopeLink}
	a.routes[1] = Route{NS: PodNS, Table: TableMain, Dst: netip.PrefixFrom(netip.IPv4Unspecified(), 0), Gw: PodGateway, Dev: p.IfName}
	a.routes[2] = Route{Table: table, Dst: netip.PrefixFrom(gw, 32), Dev: vlan, Scope: ScopeLink}
	a.routes[3] = Route{Table: table, Dst: netip.PrefixFrom(netip.IPv4Unspecified(), 0), Gw: gw, Dev: vlan}
	a.links[0] = LinkRef{Name: vethName(b.otherPrefix, &sum)}
	a.prules = [4]IPRuleMatch{
		{Priority: PriorityIIF, Table: table},
		{Priority: PriorityIIF, IIF: veth},
		{Priority: PriorityToPod, Dst: podIP},
		{Priority: PriorityFromPod, Src: podIP},
	}
	a.proute = [2]RouteMatch{{Table: table}, {Table: TableMain, Dst: podIP}}
	if b.mode == Strict {
		a.routes[4] = Route{Table: table, Dst: podIP, Dev: veth, Scope: ScopeLink}
		a.rules = [2]IPRule{{Priority: PriorityIIF, Table: table, IIF: vlan}, {Priority: PriorityIIF, Table: table, IIF: veth}}
	} else {
		a.routes[4] = Route{Table: TableMain, Dst: podIP, Dev: veth, Scope: ScopeLink}
		a.rules = [2]IPRule{{Priority: PriorityToPod, Table: TableMain, Dst: podIP}, {Priority: PriorityFromPod, Table: table, Src: podIP}}
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
// p.Namespace, p.Name, p.Branch.VLANID and p.Branch.PrivateIP.
func (b *Builder) Teardown(p Pod) (Plan, error) {
	if err := b.validatePod(p, false); err != nil {
		return Plan{}, err
	}
	sum := podHash(p.Namespace, p.Name)
	strictVeth := vethName(StrictVethPrefix, &sum)
	stdVeth := vethName(b.otherPrefix, &sum)
	if b.mode == Standard {
		stdVeth = vethName(b.vethPrefix, &sum)
	}
	table := RouteTable(p.Branch.VLANID)
	podIP := netip.PrefixFrom(p.Branch.PrivateIP, 32)
	a := new(teardownPlan)
	a.rules = [5]IPRuleMatch{
		{Priority: PriorityIIF, Table: table},
		{Priority: PriorityIIF, IIF: strictVeth},
		{Priority: PriorityIIF, IIF: stdVeth},
		{Priority: PriorityToPod, Dst: podIP},
		{Priority: PriorityFromPod, Src: podIP},
	}
	a.routes = [2]RouteMatch{{Table: table}, {Table: TableMain, Dst: podIP}}
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
		}
	} else {
		if p.Branch.VLANID < podeni.MinVLAN || p.Branch.VLANID > podeni.MaxVLAN {
			bad("Branch.vlanId", strconv.Itoa(p.Branch.VLANID), "want the pod's VLAN ID, 1 to 4094")
		}
		if !p.Branch.PrivateIP.Is4() {
			bad("Branch.privateIp", strconv.Quote(addrString(p.Branch.PrivateIP)), "want the pod's IPv4 address")
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
func dnsNameProblem(s string, max int, dots bool) string {
	if s == "" {
		return "required"
	}
	if len(s) > max {
		return fmt.Sprintf("at most %d characters", max)
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
