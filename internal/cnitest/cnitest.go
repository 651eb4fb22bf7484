//go:build linux

// Package cnitest runs the podsg-cni plugin the way container runtimes run
// CNI plugins (through libcni, executing the built binary), on simulated
// nodes inside the test process: every node, pod and the VPC is a network
// namespace, created without touching the test process's own.
//
// A VPC namespace plays the VPC: nodes' branch links end in it (the plugin's
// vlanStandIn setting replaces each 802.1Q link by a veth whose far end goes
// there, since test kernels may lack the 8021q module), it forwards between
// them, and it holds ServerIP for servers "elsewhere in the VPC". A Node is a
// namespace with a primary interface (eth0, with the node's IP) and a trunk
// link (eth1); its Exec runs the plugin inside it, so the plugin wires the
// node as it would on a real host.
//
// The tests that use it need root (CAP_NET_ADMIN and CAP_SYS_ADMIN);
// RequireRoot skips them otherwise, or fails them when
// PODSG_REQUIRE_ROOT_TESTS=1.
package cnitest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/version"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// RequireRoot skips a test that needs root, or fails it when
// PODSG_REQUIRE_ROOT_TESTS=1.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("PODSG_REQUIRE_ROOT_TESTS") == "1" {
		t.Fatal("this test needs root to create network namespaces, and PODSG_REQUIRE_ROOT_TESTS=1 forbids skipping it")
	}
	t.Skip("needs root to create network namespaces (set PODSG_REQUIRE_ROOT_TESTS=1 to make this a failure)")
}

// PluginPackage is the import path of the plugin command.
const PluginPackage = "github.com/podsg/podsg/cmd/podsg-cni"

// modulePath is the module that provides the plugin.
const modulePath = "github.com/podsg/podsg"

// PluginType is the plugin's "type" in network configurations: the name
// of its binary.
const PluginType = "podsg-cni"

// BuildPlugin builds the plugin into dir (as dir/podsg-cni) with the go
// command that runs the tests, as `go build ./cmd/podsg-cni` builds it in
// the podsg module: with that module's go.mod, so with the dependency
// versions the plugin ships with. The module is found from the current
// directory: the module itself, or a nested module of this repository that
// replaces it with its directory (examples/controller). It is built
// without the race detector: a race-enabled binary takes about a second to
// start on a 2-core machine, which would swamp what the tests measure of
// each ADD and DEL. Call it once, from TestMain or a test.
func BuildPlugin(dir string) error {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("building the plugin needs the go command on PATH: %w", err)
	}
	out, err := exec.Command(gobin, "list", "-m", "-f", "{{.Dir}}", modulePath).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			out = ee.Stderr
		}
		return fmt.Errorf("building the plugin: go list -m %s (the module's directory): %w\n%s", modulePath, err, out)
	}
	root := strings.TrimSpace(string(out))
	if root == "" {
		return fmt.Errorf("building the plugin: module %s has no directory here (go list -m gave none)", modulePath)
	}
	bin, err := filepath.Abs(filepath.Join(dir, PluginType))
	if err != nil {
		return err
	}
	build := exec.Command(gobin, "build", "-C", root, "-o", bin, "./cmd/"+PluginType)
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s (in %s): %w\n%s", PluginPackage, root, err, out)
	}
	return nil
}

// NetNS is a network namespace created by a test, kept alive by an open
// handle until the test ends.
type NetNS struct {
	// Path names the namespace for CNI_NETNS and for setns(2) in other
	// processes (/proc/<pid>/fd/<fd> of the test process).
	Path string
	// NL is a netlink handle inside the namespace.
	NL *netlink.Handle
	h  netns.NsHandle
}

// NewNetNS creates a network namespace with lo up.
func NewNetNS(t testing.TB) *NetNS {
	t.Helper()
	type res struct {
		h   netns.NsHandle
		err error
	}
	ch := make(chan res, 1)
	go func() {
		// The thread is switched into the new namespace and never
		// unlocked: it is discarded when this goroutine ends.
		runtime.LockOSThread()
		h, err := netns.New()
		ch <- res{h, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatalf("create a network namespace: %v", r.err)
	}
	ns := &NetNS{h: r.h, Path: fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), int(r.h))}
	var err error
	if ns.NL, err = netlink.NewHandleAt(r.h); err != nil {
		r.h.Close()
		t.Fatalf("netlink in a new namespace: %v", err)
	}
	t.Cleanup(ns.Close)
	if err := ns.Up("lo"); err != nil {
		t.Fatal(err)
	}
	return ns
}

// Handle returns the namespace's handle (valid until Close).
func (ns *NetNS) Handle() netns.NsHandle { return ns.h }

// Close releases the namespace; the kernel deletes it with its links when
// nothing else holds it.
func (ns *NetNS) Close() {
	if ns.NL != nil {
		ns.NL.Close()
		ns.NL = nil
	}
	if ns.h.IsOpen() {
		ns.h.Close()
	}
}

// Do runs fn on an OS thread switched into the namespace. Processes that fn
// starts run in the namespace too. If switching back fails, the thread is
// discarded rather than returned to the scheduler.
func (ns *NetNS) Do(fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			done <- err
			return
		}
		defer orig.Close()
		if err := netns.Set(ns.h); err != nil {
			done <- err
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err == nil {
			runtime.UnlockOSThread()
		}
		done <- ferr
	}()
	return <-done
}

// Up brings a link up.
func (ns *NetNS) Up(name string) error {
	l, err := ns.NL.LinkByName(name)
	if err == nil {
		err = ns.NL.LinkSetUp(l)
	}
	if err != nil {
		return fmt.Errorf("bring up %s: %w", name, err)
	}
	return nil
}

// AddAddr adds an address ("10.0.0.10/19") to a link.
func (ns *NetNS) AddAddr(name, cidr string) error {
	p := netip.MustParsePrefix(cidr)
	l, err := ns.NL.LinkByName(name)
	if err == nil {
		err = ns.NL.AddrAdd(l, &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}})
	}
	if err != nil {
		return fmt.Errorf("address %s on %s: %w", cidr, name, err)
	}
	return nil
}

// Sysctl sets a kernel parameter ("net.ipv4.ip_forward") in the namespace.
func (ns *NetNS) Sysctl(key, value string) error {
	return ns.Do(func() error {
		return os.WriteFile("/proc/sys/"+strings.ReplaceAll(key, ".", "/"), []byte(value), 0o644)
	})
}

// Counters returns a link's received and sent packets.
func (ns *NetNS) Counters(name string) (rx, tx uint64, err error) {
	l, err := ns.NL.LinkByName(name)
	if err != nil {
		return 0, 0, err
	}
	s := l.Attrs().Statistics
	return s.RxPackets, s.TxPackets, nil
}

// Snapshot describes the namespace's network state for before/after
// comparisons: links (name, kind, MAC, MTU, state), IPv4 addresses, routes
// of every table, rules and permanent neighbours, sorted.
func (ns *NetNS) Snapshot() (string, error) { return ns.SnapshotFamily(netlink.FAMILY_V4) }

// SnapshotFamily is Snapshot with the addresses, routes, rules and
// neighbours of one netlink family (netlink.FAMILY_V4 or FAMILY_V6).
func (ns *NetNS) SnapshotFamily(family int) (string, error) {
	var lines []string
	links, err := ns.NL.LinkList()
	if err != nil {
		return "", err
	}
	names := map[int]string{}
	for _, l := range links {
		a := l.Attrs()
		names[a.Index] = a.Name
		lines = append(lines, fmt.Sprintf("link %s %s %s mtu %d up=%v", a.Name, l.Type(), a.HardwareAddr, a.MTU, a.Flags&net.FlagUp != 0))
	}
	addrs, err := ns.NL.AddrList(nil, family)
	if err != nil {
		return "", err
	}
	for _, a := range addrs {
		lines = append(lines, fmt.Sprintf("addr %s %s", names[a.LinkIndex], a.IPNet))
	}
	routes, err := ns.NL.RouteListFiltered(family, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return "", err
	}
	for _, r := range routes {
		lines = append(lines, fmt.Sprintf("route table %d type %d dst %v gw %v dev %s scope %d", r.Table, r.Type, r.Dst, r.Gw, names[r.LinkIndex], r.Scope))
	}
	rules, err := ns.NL.RuleList(family)
	if err != nil {
		return "", err
	}
	for _, r := range rules {
		lines = append(lines, fmt.Sprintf("rule %d iif %q %s mark %#x", r.Priority, r.IifName, r, r.Mark))
	}
	neigh, err := ns.NL.NeighList(0, family)
	if err != nil {
		return "", err
	}
	for _, n := range neigh {
		if n.State&netlink.NUD_PERMANENT != 0 {
			lines = append(lines, fmt.Sprintf("neigh %s %s %s", names[n.LinkIndex], n.IP, n.HardwareAddr))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n"), nil
}

// APIServerIP is where the VPC namespace serves the cluster's API server
// to the nodes (VPC.Listen, VPC.Forward), outside every VPC CIDR.
var APIServerIP = netip.MustParseAddr("198.18.0.10")

// VPC is the namespace that plays the VPC.
type VPC struct {
	*NetNS
	// CIDR is the VPC's IPv4 CIDR.
	CIDR netip.Prefix
	// ServerIP is an address in the VPC (near the top of CIDR, away from
	// the subnets nodes and pods use) held by the VPC namespace, for
	// servers "elsewhere in the VPC".
	ServerIP netip.Addr
}

// NewVPC creates the VPC namespace for an IPv4 CIDR (a /16 or smaller
// prefix length): forwarding on, ServerIP and APIServerIP on a link of its
// own.
func NewVPC(t testing.TB, cidr netip.Prefix) *VPC {
	t.Helper()
	base := cidr.Masked().Addr().As4()
	v := &VPC{NetNS: NewNetNS(t), CIDR: cidr.Masked(), ServerIP: netip.AddrFrom4([4]byte{base[0], base[1], 255, 50})}
	if !v.CIDR.Contains(v.ServerIP) {
		t.Fatalf("cnitest.NewVPC: want an IPv4 CIDR of prefix length 16 or less, got %s", cidr)
	}
	must(t, v.NL.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "world"}, PeerName: "world-peer"}))
	must(t, v.AddAddr("world", v.ServerIP.String()+"/32"))
	must(t, v.AddAddr("world", APIServerIP.String()+"/32"))
	must(t, v.Up("world"))
	must(t, v.Up("world-peer"))
	must(t, v.Sysctl("net.ipv4.ip_forward", "1"))
	return v
}

// Listen opens a TCP listener on APIServerIP:port in the VPC namespace
// (port 0 picks a free one), closed when the test ends: nodes reach it
// through their primary interface, as they reach a cluster's API endpoint.
func (v *VPC) Listen(t testing.TB, port int) net.Listener {
	t.Helper()
	var ln net.Listener
	must(t, v.Do(func() error {
		var err error
		ln, err = net.Listen("tcp4", netip.AddrPortFrom(APIServerIP, uint16(port)).String())
		return err
	}))
	t.Cleanup(func() { _ = ln.Close() })
	return ln
}

// Forward relays TCP connections to APIServerIP:port in the VPC namespace
// to target ("127.0.0.1:6443") in the test process's namespace, for an
// API server that listens on the host's loopback. It returns the address
// nodes connect to.
func (v *VPC) Forward(t testing.TB, port int, target string) netip.AddrPort {
	t.Helper()
	ln := v.Listen(t, port)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer func() { _ = c.Close() }()
				u, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer func() { _ = u.Close() }()
				done := make(chan struct{}, 2)
				go func() { _, _ = io.Copy(u, c); _ = u.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
				go func() { _, _ = io.Copy(c, u); _ = c.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
				<-done
				<-done
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).AddrPort()
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Node is a simulated node: its namespace, its primary IP on eth0 and its
// trunk link eth1.
type Node struct {
	*NetNS
	Name string
	// IP is the node's primary IP, with its subnet's prefix length.
	IP netip.Prefix
	// PeerPrefix names the VPC ends of this node's branch links
	// (PeerPrefix + VLAN ID), unique among the VPC's nodes.
	PeerPrefix string
	// StateDir is the plugin's state directory on this node.
	StateDir string
	vpc      *VPC
}

var nodeSeq struct {
	sync.Mutex
	n int
}

// NewNode creates a node attached to the VPC with the given primary IP and
// subnet ("192.168.40.12/19"); its default gateway is the subnet's first
// address + 1, as in a VPC. The node's eth0 is a veth into the VPC
// namespace; eth1, the trunk, is one end of a veth pair inside the node
// (the plugin's stand-in creates the branch links, so nothing is sent on
// it).
func (v *VPC) NewNode(t testing.TB, name string, ip netip.Prefix) *Node {
	t.Helper()
	nodeSeq.Lock()
	nodeSeq.n++
	seq := nodeSeq.n
	nodeSeq.Unlock()
	n := &Node{NetNS: NewNetNS(t), Name: name, IP: ip, PeerPrefix: fmt.Sprintf("n%dv", seq), StateDir: t.TempDir(), vpc: v}
	vpcEnd := fmt.Sprintf("n%de0", seq)
	must(t, n.NL.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "eth0"}, PeerName: vpcEnd, PeerNamespace: netlink.NsFd(int(v.h))}))
	must(t, n.NL.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "eth1"}, PeerName: "eth1-peer"}))
	if !v.CIDR.Contains(ip.Addr()) {
		t.Fatalf("cnitest: node IP %s is outside the VPC %s", ip, v.CIDR)
	}
	gw := ip.Masked().Addr().Next()
	must(t, n.AddAddr("eth0", ip.String()))
	for _, l := range []string{"eth0", "eth1", "eth1-peer"} {
		must(t, n.Up(l))
	}
	eth0, err := n.NL.LinkByName("eth0")
	must(t, err)
	must(t, n.NL.RouteAdd(&netlink.Route{LinkIndex: eth0.Attrs().Index, Gw: gw.AsSlice()}))
	must(t, v.AddAddr(vpcEnd, gw.String()+"/32"))
	must(t, v.Up(vpcEnd))
	end, err := v.NL.LinkByName(vpcEnd)
	must(t, err)
	must(t, v.NL.RouteAdd(&netlink.Route{LinkIndex: end.Attrs().Index, Dst: &net.IPNet{IP: ip.Addr().AsSlice(), Mask: net.CIDRMask(32, 32)}, Scope: netlink.SCOPE_LINK}))
	must(t, n.WaitOperUp("eth0"))
	must(t, v.WaitOperUp(vpcEnd))
	return n
}

// WaitOperUp waits until a link that was just brought up is operational.
// Until then the kernel drops what is sent on it (its queue is not
// attached yet), which costs a first TCP connection a one-second SYN
// retransmission.
func (ns *NetNS) WaitOperUp(name string) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		l, err := ns.NL.LinkByName(name)
		if err != nil {
			return err
		}
		if l.Attrs().OperState == netlink.OperUp {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("link %s is not operational after 5s (state %s)", name, l.Attrs().OperState)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// PluginConf returns the plugin's settings for this node, to be completed
// by the caller (kubeconfig, mode, timeouts): the trunk and primary
// interface, the VPC's CIDR, the state directory and the VLAN stand-in
// into the VPC namespace. The primary IP is left for the plugin to find on
// eth0.
func (n *Node) PluginConf() map[string]any {
	return map[string]any{
		"type":             PluginType,
		"trunkLink":        "eth1",
		"primaryInterface": "eth0",
		"vpcCIDRs":         []string{n.vpc.CIDR.String()},
		"stateDir":         n.StateDir,
		"vlanStandIn":      map[string]any{"peerNetNS": n.vpc.Path, "peerPrefix": n.PeerPrefix},
	}
}

// BranchPeer returns the name of the VPC end of this node's branch link
// for a VLAN.
func (n *Node) BranchPeer(vlan int) string { return fmt.Sprintf("%s%d", n.PeerPrefix, vlan) }

// CNI returns a libcni runtime for this node: it finds the plugin in
// binDir, caches results in cacheDir and runs the plugin inside the node's
// namespace.
func (n *Node) CNI(binDir, cacheDir string) *libcni.CNIConfig {
	return libcni.NewCNIConfigWithCacheDir([]string{binDir}, cacheDir, &nodeExec{ns: n.NetNS})
}

// nodeExec runs plugins inside a node's namespace: the plugin process is
// forked from a thread switched into it, and inherits it.
type nodeExec struct {
	ns  *NetNS
	raw invoke.RawExec
}

func (e *nodeExec) ExecPlugin(ctx context.Context, pluginPath string, stdinData []byte, environ []string) ([]byte, error) {
	var out []byte
	err := e.ns.Do(func() error {
		var err error
		out, err = e.raw.ExecPlugin(ctx, pluginPath, stdinData, environ)
		return err
	})
	return out, err
}

func (e *nodeExec) FindInPath(plugin string, paths []string) (string, error) {
	return invoke.FindInPath(plugin, paths)
}

func (e *nodeExec) Decode(jsonBytes []byte) (version.PluginInfo, error) {
	return (&version.PluginDecoder{}).Decode(jsonBytes)
}

// Hit is a connection a server accepted: the address it came from.
type Hit struct {
	Remote netip.Addr
}

// Serve listens on addr:port in ns until the test ends and reports every
// connection it accepts; it greets each with "ok\n".
func Serve(t testing.TB, ns *NetNS, addr netip.Addr, port int) <-chan Hit {
	t.Helper()
	hits := make(chan Hit, 256)
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { _ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1) })
	}}
	var ln net.Listener
	must(t, ns.Do(func() error {
		var err error
		ln, err = lc.Listen(t.Context(), "tcp", netip.AddrPortFrom(addr, uint16(port)).String())
		return err
	}))
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			hits <- Hit{Remote: c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap()}
			_, _ = c.Write([]byte("ok\n"))
			_ = c.Close()
		}
	}()
	return hits
}

// Dial connects from ns to addr:port over TCP and reads the greeting.
func Dial(ns *NetNS, addr netip.Addr, port int) error {
	return ns.Do(func() error {
		d := net.Dialer{Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", netip.AddrPortFrom(addr, uint16(port)).String())
		if err != nil {
			return err
		}
		defer func() { _ = c.Close() }()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return err
		}
		if line != "ok\n" {
			return fmt.Errorf("unexpected greeting %q", line)
		}
		return nil
	})
}

// Connect dials addr:port from ns and waits for the server's report of
// the connection.
func Connect(from *NetNS, to netip.Addr, port int, hits <-chan Hit) (Hit, error) {
	if err := Dial(from, to, port); err != nil {
		return Hit{}, fmt.Errorf("connect to %s:%d: %w", to, port, err)
	}
	select {
	case h := <-hits:
		return h, nil
	case <-time.After(5 * time.Second):
		return Hit{}, errors.New("the server did not see the connection")
	}
}
