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
// The namespaces are package netnstest's; the tests that use them need
// root (CAP_NET_ADMIN and CAP_SYS_ADMIN): netnstest.RequireRoot skips them
// otherwise, or fails them when PODSG_REQUIRE_ROOT_TESTS=1.
package cnitest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/version"
	"github.com/podsg/podsg/internal/netnstest"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

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

// APIServerIP is where the VPC namespace serves the cluster's API server
// to the nodes (VPC.Listen, VPC.Forward), outside every VPC CIDR.
var APIServerIP = netip.MustParseAddr("198.18.0.10")

// VPC is the namespace that plays the VPC.
type VPC struct {
	*netnstest.NetNS
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
	v := &VPC{NetNS: netnstest.NewNetNS(t), CIDR: cidr.Masked(), ServerIP: netip.AddrFrom4([4]byte{base[0], base[1], 255, 50})}
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
	*netnstest.NetNS
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
	n := &Node{NetNS: netnstest.NewNetNS(t), Name: name, IP: ip, PeerPrefix: fmt.Sprintf("n%dv", seq), StateDir: t.TempDir(), vpc: v}
	vpcEnd := fmt.Sprintf("n%de0", seq)
	must(t, n.NL.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "eth0"}, PeerName: vpcEnd, PeerNamespace: netlink.NsFd(int(v.Handle()))}))
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
	ns  *netnstest.NetNS
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
func Serve(t testing.TB, ns *netnstest.NetNS, addr netip.Addr, port int) <-chan Hit {
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
func Dial(ns *netnstest.NetNS, addr netip.Addr, port int) error {
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
func Connect(from *netnstest.NetNS, to netip.Addr, port int, hits <-chan Hit) (Hit, error) {
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
