//go:build linux

package kernel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/podsg/podsg/api/podeni"
	"github.com/podsg/podsg/enforce"
	"github.com/podsg/podsg/enforce/internal/apply"
	"github.com/podsg/podsg/internal/nlconv"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// NetlinkOptions configure a Netlink applier. The zero value works on the
// node's own namespace, with real 802.1Q links and no logging.
type NetlinkOptions struct {
	// HostNetNS is the path of the node's network namespace; "" means the
	// namespace of the calling process.
	HostNetNS string
	// VLANStandIn, when set, is called instead of creating an 802.1Q link
	// for kernels without the 8021q module (test machines, simulators). It
	// must leave a link named l.Name in the node namespace (for example one
	// end of a veth pair); the applier then gives it l's MAC and MTU and
	// brings it up. An existing non-VLAN link of that name is adopted as is.
	VLANStandIn func(ctx context.Context, l enforce.VLANLink) error
	// Logger receives one debug record per change; nil logs nothing.
	Logger *slog.Logger
}

// Netlink applies the routing part of plans (links, addresses, neighbours,
// routes, rules and sysctls) to the kernel through netlink; it ignores the
// iptables part (see IPTables and enforce.Join). It is safe for concurrent use;
// plans for the same pod must not be applied concurrently.
type Netlink struct {
	opts NetlinkOptions
	// beforeChange, when set (by tests), runs before every change.
	beforeChange func(enforce.Change) error
}

// NewNetlink returns a Netlink applier. A HostNetNS that is not an absolute
// path to an existing file gives an error matching ErrInvalidOptions.
func NewNetlink(opts NetlinkOptions) (*Netlink, error) {
	if err := checkNetNS("NetlinkOptions.HostNetNS", opts.HostNetNS); err != nil {
		return nil, err
	}
	return &Netlink{opts: opts}, nil
}

// Apply applies the routing part of p. See enforce.Applier for the
// semantics.
func (n *Netlink) Apply(ctx context.Context, p *enforce.Plan) error {
	be := &nlBackend{ctx: ctx, opts: &n.opts, hostPath: n.opts.HostNetNS, podPath: p.PodNetNS, podNS: netns.None()}
	defer be.close()
	var err error
	if be.host, err = handleAt(n.opts.HostNetNS); err != nil {
		return &enforce.StepError{Plan: p.String(), Err: fmt.Errorf("node namespace: %w", err)}
	}
	if p.Kind == enforce.PodSetup {
		if be.podNS, err = netns.GetFromPath(p.PodNetNS); err != nil {
			return &enforce.StepError{Plan: p.String(), Err: fmt.Errorf("open pod network namespace %s: %w", p.PodNetNS, err)}
		}
		if be.pod, err = netlink.NewHandleAt(be.podNS); err != nil {
			return &enforce.StepError{Plan: p.String(), Err: fmt.Errorf("netlink in pod network namespace %s: %w", p.PodNetNS, err)}
		}
	}
	return apply.Net(ctx, be, p, func(c enforce.Change) error {
		if n.opts.Logger != nil {
			n.opts.Logger.LogAttrs(ctx, slog.LevelDebug, "enforce: "+c.String(), slog.String("plan", p.String()))
		}
		if n.beforeChange != nil {
			return n.beforeChange(c)
		}
		return nil
	})
}

func handleAt(path string) (*netlink.Handle, error) {
	if path == "" {
		return netlink.NewHandle()
	}
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	return netlink.NewHandleAt(ns)
}

type nlBackend struct {
	ctx      context.Context
	opts     *NetlinkOptions
	host     *netlink.Handle
	pod      *netlink.Handle
	podNS    netns.NsHandle
	hostPath string
	podPath  string
}

func (b *nlBackend) close() {
	if b.host != nil {
		b.host.Close()
	}
	if b.pod != nil {
		b.pod.Close()
	}
	if b.podNS.IsOpen() {
		b.podNS.Close()
	}
}

func (b *nlBackend) h(ns enforce.Namespace) (*netlink.Handle, error) {
	if ns == enforce.HostNS {
		return b.host, nil
	}
	if b.pod == nil {
		return nil, errors.New("the plan has pod-namespace items but no PodNetNS")
	}
	return b.pod, nil
}

func notFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf)
}

// link returns the named link, or nil when it does not exist.
func (b *nlBackend) link(ns enforce.Namespace, name string) (netlink.Link, error) {
	h, err := b.h(ns)
	if err != nil {
		return nil, err
	}
	l, err := h.LinkByName(name)
	if notFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up link %s: %w", name, err)
	}
	return l, nil
}

func hw(m podeni.MAC) net.HardwareAddr { return net.HardwareAddr(m[:]) }

// fit gives an existing link the MAC (unless zero) and MTU wanted,
// recording how to restore them. It leaves the link's state alone (Net
// brings the plan's links up once their sysctls are set).
func (b *nlBackend) fit(h *netlink.Handle, l netlink.Link, mac podeni.MAC, mtu int, c enforce.Change, step func(enforce.Change) error, u *apply.Undo) error {
	a := l.Attrs()
	macWrong := !mac.IsZero() && a.HardwareAddr.String() != mac.String()
	if macWrong || a.MTU != mtu {
		if err := step(c); err != nil {
			return err
		}
		oldMAC, oldMTU := a.HardwareAddr, a.MTU
		if macWrong {
			if err := h.LinkSetHardwareAddr(l, hw(mac)); err != nil {
				return fmt.Errorf("set MAC of %s: %w", a.Name, err)
			}
			u.Push(func() error { return h.LinkSetHardwareAddr(l, oldMAC) })
		}
		if a.MTU != mtu {
			if err := h.LinkSetMTU(l, mtu); err != nil {
				return fmt.Errorf("set MTU of %s: %w", a.Name, err)
			}
			u.Push(func() error { return h.LinkSetMTU(l, oldMTU) })
		}
	}
	return nil
}

func (b *nlBackend) SetUp(ns enforce.Namespace, name string) error {
	l, err := b.devIndex(ns, name)
	if err != nil {
		return err
	}
	if l.Attrs().Flags&net.FlagUp != 0 {
		return nil
	}
	h, _ := b.h(ns)
	if err := h.LinkSetUp(l); err != nil {
		return fmt.Errorf("bring up %s in the %s namespace: %w", name, ns, err)
	}
	return nil
}

func (b *nlBackend) EnsureVLAN(l enforce.VLANLink, step func(enforce.Change) error, u *apply.Undo) error {
	h := b.host
	trunk, err := b.link(enforce.HostNS, l.Parent)
	if err != nil {
		return err
	}
	if trunk == nil {
		return fmt.Errorf("trunk link %s does not exist in the node namespace; check Options.TrunkLink", l.Parent)
	}
	cur, err := b.link(enforce.HostNS, l.Name)
	if err != nil {
		return err
	}
	if cur != nil {
		vl, isVLAN := cur.(*netlink.Vlan)
		if isVLAN && vl.VlanId == l.VLANID && cur.Attrs().ParentIndex == trunk.Attrs().Index ||
			!isVLAN && b.opts.VLANStandIn != nil {
			return b.fit(h, cur, l.MAC, l.MTU, enforce.Change{Op: enforce.OpSet, Object: l}, step, u)
		}
		if err := step(enforce.Change{Op: enforce.OpDelete, Object: enforce.LinkRef{Name: l.Name}}); err != nil {
			return err
		}
		if err := h.LinkDel(cur); err != nil {
			return fmt.Errorf("delete stale link %s: %w", l.Name, err)
		}
	}
	if err := step(enforce.Change{Op: enforce.OpAdd, Object: l}); err != nil {
		return err
	}
	if b.opts.VLANStandIn != nil {
		if err := b.opts.VLANStandIn(b.ctx, l); err != nil {
			return fmt.Errorf("VLAN stand-in for %s: %w", l.Name, err)
		}
	} else {
		err := h.LinkAdd(&netlink.Vlan{
			LinkAttrs: netlink.LinkAttrs{Name: l.Name, ParentIndex: trunk.Attrs().Index, MTU: l.MTU, HardwareAddr: hw(l.MAC)},
			VlanId:    l.VLANID,
		})
		if errors.Is(err, unix.EOPNOTSUPP) || err != nil && strings.Contains(err.Error(), "not supported") {
			return fmt.Errorf("create %s: %w (the kernel lacks 802.1Q: load the 8021q module, or set NetlinkOptions.VLANStandIn)", l.Name, err)
		}
		if err != nil {
			return fmt.Errorf("create %s: %w", l.Name, err)
		}
	}
	u.Push(func() error { return b.DelLink(enforce.HostNS, l.Name) })
	made, err := b.link(enforce.HostNS, l.Name)
	if err != nil {
		return err
	}
	if made == nil {
		return fmt.Errorf("link %s was not created (by the VLAN stand-in)", l.Name)
	}
	return b.fit(h, made, l.MAC, l.MTU, enforce.Change{Op: enforce.OpSet, Object: l}, func(enforce.Change) error { return nil }, u)
}

func isPeer(a, b netlink.Link) bool {
	_, ok1 := a.(*netlink.Veth)
	_, ok2 := b.(*netlink.Veth)
	return ok1 && ok2 && a.Attrs().ParentIndex == b.Attrs().Index && b.Attrs().ParentIndex == a.Attrs().Index
}

func (b *nlBackend) EnsureVeth(v enforce.VethPair, step func(enforce.Change) error, u *apply.Undo) error {
	if b.pod == nil {
		return errors.New("the plan has a veth but no PodNetNS")
	}
	hostL, err := b.link(enforce.HostNS, v.HostName)
	if err != nil {
		return err
	}
	podL, err := b.link(enforce.PodNS, v.PodName)
	if err != nil {
		return err
	}
	if hostL != nil && podL != nil && isPeer(hostL, podL) {
		if err := b.fit(b.host, hostL, v.HostMAC, v.MTU, enforce.Change{Op: enforce.OpSet, Object: v}, step, u); err != nil {
			return err
		}
		return b.fit(b.pod, podL, podeni.MAC{}, v.MTU, enforce.Change{Op: enforce.OpSet, Object: v}, step, u)
	}
	if hostL != nil {
		if err := step(enforce.Change{Op: enforce.OpDelete, Object: enforce.LinkRef{Name: v.HostName}}); err != nil {
			return err
		}
		if err := b.host.LinkDel(hostL); err != nil {
			return fmt.Errorf("delete stale veth %s: %w", v.HostName, err)
		}
		if podL, err = b.link(enforce.PodNS, v.PodName); err != nil {
			return err
		}
	}
	if podL != nil {
		return fmt.Errorf("the pod network namespace %s already has a link %s that is not the peer of %s; delete it or pick another CNI_IFNAME", b.podPath, v.PodName, v.HostName)
	}
	if err := step(enforce.Change{Op: enforce.OpAdd, Object: v}); err != nil {
		return err
	}
	err = b.host.LinkAdd(&netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: v.HostName, MTU: v.MTU, HardwareAddr: hw(v.HostMAC)},
		PeerName:      v.PodName,
		PeerMTU:       uint32(v.MTU),
		PeerNamespace: netlink.NsFd(int(b.podNS)),
	})
	if err != nil {
		return fmt.Errorf("create veth %s: %w", v.HostName, err)
	}
	u.Push(func() error { return b.DelLink(enforce.HostNS, v.HostName) })
	return nil
}

func (b *nlBackend) LinkExists(ns enforce.Namespace, name string) (bool, error) {
	l, err := b.link(ns, name)
	return l != nil, err
}

func (b *nlBackend) DelLink(ns enforce.Namespace, name string) error {
	l, err := b.link(ns, name)
	if err != nil || l == nil {
		return err
	}
	h, _ := b.h(ns)
	if err := h.LinkDel(l); err != nil && !notFound(err) && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete link %s: %w", name, err)
	}
	return nil
}

func (b *nlBackend) devIndex(ns enforce.Namespace, dev string) (netlink.Link, error) {
	l, err := b.link(ns, dev)
	if err != nil {
		return nil, err
	}
	if l == nil {
		return nil, fmt.Errorf("link %s does not exist in the %s namespace", dev, ns)
	}
	return l, nil
}

func (b *nlBackend) HasAddr(a enforce.Addr) (bool, error) {
	l, err := b.link(a.NS, a.Dev)
	if err != nil || l == nil {
		return false, err
	}
	h, _ := b.h(a.NS)
	addrs, err := h.AddrList(l, nlconv.Family(a.Prefix.Addr()))
	if err != nil {
		return false, fmt.Errorf("list addresses of %s: %w", a.Dev, err)
	}
	for _, x := range addrs {
		if nlconv.Prefix(x.IPNet) == a.Prefix {
			return true, nil
		}
	}
	return false, nil
}

func (b *nlBackend) AddAddr(a enforce.Addr) error {
	l, err := b.devIndex(a.NS, a.Dev)
	if err != nil {
		return err
	}
	h, _ := b.h(a.NS)
	x := &netlink.Addr{IPNet: nlconv.IPNet(a.Prefix)}
	if a.NoDAD {
		x.Flags = unix.IFA_F_NODAD
	}
	return h.AddrAdd(l, x)
}

func (b *nlBackend) DelAddr(a enforce.Addr) error {
	l, err := b.link(a.NS, a.Dev)
	if err != nil || l == nil {
		return err
	}
	h, _ := b.h(a.NS)
	return h.AddrDel(l, &netlink.Addr{IPNet: nlconv.IPNet(a.Prefix)})
}

func (b *nlBackend) LookupNeighbor(n enforce.Neighbor) (enforce.Neighbor, bool, error) {
	l, err := b.link(n.NS, n.Dev)
	if err != nil || l == nil {
		return enforce.Neighbor{}, false, err
	}
	h, _ := b.h(n.NS)
	ns, err := h.NeighList(l.Attrs().Index, nlconv.Family(n.IP))
	if err != nil {
		return enforce.Neighbor{}, false, fmt.Errorf("list neighbours of %s: %w", n.Dev, err)
	}
	for _, x := range ns {
		ip, _ := netip.AddrFromSlice(x.IP)
		if ip.Unmap() != n.IP || x.State&netlink.NUD_PERMANENT == 0 {
			continue
		}
		cur := n
		copy(cur.MAC[:], x.HardwareAddr)
		return cur, true, nil
	}
	return enforce.Neighbor{}, false, nil
}

func (b *nlBackend) neigh(n enforce.Neighbor) (*netlink.Handle, *netlink.Neigh, error) {
	l, err := b.devIndex(n.NS, n.Dev)
	if err != nil {
		return nil, nil, err
	}
	h, _ := b.h(n.NS)
	return h, &netlink.Neigh{LinkIndex: l.Attrs().Index, Family: nlconv.Family(n.IP), State: netlink.NUD_PERMANENT, IP: n.IP.AsSlice(), HardwareAddr: hw(n.MAC)}, nil
}

func (b *nlBackend) SetNeighbor(n enforce.Neighbor) error {
	h, x, err := b.neigh(n)
	if err != nil {
		return err
	}
	return h.NeighSet(x)
}

func (b *nlBackend) DelNeighbor(n enforce.Neighbor) error {
	h, x, err := b.neigh(n)
	if err != nil {
		return err
	}
	return h.NeighDel(x)
}

func (b *nlBackend) Routes(ns enforce.Namespace, table int) ([]enforce.Route, error) {
	h, err := b.h(ns)
	if err != nil {
		return nil, err
	}
	rs, err := h.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: table}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, fmt.Errorf("list routes of table %d: %w", table, err)
	}
	names := map[int]string{}
	out := make([]enforce.Route, 0, len(rs))
	for _, r := range rs {
		if r.Type != unix.RTN_UNICAST {
			continue
		}
		dev, ok := names[r.LinkIndex]
		if !ok {
			if l, err := h.LinkByIndex(r.LinkIndex); err == nil {
				dev = l.Attrs().Name
			}
			names[r.LinkIndex] = dev
		}
		dst := nlconv.Prefix(r.Dst)
		if !dst.IsValid() && r.Family == netlink.FAMILY_V6 {
			dst = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		} else if !dst.IsValid() {
			dst = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		}
		x := enforce.Route{NS: ns, Table: r.Table, Dst: dst, Dev: dev}
		if gw, ok := netip.AddrFromSlice(r.Gw); ok {
			x.Gw = gw.Unmap()
		}
		if r.Scope == netlink.SCOPE_LINK {
			x.Scope = enforce.ScopeLink
		}
		out = append(out, x)
	}
	return out, nil
}

func (b *nlBackend) nlRoute(r enforce.Route) (*netlink.Handle, *netlink.Route, error) {
	l, err := b.devIndex(r.NS, r.Dev)
	if err != nil {
		return nil, nil, err
	}
	h, _ := b.h(r.NS)
	x := &netlink.Route{LinkIndex: l.Attrs().Index, Table: r.Table, Scope: netlink.SCOPE_UNIVERSE, Family: nlconv.Family(r.Dst.Addr())}
	if r.Dst.Bits() > 0 {
		x.Dst = nlconv.IPNet(r.Dst)
	}
	if r.Gw.IsValid() {
		x.Gw = r.Gw.AsSlice()
	}
	if r.Scope == enforce.ScopeLink {
		x.Scope = netlink.SCOPE_LINK
	}
	return h, x, nil
}

func (b *nlBackend) AddRoute(r enforce.Route) error {
	h, x, err := b.nlRoute(r)
	if err != nil {
		return err
	}
	return h.RouteAdd(x)
}

func (b *nlBackend) ReplaceRoute(r enforce.Route) error {
	h, x, err := b.nlRoute(r)
	if err != nil {
		return err
	}
	return h.RouteReplace(x)
}

func (b *nlBackend) DelRoute(r enforce.Route) error {
	h, err := b.h(r.NS)
	if err != nil {
		return err
	}
	x := &netlink.Route{Table: r.Table, Scope: netlink.SCOPE_NOWHERE, Dst: nlconv.IPNet(r.Dst), Family: nlconv.Family(r.Dst.Addr())}
	if r.Gw.IsValid() {
		x.Gw = r.Gw.AsSlice()
	}
	if l, err := b.link(r.NS, r.Dev); err == nil && l != nil {
		x.LinkIndex = l.Attrs().Index
	}
	err = h.RouteDel(x)
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	return err
}

func (b *nlBackend) Rules() ([]enforce.IPRule, error) {
	rs, err := b.host.RuleList(netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("list rules: %w", err)
	}
	out := make([]enforce.IPRule, 0, len(rs))
	for _, r := range rs {
		x := enforce.IPRule{Priority: r.Priority, Table: r.Table, Src: nlconv.Prefix(r.Src), Dst: nlconv.Prefix(r.Dst), IIF: r.IifName, IPProto: uint8(r.IPProto), Mark: r.Mark}
		if r.Family == netlink.FAMILY_V6 {
			x.Family = enforce.IPv6
		}
		if r.Mask != nil {
			x.Mask = *r.Mask
		}
		out = append(out, x)
	}
	return out, nil
}

func nlRule(r enforce.IPRule) *netlink.Rule {
	x := netlink.NewRule()
	x.Family = netlink.FAMILY_V4
	if r.Family == enforce.IPv6 {
		x.Family = netlink.FAMILY_V6
	}
	x.IPProto = int(r.IPProto)
	x.Priority = r.Priority
	x.Table = r.Table
	x.Src = nlconv.IPNet(r.Src)
	x.Dst = nlconv.IPNet(r.Dst)
	x.IifName = r.IIF
	if r.Mask != 0 {
		mask := r.Mask
		x.Mark, x.Mask = r.Mark, &mask
	}
	return x
}

func (b *nlBackend) AddRule(r enforce.IPRule) error { return b.host.RuleAdd(nlRule(r)) }

func (b *nlBackend) DelRule(r enforce.IPRule) error {
	err := b.host.RuleDel(nlRule(r))
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	return err
}

func (b *nlBackend) nsPath(ns enforce.Namespace) string {
	if ns == enforce.PodNS {
		return b.podPath
	}
	return b.hostPath
}

func (b *nlBackend) GetSysctl(s enforce.Sysctl) (string, error) {
	var v string
	err := inNetNS(b.nsPath(s.NS), func() error {
		data, err := os.ReadFile(nlconv.SysctlPath(s.Key))
		v = strings.TrimSpace(string(data))
		return err
	})
	return v, err
}

func (b *nlBackend) SetSysctl(s enforce.Sysctl) error {
	return inNetNS(b.nsPath(s.NS), func() error {
		return os.WriteFile(nlconv.SysctlPath(s.Key), []byte(s.Value), 0o644)
	})
}
