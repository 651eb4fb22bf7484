//go:build linux

package kernel

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/podsg/podsg/api/podeni"
	"github.com/podsg/podsg/enforce"
	"github.com/podsg/podsg/internal/netnstest"
	"github.com/podsg/podsg/internal/nlconv"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// testNS is a test's network namespace with the steps these tests take in
// it (run a command, add an address, compare snapshots), each failing the
// test on error.
type testNS struct {
	*netnstest.NetNS
}

func newNS(t testing.TB) *testNS {
	t.Helper()
	return &testNS{netnstest.NewNetNS(t)}
}

// run runs a command inside the namespace and returns its output.
func (ns *testNS) run(t testing.TB, args ...string) string {
	t.Helper()
	var out []byte
	err := inNetNS(ns.Path, func() error {
		var err error
		out, err = exec.Command(args[0], args[1:]...).CombinedOutput()
		return err
	})
	require.NoError(t, err, "%s: %s", strings.Join(args, " "), out)
	return string(out)
}

func (ns *testNS) sysctl(t testing.TB, key, value string) {
	t.Helper()
	require.NoError(t, ns.Sysctl(key, value))
}

// addr adds an address to a link; IPv6 addresses skip duplicate address
// detection, so that the test's own VPC and node are usable at once.
func (ns *testNS) addr(t testing.TB, dev, cidr string) {
	t.Helper()
	l, err := ns.NL.LinkByName(dev)
	require.NoError(t, err)
	require.NoError(t, ns.NL.AddrAdd(l, nlAddr(netip.MustParsePrefix(cidr))))
}

func nlAddr(p netip.Prefix) *netlink.Addr {
	a := &netlink.Addr{IPNet: nlconv.IPNet(p)}
	if p.Addr().Is6() {
		a.Flags = unix.IFA_F_NODAD
	}
	return a
}

// settle waits until the namespace's IPv6 state stops changing on its own:
// a link's link-local address is generated after it comes up, and the
// addresses' local routes appear when duplicate address detection ends. A
// test that compares snapshots takes its first one after settle.
func (ns *testNS) settle(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	prev := ""
	for {
		links, err := ns.NL.LinkList()
		require.NoError(t, err)
		var devs []string
		for _, l := range links {
			if l.Attrs().Flags&net.FlagUp != 0 && l.Attrs().Name != "lo" {
				devs = append(devs, l.Attrs().Name)
			}
		}
		ns.waitDAD(t, devs...)
		cur := ns.snapshot(t, false)
		if cur == prev {
			return
		}
		require.True(t, time.Now().Before(deadline), "the namespace's state keeps changing")
		prev = cur
		time.Sleep(100 * time.Millisecond)
	}
}

// waitDAD waits until no IPv6 address of the links is tentative: a new
// link's link-local address takes a second or two of duplicate address
// detection, during which the node cannot send neighbour solicitations
// from it (a branch cannot resolve its router yet).
func (ns *testNS) waitDAD(t testing.TB, devs ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, dev := range devs {
		l, err := ns.NL.LinkByName(dev)
		require.NoError(t, err)
		for {
			addrs, err := ns.NL.AddrList(l, netlink.FAMILY_V6)
			require.NoError(t, err)
			// Until the link's own link-local address exists, it may
			// still be generated.
			tentative := true
			for _, a := range addrs {
				if a.IP.IsLinkLocalUnicast() && !a.IP.Equal(routerLL6.Addr().AsSlice()) {
					tentative = false
				}
			}
			for _, a := range addrs {
				tentative = tentative || a.Flags&unix.IFA_F_TENTATIVE != 0
			}
			if !tentative {
				break
			}
			require.True(t, time.Now().Before(deadline), "IPv6 addresses of %s still tentative: %v", dev, addrs)
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func (ns *testNS) up(t testing.TB, dev string) {
	t.Helper()
	require.NoError(t, ns.Up(dev))
}

func (ns *testNS) counters(t testing.TB, dev string) (rx, tx uint64) {
	t.Helper()
	rx, tx, err := ns.Counters(dev)
	require.NoError(t, err)
	return rx, tx
}

// snapshot describes what a test compares before and after: links (name,
// kind, MAC, MTU, admin state), IPv4 and IPv6 addresses, routes of every
// table, rules and permanent neighbours of both families; with full, also
// the NAT and mangle rules and the sysctls the plans touch.
func (ns *testNS) snapshot(t testing.TB, full bool) string {
	t.Helper()
	var b strings.Builder
	links, err := ns.NL.LinkList()
	require.NoError(t, err)
	for _, l := range links {
		a := l.Attrs()
		fmt.Fprintf(&b, "link %d %s %s %s mtu %d up=%v\n", a.Index, a.Name, l.Type(), a.HardwareAddr, a.MTU, a.Flags&net.FlagUp != 0)
	}
	addrs, err := ns.NL.AddrList(nil, netlink.FAMILY_ALL)
	require.NoError(t, err)
	for _, a := range addrs {
		fmt.Fprintf(&b, "addr %d %s\n", a.LinkIndex, a.IPNet)
	}
	routes, err := ns.NL.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	require.NoError(t, err)
	for _, r := range routes {
		if r.Table == unix.RT_TABLE_LOCAL && r.Dst != nil && r.Dst.IP.IsLinkLocalUnicast() {
			// The local route of a link-local address appears when its
			// duplicate address detection ends: it follows the address,
			// listed above, at its own time.
			continue
		}
		fmt.Fprintf(&b, "route family %d table %d type %d %s\n", r.Family, r.Table, r.Type, r)
	}
	rules, err := ns.NL.RuleList(netlink.FAMILY_ALL)
	require.NoError(t, err)
	for _, r := range rules {
		fmt.Fprintf(&b, "rule family %d %d iif %q %s ipproto %d mark %#x\n", r.Family, r.Priority, r.IifName, r, r.IPProto, r.Mark)
	}
	neigh, err := ns.NL.NeighList(0, netlink.FAMILY_ALL)
	require.NoError(t, err)
	for _, n := range neigh {
		if n.State&netlink.NUD_PERMANENT != 0 {
			fmt.Fprintf(&b, "neigh %d %s %s\n", n.LinkIndex, n.IP, n.HardwareAddr)
		}
	}
	if full {
		for _, save := range []string{"iptables-nft-save", "iptables-legacy-save"} {
			b.WriteString(ns.run(t, save, "-t", "nat"))
			b.WriteString(ns.run(t, save, "-t", "mangle"))
		}
		b.WriteString(ns.run(t, "sh", "-c", "nft list table ip "+enforce.ConnmarkTableName+" 2>/dev/null || echo no table ip "+enforce.ConnmarkTableName))
		b.WriteString(ns.run(t, "sysctl", "-e", "net.ipv4.ip_forward", "net.ipv4.tcp_early_demux",
			"net.ipv6.conf.all.forwarding", "net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.eth0.accept_ra"))
	}
	return noise.ReplaceAllString(b.String(), "")
}

var noise = regexp.MustCompile(`(?m)^#.*\n|\[\d+:\d+\]|packets \d+ bytes \d+`)

// Addresses of the simulated VPC.
var (
	nodeIP    = netip.MustParseAddr("10.0.0.10")
	vpcGW     = netip.MustParseAddr("10.0.0.1")
	vpcPeer   = netip.MustParseAddr("10.0.64.50")
	outside   = netip.MustParseAddr("198.51.100.7")
	vpcCIDR   = netip.MustParsePrefix("10.0.0.0/16")
	subnet    = netip.MustParsePrefix("10.0.0.0/19")
	probePort = 8080

	// The VPC's IPv6 side: the node's primary address (a /128, as DHCPv6
	// gives it), a peer in another subnet, an address outside the VPC, and
	// the subnet of the branch ENIs. The VPC's router answers at
	// fe80:ec2::1 on every link.
	nodeIP6   = netip.MustParseAddr("2600:1f14:abc:de00::10")
	vpcPeer6  = netip.MustParseAddr("2600:1f14:abc:ff00::50")
	outside6  = netip.MustParseAddr("2001:db8::7")
	subnetV6  = netip.MustParsePrefix("2600:1f14:abc:de00::/64")
	routerLL6 = netip.MustParsePrefix("fe80:ec2::1/64")
)

// topo is a node namespace, a "VPC" namespace at the other end of the
// node's primary interface (eth0 <-> tonode) and of every branch (the
// stand-in vlan.eth.N <-> brN), and pod namespaces. The VPC namespace
// holds the subnet's gateway, a VPC peer and an address outside the VPC;
// it routes each pod IP to its branch with a permanent neighbour entry for
// the branch ENI's MAC, as the VPC delivers frames to an ENI.
type topo struct {
	node, vpc *testNS
	mu        sync.Mutex
	podIPs    map[int]netip.Addr // by VLAN
	// iptables is the node's iptables binary ("" for the one in PATH), nft
	// whether it is the nf_tables variant.
	iptables string
	nft      bool
}

// The iptables variants a test runs with: the nf_tables one (iptables in
// PATH on this machine) and the legacy one, which Debian's iptables
// package installs beside it.
var iptablesVariants = []struct{ name, path string }{{"nf_tables", ""}, {"legacy", "/usr/sbin/iptables-legacy"}}

func newTopo(t testing.TB) *topo {
	t.Helper()
	return newTopoWith(t, "")
}

// newTopoWith builds the topology with the node's iptables at iptablesPath
// ("" for iptables in PATH).
func newTopoWith(t testing.TB, iptablesPath string) *topo {
	t.Helper()
	if iptablesPath != "" {
		_, err := os.Stat(iptablesPath)
		require.NoError(t, err, "install iptables (Debian's package ships iptables-legacy)")
	}
	tp := &topo{node: newNS(t), vpc: newNS(t), podIPs: map[int]netip.Addr{}, iptables: iptablesPath}
	tp.nft = tp.ipt(t).NFTables()
	n, v := tp.node, tp.vpc
	require.NoError(t, n.NL.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "eth0"}, PeerName: "tonode", PeerNamespace: netlink.NsFd(int(v.Handle()))}))
	// This kernel may lack dummy links: veth pairs stand in for the trunk
	// link and for the VPC's far side.
	require.NoError(t, n.NL.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "eth1"}, PeerName: "eth1-peer"}))
	n.addr(t, "eth0", "10.0.0.10/19")
	n.addr(t, "eth0", nodeIP6.String()+"/128")
	n.up(t, "eth0")
	n.up(t, "eth1")
	n.up(t, "eth1-peer")
	eth0, err := n.NL.LinkByName("eth0")
	require.NoError(t, err)
	require.NoError(t, n.NL.RouteAdd(&netlink.Route{LinkIndex: eth0.Attrs().Index, Gw: vpcGW.AsSlice()}))
	require.NoError(t, n.NL.RouteAdd(&netlink.Route{LinkIndex: eth0.Attrs().Index, Gw: routerLL6.Addr().AsSlice(), Family: netlink.FAMILY_V6}))

	v.addr(t, "tonode", "10.0.0.1/19")
	v.up(t, "tonode")
	require.NoError(t, v.NL.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "world"}, PeerName: "world-peer"}))
	v.addr(t, "world", vpcPeer.String()+"/32")
	v.addr(t, "world", outside.String()+"/32")
	v.up(t, "world")
	v.up(t, "world-peer")
	v.sysctl(t, "net.ipv4.ip_forward", "1")
	v.sysctl(t, "net.ipv4.conf.tonode.proxy_arp", "1")

	v.addr(t, "tonode", routerLL6.String())
	v.addr(t, "world", vpcPeer6.String()+"/128")
	v.addr(t, "world", outside6.String()+"/128")
	v.sysctl(t, "net.ipv6.conf.all.forwarding", "1")
	tonode, err := v.NL.LinkByName("tonode")
	require.NoError(t, err)
	require.NoError(t, v.NL.RouteAdd(&netlink.Route{LinkIndex: tonode.Attrs().Index, Dst: nlconv.IPNet(netip.PrefixFrom(nodeIP6, 128))}))
	n.settle(t)
	v.settle(t)
	return tp
}

// standIn creates the veth pair that replaces the VLAN link and wires its
// VPC end.
func (tp *topo) standIn(ctx context.Context, l enforce.VLANLink) error {
	tp.mu.Lock()
	podIP, ok := tp.podIPs[l.VLANID]
	tp.mu.Unlock()
	if !ok {
		return fmt.Errorf("no pod registered for VLAN %d", l.VLANID)
	}
	br := fmt.Sprintf("br%d", l.VLANID)
	n, v := tp.node, tp.vpc
	if err := n.NL.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: l.Name}, PeerName: br, PeerNamespace: netlink.NsFd(int(v.Handle()))}); err != nil {
		return err
	}
	peer, err := v.NL.LinkByName(br)
	if err != nil {
		return err
	}
	gw := netip.PrefixFrom(vpcGW, 32)
	if podIP.Is6() {
		gw = routerLL6
	}
	if err := v.NL.AddrAdd(peer, nlAddr(gw)); err != nil {
		return err
	}
	if err := v.NL.LinkSetUp(peer); err != nil {
		return err
	}
	// EC2's source/destination check: an ENI sends only packets from its
	// own addresses; the VPC drops an IPv4 packet from the branch with
	// another source (ARP is not affected).
	if podIP.Is4() {
		if err := inNetNS(v.Path, func() error {
			out, err := exec.Command("iptables", "-w", "-t", "raw", "-A", "PREROUTING", "-i", br, "!", "-s", podIP.String(), "-j", "DROP").CombinedOutput()
			if err != nil {
				return fmt.Errorf("%w: %s", err, out)
			}
			return nil
		}); err != nil {
			return fmt.Errorf("source/destination check on %s: %w", br, err)
		}
	}
	if err := v.NL.NeighSet(&netlink.Neigh{LinkIndex: peer.Attrs().Index, Family: nlconv.Family(podIP), State: netlink.NUD_PERMANENT, IP: podIP.AsSlice(), HardwareAddr: hw(l.MAC)}); err != nil {
		return err
	}
	return v.NL.RouteAdd(&netlink.Route{LinkIndex: peer.Attrs().Index, Dst: nlconv.IPNet(netip.PrefixFrom(podIP, podIP.BitLen())), Scope: netlink.SCOPE_LINK})
}

func (tp *topo) applier(t testing.TB) enforce.Applier {
	t.Helper()
	return enforce.Join(tp.netlink(t), tp.ipt(t))
}

// iptablesBinary is the node's iptables command.
func (tp *topo) iptablesBinary() string {
	if tp.iptables == "" {
		return "iptables"
	}
	return tp.iptables
}

// ipt returns an IPTables applier for the topology's node.
func (tp *topo) ipt(t testing.TB) *IPTables {
	t.Helper()
	ipt, err := NewIPTables(IPTablesOptions{HostNetNS: tp.node.Path, Path: tp.iptables})
	require.NoError(t, err)
	return ipt
}

// netlink returns a Netlink applier for the topology's node, with the
// VLAN stand-in.
func (tp *topo) netlink(t testing.TB) *Netlink {
	t.Helper()
	nl, err := NewNetlink(NetlinkOptions{HostNetNS: tp.node.Path, VLANStandIn: tp.standIn})
	require.NoError(t, err)
	return nl
}

func (tp *topo) builder(t testing.TB, mode enforce.Mode, externalSNAT bool) *enforce.Builder {
	t.Helper()
	return tp.builderWith(t, enforce.Options{Mode: mode, ExternalSNAT: externalSNAT})
}

// builderWith completes o with the topology's links and addresses.
func (tp *topo) builderWith(t testing.TB, o enforce.Options) *enforce.Builder {
	t.Helper()
	o.TrunkLink, o.PrimaryInterface, o.NFTables = "eth1", "eth0", tp.nft
	if o.Family == enforce.IPv4 {
		o.PrimaryIP, o.VPCCIDRs = nodeIP, []netip.Prefix{vpcCIDR}
	}
	b, err := enforce.NewBuilder(o)
	require.NoError(t, err)
	return b
}

// probeNeedsEarlyDemuxOff shows why a strict-mode node needs
// Options.DisableTCPEarlyDemux (the plugin's DISABLE_TCP_EARLY_DEMUX) for
// kubelet's TCP probes: with tcp_early_demux at its default, 1, the node's
// connection to its own pod through the VPC does not complete. It leaves
// the node with early demux off and returns the pod's server's hits.
func probeNeedsEarlyDemuxOff(t *testing.T, tp *topo, a enforce.Applier, o enforce.Options, pod netip.Addr, podNS *testNS) <-chan hit {
	t.Helper()
	hits := serve(t, podNS, pod, "")
	require.Equal(t, "net.ipv4.tcp_early_demux = 1\n", tp.node.run(t, "sysctl", "net.ipv4.tcp_early_demux"), "the default, as the plugin's")
	require.Error(t, dialTimeout(tp.node, pod, 2*time.Second), "node -> strict-mode pod with tcp_early_demux=1")
	select {
	case h := <-hits:
		t.Fatalf("the pod accepted the probe (%v), yet the node's connect failed", h)
	default:
	}
	o.DisableTCPEarlyDemux = true
	mustApply(t, a, tp.builderWith(t, o).Node())
	require.Equal(t, "net.ipv4.tcp_early_demux = 0\n", tp.node.run(t, "sysctl", "net.ipv4.tcp_early_demux"))
	return hits
}

// pod creates a pod namespace and the Pod input for it.
func (tp *topo) pod(t testing.TB, name string, vlan int, ip netip.Addr) (enforce.Pod, *testNS) {
	t.Helper()
	ns := newNS(t)
	tp.mu.Lock()
	tp.podIPs[vlan] = ip
	tp.mu.Unlock()
	return enforce.Pod{
		Namespace: "default", Name: name, NetNS: ns.Path, IfName: "eth0",
		Branch: podeni.BranchENI{
			ID: fmt.Sprintf("eni-%08x", vlan), MAC: podeni.MAC{0x02, 0xaa, 0xbb, 0xcc, byte(vlan >> 8), byte(vlan)},
			PrivateIP: ip, VLANID: vlan, SubnetCIDR: subnet,
		},
	}, ns
}

// builderV6 is an IPv6 node's builder: no SNAT settings.
func (tp *topo) builderV6(t testing.TB, mode enforce.Mode) *enforce.Builder {
	t.Helper()
	b, err := enforce.NewBuilder(enforce.Options{Mode: mode, Family: enforce.IPv6, TrunkLink: "eth1", PrimaryInterface: "eth0"})
	require.NoError(t, err)
	return b
}

// podV6 creates a pod namespace and the Pod input of an IPv6 cluster: its
// branch ENI, from the annotation the controller writes for an ENI in an
// IPv6-only subnet, has no IPv4 address.
func (tp *topo) podV6(t testing.TB, name string, vlan int, ip netip.Addr) (enforce.Pod, *testNS) {
	t.Helper()
	ns := newNS(t)
	tp.mu.Lock()
	tp.podIPs[vlan] = ip
	tp.mu.Unlock()
	enis, err := podeni.Parse(fmt.Sprintf(`[{"eniId":"eni-%08x","ifAddress":"02:aa:bb:cc:%02x:%02x","privateIp":"","ipv6Addr":%q,"vlanId":%d,"subnetCidr":"","subnetV6Cidr":%q,"associationID":"trunk-assoc-1"}]`,
		vlan, vlan>>8, vlan&0xff, ip, vlan, subnetV6))
	require.NoError(t, err)
	return enforce.Pod{Namespace: "default", Name: name, NetNS: ns.Path, IfName: "eth0", Branch: enis[0]}, ns
}

type hit struct {
	dev    string
	remote netip.Addr
}

// serve listens on addr:probePort in ns, one socket per device (bound with
// SO_BINDTODEVICE; "" for none), and reports which socket accepted each
// connection and the source address it saw.
func serve(t testing.TB, ns *testNS, addr netip.Addr, devs ...string) <-chan hit {
	t.Helper()
	hits := make(chan hit, 16)
	for _, dev := range devs {
		lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
				if dev != "" {
					serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, dev)
				}
			})
			return errors.Join(err, serr)
		}}
		var ln net.Listener
		require.NoError(t, inNetNS(ns.Path, func() error {
			var err error
			ln, err = lc.Listen(t.Context(), "tcp", netip.AddrPortFrom(addr, uint16(probePort)).String())
			return err
		}))
		t.Cleanup(func() { require.NoError(t, ln.Close()) })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				ap := c.RemoteAddr().(*net.TCPAddr).AddrPort()
				hits <- hit{dev: dev, remote: ap.Addr().Unmap()}
				// A failed greeting shows as the dialer's failed read.
				_, _ = c.Write([]byte("ok\n"))
				_ = c.Close()
			}
		}()
	}
	return hits
}

// dial opens a TCP connection from ns to addr:probePort and reads the
// server's greeting.
func dial(t testing.TB, ns *testNS, addr netip.Addr) error {
	t.Helper()
	return dialTimeout(ns, addr, 5*time.Second)
}

func dialTimeout(ns *testNS, addr netip.Addr, timeout time.Duration) error {
	return dialFrom(ns, netip.Addr{}, netip.AddrPortFrom(addr, uint16(probePort)), timeout)
}

// dialFrom connects from ns (from the local address src, if valid) to
// dst and reads the server's greeting.
func dialFrom(ns *testNS, src netip.Addr, dst netip.AddrPort, timeout time.Duration) error {
	return inNetNS(ns.Path, func() error {
		d := net.Dialer{Timeout: timeout}
		if src.IsValid() {
			d.LocalAddr = &net.TCPAddr{IP: src.AsSlice()}
		}
		c, err := d.Dial("tcp", dst.String())
		if err != nil {
			return err
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if cerr := c.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		if line != "ok\n" {
			return fmt.Errorf("unexpected greeting %q", line)
		}
		return nil
	})
}

// path dials addr from ns and returns where the connection arrived.
func path(t testing.TB, from *testNS, to netip.Addr, hits <-chan hit) hit {
	t.Helper()
	require.NoError(t, dial(t, from, to), "connect to %s", to)
	select {
	case h := <-hits:
		return h
	case <-time.After(5 * time.Second):
		t.Fatalf("connection to %s was not seen by the server", to)
		return hit{}
	}
}

func mustApply(t testing.TB, a enforce.Applier, p enforce.Plan) {
	t.Helper()
	require.NoError(t, a.Apply(t.Context(), &p))
}

func TestKernelStrict(t *testing.T) {
	netnstest.RequireRoot(t)
	tp := newTopo(t)
	b := tp.builder(t, enforce.Strict, false)
	a := tp.applier(t)
	mustApply(t, a, b.Node())
	nodeBefore, vpcBefore := tp.node.snapshot(t, true), tp.vpc.snapshot(t, true)

	podIP := netip.MustParseAddr("10.0.0.7")
	pod, podNS := tp.pod(t, "web", 3, podIP)
	podBefore := podNS.snapshot(t, true)
	setup, err := b.Setup(pod)
	require.NoError(t, err)
	mustApply(t, a, setup)
	veth := setup.Want.Veths[0].HostName

	vpcHits := serve(t, tp.vpc, vpcPeer, "br3", "tonode")
	outHits := serve(t, tp.vpc, outside, "br3", "tonode")
	nodeHits := serve(t, tp.node, nodeIP, "eth0", veth)

	require.Equal(t, hit{"br3", podIP}, path(t, podNS, vpcPeer, vpcHits), "pod -> VPC peer leaves through the branch, not SNATed")
	require.Equal(t, hit{"eth0", podIP}, path(t, podNS, nodeIP, nodeHits), "pod -> node crosses the branch and the VPC, arriving on the primary interface")
	require.Equal(t, hit{"br3", podIP}, path(t, podNS, outside, outHits), "pod -> outside the VPC leaves through the branch, not SNATed")

	// A kubelet probe: node -> pod goes out of eth0 to the VPC, comes in
	// through the branch, and the reply goes back through the branch. It
	// needs tcp_early_demux off, which restores the node's sysctl.
	podHits := probeNeedsEarlyDemuxOff(t, tp, a, enforce.Options{Mode: enforce.Strict}, podIP, podNS)
	vpcNodeRx, _ := tp.vpc.counters(t, "tonode")
	brRx, brTx := tp.vpc.counters(t, "br3")
	require.Equal(t, hit{"", nodeIP}, path(t, tp.node, podIP, podHits))
	// The server has accepted; the connection's last packets (the client's
	// close and the pod's answer to it) may still be in flight, so wait for
	// the counters to reach what a whole TCP exchange sends.
	var vpcNodeRx2, brRx2, brTx2 uint64
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		vpcNodeRx2, _ = tp.vpc.counters(t, "tonode")
		brRx2, brTx2 = tp.vpc.counters(t, "br3")
		if vpcNodeRx2 > vpcNodeRx && brTx2-brTx >= 3 && brRx2-brRx >= 3 || time.Now().After(deadline) {
			break
		}
	}
	require.Greater(t, vpcNodeRx2, vpcNodeRx, "the probe reached the VPC from the node's primary interface")
	require.GreaterOrEqual(t, brTx2-brTx, uint64(3), "the VPC delivered the probe's packets through the branch")
	require.GreaterOrEqual(t, brRx2-brRx, uint64(3), "the pod's replies came back through the branch")
	mustApply(t, a, b.Node()) // back to the default early demux

	td, err := b.Teardown(pod)
	require.NoError(t, err)
	mustApply(t, a, td)
	require.Equal(t, nodeBefore, tp.node.snapshot(t, true), "teardown leaves the node as before the pod")
	require.Equal(t, vpcBefore, tp.vpc.snapshot(t, true))
	require.Equal(t, podBefore, podNS.snapshot(t, true))
}

func TestKernelStandard(t *testing.T) {
	netnstest.RequireRoot(t)
	for _, v := range iptablesVariants {
		for _, externalSNAT := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/externalSNAT=%v", v.name, externalSNAT), func(t *testing.T) {
				testKernelStandard(t, v.path, externalSNAT)
			})
		}
	}
}

func testKernelStandard(t *testing.T, iptablesPath string, externalSNAT bool) {
	tp := newTopoWith(t, iptablesPath)
	b := tp.builder(t, enforce.Standard, externalSNAT)
	a := tp.applier(t)
	mustApply(t, a, b.Node())
	nodeBefore := tp.node.snapshot(t, true)

	podIP := netip.MustParseAddr("10.0.0.8")
	pod, podNS := tp.pod(t, "api", 5, podIP)
	setup, err := b.Setup(pod)
	require.NoError(t, err)
	mustApply(t, a, setup)
	veth := setup.Want.Veths[0].HostName
	require.True(t, strings.HasPrefix(veth, "eni"))

	vpcHits := serve(t, tp.vpc, vpcPeer, "br5", "tonode")
	outHits := serve(t, tp.vpc, outside, "br5", "tonode")
	nodeHits := serve(t, tp.node, nodeIP, "eth0", veth)

	require.Equal(t, hit{veth, podIP}, path(t, podNS, nodeIP, nodeHits), "pod -> node stays on the veth")
	require.Equal(t, hit{"br5", podIP}, path(t, podNS, vpcPeer, vpcHits), "pod -> VPC peer leaves through the branch")
	if externalSNAT {
		require.Equal(t, hit{"br5", podIP}, path(t, podNS, outside, outHits), "with external SNAT, pod -> outside leaves through the branch")
	} else {
		require.Equal(t, hit{"tonode", nodeIP}, path(t, podNS, outside, outHits), "pod -> outside leaves through the primary interface, SNATed to the node IP")
		// Again: the connection mark must route every packet of a
		// second connection the same way.
		require.Equal(t, hit{"tonode", nodeIP}, path(t, podNS, outside, outHits))
	}

	podHits := serve(t, podNS, podIP, "")
	require.Equal(t, hit{"", nodeIP}, path(t, tp.node, podIP, podHits), "node -> pod (a kubelet probe) works")

	td, err := b.Teardown(pod)
	require.NoError(t, err)
	mustApply(t, a, td)
	require.Equal(t, nodeBefore, tp.node.snapshot(t, true), "teardown leaves the node as before the pod")
}

// TestKernelIPv6Strict wires an IPv6 pod in strict mode and proves with
// real TCP connections that all its traffic crosses its branch, that the
// branch finds the VPC's router by neighbour discovery (which needs the
// node plan's ICMPv6 rule), and that teardown leaves nothing behind.
func TestKernelIPv6Strict(t *testing.T) {
	netnstest.RequireRoot(t)
	tp := newTopo(t)
	b := tp.builderV6(t, enforce.Strict)
	a := tp.applier(t)
	node := b.Node()
	mustApply(t, a, node)
	tp.node.settle(t)
	nodeBefore, vpcBefore := tp.node.snapshot(t, true), tp.vpc.snapshot(t, true)

	podIP := netip.MustParseAddr("2600:1f14:abc:de00::7")
	pod, podNS := tp.podV6(t, "web", 3, podIP)
	podBefore := podNS.snapshot(t, true)
	setup, err := b.Setup(pod)
	require.NoError(t, err)
	mustApply(t, a, setup)
	veth := setup.Want.Veths[0].HostName
	tp.node.waitDAD(t, "vlan.eth.3", veth)
	for _, key := range []string{"net.ipv6.conf.vlan/eth/3.accept_ra", "net.ipv6.conf." + veth + ".accept_ra"} {
		require.Equal(t, key+" = 0\n", tp.node.run(t, "sysctl", key))
	}
	require.Equal(t, "net.ipv6.conf.vlan/eth/3.forwarding = 0\n", tp.node.run(t, "sysctl", "net.ipv6.conf.vlan/eth/3.forwarding"))
	require.Contains(t, podNS.run(t, "ip", "-6", "addr", "show", "dev", "eth0"), "inet6 2600:1f14:abc:de00::7/128 scope global nodad")

	vpcHits := serve(t, tp.vpc, vpcPeer6, "br3", "tonode")
	outHits := serve(t, tp.vpc, outside6, "br3", "tonode")
	nodeHits := serve(t, tp.node, nodeIP6, "eth0", veth)

	require.Equal(t, hit{"br3", podIP}, path(t, podNS, vpcPeer6, vpcHits), "pod -> VPC peer leaves through the branch")
	require.Equal(t, hit{"eth0", podIP}, path(t, podNS, nodeIP6, nodeHits), "pod -> node crosses the branch and the VPC, arriving on the primary interface")
	require.Equal(t, hit{"br3", podIP}, path(t, podNS, outside6, outHits), "pod -> outside the VPC leaves through the branch (no SNAT in IPv6)")

	// A kubelet probe over IPv6: out of eth0, back in through the branch,
	// with early demux off as in IPv4.
	podHits := probeNeedsEarlyDemuxOff(t, tp, a, enforce.Options{Mode: enforce.Strict, Family: enforce.IPv6}, podIP, podNS)
	brRx, brTx := tp.vpc.counters(t, "br3")
	require.Equal(t, hit{"", nodeIP6}, path(t, tp.node, podIP, podHits))
	brRx2, brTx2 := tp.vpc.counters(t, "br3")
	require.Greater(t, brTx2, brTx, "the VPC delivered the probe through the branch")
	require.Greater(t, brRx2, brRx, "the pod answered through the branch")
	mustApply(t, a, node) // back to the default early demux

	// Without the rule that sends the router's ICMPv6 to the local table,
	// the branch cannot resolve fe80:ec2::1: its neighbour advertisements
	// would be routed by table 103 instead of delivered.
	gwRule := node.Want.Rules[1]
	require.Equal(t, enforce.VPCGatewayV6, gwRule.Src.Addr())
	require.NoError(t, tp.node.NL.RuleDel(nlRule(gwRule)))
	tp.node.run(t, "ip", "-6", "neigh", "flush", "dev", "vlan.eth.3")
	require.Error(t, dialTimeout(podNS, vpcPeer6, 3*time.Second), "without the gateway rule the branch cannot reach its router")
	mustApply(t, a, node)
	// The failed resolution may still be pending; start a fresh one.
	tp.node.run(t, "ip", "-6", "neigh", "flush", "dev", "vlan.eth.3")
	require.Equal(t, hit{"br3", podIP}, path(t, podNS, vpcPeer6, vpcHits), "the node plan puts the rule back")

	td, err := b.Teardown(pod)
	require.NoError(t, err)
	mustApply(t, a, td)
	require.Equal(t, nodeBefore, tp.node.snapshot(t, true), "teardown leaves the node as before the pod")
	require.Equal(t, vpcBefore, tp.vpc.snapshot(t, true))
	require.Equal(t, podBefore, podNS.snapshot(t, true))
}

func TestKernelIPv6Standard(t *testing.T) {
	netnstest.RequireRoot(t)
	tp := newTopo(t)
	b := tp.builderV6(t, enforce.Standard)
	a := tp.applier(t)
	mustApply(t, a, b.Node())
	tp.node.settle(t)
	nodeBefore := tp.node.snapshot(t, true)

	podIP := netip.MustParseAddr("2600:1f14:abc:de00::8")
	pod, podNS := tp.podV6(t, "api", 5, podIP)
	setup, err := b.Setup(pod)
	require.NoError(t, err)
	mustApply(t, a, setup)
	veth := setup.Want.Veths[0].HostName
	require.True(t, strings.HasPrefix(veth, "eni"))
	tp.node.waitDAD(t, "vlan.eth.5", veth)

	vpcHits := serve(t, tp.vpc, vpcPeer6, "br5", "tonode")
	outHits := serve(t, tp.vpc, outside6, "br5", "tonode")
	nodeHits := serve(t, tp.node, nodeIP6, "eth0", veth)

	require.Equal(t, hit{veth, podIP}, path(t, podNS, nodeIP6, nodeHits), "pod -> node stays on the veth")
	require.Equal(t, hit{"br5", podIP}, path(t, podNS, vpcPeer6, vpcHits), "pod -> VPC peer leaves through the branch")
	require.Equal(t, hit{"br5", podIP}, path(t, podNS, outside6, outHits), "pod -> outside the VPC leaves through the branch, not SNATed")

	podHits := serve(t, podNS, podIP, "")
	require.Equal(t, hit{"", nodeIP6}, path(t, tp.node, podIP, podHits), "node -> pod (a kubelet probe) works over the veth")

	td, err := b.Teardown(pod)
	require.NoError(t, err)
	mustApply(t, a, td)
	require.Equal(t, nodeBefore, tp.node.snapshot(t, true), "teardown leaves the node as before the pod")
}

// dropped returns how many packets the VPC's source/destination check has
// dropped on a branch's link.
func (tp *topo) dropped(t testing.TB, br string) int {
	t.Helper()
	for _, line := range strings.Split(tp.vpc.run(t, "iptables-save", "-c", "-t", "raw"), "\n") {
		if strings.Contains(line, "-i "+br+" ") && strings.HasSuffix(line, "-j DROP") {
			var pkts, bytes int
			_, err := fmt.Sscanf(line, "[%d:%d]", &pkts, &bytes)
			require.NoError(t, err, line)
			return pkts
		}
	}
	t.Fatalf("no source/destination check for %s", br)
	return 0
}

// TestKernelNodePort connects a client of the VPC to a NodePort of the
// node (the node's primary address, DNATed to a standard-mode pod as
// kube-proxy does) and shows that the pod's reply returns through the
// primary interface only with NodePort support (the mangle CONNMARK rules
// and the fwmark rule), with or without external SNAT. Without it the
// reply leaves through the pod's branch, with the node's address as
// source, and the VPC (its source/destination check, emulated with strict
// reverse-path filtering) drops it.
func TestKernelNodePort(t *testing.T) {
	netnstest.RequireRoot(t)
	const nodePort = 30080
	type tcase struct {
		iptables                 string
		externalSNAT, noNodePort bool
	}
	var cases []tcase
	for _, v := range iptablesVariants {
		cases = append(cases, tcase{v.path, false, false}, tcase{v.path, true, false}, tcase{v.path, false, true}, tcase{v.path, true, true})
	}
	for _, tc := range cases {
		variant := "nf_tables"
		if tc.iptables != "" {
			variant = "legacy"
		}
		t.Run(fmt.Sprintf("%s/externalSNAT=%v,nodePortSupport=%v", variant, tc.externalSNAT, !tc.noNodePort), func(t *testing.T) {
			tp := newTopoWith(t, tc.iptables)
			b := tp.builderWith(t, enforce.Options{Mode: enforce.Standard, ExternalSNAT: tc.externalSNAT, DisableNodePortSupport: tc.noNodePort})
			a := tp.applier(t)
			mustApply(t, a, b.Node())
			podIP := netip.MustParseAddr("10.0.0.8")
			pod, podNS := tp.pod(t, "web", 5, podIP)
			setup, err := b.Setup(pod)
			require.NoError(t, err)
			mustApply(t, a, setup)
			// kube-proxy's DNAT of the NodePort to the pod.
			tp.node.run(t, tp.iptablesBinary(), "-w", "-t", "nat", "-I", "PREROUTING", "1", "-d", nodeIP.String()+"/32", "-p", "tcp",
				"--dport", fmt.Sprint(nodePort), "-j", "DNAT", "--to-destination", netip.AddrPortFrom(podIP, uint16(probePort)).String())
			podHits := serve(t, podNS, podIP, "")

			drops := tp.dropped(t, "br5")
			toNodeRx, _ := tp.vpc.counters(t, "tonode")
			err = dialFrom(tp.vpc, vpcPeer, netip.AddrPortFrom(nodeIP, nodePort), 3*time.Second)
			toNodeRx2, _ := tp.vpc.counters(t, "tonode")
			if tc.noNodePort {
				require.Error(t, err, "without NodePort support the reply cannot reach the client")
				require.Greater(t, tp.dropped(t, "br5"), drops, "the pod's replies left through its branch with the node's address, and the VPC dropped them")
				return
			}
			require.NoError(t, err, "the client reached the pod through the NodePort")
			require.Equal(t, hit{"", vpcPeer}, <-podHits, "the pod saw the client's own address")
			require.Equal(t, drops, tp.dropped(t, "br5"), "no reply left through the branch")
			require.Greater(t, toNodeRx2, toNodeRx, "the replies came back through the primary interface")
		})
	}
}

func TestKernelFiftyPods(t *testing.T) {
	netnstest.RequireRoot(t)
	for _, mode := range []enforce.Mode{enforce.Strict, enforce.Standard} {
		t.Run(mode.String(), func(t *testing.T) {
			tp := newTopo(t)
			b := tp.builder(t, mode, false)
			a := tp.applier(t)
			start := map[*testNS]string{tp.node: tp.node.snapshot(t, true), tp.vpc: tp.vpc.snapshot(t, true)}
			mustApply(t, a, b.Node())
			afterNode := tp.node.snapshot(t, true)

			hits := serve(t, tp.vpc, vpcPeer, "")
			var pods []enforce.Pod
			for i := range 50 {
				vlan := i + 1
				ip := netip.AddrFrom4([4]byte{10, 0, 1, byte(10 + i)})
				pod, ns := tp.pod(t, fmt.Sprintf("pod-%d", i), vlan, ip)
				start[ns] = ns.snapshot(t, false)
				p, err := b.Setup(pod)
				require.NoError(t, err)
				mustApply(t, a, p)
				pods = append(pods, pod)
				require.Equal(t, hit{"", ip}, path(t, ns, vpcPeer, hits), "pod %d reaches the VPC peer with its own IP", i)
			}
			for _, pod := range pods {
				p, err := b.Teardown(pod)
				require.NoError(t, err)
				mustApply(t, a, p)
			}
			require.Equal(t, afterNode, tp.node.snapshot(t, true), "tearing down every pod leaves the node as after node setup")
			for ns, snap := range start {
				if ns == tp.node {
					continue
				}
				require.Equal(t, snap, ns.snapshot(t, ns == tp.vpc))
			}
		})
	}
}

func TestKernelIdempotentAndStale(t *testing.T) {
	netnstest.RequireRoot(t)
	tp := newTopo(t)
	b := tp.builder(t, enforce.Strict, false)
	nl := tp.netlink(t)
	ipt := tp.ipt(t)
	a := enforce.Join(nl, ipt)
	mustApply(t, a, b.Node())

	pod, _ := tp.pod(t, "web", 3, netip.MustParseAddr("10.0.0.7"))
	p, err := b.Setup(pod)
	require.NoError(t, err)
	mustApply(t, a, p)
	snap := tp.node.snapshot(t, true)

	var changes []enforce.Change
	nl.beforeChange = func(c enforce.Change) error { changes = append(changes, c); return nil }
	mustApply(t, a, p)
	mustApply(t, a, b.Node())
	require.Empty(t, changes, "applying the same plans again changes nothing")
	require.Equal(t, snap, tp.node.snapshot(t, true))

	// The same for an IPv6 node's plans (another node: one namespace is
	// one node, of one family).
	tp6 := newTopo(t)
	b6 := tp6.builderV6(t, enforce.Strict)
	nl6 := tp6.netlink(t)
	a6 := enforce.Join(nl6, tp6.ipt(t))
	mustApply(t, a6, b6.Node())
	pod6, _ := tp6.podV6(t, "web", 3, netip.MustParseAddr("2600:1f14:abc:de00::7"))
	p6, err := b6.Setup(pod6)
	require.NoError(t, err)
	mustApply(t, a6, p6)
	nl6.beforeChange = func(c enforce.Change) error { changes = append(changes, c); return nil }
	mustApply(t, a6, p6)
	mustApply(t, a6, b6.Node())
	require.Empty(t, changes, "applying the same IPv6 plans again changes nothing")
	nl.beforeChange = nil

	// The pod is force-deleted (no CNI DEL) and a pod of the same name
	// comes back on another branch ENI, while the old netns lingers.
	pod2, podNS2 := tp.pod(t, "web", 5, netip.MustParseAddr("10.0.0.9"))
	p2, err := b.Setup(pod2)
	require.NoError(t, err)
	mustApply(t, a, p2)
	rules, err := tp.node.NL.RuleList(netlink.FAMILY_V4)
	require.NoError(t, err)
	veth := p2.Want.Veths[0].HostName
	var iif []string
	for _, r := range rules {
		if r.Priority == enforce.PriorityIIF {
			iif = append(iif, fmt.Sprintf("%s->%d", r.IifName, r.Table))
		}
	}
	require.ElementsMatch(t, []string{"vlan.eth.3->103", "vlan.eth.5->105", veth + "->105"}, iif,
		"the stale pod's veth rule into table 103 is gone; its VLAN link stays until its own teardown")
	hits := serve(t, tp.vpc, vpcPeer, "br5")
	require.Equal(t, hit{"br5", netip.MustParseAddr("10.0.0.9")}, path(t, podNS2, vpcPeer, hits))

	// Teardown of the old pod (same name) after the new one is up would
	// remove the new veth too; CNI DEL is keyed by container, so only
	// tear down by VLAN link and rules here.
	td, err := b.Teardown(pod)
	require.NoError(t, err)
	mustApply(t, a, td)
	_, err = tp.node.NL.LinkByName("vlan.eth.3")
	require.Error(t, err, "the old VLAN link is gone")
}

func TestKernelRollbackAtEveryStep(t *testing.T) {
	netnstest.RequireRoot(t)
	for _, tc := range []struct {
		mode   enforce.Mode
		family enforce.Family
	}{{enforce.Strict, enforce.IPv4}, {enforce.Standard, enforce.IPv4}, {enforce.Strict, enforce.IPv6}, {enforce.Standard, enforce.IPv6}} {
		t.Run(tc.mode.String()+"/"+tc.family.String(), func(t *testing.T) {
			tp := newTopo(t)
			mode := tc.mode
			b := tp.builder(t, mode, false)
			if tc.family == enforce.IPv6 {
				b = tp.builderV6(t, mode)
			}
			nl := tp.netlink(t)
			mustApply(t, enforce.Join(nl, tp.ipt(t)), b.Node())
			tp.node.settle(t)

			pod, podNS := tp.pod(t, "web", 3, netip.MustParseAddr("10.0.0.7"))
			if tc.family == enforce.IPv6 {
				pod, podNS = tp.podV6(t, "web", 3, netip.MustParseAddr("2600:1f14:abc:de00::7"))
			}
			p, err := b.Setup(pod)
			require.NoError(t, err)
			before := map[*testNS]string{tp.node: tp.node.snapshot(t, true), tp.vpc: tp.vpc.snapshot(t, true), podNS: podNS.snapshot(t, false)}

			var steps []enforce.Change
			nl.beforeChange = func(c enforce.Change) error { steps = append(steps, c); return nil }
			mustApply(t, nl, p)
			td, err := b.Teardown(pod)
			require.NoError(t, err)
			nl.beforeChange = nil
			mustApply(t, nl, td)
			require.NotEmpty(t, steps)

			injected := errors.New("injected failure")
			for k := range steps {
				n := 0
				nl.beforeChange = func(enforce.Change) error {
					if n == k {
						return injected
					}
					n++
					return nil
				}
				err := nl.Apply(t.Context(), &p)
				var se *enforce.StepError
				require.ErrorAs(t, err, &se, "step %d", k)
				require.ErrorIs(t, err, injected)
				require.Equal(t, steps[k], se.Change)
				require.NoError(t, se.RollbackErr)
				for ns, snap := range before {
					require.Equal(t, snap, ns.snapshot(t, ns != podNS), "after a failure at step %d (%s)", k, steps[k])
				}
			}

			// A real failure: the pod's namespace already has an eth0.
			require.NoError(t, podNS.NL.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "eth0"}, PeerName: "eth0-peer"}))
			before[podNS] = podNS.snapshot(t, false)
			nl.beforeChange = nil
			err = nl.Apply(t.Context(), &p)
			require.ErrorContains(t, err, "already has a link eth0")
			for ns, snap := range before {
				require.Equal(t, snap, ns.snapshot(t, ns != podNS))
			}
		})
	}
}

// BenchmarkApplyTeardown compares wiring and unwiring one pod through the
// netlink applier with running the same plans' rendered commands as
// processes. Both replace the VLAN link (which this kernel may lack) with a
// veth pair into the VPC namespace: the netlink applier through its
// stand-in hook, the commands with "ip link add ... type veth".
func BenchmarkApplyTeardown(b *testing.B) {
	netnstest.RequireRoot(b)
	for _, mode := range []enforce.Mode{enforce.Strict, enforce.Standard} {
		tp := newTopo(b)
		bl := tp.builder(b, mode, false)
		mustApply(b, tp.applier(b), bl.Node())
		pod, _ := tp.pod(b, "bench", 3, netip.MustParseAddr("10.0.0.7"))
		setup, err := bl.Setup(pod)
		require.NoError(b, err)
		td, err := bl.Teardown(pod)
		require.NoError(b, err)

		b.Run(mode.String()+"/netlink", func(b *testing.B) {
			nl := tp.netlink(b)
			b.ReportAllocs()
			for b.Loop() {
				mustApply(b, nl, setup)
				mustApply(b, nl, td)
			}
		})
		b.Run(mode.String()+"/commands", func(b *testing.B) {
			// The VPC end of the stand-in is wired by the test in both
			// variants; here by extra commands after the pair is created.
			vpcPath := tp.vpc.Path
			var cmds []enforce.Command
			for _, c := range setup.Commands() {
				if len(c.Args) > 6 && c.Args[2] == "add" && c.Args[3] == "link" {
					l := setup.Want.VLANs[0]
					cmds = append(cmds,
						enforce.Command{Args: []string{"ip", "link", "add", l.Name, "mtu", strconv.Itoa(l.MTU), "address", l.MAC.String(), "type", "veth", "peer", "name", "br3", "netns", vpcPath}},
						enforce.Command{Args: []string{"nsenter", "--net=" + vpcPath, "ip", "addr", "add", "10.0.0.1/32", "dev", "br3"}},
						enforce.Command{Args: []string{"nsenter", "--net=" + vpcPath, "ip", "link", "set", "br3", "up"}},
						enforce.Command{Args: []string{"nsenter", "--net=" + vpcPath, "ip", "neigh", "replace", "10.0.0.7", "lladdr", l.MAC.String(), "dev", "br3", "nud", "permanent"}},
						enforce.Command{Args: []string{"nsenter", "--net=" + vpcPath, "ip", "route", "add", "10.0.0.7/32", "dev", "br3", "scope", "link"}},
					)
					continue
				}
				cmds = append(cmds, c)
			}
			cmds = append(cmds, td.Commands()...)
			b.ReportAllocs()
			for b.Loop() {
				require.NoError(b, inNetNS(tp.node.Path, func() error { return runCommands(cmds) }))
			}
		})
	}
}

// runCommands runs rendered commands with the semantics Command.String
// describes.
func runCommands(cmds []enforce.Command) error {
	run := func(args []string) error { return exec.Command(args[0], args[1:]...).Run() }
	for _, c := range cmds {
		switch {
		case c.Repeat:
			// Until it fails: each run deletes one copy. Bounded, so that a
			// command that keeps succeeding cannot hang the test.
			for n := 0; run(c.Args) == nil; n++ {
				if n == 100 {
					return fmt.Errorf("%s: still succeeding after %d runs", c, n)
				}
			}
		case c.Unless != nil:
			if run(c.Unless) != nil {
				if err := run(c.Args); err != nil {
					return fmt.Errorf("%s: %w", c, err)
				}
			}
		default:
			if err := run(c.Args); err != nil && !c.Tolerate {
				return fmt.Errorf("%s: %w", c, err)
			}
		}
	}
	return nil
}
