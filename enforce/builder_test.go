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
			if diff := cmp.Diff(want, got, netipOpt); diff != "" {
				t.Errorf("Setup (-want +got):\n%s", diff)
			}
		})
	}
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

func TestNodePlan(t *testing.T) {
	b, err := enforce.NewBuilder(options(enforce.Strict))
	require.NoError(t, err)
	p := b.Node()
	require.Equal(t, []enforce.IPRule{{Priority: 20, Table: enforce.TableLocal}, {Priority: 1024, Table: enforce.TableMain, Mark: 0x80, Mask: 0x80}}, p.Want.Rules)
	require.Equal(t, []enforce.IPRuleMatch{{Priority: 0, Table: enforce.TableLocal}}, p.Purge.Rules)
	require.Contains(t, p.Want.Sysctls, enforce.Sysctl{Key: "net.ipv4.tcp_early_demux", Value: "0"})
	require.Contains(t, p.Want.Sysctls, enforce.Sysctl{Key: "net.ipv4.conf.eth0.rp_filter", Value: "2"})
	require.Len(t, p.Want.Chains, 2)
	snat := p.Want.Chains[0]
	require.Equal(t, enforce.SNATChain, snat.Name)
	require.Equal(t, []string{"-d", "10.0.0.0/16", "-m", "comment", "--comment", "AWS SNAT CHAIN", "-j", "RETURN"}, snat.Rules[0])
	last := strings.Join(snat.Rules[len(snat.Rules)-1], " ")
	require.Equal(t, "! -o vlan+ -m comment --comment AWS, SNAT -m addrtype ! --dst-type LOCAL -j SNAT --to-source 10.0.0.10 --random-fully", last)
	require.Equal(t, "-i eni+ -m comment --comment AWS, outbound connections -j AWS-CONNMARK-CHAIN-0", strings.Join(p.Want.IPTables[1].Spec, " "))

	std, err := enforce.NewBuilder(func() enforce.Options {
		c := options(enforce.Standard)
		c.ExternalSNAT = true
		c.VethPrefix = "pod"
		return c
	}())
	require.NoError(t, err)
	p = std.Node()
	require.Equal(t, []enforce.IPRule{{Priority: 0, Table: enforce.TableLocal}}, p.Want.Rules)
	require.Empty(t, p.Want.Chains)
	require.Len(t, p.Purge.Chains, 2, "external SNAT purges the SNAT and connmark chains")
	require.Equal(t, "pod+", p.Purge.IPTables[1].Spec[1])
	require.NotContains(t, p.Want.Sysctls, enforce.Sysctl{Key: "net.ipv4.tcp_early_demux", Value: "0"})
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
		{"relative netns", func(p *enforce.Pod) { p.NetNS = "netns/x" }, []string{"Pod.NetNS"}, nil},
		{"ifname too long", func(p *enforce.Pod) { p.IfName = "a-very-long-ifname" }, []string{"Pod.IfName"}, nil},
		{"no mac", func(p *enforce.Pod) { p.Branch.MAC = podeni.MAC{} }, []string{"Pod.Branch.ifAddress"}, nil},
		{"ip outside subnet", func(p *enforce.Pod) { p.Branch.PrivateIP = netip.MustParseAddr("10.9.0.1") }, []string{"Pod.Branch.privateIp"}, nil},
		{"upper-case namespace", func(p *enforce.Pod) { p.Namespace = "Default" }, []string{"Pod.Namespace"}, []string{"Pod.Namespace"}},
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
	b, err := enforce.NewBuilder(options(enforce.Standard))
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, annotation, namespace, name, ifname string) {
		enis, err := podeni.Parse(annotation)
		if err != nil {
			return
		}
		p, err := b.Setup(enforce.Pod{Namespace: namespace, Name: name, NetNS: "/run/netns/x", IfName: ifname, Branch: enis[0]})
		if err != nil {
			require.ErrorIs(t, err, enforce.ErrInvalidPod)
			require.NotEmpty(t, fieldsOf(err))
			return
		}
		br := enis[0]
		require.Equal(t, enforce.VLANLinkName(br.VLANID), p.Want.VLANs[0].Name)
		require.LessOrEqual(t, len(p.Want.Veths[0].HostName), 15)
		require.Equal(t, br.VLANID+100, p.Want.Routes[3].Table)
		require.Equal(t, br.Gateway(), p.Want.Routes[3].Gw)
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
