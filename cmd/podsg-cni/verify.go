//go:build linux

package main

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/podsg/podsg/enforce"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// verify compares what plan p wants with the kernel (the node's namespace,
// which is the plugin's own, and the pod's at p.PodNetNS) and describes
// the first difference, or returns "". It looks at links (kind, MAC, MTU,
// state, VLAN ID and parent, veth peers), addresses, neighbours, routes,
// rules and sysctls; iptables chains are not compared. standIn says that
// VLAN links are stood in for by veths.
func verify(p *enforce.Plan, standIn bool) (string, error) {
	host, err := netlink.NewHandle()
	if err != nil {
		return "", err
	}
	defer host.Close()
	var pod *netlink.Handle
	if p.PodNetNS != "" {
		ns, err := netns.GetFromPath(p.PodNetNS)
		if err != nil {
			return fmt.Sprintf("the pod's network namespace %s cannot be opened: %v", p.PodNetNS, err), nil
		}
		defer ns.Close()
		if pod, err = netlink.NewHandleAt(ns); err != nil {
			return "", err
		}
		defer pod.Close()
	}
	v := &verifier{host: host, pod: pod, standIn: standIn, podNS: p.PodNetNS}
	w := &p.Want
	checks := []func() string{
		func() string { return each(w.VLANs, v.vlan) },
		func() string { return each(w.Veths, v.veth) },
		func() string { return each(w.Addrs, v.addr) },
		func() string { return each(w.Neighbors, v.neighbor) },
		func() string { return each(w.Routes, v.route) },
		func() string { return each(w.Rules, v.rule) },
		func() string { return each(w.Sysctls, v.sysctl) },
	}
	for _, c := range checks {
		if d := c(); d != "" {
			return d, v.err
		}
		if v.err != nil {
			return "", v.err
		}
	}
	return "", nil
}

func each[T any](items []T, f func(T) string) string {
	for _, it := range items {
		if d := f(it); d != "" {
			return d
		}
	}
	return ""
}

type verifier struct {
	host, pod *netlink.Handle
	standIn   bool
	podNS     string
	err       error                  // a failure to read the kernel state (not a difference)
	rules     map[int][]netlink.Rule // by netlink family, once read
}

// nlFamily is the netlink family of an address.
func nlFamily(a netip.Addr) int {
	if a.Is6() && !a.Is4In6() {
		return netlink.FAMILY_V6
	}
	return netlink.FAMILY_V4
}

// what describes a wanted object the way the enforce package prints it.
func what(o any) string {
	return strings.TrimPrefix(enforce.Change{Op: enforce.OpAdd, Object: o}.String(), "add ")
}

func (v *verifier) h(ns enforce.Namespace) *netlink.Handle {
	if ns == enforce.PodNS {
		return v.pod
	}
	return v.host
}

func (v *verifier) link(ns enforce.Namespace, name string) netlink.Link {
	h := v.h(ns)
	if h == nil {
		return nil
	}
	l, err := h.LinkByName(name)
	if err != nil {
		return nil
	}
	return l
}

func (v *verifier) vlan(l enforce.VLANLink) string {
	cur := v.link(enforce.HostNS, l.Name)
	if cur == nil {
		return fmt.Sprintf("%s is missing", what(l))
	}
	a := cur.Attrs()
	if vl, ok := cur.(*netlink.Vlan); ok {
		trunk := v.link(enforce.HostNS, l.Parent)
		switch {
		case vl.VlanId != l.VLANID:
			return fmt.Sprintf("link %s has VLAN ID %d, want %d", l.Name, vl.VlanId, l.VLANID)
		case trunk == nil || a.ParentIndex != trunk.Attrs().Index:
			return fmt.Sprintf("link %s is not on the trunk link %s", l.Name, l.Parent)
		}
	} else if !v.standIn {
		return fmt.Sprintf("link %s is a %s link, want a VLAN link on %s", l.Name, cur.Type(), l.Parent)
	}
	return linkState(cur, l.MAC.String(), l.MTU)
}

func linkState(l netlink.Link, mac string, mtu int) string {
	a := l.Attrs()
	switch {
	case mac != "" && a.HardwareAddr.String() != mac:
		return fmt.Sprintf("link %s has MAC %s, want %s", a.Name, a.HardwareAddr, mac)
	case mtu != 0 && a.MTU != mtu:
		return fmt.Sprintf("link %s has MTU %d, want %d", a.Name, a.MTU, mtu)
	case a.Flags&net.FlagUp == 0:
		return fmt.Sprintf("link %s is down", a.Name)
	}
	return ""
}

func (v *verifier) veth(w enforce.VethPair) string {
	hostL := v.link(enforce.HostNS, w.HostName)
	if hostL == nil {
		return fmt.Sprintf("the host end of %s is missing", what(w))
	}
	podL := v.link(enforce.PodNS, w.PodName)
	if podL == nil {
		return fmt.Sprintf("the pod end of %s is missing from %s", what(w), v.podNS)
	}
	_, hv := hostL.(*netlink.Veth)
	_, pv := podL.(*netlink.Veth)
	if !hv || !pv || hostL.Attrs().ParentIndex != podL.Attrs().Index || podL.Attrs().ParentIndex != hostL.Attrs().Index {
		return fmt.Sprintf("%s in the pod is not the peer of %s", w.PodName, w.HostName)
	}
	if d := linkState(hostL, w.HostMAC.String(), w.MTU); d != "" {
		return d
	}
	return linkState(podL, "", w.MTU)
}

func (v *verifier) addr(w enforce.Addr) string {
	l := v.link(w.NS, w.Dev)
	if l == nil {
		return fmt.Sprintf("%s is missing: no link %s", what(w), w.Dev)
	}
	addrs, err := v.h(w.NS).AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		v.err = err
		return ""
	}
	for _, a := range addrs {
		if prefixOf(a.IPNet) == w.Prefix {
			return ""
		}
	}
	return fmt.Sprintf("%s is missing", what(w))
}

func (v *verifier) neighbor(w enforce.Neighbor) string {
	l := v.link(w.NS, w.Dev)
	if l == nil {
		return fmt.Sprintf("%s is missing: no link %s", what(w), w.Dev)
	}
	ns, err := v.h(w.NS).NeighList(l.Attrs().Index, nlFamily(w.IP))
	if err != nil {
		v.err = err
		return ""
	}
	for _, n := range ns {
		ip, _ := netip.AddrFromSlice(n.IP)
		if ip.Unmap() != w.IP {
			continue
		}
		if n.State&netlink.NUD_PERMANENT == 0 || n.HardwareAddr.String() != w.MAC.String() {
			return fmt.Sprintf("%s is wrong: %s lladdr %s state %#x", what(w), ip.Unmap(), n.HardwareAddr, n.State)
		}
		return ""
	}
	return fmt.Sprintf("%s is missing", what(w))
}

func (v *verifier) route(w enforce.Route) string {
	h := v.h(w.NS)
	fam := nlFamily(w.Dst.Addr())
	if !w.Dst.IsValid() {
		fam = nlFamily(w.Gw)
	}
	rs, err := h.RouteListFiltered(fam, &netlink.Route{Table: w.Table}, netlink.RT_FILTER_TABLE)
	if err != nil {
		v.err = err
		return ""
	}
	dev := v.link(w.NS, w.Dev)
	for _, r := range rs {
		if r.Type != unix.RTN_UNICAST || dev == nil || r.LinkIndex != dev.Attrs().Index {
			continue
		}
		dst := prefixOf(r.Dst)
		if !dst.IsValid() && fam == netlink.FAMILY_V6 {
			dst = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		} else if !dst.IsValid() {
			dst = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		}
		gw, _ := netip.AddrFromSlice(r.Gw)
		scopeLink := r.Scope == netlink.SCOPE_LINK
		if dst == w.Dst && gw.Unmap() == w.Gw && scopeLink == (w.Scope == enforce.ScopeLink) {
			return ""
		}
	}
	return fmt.Sprintf("%s is missing", what(w))
}

func (v *verifier) rule(w enforce.IPRule) string {
	fam := netlink.FAMILY_V4
	if w.Family == enforce.IPv6 {
		fam = netlink.FAMILY_V6
	}
	if v.rules == nil {
		v.rules = map[int][]netlink.Rule{}
	}
	rules, ok := v.rules[fam]
	if !ok {
		rules, v.err = v.host.RuleList(fam)
		if v.err != nil {
			return ""
		}
		v.rules[fam] = rules
	}
	for _, r := range rules {
		var mask uint32
		if r.Mask != nil {
			mask = *r.Mask
		}
		if r.Priority == w.Priority && r.Table == w.Table && prefixOf(r.Src) == w.Src && prefixOf(r.Dst) == w.Dst &&
			r.IifName == w.IIF && r.Mark == w.Mark && mask == w.Mask && r.IPProto == int(w.IPProto) {
			return ""
		}
	}
	return fmt.Sprintf("%s is missing", what(w))
}

func (v *verifier) sysctl(w enforce.Sysctl) string {
	if w.NS != enforce.HostNS {
		return "" // pod sysctls are not part of any plan today
	}
	path := "/proc/sys/" + strings.Map(func(r rune) rune {
		switch r {
		case '.':
			return '/'
		case '/':
			return '.'
		}
		return r
	}, w.Key)
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("%s cannot be read: %v", what(w), err)
	}
	if got := strings.TrimSpace(string(data)); got != w.Value {
		return fmt.Sprintf("sysctl %s is %s, want %s", w.Key, got, w.Value)
	}
	return ""
}

func prefixOf(n *net.IPNet) netip.Prefix {
	if n == nil {
		return netip.Prefix{}
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}
	}
	bits, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), bits)
}
