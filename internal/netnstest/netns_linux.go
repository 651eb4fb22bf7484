//go:build linux

package netnstest

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

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

// NetNS is a network namespace created by a test, kept alive by an open
// handle until the test ends. Its methods are safe for concurrent use;
// Close comes after every other call.
type NetNS struct {
	// Path names the namespace for CNI_NETNS and for setns(2) in other
	// processes (/proc/<pid>/fd/<fd> of the test process).
	Path string
	// NL is a netlink handle inside the namespace.
	NL *netlink.Handle
	h  netns.NsHandle
}

// NewNetNS creates a network namespace with lo up, closed when the test
// ends.
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

// Handle returns the namespace's handle (valid until Close), for moving a
// link into the namespace (netlink.NsFd(int(ns.Handle()))).
func (ns *NetNS) Handle() netns.NsHandle { return ns.h }

// Close releases the namespace; the kernel deletes it with its links when
// nothing else holds it. NewNetNS arranges for Close at the end of the
// test; calling it again does nothing.
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

// AddAddr adds an address ("10.0.0.10/19", "2600:1f14::10/128") to a link.
// An IPv6 address skips duplicate address detection, so that it is usable
// at once: the test owns the namespace and knows it is unique.
func (ns *NetNS) AddAddr(name, cidr string) error {
	p := netip.MustParsePrefix(cidr)
	l, err := ns.NL.LinkByName(name)
	if err == nil {
		a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
		if p.Addr().Is6() {
			a.Flags = unix.IFA_F_NODAD
		}
		err = ns.NL.AddrAdd(l, a)
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
