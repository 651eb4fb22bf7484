package enforcetest_test

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/api/podeni"
	"github.com/podsg/podsg/enforce"
	"github.com/podsg/podsg/enforce/enforcetest"
)

// netipOpt lets go-cmp compare netip values.
var netipOpt = cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})

var podIP = netip.MustParseAddr("10.0.0.7")

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

func newFakeNode(t *testing.T) *enforcetest.Fake {
	f := enforcetest.NewFake()
	f.AddLink("eth0")
	f.AddLink("eth1")
	f.AddNetNS("/var/run/netns/cni-1")
	return f
}

// testPodV6 has a branch ENI with only an IPv6 address.
func testPodV6() enforce.Pod {
	p := testPod()
	p.Branch.PrivateIP = netip.Addr{}
	p.Branch.IPv6 = netip.MustParseAddr("2600:1f14:abc:de00::7")
	p.Branch.SubnetV6CIDR = netip.MustParsePrefix("2600:1f14:abc:de00::/64")
	return p
}

func TestFakeSetupTeardown(t *testing.T) {
	for _, tc := range []struct {
		mode   enforce.Mode
		family enforce.Family
	}{{enforce.Strict, enforce.IPv4}, {enforce.Standard, enforce.IPv4}, {enforce.Strict, enforce.IPv6}, {enforce.Standard, enforce.IPv6}} {
		t.Run(tc.mode.String()+"/"+tc.family.String(), func(t *testing.T) {
			ctx := t.Context()
			f := newFakeNode(t)
			opts, pod := options(tc.mode), testPod()
			if tc.family == enforce.IPv6 {
				opts = enforce.Options{Mode: tc.mode, Family: enforce.IPv6, TrunkLink: "eth1", PrimaryInterface: "eth0"}
				pod = testPodV6()
			}
			b, err := enforce.NewBuilder(opts)
			require.NoError(t, err)
			node := b.Node()
			require.NoError(t, f.Apply(ctx, &node))
			before := f.Host()
			for _, s := range node.Want.Sysctls {
				v, ok := f.Sysctl("", s.Key)
				require.True(t, ok, s.Key)
				require.Equal(t, s.Value, v, s.Key)
			}

			setup, err := b.Setup(pod)
			require.NoError(t, err)
			require.NoError(t, f.Apply(ctx, &setup))
			host := f.Host()
			require.Equal(t, setup.Want.VLANs, host.VLANs)
			require.Equal(t, setup.Want.Veths, host.Veths)
			for _, r := range setup.Want.Rules {
				require.Contains(t, host.Rules, r)
			}
			for _, s := range setup.Want.Sysctls {
				netns := ""
				if s.NS == enforce.PodNS {
					netns = setup.PodNetNS
				}
				v, ok := f.Sysctl(netns, s.Key)
				require.True(t, ok, s.Key)
				require.Equal(t, s.Value, v, s.Key)
			}
			podState, ok := f.Pod("/var/run/netns/cni-1")
			require.True(t, ok)
			require.Equal(t, setup.Want.Addrs, podState.Addrs)
			require.Equal(t, setup.Want.Neighbors, podState.Neighbors)

			n := len(f.Changes())
			require.NoError(t, f.Apply(ctx, &setup))
			require.Len(t, f.Changes(), n, "a second apply changes nothing")

			td, err := b.Teardown(pod)
			require.NoError(t, err)
			require.NoError(t, f.Apply(ctx, &td))
			if diff := cmp.Diff(before, f.Host(), netipOpt); diff != "" {
				t.Errorf("teardown left (-before +after):\n%s", diff)
			}
			podState, _ = f.Pod("/var/run/netns/cni-1")
			require.Empty(t, podState.Veths)
			require.Empty(t, podState.Routes)
		})
	}
}

func TestFakeRollback(t *testing.T) {
	ctx := t.Context()
	b, err := enforce.NewBuilder(options(enforce.Strict))
	require.NoError(t, err)
	setup, err := b.Setup(testPod())
	require.NoError(t, err)

	counter := newFakeNode(t)
	require.NoError(t, counter.Apply(ctx, &setup))
	steps := counter.Changes()
	require.Len(t, steps, 13, "vlan, veth, accept_ra of both, address, neighbour, 5 routes, 2 rules")

	injected := errors.New("injected")
	for k := range steps {
		f := newFakeNode(t)
		before := f.Host()
		beforePod, _ := f.Pod("/var/run/netns/cni-1")
		i := 0
		f.FailWhen(func(enforce.Change) error {
			if i == k {
				return injected
			}
			i++
			return nil
		})
		err := f.Apply(ctx, &setup)
		require.ErrorIs(t, err, injected)
		var se *enforce.StepError
		require.ErrorAs(t, err, &se)
		require.Equal(t, steps[k], se.Change)
		require.Equal(t, before, f.Host(), "step %d", k)
		afterPod, _ := f.Pod("/var/run/netns/cni-1")
		require.Equal(t, beforePod, afterPod)
	}
}

// The host veth's IPv6 forwarding follows net.ipv6.conf.all.forwarding as
// in Linux, so an IPv6 node's setup sets it back to 0 on the pod's links;
// an IPv4 node never turned it on, and its setup leaves it alone.
func TestFakeIPv6Forwarding(t *testing.T) {
	ctx := t.Context()
	for _, tc := range []struct {
		family  enforce.Family
		changed bool
	}{{enforce.IPv4, false}, {enforce.IPv6, true}} {
		f := newFakeNode(t)
		opts, pod := options(enforce.Strict), testPod()
		if tc.family == enforce.IPv6 {
			opts = enforce.Options{Family: enforce.IPv6, TrunkLink: "eth1", PrimaryInterface: "eth0"}
			pod = testPodV6()
		}
		b, err := enforce.NewBuilder(opts)
		require.NoError(t, err)
		node, setup := b.Node(), must(b.Setup(pod))
		require.NoError(t, f.Apply(ctx, &node))
		n := len(f.Changes())
		require.NoError(t, f.Apply(ctx, &setup))
		var set []string
		for _, c := range f.Changes()[n:] {
			if s, ok := c.Object.(enforce.Sysctl); ok && strings.HasSuffix(s.Key, ".forwarding") {
				set = append(set, s.Key)
			}
		}
		if tc.changed {
			require.Len(t, set, 2, "%s: the VLAN link's and the veth's forwarding go back to 0", tc.family)
		} else {
			require.Empty(t, set, "%s: nothing to change", tc.family)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestFakeRefusesIPv6WhereDisabled(t *testing.T) {
	f := newFakeNode(t)
	b, err := enforce.NewBuilder(enforce.Options{Family: enforce.IPv6, TrunkLink: "eth1", PrimaryInterface: "eth0"})
	require.NoError(t, err)
	setup, err := b.Setup(testPodV6())
	require.NoError(t, err)
	// The same plan on a pod whose interface has IPv6 turned off, as the
	// kernel leaves it when net.ipv6.conf.default.disable_ipv6 is 1: the
	// address cannot be added, and the setup rolls back.
	for i, s := range setup.Want.Sysctls {
		if s.Key == "net.ipv6.conf.eth0.disable_ipv6" {
			setup.Want.Sysctls[i].Value = "1"
		}
	}
	err = f.Apply(t.Context(), &setup)
	require.ErrorIs(t, err, enforcetest.ErrRefused)
	require.ErrorContains(t, err, "IPv6 is disabled on \"eth0\"")
	require.Empty(t, f.Host().Veths)
	_, ok := f.Sysctl("", "net.ipv6.conf.vlan/eth/3.accept_ra")
	require.False(t, ok, "the rolled-back VLAN link's parameters went with it")
	_, ok = f.Sysctl("/nonexistent", "net.ipv4.ip_forward")
	require.False(t, ok)
}

func TestFakeRefusesWhatTheKernelRefuses(t *testing.T) {
	ctx := t.Context()
	b, err := enforce.NewBuilder(options(enforce.Strict))
	require.NoError(t, err)
	setup, err := b.Setup(testPod())
	require.NoError(t, err)

	f := enforcetest.NewFake()
	f.AddNetNS("/var/run/netns/cni-1")
	err = f.Apply(ctx, &setup)
	require.ErrorIs(t, err, enforcetest.ErrRefused)
	require.ErrorContains(t, err, `trunk link "eth1" does not exist`)

	f = newFakeNode(t)
	f.DeleteNetNS("/var/run/netns/cni-1")
	require.ErrorContains(t, f.Apply(ctx, &setup), "no network namespace")
}

func TestFakeReplacesStaleState(t *testing.T) {
	ctx := t.Context()
	f := newFakeNode(t)
	f.AddNetNS("/var/run/netns/cni-2")
	b, err := enforce.NewBuilder(options(enforce.Strict))
	require.NoError(t, err)
	old, err := b.Setup(testPod())
	require.NoError(t, err)
	require.NoError(t, f.Apply(ctx, &old))
	// Force-deleted: the runtime drops the netns, no CNI DEL.
	f.DeleteNetNS("/var/run/netns/cni-1")

	p := testPod()
	p.Name, p.NetNS = "web-2", "/var/run/netns/cni-2"
	p.Branch.PrivateIP = podIP.Next()
	setup, err := b.Setup(p)
	require.NoError(t, err)
	require.NoError(t, f.Apply(ctx, &setup))
	var tableRules []enforce.IPRule
	for _, r := range f.Host().Rules {
		if r.Table == 103 {
			tableRules = append(tableRules, r)
		}
	}
	require.Equal(t, setup.Want.Rules, tableRules, "only the new pod's rules use table 103")
}

// A node moves between the iptables variants (and to external SNAT): each
// node plan leaves the connection marking in exactly one place.
func TestFakeConnmarkMoves(t *testing.T) {
	ctx := t.Context()
	f := newFakeNode(t)
	plan := func(mutate func(*enforce.Options)) enforce.Plan {
		o := options(enforce.Standard)
		mutate(&o)
		b, err := enforce.NewBuilder(o)
		require.NoError(t, err)
		return b.Node()
	}
	hasChain := func(name string) bool {
		return slices.ContainsFunc(f.Host().Chains, func(c enforce.Chain) bool { return c.Name == name })
	}
	steps := []struct {
		name       string
		mutate     func(*enforce.Options)
		nft, chain bool
	}{
		{"legacy", func(*enforce.Options) {}, false, true},
		{"nf_tables", func(o *enforce.Options) { o.NFTables = true }, true, false},
		{"nf_tables, external SNAT", func(o *enforce.Options) { o.NFTables = true; o.ExternalSNAT = true }, false, false},
		{"nf_tables again", func(o *enforce.Options) { o.NFTables = true }, true, false},
		{"legacy again", func(*enforce.Options) {}, false, true},
	}
	for _, st := range steps {
		p := plan(st.mutate)
		require.NoError(t, f.Apply(ctx, &p), st.name)
		host := f.Host()
		require.Equal(t, p.Want.ConnmarkTables, host.ConnmarkTables, st.name)
		require.Equal(t, st.nft, len(host.ConnmarkTables) == 1, st.name)
		require.Equal(t, st.chain, hasChain(enforce.ConnmarkChain), st.name)
		require.True(t, hasChain(enforce.SNATChain), "%s: the SNAT chain stays, empty with external SNAT", st.name)
		n := len(f.Changes())
		require.NoError(t, f.Apply(ctx, &p))
		require.Len(t, f.Changes(), n, "%s: a second apply changes nothing", st.name)
	}

	// The table is compared as the VPC CNI plugin keeps it: its return
	// rules in any order.
	p := plan(func(o *enforce.Options) {
		o.NFTables = true
		o.SNATExcludedCIDRs = []netip.Prefix{netip.MustParsePrefix("172.16.0.0/12"), netip.MustParsePrefix("10.0.0.0/16")}
	})
	require.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16"), netip.MustParsePrefix("172.16.0.0/12")}, p.Want.ConnmarkTables[0].Exempt, "one return rule per CIDR")
	require.NoError(t, f.Apply(ctx, &p))
	n := len(f.Changes())
	reordered := p.Clone()
	slices.Reverse(reordered.Want.ConnmarkTables[0].Exempt)
	require.NoError(t, f.Apply(ctx, &reordered))
	require.Len(t, f.Changes(), n, "the same CIDRs in another order are the same table")
}
