package enforce_test

import (
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/podsg/podsg/api/podeni"
	"github.com/podsg/podsg/enforce"
	"github.com/stretchr/testify/require"
)

// netipOpt lets go-cmp compare netip values.
var netipOpt = cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})

var (
	podIP  = netip.MustParseAddr("10.0.0.7")
	podP   = netip.MustParsePrefix("10.0.0.7/32")
	gw     = netip.MustParseAddr("10.0.0.1")
	anyDst = netip.MustParsePrefix("0.0.0.0/0")
)

func options(mode enforce.Mode) enforce.Options {
	return enforce.Options{
		Mode:             mode,
		TrunkLink:        "eth1",
		PrimaryInterface: "eth0",
		PrimaryIP:        netip.MustParseAddr("10.0.0.10"),
		VPCCIDRs:         []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16")},
	}
}

func testPod() enforce.Pod {
	return enforce.Pod{
		Namespace: "default", Name: "web-1", NetNS: "/var/run/netns/cni-1", IfName: "eth0",
		Branch: podeni.BranchENI{
			ID: "eni-0123456789abcdef0", MAC: podeni.MAC{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x03},
			PrivateIP: podIP, VLANID: 3, SubnetCIDR: netip.MustParsePrefix("10.0.0.0/19"),
		},
	}
}

func TestHostVethName(t *testing.T) {
	// sha1("default.web-1") = 0761ccbeacef8227989813e1a43b2607744edac9
	require.Equal(t, "vlan0761ccbeace", enforce.HostVethName("vlan", "default", "web-1"))
	require.Equal(t, "eni0761ccbeace", enforce.HostVethName("eni", "default", "web-1"))
	require.Equal(t, "vlan.eth.17", enforce.VLANLinkName(17))
	require.Equal(t, 117, enforce.RouteTable(17))
}

func TestSetupPlan(t *testing.T) {
	strictVeth := enforce.HostVethName("vlan", "default", "web-1")
	stdVeth := enforce.HostVethName("eni", "default", "web-1")
	common := func(veth string, mac podeni.MAC) enforce.State {
		return enforce.State{
			VLANs:     []enforce.VLANLink{{Name: "vlan.eth.3", Parent: "eth1", VLANID: 3, MAC: podeni.MAC{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x03}, MTU: 9001}},
			Veths:     []enforce.VethPair{{HostName: veth, HostMAC: mac, PodName: "eth0", MTU: 9001}},
			Addrs:     []enforce.Addr{{NS: enforce.PodNS, Dev: "eth0", Prefix: podP}},
			Neighbors: []enforce.Neighbor{{NS: enforce.PodNS, Dev: "eth0", IP: enforce.PodGateway, MAC: mac}},
			Routes: []enforce.Route{
				{NS: enforce.PodNS, Table: enforce.TableMain, Dst: netip.MustParsePrefix("169.254.1.1/32"), Dev: "eth0", Scope: enforce.ScopeLink},
				{NS: enforce.PodNS, Table: enforce.TableMain, Dst: anyDst, Gw: enforce.PodGateway, Dev: "eth0"},
				{Table: 103, Dst: netip.MustParsePrefix("10.0.0.1/32"), Dev: "vlan.eth.3", Scope: enforce.ScopeLink},
				{Table: 103, Dst: anyDst, Gw: gw, Dev: "vlan.eth.3"},
			},
		}
	}
	tests := []struct {
		mode  enforce.Mode
		veth  string
		other string
		route enforce.Route
		rules []enforce.IPRule
	}{
		{
			mode: enforce.Strict, veth: strictVeth, other: stdVeth,
			route: enforce.Route{Table: 103, Dst: podP, Dev: strictVeth, Scope: enforce.ScopeLink},
			rules: []enforce.IPRule{{Priority: 10, Table: 103, IIF: "vlan.eth.3"}, {Priority: 10, Table: 103, IIF: strictVeth}},
		},
		{
			mode: enforce.Standard, veth: stdVeth, other: strictVeth,
			route: enforce.Route{Table: enforce.TableMain, Dst: podP, Dev: stdVeth, Scope: enforce.ScopeLink},
			rules: []enforce.IPRule{{Priority: 512, Table: enforce.TableMain, Dst: podP}, {Priority: 1536, Table: 103, Src: podP}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String(), func(t *testing.T) {
			b, err := enforce.NewBuilder(options(tt.mode))
			require.NoError(t, err)
			got, err := b.Setup(testPod())
			require.NoError(t, err)
			mac := got.Want.Veths[0].HostMAC
			require.Equal(t, byte(0x02), mac[0], "locally administered unicast MAC")
			want := enforce.Plan{
				Kind: enforce.PodSetup, Mode: tt.mode, Pod: "default/web-1", PodNetNS: "/var/run/netns/cni-1",
				Want: common(tt.veth, mac),
				Purge: enforce.Purge{
					Links: []enforce.LinkRef{{Name: tt.other}},
					Rules: []enforce.IPRuleMatch{
						{Priority: 10, Table: 103}, {Priority: 10, IIF: tt.veth},
						{Priority: 512, Dst: podP}, {Priority: 1536, Src: podP},
					},
					Routes: []enforce.RouteMatch{{Table: 103}, {Table: enforce.TableMain, Dst: podP}},
				},
			}
			want.Want.Routes = append(want.Want.Routes, tt.route)
			want.Want.Rules = tt.rules
			want.Want.Sysctls = linkSysctls(true, "vlan/eth/3", tt.veth)
			if diff := cmp.Diff(want, got, netipOpt); diff != "" {
				t.Errorf("Setup (-want +got):\n%s", diff)
			}
		})
	}
}

// linkSysctls are the IPv6 settings of a pod's VLAN link and host veth.
func linkSysctls(optional bool, vlan, veth string) []enforce.Sysctl {
	var out []enforce.Sysctl
	for _, dev := range []string{vlan, veth} {
		out = append(out,
			enforce.Sysctl{Key: "net.ipv6.conf." + dev + ".accept_ra", Value: "0", Optional: optional},
			enforce.Sysctl{Key: "net.ipv6.conf." + dev + ".accept_redirects", Value: "1", Optional: optional},
			enforce.Sysctl{Key: "net.ipv6.conf." + dev + ".forwarding", Value: "0", Optional: optional})
	}
	return out
}

var (
	podIPv6  = netip.MustParseAddr("2600:1f14:abc:de00::7")
	podP6    = netip.MustParsePrefix("2600:1f14:abc:de00::7/128")
	anyDst6  = netip.MustParsePrefix("::/0")
	subnetV6 = netip.MustParsePrefix("2600:1f14:abc:de00::/64")
)

func optionsV6(mode enforce.Mode) enforce.Options {
	return enforce.Options{Mode: mode, Family: enforce.IPv6, TrunkLink: "eth1", PrimaryInterface: "eth0"}
}

// testPodV6 is a pod whose branch ENI has only an IPv6 address, as in an
// IPv6-only subnet.
func testPodV6() enforce.Pod {
	p := testPod()
	p.Branch.PrivateIP = netip.Addr{}
	p.Branch.IPv6 = podIPv6
	p.Branch.SubnetV6CIDR = subnetV6
	return p
}

func TestSetupPlanIPv6(t *testing.T) {
	strictVeth := enforce.HostVethName("vlan", "default", "web-1")
	stdVeth := enforce.HostVethName("eni", "default", "web-1")
	v6 := enforce.IPv6
	tests := []struct {
		mode  enforce.Mode
		veth  string
		other string
		route enforce.Route
		rules []enforce.IPRule
	}{
		{
			mode: enforce.Strict, veth: strictVeth, other: stdVeth,
			route: enforce.Route{Table: 103, Dst: podP6, Dev: strictVeth},
			rules: []enforce.IPRule{{Family: v6, Priority: 10, Table: 103, IIF: "vlan.eth.3"}, {Family: v6, Priority: 10, Table: 103, IIF: strictVeth}},
		},
		{
			mode: enforce.Standard, veth: stdVeth, other: strictVeth,
			route: enforce.Route{Table: enforce.TableMain, Dst: podP6, Dev: stdVeth},
			rules: []enforce.IPRule{{Family: v6, Priority: 512, Table: enforce.TableMain, Dst: podP6}, {Family: v6, Priority: 1536, Table: 103, Src: podP6}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String(), func(t *testing.T) {
			b, err := enforce.NewBuilder(optionsV6(tt.mode))
			require.NoError(t, err)
			// A dual-stack annotation gives the same plan: the node's family
			// picks the address, as the VPC CNI plugin does.
			dual := testPodV6()
			dual.Branch.PrivateIP = podIP
			for _, pod := range []enforce.Pod{testPodV6(), dual} {
				got, err := b.Setup(pod)
				require.NoError(t, err)
				mac := got.Want.Veths[0].HostMAC
				want := enforce.Plan{
					Kind: enforce.PodSetup, Mode: tt.mode, Pod: "default/web-1", PodNetNS: "/var/run/netns/cni-1",
					Want: enforce.State{
						VLANs:     []enforce.VLANLink{{Name: "vlan.eth.3", Parent: "eth1", VLANID: 3, MAC: podeni.MAC{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x03}, MTU: 9001}},
						Veths:     []enforce.VethPair{{HostName: tt.veth, HostMAC: mac, PodName: "eth0", MTU: 9001}},
						Addrs:     []enforce.Addr{{NS: enforce.PodNS, Dev: "eth0", Prefix: podP6, NoDAD: true}},
						Neighbors: []enforce.Neighbor{{NS: enforce.PodNS, Dev: "eth0", IP: netip.MustParseAddr("fe80::1"), MAC: mac}},
						Routes: []enforce.Route{
							{NS: enforce.PodNS, Table: enforce.TableMain, Dst: netip.MustParsePrefix("fe80::1/128"), Dev: "eth0"},
							{NS: enforce.PodNS, Table: enforce.TableMain, Dst: anyDst6, Gw: netip.MustParseAddr("fe80::1"), Dev: "eth0"},
							{Table: 103, Dst: netip.MustParsePrefix("fe80:ec2::1/128"), Dev: "vlan.eth.3"},
							{Table: 103, Dst: anyDst6, Gw: netip.MustParseAddr("fe80:ec2::1"), Dev: "vlan.eth.3"},
							tt.route,
						},
						Rules: tt.rules,
						Sysctls: append(linkSysctls(false, "vlan/eth/3", tt.veth),
							enforce.Sysctl{NS: enforce.PodNS, Key: "net.ipv6.conf.eth0.disable_ipv6", Value: "0"},
							enforce.Sysctl{NS: enforce.PodNS, Key: "net.ipv6.conf.lo.disable_ipv6", Value: "0"}),
					},
					Purge: enforce.Purge{
						Links: []enforce.LinkRef{{Name: tt.other}},
						Rules: []enforce.IPRuleMatch{
							{Family: v6, Priority: 10, Table: 103}, {Family: v6, Priority: 10, IIF: tt.veth},
							{Family: v6, Priority: 512, Dst: podP6}, {Family: v6, Priority: 1536, Src: podP6},
						},
						Routes: []enforce.RouteMatch{{Family: v6, Table: 103}, {Family: v6, Table: enforce.TableMain, Dst: podP6}},
					},
				}
				if diff := cmp.Diff(want, got, netipOpt); diff != "" {
					t.Errorf("Setup (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestTeardownPlanIPv6(t *testing.T) {
	b, err := enforce.NewBuilder(optionsV6(enforce.Strict))
	require.NoError(t, err)
	p := testPodV6()
	p.NetNS, p.IfName = "", ""
	got, err := b.Teardown(p)
	require.NoError(t, err)
	sv, ev := enforce.HostVethName("vlan", "default", "web-1"), enforce.HostVethName("eni", "default", "web-1")
	v6 := enforce.IPv6
	want := enforce.Plan{
		Kind: enforce.PodTeardown, Mode: enforce.Strict, Pod: "default/web-1",
		Purge: enforce.Purge{
			Links: []enforce.LinkRef{{Name: "vlan.eth.3"}, {Name: sv}, {Name: ev}},
			Rules: []enforce.IPRuleMatch{
				{Family: v6, Priority: 10, Table: 103}, {Family: v6, Priority: 10, IIF: sv}, {Family: v6, Priority: 10, IIF: ev},
				{Family: v6, Priority: 512, Dst: podP6}, {Family: v6, Priority: 1536, Src: podP6},
			},
			Routes: []enforce.RouteMatch{{Family: v6, Table: 103}, {Family: v6, Table: enforce.TableMain, Dst: podP6}},
		},
	}
	if diff := cmp.Diff(want, got, netipOpt); diff != "" {
		t.Errorf("Teardown (-want +got):\n%s", diff)
	}
}

func TestNodePlanIPv6(t *testing.T) {
	gwRule := enforce.IPRule{Family: enforce.IPv6, Priority: 0, Table: enforce.TableLocal, Src: netip.MustParsePrefix("fe80:ec2::1/128"), IPProto: 58}
	fwmark := enforce.IPRule{Family: enforce.IPv6, Priority: 1024, Table: enforce.TableMain, Mark: 0x80, Mask: 0x80}
	sysctls := []enforce.Sysctl{
		{Key: "net.ipv4.ip_forward", Value: "1"},
		{Key: "net.ipv6.conf.eth0.accept_ra", Value: "2"},
		{Key: "net.ipv6.conf.all.disable_ipv6", Value: "0"},
		{Key: "net.ipv6.conf.all.forwarding", Value: "1"},
	}
	b, err := enforce.NewBuilder(optionsV6(enforce.Strict))
	require.NoError(t, err, "an IPv6 node needs no SNAT settings")
	p := b.Node()
	require.Equal(t, []enforce.IPRule{{Family: enforce.IPv6, Priority: 20, Table: enforce.TableLocal}, gwRule, fwmark}, p.Want.Rules)
	require.Equal(t, []enforce.IPRuleMatch{{Family: enforce.IPv6, Priority: 0, Table: enforce.TableLocal}}, p.Purge.Rules)
	require.Subset(t, p.Want.Sysctls, sysctls)
	require.Empty(t, p.Want.Chains, "no SNAT on an IPv6 node, as the VPC CNI plugin")
	require.Empty(t, p.Want.IPTables)

	b, err = enforce.NewBuilder(optionsV6(enforce.Standard))
	require.NoError(t, err)
	p = b.Node()
	require.Equal(t, []enforce.IPRule{{Family: enforce.IPv6, Priority: 0, Table: enforce.TableLocal}, fwmark}, p.Want.Rules)
	require.Equal(t, []enforce.IPRuleMatch{
		{Family: enforce.IPv6, Priority: 20, Table: enforce.TableLocal},
		{Family: enforce.IPv6, Priority: 0, Table: enforce.TableLocal, Src: gwRule.Src},
	}, p.Purge.Rules, "standard mode removes the strict-mode gateway rule")
}

func TestTeardownPlan(t *testing.T) {
	b, err := enforce.NewBuilder(options(enforce.Standard))
	require.NoError(t, err)
	p := testPod()
	p.NetNS, p.IfName = "", "" // not needed
	got, err := b.Teardown(p)
	require.NoError(t, err)
	sv, ev := enforce.HostVethName("vlan", "default", "web-1"), enforce.HostVethName("eni", "default", "web-1")
	want := enforce.Plan{
		Kind: enforce.PodTeardown, Mode: enforce.Standard, Pod: "default/web-1",
		Purge: enforce.Purge{
			Links: []enforce.LinkRef{{Name: "vlan.eth.3"}, {Name: sv}, {Name: ev}},
			Rules: []enforce.IPRuleMatch{
				{Priority: 10, Table: 103}, {Priority: 10, IIF: sv}, {Priority: 10, IIF: ev},
				{Priority: 512, Dst: podP}, {Priority: 1536, Src: podP},
			},
			Routes: []enforce.RouteMatch{{Table: 103}, {Table: enforce.TableMain, Dst: podP}},
		},
	}
	if diff := cmp.Diff(want, got, netipOpt); diff != "" {
		t.Errorf("Teardown (-want +got):\n%s", diff)
	}
}

// The node plan's iptables rules, as the VPC CNI plugin (v1.23,
// pkg/networkutils) writes them; specs in the order iptables prints them.
var (
	jumpSNAT    = enforce.IPTablesRule{Table: "nat", Chain: "POSTROUTING", Spec: strings.Fields("-m comment --comment AWS_SNAT_CHAIN -j AWS-SNAT-CHAIN-0")}
	jumpMark    = enforce.IPTablesRule{Table: "nat", Chain: "PREROUTING", Spec: strings.Fields("-i eni+ -m comment --comment AWS,_outbound_connections -j AWS-CONNMARK-CHAIN-0")}
	restoreNat  = enforce.IPTablesRule{Table: "nat", Chain: "PREROUTING", Spec: strings.Fields("-m comment --comment AWS,_CONNMARK -j CONNMARK --restore-mark --mask 0x80")}
	nodePortIn  = enforce.IPTablesRule{Table: "mangle", Chain: "PREROUTING", Spec: strings.Fields("-i eth0 -m comment --comment AWS,_primary_ENI -m addrtype --dst-type LOCAL --limit-iface-in -j CONNMARK --set-mark 0x80/0x80")}
	restoreVeth = enforce.IPTablesRule{Table: "mangle", Chain: "PREROUTING", Spec: strings.Fields("-i eni+ -m comment --comment AWS,_primary_ENI -j CONNMARK --restore-mark --mask 0x80")}
	restoreVLAN = enforce.IPTablesRule{Table: "mangle", Chain: "PREROUTING", Spec: strings.Fields("-i vlan+ -m comment --comment AWS,_primary_ENI -j CONNMARK --restore-mark --mask 0x80")}
	fwmarkRule  = enforce.IPRule{Priority: 1024, Table: enforce.TableMain, Mark: 0x80, Mask: 0x80}
	awsCNI      = []enforce.NFTableRef{{Family: "ip", Name: "aws-cni"}}
)

func init() {
	// Comments are one argument: "_" stands for a space above.
	for _, r := range []*enforce.IPTablesRule{&jumpSNAT, &jumpMark, &restoreNat, &nodePortIn, &restoreVeth, &restoreVLAN} {
		for i, a := range r.Spec {
			r.Spec[i] = strings.ReplaceAll(a, "_", " ")
		}
	}
}

func spec(s string) []string {
	f := strings.Fields(s)
	for i, a := range f {
		f[i] = strings.ReplaceAll(a, "_", " ")
	}
	return f
}

func TestNodePlan(t *testing.T) {
	snatRule := spec("! -o vlan+ -m comment --comment AWS,_SNAT -m addrtype ! --dst-type LOCAL -j SNAT --to-source 10.0.0.10 --random-fully")
	setMark := spec("-m comment --comment AWS,_CONNMARK -j CONNMARK --set-xmark 0x80/0x80")
	fullChains := []enforce.Chain{
		{Table: "nat", Name: "AWS-SNAT-CHAIN-0", Rules: [][]string{spec("-d 10.0.0.0/16 -m comment --comment AWS_SNAT_CHAIN -j RETURN"), snatRule}},
		{Table: "nat", Name: "AWS-CONNMARK-CHAIN-0", Rules: [][]string{spec("-d 10.0.0.0/16 -m comment --comment AWS_CONNMARK_CHAIN -j RETURN"), setMark}},
	}
	tests := []struct {
		name        string
		mutate      func(*enforce.Options)
		rules       []enforce.IPRule
		purgeRules  []enforce.IPRuleMatch
		ipt, purge  []enforce.IPTablesRule
		chains      []enforce.Chain
		purgeChains []enforce.ChainRef
		nft         []enforce.ConnmarkTable
		purgeNFT    []enforce.NFTableRef
		demux       string
	}{
		{
			name:   "strict",
			mutate: func(*enforce.Options) {},
			rules:  []enforce.IPRule{{Priority: 20, Table: enforce.TableLocal}, fwmarkRule}, purgeRules: []enforce.IPRuleMatch{{Priority: 0, Table: enforce.TableLocal}},
			ipt:    []enforce.IPTablesRule{jumpSNAT, jumpMark, restoreNat, nodePortIn, restoreVeth, restoreVLAN},
			chains: fullChains, purgeNFT: awsCNI, demux: "1",
		},
		{
			name:   "standard, early demux off",
			mutate: func(o *enforce.Options) { o.Mode = enforce.Standard; o.DisableTCPEarlyDemux = true },
			rules:  []enforce.IPRule{{Priority: 0, Table: enforce.TableLocal}, fwmarkRule}, purgeRules: []enforce.IPRuleMatch{{Priority: 20, Table: enforce.TableLocal}},
			ipt:    []enforce.IPTablesRule{jumpSNAT, jumpMark, restoreNat, nodePortIn, restoreVeth, restoreVLAN},
			chains: fullChains, purgeNFT: awsCNI, demux: "0",
		},
		{
			name:   "external SNAT keeps NodePort support and an empty SNAT chain",
			mutate: func(o *enforce.Options) { o.Mode = enforce.Standard; o.ExternalSNAT = true },
			rules:  []enforce.IPRule{{Priority: 0, Table: enforce.TableLocal}, fwmarkRule}, purgeRules: []enforce.IPRuleMatch{{Priority: 20, Table: enforce.TableLocal}},
			ipt: []enforce.IPTablesRule{nodePortIn, restoreVeth, restoreVLAN}, purge: []enforce.IPTablesRule{jumpSNAT, jumpMark, restoreNat},
			chains: []enforce.Chain{{Table: "nat", Name: "AWS-SNAT-CHAIN-0", Rules: [][]string{}}}, purgeChains: []enforce.ChainRef{{Table: "nat", Name: "AWS-CONNMARK-CHAIN-0"}},
			purgeNFT: awsCNI, demux: "1",
		},
		{
			name: "external SNAT without NodePort support",
			mutate: func(o *enforce.Options) {
				o.Mode = enforce.Standard
				o.ExternalSNAT = true
				o.DisableNodePortSupport = true
			},
			rules: []enforce.IPRule{{Priority: 0, Table: enforce.TableLocal}},
			purgeRules: []enforce.IPRuleMatch{
				{Priority: 20, Table: enforce.TableLocal}, {Priority: 1024, Table: enforce.TableMain},
			},
			purge:  []enforce.IPTablesRule{jumpSNAT, jumpMark, restoreNat, nodePortIn, restoreVeth, restoreVLAN},
			chains: []enforce.Chain{{Table: "nat", Name: "AWS-SNAT-CHAIN-0", Rules: [][]string{}}}, purgeChains: []enforce.ChainRef{{Table: "nat", Name: "AWS-CONNMARK-CHAIN-0"}},
			purgeNFT: awsCNI, demux: "1",
		},
		{
			name:   "SNAT without NodePort support",
			mutate: func(o *enforce.Options) { o.DisableNodePortSupport = true },
			rules:  []enforce.IPRule{{Priority: 20, Table: enforce.TableLocal}, fwmarkRule}, purgeRules: []enforce.IPRuleMatch{{Priority: 0, Table: enforce.TableLocal}},
			ipt: []enforce.IPTablesRule{jumpSNAT, jumpMark, restoreNat, restoreVeth}, purge: []enforce.IPTablesRule{nodePortIn, restoreVLAN},
			chains: fullChains, purgeNFT: awsCNI, demux: "1",
		},
		{
			name: "excluded CIDRs, 0.0.0.0/0 without -d",
			mutate: func(o *enforce.Options) {
				o.SNATExcludedCIDRs = []netip.Prefix{netip.MustParsePrefix("172.16.0.0/12"), netip.MustParsePrefix("0.0.0.0/0")}
			},
			rules: []enforce.IPRule{{Priority: 20, Table: enforce.TableLocal}, fwmarkRule}, purgeRules: []enforce.IPRuleMatch{{Priority: 0, Table: enforce.TableLocal}},
			ipt: []enforce.IPTablesRule{jumpSNAT, jumpMark, restoreNat, nodePortIn, restoreVeth, restoreVLAN},
			chains: []enforce.Chain{
				{Table: "nat", Name: "AWS-SNAT-CHAIN-0", Rules: [][]string{
					spec("-d 10.0.0.0/16 -m comment --comment AWS_SNAT_CHAIN -j RETURN"),
					spec("-d 172.16.0.0/12 -m comment --comment AWS_SNAT_CHAIN_EXCLUSION -j RETURN"),
					spec("-m comment --comment AWS_SNAT_CHAIN_EXCLUSION -j RETURN"),
					snatRule,
				}},
				{Table: "nat", Name: "AWS-CONNMARK-CHAIN-0", Rules: [][]string{
					spec("-d 10.0.0.0/16 -m comment --comment AWS_CONNMARK_CHAIN -j RETURN"),
					spec("-d 172.16.0.0/12 -m comment --comment AWS_CONNMARK_CHAIN -j RETURN"),
					spec("-m comment --comment AWS_CONNMARK_CHAIN -j RETURN"),
					setMark,
				}},
			},
			purgeNFT: awsCNI, demux: "1",
		},
	}
	nftCases := []struct {
		name        string
		mutate      func(*enforce.Options)
		rules       []enforce.IPRule
		purgeRules  []enforce.IPRuleMatch
		ipt, purge  []enforce.IPTablesRule
		chains      []enforce.Chain
		purgeChains []enforce.ChainRef
		nft         []enforce.ConnmarkTable
		purgeNFT    []enforce.NFTableRef
		demux       string
	}{
		{
			name:   "nf_tables iptables: connmark in nftables",
			mutate: func(o *enforce.Options) { o.NFTables = true },
			rules:  []enforce.IPRule{{Priority: 20, Table: enforce.TableLocal}, fwmarkRule}, purgeRules: []enforce.IPRuleMatch{{Priority: 0, Table: enforce.TableLocal}},
			ipt: []enforce.IPTablesRule{jumpSNAT, nodePortIn, restoreVeth, restoreVLAN}, purge: []enforce.IPTablesRule{jumpMark, restoreNat},
			chains: fullChains[:1], purgeChains: []enforce.ChainRef{{Table: "nat", Name: "AWS-CONNMARK-CHAIN-0"}},
			nft:   []enforce.ConnmarkTable{{Name: "aws-cni", VethPrefix: "eni", Mark: 0x80, Exempt: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16")}}},
			demux: "1",
		},
		{
			name:   "nf_tables iptables, external SNAT",
			mutate: func(o *enforce.Options) { o.NFTables = true; o.ExternalSNAT = true },
			rules:  []enforce.IPRule{{Priority: 20, Table: enforce.TableLocal}, fwmarkRule}, purgeRules: []enforce.IPRuleMatch{{Priority: 0, Table: enforce.TableLocal}},
			ipt: []enforce.IPTablesRule{nodePortIn, restoreVeth, restoreVLAN}, purge: []enforce.IPTablesRule{jumpSNAT, jumpMark, restoreNat},
			chains: []enforce.Chain{{Table: "nat", Name: "AWS-SNAT-CHAIN-0", Rules: [][]string{}}}, purgeChains: []enforce.ChainRef{{Table: "nat", Name: "AWS-CONNMARK-CHAIN-0"}},
			purgeNFT: awsCNI, demux: "1",
		},
	}
	tests = append(tests, nftCases...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := options(enforce.Strict)
			tt.mutate(&o)
			b, err := enforce.NewBuilder(o)
			require.NoError(t, err)
			p := b.Node()
			want := enforce.Plan{
				Kind: enforce.NodeSetup, Mode: o.Mode,
				Want: enforce.State{
					Rules: tt.rules,
					Sysctls: []enforce.Sysctl{
						{Key: "net.ipv4.ip_forward", Value: "1"},
						{Key: "net.ipv4.conf.eth0.rp_filter", Value: "2"},
						{Key: "net.ipv4.tcp_early_demux", Value: tt.demux},
					},
					Chains: tt.chains, IPTables: tt.ipt, ConnmarkTables: tt.nft,
				},
				Purge: enforce.Purge{Rules: tt.purgeRules, IPTables: tt.purge, Chains: tt.purgeChains, NFTables: tt.purgeNFT},
			}
			if diff := cmp.Diff(want, p, netipOpt); diff != "" {
				t.Errorf("Node (-want +got):\n%s", diff)
			}
		})
	}

	// A veth prefix of its own names the standard-mode veths in the rules.
	o := options(enforce.Standard)
	o.VethPrefix = "pod"
	b, err := enforce.NewBuilder(o)
	require.NoError(t, err)
	require.Equal(t, "pod+", b.Node().Want.IPTables[1].Spec[1])
}

func TestNewBuilderErrors(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*enforce.Options)
		fields []string
	}{
		{"zero", func(c *enforce.Options) { *c = enforce.Options{} }, []string{"Options.TrunkLink", "Options.PrimaryInterface", "Options.PrimaryIP", "Options.VPCCIDRs"}},
		{"mode", func(c *enforce.Options) { c.Mode = 7 }, []string{"Options.Mode"}},
		{"cidr host bits", func(c *enforce.Options) { c.VPCCIDRs = append(c.VPCCIDRs, netip.MustParsePrefix("10.1.2.3/16")) }, []string{"Options.VPCCIDRs[1]"}},
		{"excluded v6", func(c *enforce.Options) { c.SNATExcludedCIDRs = []netip.Prefix{netip.MustParsePrefix("fd00::/8")} }, []string{"Options.SNATExcludedCIDRs[0]"}},
		{"mtu", func(c *enforce.Options) { c.MTU = 10000 }, []string{"Options.MTU"}},
		{"prefix long", func(c *enforce.Options) { c.VethPrefix = "toolong" }, []string{"Options.VethPrefix"}},
		{"prefix vlan", func(c *enforce.Options) { c.VethPrefix = "vlan" }, []string{"Options.VethPrefix"}},
		{"trunk name", func(c *enforce.Options) { c.TrunkLink = "a/b" }, []string{"Options.TrunkLink"}},
		{"external snat needs no IP", func(c *enforce.Options) { c.ExternalSNAT = true; c.PrimaryIP = netip.Addr{}; c.VPCCIDRs = nil }, nil},
		{"IPv6 needs no SNAT settings", func(c *enforce.Options) { c.Family = enforce.IPv6; c.PrimaryIP = netip.Addr{}; c.VPCCIDRs = nil }, nil},
		{"family", func(c *enforce.Options) { c.Family = 9 }, []string{"Options.Family"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := options(enforce.Standard)
			tt.mutate(&c)
			_, err := enforce.NewBuilder(c)
			require.Equal(t, tt.fields, fieldsOf(err))
			if err != nil {
				require.ErrorIs(t, err, enforce.ErrInvalidOptions)
				require.NotErrorIs(t, err, enforce.ErrInvalidPod)
			}
		})
	}
}

func fieldsOf(err error) []string {
	if err == nil {
		return nil
	}
	var out []string
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		var fe *enforce.FieldError
		if errors.As(e, &fe) {
			out = append(out, fe.Field)
		}
	}
	walk(err)
	return out
}

func TestSetupErrors(t *testing.T) {
	b, err := enforce.NewBuilder(options(enforce.Strict))
	require.NoError(t, err)
	tests := []struct {
		name     string
		mutate   func(*enforce.Pod)
		setup    []string
		teardown []string
	}{
		{"ok", func(*enforce.Pod) {}, nil, nil},
		{"zero", func(p *enforce.Pod) { *p = enforce.Pod{} }, []string{"Pod.Namespace", "Pod.Name", "Pod.NetNS", "Pod.IfName", "Pod.Branch.eniId"}, []string{"Pod.Namespace", "Pod.Name", "Pod.Branch.vlanId", "Pod.Branch.privateIp"}},
		{"vlan 0", func(p *enforce.Pod) { p.Branch.VLANID = 0 }, []string{"Pod.Branch.vlanId"}, []string{"Pod.Branch.vlanId"}},
		{"vlan 152 (table 252)", func(p *enforce.Pod) { p.Branch.VLANID = 152 }, nil, nil},
		{"vlan 153 (the default table)", func(p *enforce.Pod) { p.Branch.VLANID = 153 }, []string{"Pod.Branch.vlanId"}, []string{"Pod.Branch.vlanId"}},
		{"vlan 154 (the main table)", func(p *enforce.Pod) { p.Branch.VLANID = 154 }, []string{"Pod.Branch.vlanId"}, []string{"Pod.Branch.vlanId"}},
		{"vlan 155 (the local table)", func(p *enforce.Pod) { p.Branch.VLANID = 155 }, []string{"Pod.Branch.vlanId"}, []string{"Pod.Branch.vlanId"}},
		{"vlan 156 (table 256)", func(p *enforce.Pod) { p.Branch.VLANID = 156 }, nil, nil},
		{"relative netns", func(p *enforce.Pod) { p.NetNS = "netns/x" }, []string{"Pod.NetNS"}, nil},
		{"ifname too long", func(p *enforce.Pod) { p.IfName = "a-very-long-ifname" }, []string{"Pod.IfName"}, nil},
		{"no mac", func(p *enforce.Pod) { p.Branch.MAC = podeni.MAC{} }, []string{"Pod.Branch.ifAddress"}, nil},
		{"ip outside subnet", func(p *enforce.Pod) { p.Branch.PrivateIP = netip.MustParseAddr("10.9.0.1") }, []string{"Pod.Branch.privateIp"}, nil},
		{"upper-case namespace", func(p *enforce.Pod) { p.Namespace = "Default" }, []string{"Pod.Namespace"}, []string{"Pod.Namespace"}},
		{"IPv6-only branch on an IPv4 node", func(p *enforce.Pod) { *p = testPodV6() }, []string{"Pod.Branch.privateIp"}, []string{"Pod.Branch.privateIp"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPod()
			tt.mutate(&p)
			plan, err := b.Setup(p)
			require.Equal(t, tt.setup, fieldsOf(err))
			if err != nil {
				require.ErrorIs(t, err, enforce.ErrInvalidPod)
				require.NotErrorIs(t, err, enforce.ErrInvalidOptions)
				require.Zero(t, plan.Kind+enforce.Kind(len(plan.Want.Rules)), "no plan on error")
			}
			_, err = b.Teardown(p)
			require.Equal(t, tt.teardown, fieldsOf(err))
			if err != nil {
				require.ErrorIs(t, err, enforce.ErrInvalidPod)
			}
		})
	}
}

func TestSetupErrorsIPv6(t *testing.T) {
	b, err := enforce.NewBuilder(optionsV6(enforce.Strict))
	require.NoError(t, err)
	tests := []struct {
		name     string
		pod      enforce.Pod
		setup    []string
		teardown []string
	}{
		{"ok", testPodV6(), nil, nil},
		{"IPv4-only branch", testPod(), []string{"Pod.Branch.ipv6Addr"}, []string{"Pod.Branch.ipv6Addr"}},
		{"dual stack without the IPv6 CIDR", func() enforce.Pod {
			p := testPodV6()
			p.Branch.PrivateIP, p.Branch.SubnetV6CIDR = podIP, netip.Prefix{}
			return p
		}(), []string{"Pod.Branch.subnetV6Cidr"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := b.Setup(tt.pod)
			require.Equal(t, tt.setup, fieldsOf(err))
			_, err = b.Teardown(tt.pod)
			require.Equal(t, tt.teardown, fieldsOf(err))
			if err != nil {
				require.ErrorIs(t, err, enforce.ErrInvalidPod)
				require.ErrorContains(t, err, "want the pod's IPv6 address")
			}
		})
	}
}

func TestParseMode(t *testing.T) {
	for _, m := range []enforce.Mode{enforce.Strict, enforce.Standard} {
		got, err := enforce.ParseMode(m.String())
		require.NoError(t, err)
		require.Equal(t, m, got)
	}
	_, err := enforce.ParseMode("Strict")
	require.ErrorIs(t, err, enforce.ErrInvalidOptions)
	require.ErrorContains(t, err, `"Strict"`)
}

func FuzzParseMode(f *testing.F) {
	for _, s := range []string{"strict", "standard", "", "STRICT", "standard "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := enforce.ParseMode(s)
		if err != nil {
			require.ErrorIs(t, err, enforce.ErrInvalidOptions)
			return
		}
		require.Equal(t, s, m.String(), "a parsed mode formats back to its input")
	})
}

// FuzzSetup feeds annotation values through podeni.Parse and the
// builder: either an error naming a field, or a plan whose names and
// numbers follow the rules.
func FuzzSetup(f *testing.F) {
	f.Add(`[{"eniId":"eni-0123456789abcdef0","ifAddress":"02:aa:bb:cc:dd:03","privateIp":"10.0.0.7","vlanId":3,"subnetCidr":"10.0.0.0/19"}]`, "default", "web-1", "eth0")
	f.Add(`[{"eniId":"eni-01234567","ifAddress":"02:aa:bb:cc:dd:03","privateIp":"10.0.0.7","vlanId":4094,"subnetCidr":"10.0.0.0/8"}]`, "kube-system", "a.b", "net1")
	f.Add(`[{"eniId":"eni-01234567","ifAddress":"02:aa:bb:cc:dd:03","privateIp":"","ipv6Addr":"2600:1f14::7","vlanId":7,"subnetCidr":"10.0.0.0/8","subnetV6Cidr":"2600:1f14::/64"}]`, "default", "web-1", "eth0")
	b4, err := enforce.NewBuilder(options(enforce.Standard))
	require.NoError(f, err)
	b6, err := enforce.NewBuilder(optionsV6(enforce.Strict))
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, annotation, namespace, name, ifname string) {
		enis, err := podeni.Parse(annotation)
		if err != nil {
			return
		}
		for _, b := range []*enforce.Builder{b4, b6} {
			p, err := b.Setup(enforce.Pod{Namespace: namespace, Name: name, NetNS: "/run/netns/x", IfName: ifname, Branch: enis[0]})
			if err != nil {
				require.ErrorIs(t, err, enforce.ErrInvalidPod)
				require.NotEmpty(t, fieldsOf(err))
				continue
			}
			br := enis[0]
			require.Equal(t, enforce.VLANLinkName(br.VLANID), p.Want.VLANs[0].Name)
			require.LessOrEqual(t, len(p.Want.Veths[0].HostName), 15)
			require.Equal(t, br.VLANID+100, p.Want.Routes[3].Table)
			if b.Family() == enforce.IPv6 {
				require.Equal(t, enforce.VPCGatewayV6, p.Want.Routes[3].Gw)
				require.Equal(t, br.IPv6, p.Want.Addrs[0].Prefix.Addr())
			} else {
				require.Equal(t, br.Gateway(), p.Want.Routes[3].Gw)
				require.Equal(t, br.PrivateIP, p.Want.Addrs[0].Prefix.Addr())
			}
		}
	})
}

func TestModeText(t *testing.T) {
	type cni struct {
		Mode enforce.Mode `json:"enforcingMode,omitempty"`
	}
	for in, want := range map[string]enforce.Mode{
		`{"enforcingMode":"standard"}`: enforce.Standard,
		`{"enforcingMode":"strict"}`:   enforce.Strict,
		`{"enforcingMode":""}`:         enforce.Strict,
		`{}`:                           enforce.Strict,
	} {
		var c cni
		require.NoError(t, json.Unmarshal([]byte(in), &c), in)
		require.Equal(t, want, c.Mode, in)
	}
	var c cni
	err := json.Unmarshal([]byte(`{"enforcingMode":"strikt"}`), &c)
	require.ErrorIs(t, err, enforce.ErrInvalidOptions)
	require.ErrorContains(t, err, `"strikt"`)

	out, err := json.Marshal(cni{Mode: enforce.Standard})
	require.NoError(t, err)
	require.JSONEq(t, `{"enforcingMode":"standard"}`, string(out))
	out, err = json.Marshal(cni{Mode: enforce.Strict})
	require.NoError(t, err)
	require.JSONEq(t, `{}`, string(out), "the zero Mode is the plugin's default")
	_, err = json.Marshal(cni{Mode: 7})
	require.ErrorIs(t, err, enforce.ErrInvalidOptions)
}
