package enforcetest_test

import (
	"errors"
	"net/netip"
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

func TestFakeSetupTeardown(t *testing.T) {
	for _, mode := range []enforce.Mode{enforce.Strict, enforce.Standard} {
		t.Run(mode.String(), func(t *testing.T) {
			ctx := t.Context()
			f := newFakeNode(t)
			b, err := enforce.NewBuilder(options(mode))
			require.NoError(t, err)
			node := b.Node()
			require.NoError(t, f.Apply(ctx, &node))
			before := f.Host()

			setup, err := b.Setup(testPod())
			require.NoError(t, err)
			require.NoError(t, f.Apply(ctx, &setup))
			host := f.Host()
			require.Equal(t, setup.Want.VLANs, host.VLANs)
			require.Equal(t, setup.Want.Veths, host.Veths)
			for _, r := range setup.Want.Rules {
				require.Contains(t, host.Rules, r)
			}
			pod, ok := f.Pod("/var/run/netns/cni-1")
			require.True(t, ok)
			require.Equal(t, setup.Want.Addrs, pod.Addrs)
			require.Equal(t, setup.Want.Neighbors, pod.Neighbors)

			n := len(f.Changes())
			require.NoError(t, f.Apply(ctx, &setup))
			require.Len(t, f.Changes(), n, "a second apply changes nothing")

			td, err := b.Teardown(testPod())
			require.NoError(t, err)
			require.NoError(t, f.Apply(ctx, &td))
			if diff := cmp.Diff(before, f.Host(), netipOpt); diff != "" {
				t.Errorf("teardown left (-before +after):\n%s", diff)
			}
			pod, _ = f.Pod("/var/run/netns/cni-1")
			require.Empty(t, pod.Veths)
			require.Empty(t, pod.Routes)
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
	require.Len(t, steps, 11, "vlan, veth, address, neighbour, 5 routes, 2 rules")

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
