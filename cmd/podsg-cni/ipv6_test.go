//go:build linux

package main

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	types100 "github.com/containernetworking/cni/pkg/types/100"
	"github.com/google/go-cmp/cmp"
	"github.com/podsg/podsg/enforce"
	"github.com/podsg/podsg/internal/cnitest"
	"github.com/podsg/podsg/internal/netnstest"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The VPC's IPv6 side: the branch ENIs' subnet and a server elsewhere in
// the VPC.
var (
	subnetV6  = netip.MustParsePrefix("2600:1f14:abc:de00::/64")
	serverV6  = netip.MustParseAddr("2600:1f14:abc:ff00::50")
	ipA6      = netip.MustParseAddr("2600:1f14:abc:de00::a")
	ipB6      = netip.MustParseAddr("2600:1f14:abc:de00::b")
	warmUpIP6 = netip.MustParseAddr("2600:1f14:abc:de00::1e")
)

// podV6 is pod for an IPv6 cluster: its branch ENI has only an IPv6
// address, as the controller writes it for an ENI in an IPv6-only subnet
// ("privateIp":"").
func (w *world) podV6(name string, vlan int, ip netip.Addr) *testPod {
	w.t.Helper()
	p := w.unannotatedPod(name, vlan, netip.Addr{})
	p.Branch.PrivateIP, p.Branch.SubnetCIDR = netip.Addr{}, netip.Prefix{}
	p.Branch.IPv6, p.Branch.SubnetV6CIDR = ip, subnetV6
	w.api.setPod(p.Namespace, p.Name, p.UID, true, mustFormat(w.t, p.Branch))
	return p
}

// snapshotV6 is snapshot of the IPv6 state, taken once no address of the
// namespace is tentative any more: a link's link-local address gets its
// local route when duplicate address detection ends, a second or so after
// the link comes up.
func snapshotV6(t *testing.T, ns *netnstest.NetNS) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		addrs, err := ns.NL.AddrList(nil, netlink.FAMILY_V6)
		require.NoError(t, err)
		if !slices.ContainsFunc(addrs, func(a netlink.Addr) bool { return a.Flags&unix.IFA_F_TENTATIVE != 0 }) {
			break
		}
		require.False(t, time.Now().After(deadline), "IPv6 addresses still tentative after 10s")
		time.Sleep(50 * time.Millisecond)
	}
	s, err := ns.SnapshotFamily(netlink.FAMILY_V6)
	require.NoError(t, err)
	return s
}

// TestAddIPv6 wires pods of an IPv6 cluster ("ipv6": true) on two nodes:
// ADD gives each its branch ENI's IPv6 address with fe80::1 as gateway and
// reports them in its result; TCP over IPv6 goes from one pod to the other
// and to a server elsewhere in the VPC through their branch links; CHECK
// passes; DEL (twice) leaves the nodes as they were, in IPv4 and IPv6.
func TestAddIPv6(t *testing.T) {
	for _, mode := range []string{"strict", "standard"} {
		t.Run(mode, func(t *testing.T) {
			w := newWorld(t)
			require.NoError(t, w.vpc.Sysctl("net.ipv6.conf.all.forwarding", "1"))
			require.NoError(t, w.vpc.AddAddr("world", serverV6.String()+"/128"))
			v6 := map[string]any{"ipv6": true}
			n1, n2 := w.node(mode, v6), w.node(mode, v6)
			warm := func(n *testNode) (string, string) {
				p := w.podV6("warm-up", 120, warmUpIP6)
				_, err := n.add(p)
				require.NoError(t, err)
				require.NoError(t, n.del(p))
				return snapshot(t, n.NetNS), snapshotV6(t, n.NetNS)
			}
			warm1, warm1v6 := warm(n1)
			warm2, warm2v6 := warm(n2)
			a, b := w.podV6("web-a", 3, ipA6), w.podV6("web-b", 3, ipB6)

			res, err := n1.add(a)
			require.NoError(t, err)
			_, err = n2.add(b)
			require.NoError(t, err)

			prefix := "vlan"
			if mode == "standard" {
				prefix = "eni"
			}
			veth := enforce.HostVethName(prefix, a.Namespace, a.Name)
			l, err := n1.NL.LinkByName(veth)
			require.NoError(t, err)
			want := resultShape{
				Interfaces: []types100.Interface{
					{Name: veth, Mac: l.Attrs().HardwareAddr.String(), Mtu: enforce.DefaultMTU},
					{Name: "eth0", Mac: linkMACIn(t, a.NS, "eth0"), Mtu: enforce.DefaultMTU, Sandbox: a.NS.Path},
					{Name: "vlan.eth.3", Mac: a.Branch.MAC.String(), Mtu: enforce.DefaultMTU},
				},
				IPs:    []string{ipA6.String() + "/128 gw fe80::1 if 1"},
				Routes: []string{"fe80::1/128 via <nil> scope universe", "::/0 via fe80::1 scope universe"},
			}
			require.Empty(t, cmp.Diff(want, shapeOf(res)), "ADD result")

			// a -> b over IPv6: out of a's branch into the VPC, into b's.
			connectThroughBranches(t, w.vpc.NetNS, a.NS, n1.BranchPeer(3), b.NS, n2.BranchPeer(3), ipB6, ipA6)

			// a -> a server elsewhere in the VPC.
			vpcHits := cnitest.Serve(t, w.vpc.NetNS, serverV6, probePort)
			h, err := cnitest.Connect(a.NS, serverV6, probePort, vpcHits)
			require.NoError(t, err)
			require.Equal(t, ipA6, h.Remote)

			require.NoError(t, n1.check(a))
			require.NoError(t, n2.check(b))

			for range 2 {
				require.NoError(t, n1.del(a), "DEL is idempotent")
				require.NoError(t, n2.del(b))
			}
			require.Equal(t, warm1, snapshot(t, n1.NetNS), "DEL leaves node 1 as before the pod")
			require.Equal(t, warm1v6, snapshotV6(t, n1.NetNS), "and its IPv6 state")
			require.Equal(t, warm2, snapshot(t, n2.NetNS))
			require.Equal(t, warm2v6, snapshotV6(t, n2.NetNS))
			requireNoRecords(t, n1, n2)
		})
	}
}

// TestFamilyMismatch refuses a branch ENI without an address of the node's
// family, saying which setting to look at.
func TestFamilyMismatch(t *testing.T) {
	w := newWorld(t)
	v6node := w.node("strict", map[string]any{"ipv6": true})
	p := w.pod("v4-only", 4, ipA)
	_, err := v6node.add(p)
	require.ErrorContains(t, err, "has no IPv6 address")
	require.ErrorContains(t, err, `"ipv6": true`)
	v4node := w.node("strict", nil)
	q := w.podV6("v6-only", 5, ipA6)
	_, err = v4node.add(q)
	require.ErrorContains(t, err, "has no IPv4 address")
	require.ErrorContains(t, err, `set "ipv6": true`)
	requireNoRecords(t, v6node, v4node)
}

// TestDelFromPrevResultIPv6: with the node's records gone, DEL of an IPv6
// pod tears it down from the runtime's cached result, which names its IPv6
// address.
func TestDelFromPrevResultIPv6(t *testing.T) {
	w := newWorld(t)
	n := w.node("strict", map[string]any{"ipv6": true})
	warmUp := w.podV6("warm-up", 120, warmUpIP6)
	_, err := n.add(warmUp)
	require.NoError(t, err)
	require.NoError(t, n.del(warmUp))
	warm, warmV6 := snapshot(t, n.NetNS), snapshotV6(t, n.NetNS)
	p := w.podV6("web", 3, ipA6)
	_, err = n.add(p)
	require.NoError(t, err)
	files, err := filepath.Glob(filepath.Join(n.StateDir, "podsg", "*.json"))
	require.NoError(t, err)
	require.Len(t, files, 1)
	require.NoError(t, os.Remove(files[0]))
	require.NoError(t, n.del(p))
	require.Equal(t, warm, snapshot(t, n.NetNS))
	require.Equal(t, warmV6, snapshotV6(t, n.NetNS), "the IPv6 rules and routes of the pod are gone")
}

// TestParseConfigIPv6: "ipv6": true makes the node's pods IPv6, and an
// IPv6 node needs no VPC CIDRs or primary IP (it has no SNAT).
func TestParseConfigIPv6(t *testing.T) {
	c, err := parseConfig([]byte(`{"cniVersion":"1.1.0","name":"podsg","type":"podsg-cni","trunkLink":"eth1","ipv6":true}`))
	require.NoError(t, err)
	require.Equal(t, enforce.IPv6, c.opts.Family)
	b, err := c.builder(func(string) (netip.Addr, error) {
		t.Fatal("an IPv6 node reads no primary IPv4 address")
		return netip.Addr{}, nil
	}, false)
	require.NoError(t, err)
	require.Equal(t, enforce.IPv6, b.Family())
	_, err = parseConfig([]byte(`{"cniVersion":"1.1.0","name":"podsg","type":"podsg-cni","trunkLink":"eth1"}`))
	require.ErrorContains(t, err, "vpcCIDRs", "an IPv4 node still needs its VPC's CIDRs")
}
