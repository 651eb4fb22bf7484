//go:build linux

package main

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"
	"github.com/google/go-cmp/cmp"
	"github.com/podsg/podsg/api/podeni"
	"github.com/podsg/podsg/enforce"
	"github.com/podsg/podsg/internal/cnitest"
	"github.com/podsg/podsg/internal/netnstest"
	"github.com/podsg/podsg/internal/nlconv"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
)

var (
	ipA = netip.MustParseAddr("10.0.1.3")
	ipB = netip.MustParseAddr("10.0.1.4")
)

// warm runs one pod through ADD and DEL so that the node plan is applied,
// and returns the node's state then: what every later teardown must come
// back to.
func (n *testNode) warm(t *testing.T) string {
	t.Helper()
	p := n.w.pod("warm-up", 120, netip.MustParseAddr("10.0.30.1"))
	_, err := n.add(p)
	require.NoError(t, err)
	require.NoError(t, n.del(p))
	return snapshot(t, n.NetNS)
}

// resultShape is what a test compares of an ADD result.
type resultShape struct {
	Interfaces []types100.Interface
	IPs        []string
	Routes     []string
}

func shapeOf(r *types100.Result) resultShape {
	var s resultShape
	for _, i := range r.Interfaces {
		s.Interfaces = append(s.Interfaces, *i)
	}
	for _, ip := range r.IPs {
		s.IPs = append(s.IPs, fmt.Sprintf("%s gw %s if %d", ip.Address.String(), ip.Gateway, *ip.Interface))
	}
	for _, rt := range r.Routes {
		scope := "universe"
		if rt.Scope != nil && *rt.Scope == 253 {
			scope = "link"
		}
		s.Routes = append(s.Routes, fmt.Sprintf("%s via %v scope %s", rt.Dst.String(), rt.GW, scope))
	}
	return s
}

// TestAddConnectCheckDel wires two pods on two nodes and sends a TCP
// connection from one to the other through their branch links, in both
// modes; CHECK passes; DEL (twice) leaves the nodes as they were.
func TestAddConnectCheckDel(t *testing.T) {
	for _, mode := range []string{"strict", "standard"} {
		t.Run(mode, func(t *testing.T) {
			w := newWorld(t)
			n1, n2 := w.node(mode, nil), w.node(mode, nil)
			warm1, warm2 := n1.warm(t), n2.warm(t)
			vpcBefore := snapshot(t, w.vpc.NetNS)
			a, b := w.pod("web-a", 3, ipA), w.pod("web-b", 3, ipB)

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
			require.NoError(t, err, "the host veth is named as the VPC CNI names it")
			podMAC := linkMACIn(t, a.NS, "eth0")
			want := resultShape{
				Interfaces: []types100.Interface{
					{Name: veth, Mac: l.Attrs().HardwareAddr.String(), Mtu: enforce.DefaultMTU},
					{Name: "eth0", Mac: podMAC, Mtu: enforce.DefaultMTU, Sandbox: a.NS.Path},
					{Name: "vlan.eth.3", Mac: a.Branch.MAC.String(), Mtu: enforce.DefaultMTU},
				},
				IPs:    []string{"10.0.1.3/32 gw 169.254.1.1 if 1"},
				Routes: []string{"169.254.1.1/32 via <nil> scope link", "0.0.0.0/0 via 169.254.1.1 scope universe"},
			}
			require.Empty(t, cmp.Diff(want, shapeOf(res)), "ADD result")

			// a -> b: out of a's branch into the VPC, into b's branch;
			// b sees a's own address: no SNAT inside the VPC.
			connectThroughBranches(t, w.vpc.NetNS, a.NS, n1.BranchPeer(3), b.NS, n2.BranchPeer(3), ipB, ipA)

			// a -> a server elsewhere in the VPC.
			vpcHits := cnitest.Serve(t, w.vpc.NetNS, w.vpc.ServerIP, probePort)
			h, err := cnitest.Connect(a.NS, w.vpc.ServerIP, probePort, vpcHits)
			require.NoError(t, err)
			require.Equal(t, ipA, h.Remote)

			require.NoError(t, n1.check(a))
			require.NoError(t, n2.check(b))

			for range 2 {
				require.NoError(t, n1.del(a), "DEL is idempotent")
				require.NoError(t, n2.del(b))
			}
			require.Equal(t, warm1, snapshot(t, n1.NetNS), "DEL leaves node 1 as before the pod")
			require.Equal(t, warm2, snapshot(t, n2.NetNS))
			require.Equal(t, vpcBefore, snapshot(t, w.vpc.NetNS), "the branches' VPC ends are gone")
			requireNoRecords(t, n1, n2)
		})
	}
}

// connectThroughBranches opens a TCP connection from the pod namespace from
// to addr, served in the pod namespace to, and requires the server to see
// the client's address wantRemote and the packets to leave through fromPeer
// and arrive through toPeer: the VPC's ends of the two pods' branch links.
func connectThroughBranches(t *testing.T, vpc, from *netnstest.NetNS, fromPeer string, to *netnstest.NetNS, toPeer string, addr, wantRemote netip.Addr) {
	t.Helper()
	hits := cnitest.Serve(t, to, addr, probePort)
	outRx, _ := counters(t, vpc, fromPeer)
	_, inTx := counters(t, vpc, toPeer)
	h, err := cnitest.Connect(from, addr, probePort, hits)
	require.NoError(t, err)
	require.Equal(t, wantRemote, h.Remote, "the server sees the client's own address")
	outRx2, _ := counters(t, vpc, fromPeer)
	_, inTx2 := counters(t, vpc, toPeer)
	require.GreaterOrEqual(t, outRx2-outRx, uint64(3), "the client's packets left through its branch")
	require.GreaterOrEqual(t, inTx2-inTx, uint64(3), "the VPC delivered them through the server's branch")
}

func counters(t *testing.T, ns *netnstest.NetNS, link string) (rx, tx uint64) {
	t.Helper()
	rx, tx, err := ns.Counters(link)
	require.NoError(t, err)
	return rx, tx
}

func linkMACIn(t *testing.T, ns *netnstest.NetNS, name string) string {
	t.Helper()
	l, err := ns.NL.LinkByName(name)
	require.NoError(t, err)
	return l.Attrs().HardwareAddr.String()
}

func requireNoRecords(t *testing.T, nodes ...*testNode) {
	t.Helper()
	for _, n := range nodes {
		files, err := filepath.Glob(filepath.Join(n.StateDir, "*", "*"))
		require.NoError(t, err)
		require.Empty(t, files, "attachment records left on %s", n.Name)
	}
}

// TestCheckReportsFirstDifference breaks a wired pod by hand in several
// ways; CHECK passes before and names what is missing after.
func TestCheckReportsFirstDifference(t *testing.T) {
	w := newWorld(t)
	n := w.node("strict", nil)
	tests := []struct {
		name    string
		vlan    int
		breakIt func(p *testPod)
		want    string
	}{
		{"node route", 3, func(p *testPod) {
			delRoute(t, n.NetNS, 103, netip.PrefixFrom(netip.IPv4Unspecified(), 0))
		}, "host route default via 10.0.0.1 dev vlan.eth.3 table 103 is missing"},
		{"pod route", 4, func(p *testPod) {
			delRoute(t, p.NS, 254, netip.PrefixFrom(netip.IPv4Unspecified(), 0))
		}, "pod route default via 169.254.1.1 dev eth0 table main is missing"},
		{"rule", 5, func(p *testPod) {
			r := netlink.NewRule()
			r.Priority, r.Table, r.IifName = enforce.PriorityIIF, 105, "vlan.eth.5"
			require.NoError(t, n.NL.RuleDel(r))
		}, "rule pref 10 iif vlan.eth.5 lookup 105 is missing"},
		{"address", 6, func(p *testPod) {
			l, err := p.NS.NL.LinkByName("eth0")
			require.NoError(t, err)
			require.NoError(t, p.NS.NL.AddrDel(l, &netlink.Addr{IPNet: hostPrefix(p.Branch.PrivateIP)}))
		}, "pod address 10.0.1.6/32 dev eth0 is missing"},
		{"link", 7, func(p *testPod) {
			l, err := n.NL.LinkByName("vlan.eth.7")
			require.NoError(t, err)
			require.NoError(t, n.NL.LinkSetDown(l))
		}, "link vlan.eth.7 is down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := w.pod("check-"+strings.ReplaceAll(tt.name, " ", "-"), tt.vlan, netip.AddrFrom4([4]byte{10, 0, 1, byte(tt.vlan)}))
			_, err := n.add(p)
			require.NoError(t, err)
			require.NoError(t, n.check(p), "CHECK passes on a pod as ADD left it")
			tt.breakIt(p)
			ce := cniError(t, n.check(p))
			require.Equal(t, codeCheck, ce.Code)
			require.Contains(t, ce.Msg, tt.want)
			require.Contains(t, ce.Msg, p.Namespace+"/"+p.Name)
			require.NoError(t, n.del(p), "DEL cleans up a broken pod")
		})
	}
}

func delRoute(t *testing.T, ns *netnstest.NetNS, table int, dst netip.Prefix) {
	t.Helper()
	rs, err := ns.NL.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: table}, netlink.RT_FILTER_TABLE)
	require.NoError(t, err)
	for _, r := range rs {
		if nlconv.Prefix(r.Dst) == dst || r.Dst == nil && dst.Bits() == 0 {
			require.NoError(t, ns.NL.RouteDel(&r))
			return
		}
	}
	t.Fatalf("no route to %s in table %d", dst, table)
}

// TestDelWithoutAPIServer: DEL needs only the node's records, and a DEL of
// what is gone succeeds: here the pod's network namespace (with the veth)
// is gone before DEL, and the API server is down.
func TestDelWithoutAPIServer(t *testing.T) {
	w := newWorld(t)
	n := w.node("standard", nil)
	warm := n.warm(t)
	p := w.pod("web", 3, ipA)
	_, err := n.add(p)
	require.NoError(t, err)
	w.api.srv.Close()
	p.NS.Close()
	require.NoError(t, n.del(p))
	require.NoError(t, n.del(p))
	require.Equal(t, warm, snapshot(t, n.NetNS))
	requireNoRecords(t, n)
}

// TestDelFromPrevResult: with the node's records gone (a wiped state
// directory), DEL tears down from the runtime's cached result.
func TestDelFromPrevResult(t *testing.T) {
	w := newWorld(t)
	n := w.node("strict", nil)
	warm := n.warm(t)
	p := w.pod("web", 3, ipA)
	_, err := n.add(p)
	require.NoError(t, err)
	files, err := filepath.Glob(filepath.Join(n.StateDir, "podsg", "*.json"))
	require.NoError(t, err)
	require.Len(t, files, 1)
	require.NoError(t, os.Remove(files[0]))
	require.NoError(t, n.del(p))
	require.Equal(t, warm, snapshot(t, n.NetNS))
}

// TestAddErrors: every ADD that cannot wire the pod is a CNI error naming
// the cause, and leaves nothing behind.
func TestAddErrors(t *testing.T) {
	w := newWorld(t)
	n := w.node("strict", map[string]any{"annotationTimeout": "300ms"})
	warm := n.warm(t)
	vpcBefore := snapshot(t, w.vpc.NetNS)

	// An API server that is not there: a port nothing listens on.
	ln := w.vpc.Listen(t, 0)
	deadAddr := ln.Addr().String()
	require.NoError(t, ln.Close())
	deadKubeconfig := writeKubeconfig(t, "https://"+deadAddr, w.api.srv.Certificate().Raw, w.api.token)
	wrongToken := writeKubeconfig(t, w.api.srv.URL, w.api.srv.Certificate().Raw, "stolen")
	wrongName := writeKubeconfigFor(t, w.api.srv.URL, w.api.srv.Certificate().Raw, w.api.token, "api.example.org")

	tests := []struct {
		name    string
		prepare func(p *testPod) // stores the pod as the test needs
		conf    map[string]any
		code    uint
		want    []string
		minWait time.Duration
	}{
		{name: "malformed annotation",
			prepare: func(p *testPod) {
				w.api.setPod(p.Namespace, p.Name, p.UID, true, `[{"eniId":"eni-0123456789abcdef0","ifAddress":"02:aa:bb:cc:dd:ee","privateIp":"10.0.1.9","vlanId":0,"subnetCidr":"10.0.0.0/19"}]`)
			},
			code: codeInvalidAnnotation, want: []string{"annotation vpc.amazonaws.com/pod-eni", "vlanId"}},
		{name: "VLAN on the main routing table",
			prepare: func(p *testPod) {
				w.api.setPod(p.Namespace, p.Name, p.UID, true, `[{"eniId":"eni-0123456789abcdef0","ifAddress":"02:aa:bb:cc:dd:ee","privateIp":"10.0.1.9","vlanId":154,"subnetCidr":"10.0.0.0/19"}]`)
			},
			code: codeInvalidAnnotation, want: []string{"Pod.Branch.vlanId", "VLAN 154 would route through table 254"}},
		{name: "annotation not JSON",
			prepare: func(p *testPod) { w.api.setPod(p.Namespace, p.Name, p.UID, true, `eni-0123456789abcdef0`) },
			code:    codeInvalidAnnotation, want: []string{"annotation vpc.amazonaws.com/pod-eni"}},
		{name: "IPv6 branch on an IPv4 node",
			prepare: func(p *testPod) {
				w.api.setPod(p.Namespace, p.Name, p.UID, true, `[{"eniId":"eni-0123456789abcdef0","ifAddress":"02:aa:bb:cc:dd:ee","privateIp":"","ipv6Addr":"2600:1f14:ab::7","vlanId":3,"subnetCidr":"","subnetV6Cidr":"2600:1f14:ab::/64","associationID":"trunk-assoc-0123456789abcdef0"}]`)
			},
			code: codeInvalidAnnotation, want: []string{"branch ENI eni-0123456789abcdef0 has no IPv4 address (ipv6Addr 2600:1f14:ab::7)"}},
		{name: "API server missing",
			prepare: func(p *testPod) { w.api.setPod(p.Namespace, p.Name, p.UID, true, mustFormat(t, p.Branch)) },
			conf:    map[string]any{"kubeconfig": deadKubeconfig},
			code:    types.ErrTryAgainLater, want: []string{"cannot get pod default/", "from the API server https://" + deadAddr, "connection refused", "(annotationTimeout 300ms)"},
			minWait: 300 * time.Millisecond},
		{name: "annotation timeout",
			prepare: func(p *testPod) { w.api.setPod(p.Namespace, p.Name, p.UID, true, "") },
			code:    types.ErrTryAgainLater, want: []string{"(annotationTimeout 300ms)", "the controller has not written the vpc.amazonaws.com/pod-eni annotation on pod default/"},
			minWait: 300 * time.Millisecond},
		{name: "UID mismatch",
			prepare: func(p *testPod) {
				w.api.setPod(p.Namespace, p.Name, "uid-of-a-newer-pod", true, mustFormat(t, p.Branch))
			},
			code: codeUIDMismatch, want: []string{"has UID uid-of-a-newer-pod", "deleted and created again"}},
		{name: "not a branch pod",
			prepare: func(p *testPod) { w.api.setPod(p.Namespace, p.Name, p.UID, false, "") },
			code:    codeNotBranchPod, want: []string{"neither requests vpc.amazonaws.com/pod-eni nor has the vpc.amazonaws.com/pod-eni annotation"}},
		{name: "pod not found",
			prepare: func(p *testPod) {},
			code:    codeKubeAPI, want: []string{"404 NotFound", "not found"}},
		{name: "forbidden",
			prepare: func(p *testPod) {
				w.api.setPod(p.Namespace, p.Name, p.UID, true, mustFormat(t, p.Branch))
				w.api.setAnswer(p.Namespace, p.Name, 403)
			},
			code: codeKubeAPI, want: []string{"403 Forbidden", "cannot get resource \"pods\""}},
		{name: "wrong credentials",
			prepare: func(p *testPod) { w.api.setPod(p.Namespace, p.Name, p.UID, true, mustFormat(t, p.Branch)) },
			conf:    map[string]any{"kubeconfig": wrongToken},
			code:    codeKubeAPI, want: []string{"401 Unauthorized"}},
		{name: "untrusted server certificate",
			prepare: func(p *testPod) { w.api.setPod(p.Namespace, p.Name, p.UID, true, mustFormat(t, p.Branch)) },
			conf:    map[string]any{"kubeconfig": wrongName},
			code:    codeKubeAPI, want: []string{"certificate", "api.example.org"}},
		{name: "missing kubeconfig",
			prepare: func(p *testPod) {},
			conf:    map[string]any{"kubeconfig": "/nonexistent/kubeconfig"},
			code:    types.ErrInvalidNetworkConfig, want: []string{"read the kubeconfig", "/nonexistent/kubeconfig"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := w.unannotatedPod(fmt.Sprintf("bad-%d", i), 10+i, netip.AddrFrom4([4]byte{10, 0, 2, byte(10 + i)}))
			tt.prepare(p)
			nn := *n
			nn.conf = map[string]any{}
			for k, v := range n.conf {
				nn.conf[k] = v
			}
			for k, v := range tt.conf {
				nn.conf[k] = v
			}
			start := time.Now()
			_, err := nn.add(p)
			took := time.Since(start)
			ce := cniError(t, err)
			require.Equal(t, tt.code, ce.Code, "%s", ce)
			for _, s := range tt.want {
				require.Contains(t, ce.Msg, s)
			}
			require.GreaterOrEqual(t, took, tt.minWait)
			require.Equal(t, warm, snapshot(t, n.NetNS), "a failed ADD leaves nothing behind")
			requireNoRecords(t, n)
		})
	}

	t.Run("setup fails", func(t *testing.T) {
		// The pod's namespace already has an eth0 that is not the
		// plugin's: wiring fails half-way and is rolled back.
		p := w.pod("taken", 31, netip.MustParseAddr("10.0.2.31"))
		require.NoError(t, p.NS.NL.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "eth0"}, PeerName: "eth0-peer"}))
		ce := cniError(t, func() error { _, err := n.add(p); return err }())
		require.Equal(t, codeSetup, ce.Code, "%s", ce)
		require.Contains(t, ce.Msg, "already has a link eth0")
		require.Equal(t, "what this call added was removed again", ce.Details)
		require.Equal(t, warm, snapshot(t, n.NetNS), "the VLAN link made before the failure is gone")
		require.Equal(t, vpcBefore, snapshot(t, w.vpc.NetNS))
		requireNoRecords(t, n)
	})

	t.Run("no pod in CNI_ARGS", func(t *testing.T) {
		p := w.pod("anonymous", 30, netip.MustParseAddr("10.0.2.30"))
		p.rt.Args = [][2]string{{"IgnoreUnknown", "1"}}
		ce := cniError(t, func() error { _, err := n.add(p); return err }())
		require.Equal(t, types.ErrInvalidEnvironmentVariables, ce.Code)
		require.Contains(t, ce.Msg, "K8S_POD_NAMESPACE and K8S_POD_NAME")
	})
}

// TestAddWaitsForAnnotation: ADD of a pod that requests a branch ENI waits,
// with back-off, until the controller writes the annotation.
func TestAddWaitsForAnnotation(t *testing.T) {
	w := newWorld(t)
	n := w.node("strict", map[string]any{"annotationTimeout": "10s"})
	p := w.unannotatedPod("late", 3, ipA)
	w.api.setPod(p.Namespace, p.Name, p.UID, true, "")
	before := w.api.gets.Load()
	annotation := mustFormat(t, p.Branch)
	go func() {
		time.Sleep(400 * time.Millisecond)
		w.api.annotate(p.Namespace, p.Name, annotation)
	}()
	start := time.Now()
	res, err := n.add(p)
	require.NoError(t, err)
	took := time.Since(start)
	require.GreaterOrEqual(t, took, 400*time.Millisecond)
	require.Less(t, took, 3*time.Second, "ADD returns soon after the annotation appears")
	gets := w.api.gets.Load() - before
	require.GreaterOrEqual(t, gets, int64(3), "ADD asked again while waiting")
	require.LessOrEqual(t, gets, int64(12), "ADD backs off instead of hammering the API server")
	require.Equal(t, "10.0.1.3/32", res.IPs[0].Address.String())
	require.NoError(t, n.del(p))
}

// TestNotFirstPlugin: the plugin creates the pod's interface, so it refuses
// to run after another plugin.
func TestNotFirstPlugin(t *testing.T) {
	w := newWorld(t)
	n := w.node("strict", nil)
	p := w.pod("web", 3, ipA)
	second := map[string]any{}
	for k, v := range n.conf {
		second[k] = v
	}
	list := confList(t, n.conf, second)
	_, err := n.cni.AddNetworkList(t.Context(), list, p.rt)
	ce := cniError(t, err)
	require.Equal(t, types.ErrInvalidNetworkConfig, ce.Code)
	require.Contains(t, ce.Msg, "must be the first plugin")
	require.NoError(t, n.cni.DelNetworkList(t.Context(), list, p.rt))
	requireNoRecords(t, n)
}

// TestReAddBeforeDel: a pod set up again under the same name (a new
// sandbox) before the runtime deletes the old one; the old sandbox's DEL
// must not cut the new one off.
func TestReAddBeforeDel(t *testing.T) {
	w := newWorld(t)
	n := w.node("strict", nil)
	warm := n.warm(t)
	old := w.pod("web", 3, ipA)
	_, err := n.add(old)
	require.NoError(t, err)

	// The pod is re-created: same name, new UID, new branch ENI.
	cur := w.unannotatedPod("web", 5, ipB)
	w.api.setPod(cur.Namespace, cur.Name, cur.UID, true, mustFormat(t, cur.Branch))
	_, err = n.add(cur)
	require.NoError(t, err)
	require.NoError(t, n.del(old))

	require.NoError(t, n.check(cur), "the new sandbox is intact after the old one's DEL")
	hits := cnitest.Serve(t, w.vpc.NetNS, w.vpc.ServerIP, probePort)
	h, err := cnitest.Connect(cur.NS, w.vpc.ServerIP, probePort, hits)
	require.NoError(t, err)
	require.Equal(t, ipB, h.Remote)
	_, err = n.NL.LinkByName("vlan.eth.3")
	require.Error(t, err, "the old branch's VLAN link is gone")

	require.NoError(t, n.del(cur))
	require.Equal(t, warm, snapshot(t, n.NetNS))
	requireNoRecords(t, n)
}

// TestGC: GC tears down the attachments the runtime does not list.
func TestGC(t *testing.T) {
	w := newWorld(t)
	n := w.node("standard", nil)
	warm := n.warm(t)
	pods := []*testPod{w.pod("keep", 3, ipA), w.pod("lost-1", 4, ipB), w.pod("lost-2", 5, netip.MustParseAddr("10.0.1.5"))}
	for _, p := range pods {
		_, err := n.add(p)
		require.NoError(t, err)
	}
	// A runtime whose cache knows nothing, so that libcni itself deletes
	// nothing: what is collected is the plugin's doing.
	fresh := n.Node.CNI(binDir, t.TempDir())
	err := fresh.GCNetworkList(t.Context(), n.list(), &libcni.GCArgs{ValidAttachments: []types.GCAttachment{{ContainerID: pods[0].rt.ContainerID, IfName: "eth0"}}})
	require.NoError(t, err)

	for _, p := range pods[1:] {
		_, err := n.NL.LinkByName(enforce.VLANLinkName(p.Branch.VLANID))
		require.Error(t, err, "%s's VLAN link is collected", p.Name)
		_, err = n.NL.LinkByName(enforce.HostVethName("eni", p.Namespace, p.Name))
		require.Error(t, err, "%s's veth is collected", p.Name)
	}
	require.NoError(t, n.check(pods[0]), "the listed attachment is untouched")
	hits := cnitest.Serve(t, w.vpc.NetNS, w.vpc.ServerIP, probePort)
	_, err = cnitest.Connect(pods[0].NS, w.vpc.ServerIP, probePort, hits)
	require.NoError(t, err)

	require.NoError(t, n.del(pods[0]))
	for _, p := range pods[1:] {
		require.NoError(t, n.del(p), "DEL after GC finds nothing and succeeds")
	}
	require.Equal(t, warm, snapshot(t, n.NetNS))
	requireNoRecords(t, n)
}

// TestStatus: STATUS says whether the node can wire pods.
func TestStatus(t *testing.T) {
	w := newWorld(t)
	n := w.node("strict", nil)
	require.NoError(t, n.cni.GetStatusNetworkList(t.Context(), n.list()))

	bad := *n
	bad.conf = map[string]any{}
	for k, v := range n.conf {
		bad.conf[k] = v
	}
	bad.conf["trunkLink"] = "eth9"
	ce := cniError(t, bad.cni.GetStatusNetworkList(t.Context(), bad.list()))
	require.Equal(t, types.ErrPluginNotAvailable, ce.Code)
	require.Contains(t, ce.Msg, "trunk link eth9")
}

// TestConcurrentAddDel runs 50 ADDs at once on one node, then 50 DELs at
// once with 50 more ADDs, then the last 50 DELs: every pod that is up
// reaches the VPC through its own branch, and the node ends as it began.
func TestConcurrentAddDel(t *testing.T) {
	w := newWorld(t)
	n := w.node("strict", nil)
	warm := n.warm(t)
	var pods []*testPod
	for i := range 100 {
		pods = append(pods, w.pod(fmt.Sprintf("pod-%d", i), i+1, netip.AddrFrom4([4]byte{10, 0, 3, byte(i + 1)})))
	}
	run := func(ops ...func() error) []error {
		errs := make([]error, len(ops))
		var wg sync.WaitGroup
		for i, op := range ops {
			wg.Go(func() { errs[i] = op() })
		}
		wg.Wait()
		return errs
	}
	addOp := func(p *testPod) func() error { return func() error { _, err := n.add(p); return err } }
	delOp := func(p *testPod) func() error { return func() error { return n.del(p) } }
	reach := func(ps []*testPod, port int) {
		t.Helper()
		hits := cnitest.Serve(t, w.vpc.NetNS, w.vpc.ServerIP, port)
		for _, p := range ps {
			h, err := cnitest.Connect(p.NS, w.vpc.ServerIP, port, hits)
			require.NoError(t, err, p.Name)
			require.Equal(t, p.Branch.PrivateIP, h.Remote, p.Name)
		}
	}

	var ops []func() error
	for _, p := range pods[:50] {
		ops = append(ops, addOp(p))
	}
	for i, err := range run(ops...) {
		require.NoError(t, err, "ADD %s", pods[i].Name)
	}
	reach(pods[:50], probePort)

	ops = nil
	for i := range 50 {
		ops = append(ops, delOp(pods[i]), addOp(pods[50+i]))
	}
	for i, err := range run(ops...) {
		require.NoError(t, err, "op %d", i)
	}
	reach(pods[50:], probePort+1)
	for _, p := range pods[:50] {
		_, err := n.NL.LinkByName(enforce.VLANLinkName(p.Branch.VLANID))
		require.Error(t, err, "%s is torn down", p.Name)
	}
	for _, p := range pods[50:] {
		require.NoError(t, n.check(p))
	}

	ops = nil
	for _, p := range pods[50:] {
		ops = append(ops, delOp(p))
	}
	for i, err := range run(ops...) {
		require.NoError(t, err, "DEL %s", pods[50+i].Name)
	}
	require.Equal(t, warm, snapshot(t, n.NetNS), "the node ends as it began")
	requireNoRecords(t, n)
	log, err := os.ReadFile(n.conf["logFile"].(string))
	require.NoError(t, err)
	require.Equal(t, 1, strings.Count(string(log), `msg="node plan applied"`), "the node plan is applied by the first ADD only")
}

// TestVersion: the plugin reports the CNI versions it speaks.
func TestVersion(t *testing.T) {
	c := libcni.NewCNIConfig([]string{binDir}, nil)
	info, err := c.GetVersionInfo(t.Context(), cnitest.PluginType)
	require.NoError(t, err)
	require.Equal(t, []string{"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}, info.SupportedVersions())
}

// TestConfigErrors runs the built plugin with bad network configurations:
// each is a CNI error naming the key. No root needed: the plugin stops
// before touching the network.
func TestConfigErrors(t *testing.T) {
	base := func() map[string]any {
		return map[string]any{"type": cnitest.PluginType, "trunkLink": "eth1", "vpcCIDRs": []string{"10.0.0.0/16"}, "stateDir": t.TempDir(), "kubeconfig": "/nonexistent"}
	}
	tests := []struct {
		name string
		set  map[string]any
		want string
	}{
		{"unknown key", map[string]any{"podSGEnforcingMode": "strict"}, `unknown key "podSGEnforcingMode"`},
		{"bad mode", map[string]any{"mode": "loose"}, `mode = "loose": want "strict" (the default) or "standard"`},
		{"no trunk", map[string]any{"trunkLink": nil}, `trunkLink = "": required`},
		{"bad CIDR", map[string]any{"vpcCIDRs": []string{"10.0.0.0/33"}}, `vpcCIDRs[0] = "10.0.0.0/33"`},
		{"host bits", map[string]any{"vpcCIDRs": []string{"10.0.0.1/16"}}, "did you mean 10.0.0.0/16?"},
		{"long veth prefix", map[string]any{"vethPrefix": "podsg"}, `vethPrefix = "podsg"`},
		{"bad timeout", map[string]any{"annotationTimeout": "soon"}, `annotationTimeout = "soon"`},
		{"relative state dir", map[string]any{"stateDir": "state"}, `stateDir = "state": want an absolute path`},
		{"ipam", map[string]any{"ipam": map[string]any{"type": "host-local"}}, "remove the ipam section"},
		{"mtu type", map[string]any{"mtu": "9001"}, "mtu: a JSON string cannot be a number"},
		{"mtu range", map[string]any{"mtu": 100}, "mtu = 100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf := base()
			for k, v := range tt.set {
				if v == nil {
					delete(conf, k)
				} else {
					conf[k] = v
				}
			}
			c := libcni.NewCNIConfigWithCacheDir([]string{binDir}, t.TempDir(), nil)
			rt := &libcni.RuntimeConf{ContainerID: "c1", NetNS: "/proc/self/ns/net", IfName: "eth0", Args: [][2]string{{"K8S_POD_NAMESPACE", "default"}, {"K8S_POD_NAME", "web"}}}
			_, err := c.AddNetworkList(t.Context(), confList(t, conf), rt)
			ce := cniError(t, err)
			require.Equal(t, types.ErrInvalidNetworkConfig, ce.Code, "%s", ce)
			require.Contains(t, ce.Msg, tt.want)
		})
	}
}

// TestParseConfig checks defaults and that every problem is reported.
func TestParseConfig(t *testing.T) {
	c, err := parseConfig([]byte(`{"cniVersion":"1.1.0","name":"podsg","type":"podsg-cni","trunkLink":"eth1","vpcCIDRs":["10.0.0.0/16"]}`))
	require.NoError(t, err)
	require.Equal(t, enforce.Strict, c.opts.Mode)
	require.Equal(t, "eth0", c.opts.PrimaryInterface)
	require.Equal(t, defaultStateDir, c.stateDir)
	require.Equal(t, defaultKubeconfig, c.kubeconfig)
	require.Equal(t, defaultAnnotationTimeout, c.annotationTimeout)
	require.False(t, c.primaryIPSet)
	require.False(t, c.opts.DisableNodePortSupport)
	require.False(t, c.opts.DisableTCPEarlyDemux)

	c, err = parseConfig([]byte(`{"cniVersion":"1.1.0","name":"podsg","type":"podsg-cni","mode":"standard","trunkLink":"eth1","externalSNAT":true,"disableNodePortSupport":true,"disableTCPEarlyDemux":true,"vethPrefix":"pod","mtu":1500}`))
	require.NoError(t, err)
	require.Equal(t, enforce.Options{Mode: enforce.Standard, TrunkLink: "eth1", PrimaryInterface: "eth0", ExternalSNAT: true,
		DisableNodePortSupport: true, DisableTCPEarlyDemux: true, VethPrefix: "pod", MTU: 1500}, c.opts)

	_, err = parseConfig([]byte(`{"cniVersion":"1.1.0","name":"podsg","type":"podsg-cni","mode":"x","vpcCIDRs":["nope"],"logLevel":"loud","vlanStandIn":{"peerNetNS":"vpc"}}`))
	var ce *types.Error
	require.ErrorAs(t, err, &ce)
	require.Equal(t, types.ErrInvalidNetworkConfig, ce.Code)
	require.Contains(t, ce.Msg, "and 4 more problems")
	for _, s := range []string{`mode = "x"`, `vpcCIDRs[0] = "nope"`, `trunkLink = ""`, `logLevel = "loud"`, `vlanStandIn.peerNetNS = "vpc"`} {
		require.Contains(t, ce.Details, s)
	}
}

// TestSpare: tearing down a stale attachment leaves alone what a live one
// uses.
func TestSpare(t *testing.T) {
	b, err := enforce.NewBuilder(enforce.Options{TrunkLink: "eth1", PrimaryInterface: "eth0", ExternalSNAT: true})
	require.NoError(t, err)
	stale := enforce.Pod{Namespace: "default", Name: "web", Branch: podeni.BranchENI{VLANID: 3, PrivateIP: ipA}}
	live := &attachment{Namespace: "default", Name: "web", HostVeth: enforce.HostVethName("vlan", "default", "web"),
		Branch: podeni.BranchENI{VLANID: 5, PrivateIP: ipB}}
	td, err := b.Teardown(stale)
	require.NoError(t, err)
	spare(&td, []*attachment{live})
	var links []string
	for _, l := range td.Purge.Links {
		links = append(links, l.Name)
	}
	require.Equal(t, []string{"vlan.eth.3", enforce.HostVethName("eni", "default", "web")}, links, "the live pod's veth is spared")
	for _, r := range td.Purge.Rules {
		require.NotEqual(t, live.HostVeth, r.IIF)
	}
	require.Len(t, td.Purge.Rules, 4, "rules of table 103, of the other veth, and of the stale IP stay")
}

// TestShippedConfig: the example configuration parses, and the README
// shows it as it is.
func TestShippedConfig(t *testing.T) {
	data, err := os.ReadFile("10-podsg.conflist")
	require.NoError(t, err)
	list, err := libcni.NetworkConfFromBytes(data)
	require.NoError(t, err)
	require.Len(t, list.Plugins, 1)
	c, err := parseConfig(list.Plugins[0].Bytes)
	require.NoError(t, err)
	require.Equal(t, enforce.Strict, c.opts.Mode)
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	require.Contains(t, string(readme), "```json\n"+string(data)+"```", "README.md shows cmd/podsg-cni/10-podsg.conflist")
}

// TestBinarySize keeps the plugin small: every node carries it, and a
// Kubernetes client library would triple it.
func TestBinarySize(t *testing.T) {
	st, err := os.Stat(filepath.Join(binDir, cnitest.PluginType))
	require.NoError(t, err)
	t.Logf("podsg-cni is %.1f MB", float64(st.Size())/(1<<20))
	require.Less(t, st.Size(), int64(16<<20), "the plugin binary")
}

// TestRealVLANPath runs ADD without the stand-in: the plugin asks the
// kernel for an 802.1Q link on the trunk. A kernel with 8021q gets the link
// (VLAN ID, parent, MAC), CHECK passes and DEL removes it; a kernel without
// it (as on many test machines) fails the ADD with an error that says so,
// rolled back.
func TestRealVLANPath(t *testing.T) {
	w := newWorld(t)
	n := w.node("strict", nil)
	warm := n.warm(t)
	delete(n.conf, "vlanStandIn")
	p := w.pod("web", 3, ipA)
	_, err := n.add(p)
	if err != nil {
		t.Log("this kernel has no 802.1Q links; checking the failure")
		ce := cniError(t, err)
		require.Equal(t, codeSetup, ce.Code, "%s", ce)
		require.Contains(t, ce.Msg, "create vlan.eth.3")
		require.Contains(t, ce.Msg, "8021q")
		require.Contains(t, ce.Details, "modprobe 8021q")
		require.Equal(t, warm, snapshot(t, n.NetNS))
		requireNoRecords(t, n)
		return
	}
	t.Log("this kernel has 802.1Q links; checking the link")
	l, err := n.NL.LinkByName("vlan.eth.3")
	require.NoError(t, err)
	vl, ok := l.(*netlink.Vlan)
	require.True(t, ok, "vlan.eth.3 is a %s link", l.Type())
	trunk, err := n.NL.LinkByName("eth1")
	require.NoError(t, err)
	require.Equal(t, 3, vl.VlanId)
	require.Equal(t, trunk.Attrs().Index, vl.Attrs().ParentIndex)
	require.Equal(t, p.Branch.MAC.String(), vl.Attrs().HardwareAddr.String())
	require.NoError(t, n.check(p))
	require.NoError(t, n.del(p))
	require.Equal(t, warm, snapshot(t, n.NetNS))
}
