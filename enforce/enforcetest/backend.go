package enforcetest

import (
	"fmt"
	"io/fs"
	"slices"

	"github.com/podsg/podsg/enforce"
	"github.com/podsg/podsg/enforce/internal/apply"
)

// fakeBackend applies single operations to the model for apply.Net, with
// the kernel's refusals. It runs with the Fake locked.
type fakeBackend struct {
	f       *Fake
	podPath string
}

func (b *fakeBackend) ns(n enforce.Namespace) (*fakeNS, error) {
	if n == enforce.HostNS {
		return b.f.host, nil
	}
	pod := b.f.pods[b.podPath]
	if pod == nil {
		return nil, refuse("no network namespace %q (declare it with AddNetNS)", b.podPath)
	}
	return pod, nil
}

func (b *fakeBackend) EnsureVLAN(l enforce.VLANLink, step func(enforce.Change) error, u *apply.Undo) error {
	h := b.f.host
	if p := h.links[l.Parent]; p == nil {
		return refuse("trunk link %q does not exist", l.Parent)
	}
	if cur := h.links[l.Name]; cur != nil {
		if cur.kind == "vlan" && cur.parent == l.Parent && cur.vlanID == l.VLANID {
			if cur.mac == l.MAC && cur.mtu == l.MTU {
				return nil
			}
			if err := step(enforce.Change{Op: enforce.OpSet, Object: l}); err != nil {
				return err
			}
			old := *cur
			cur.mac, cur.mtu = l.MAC, l.MTU
			u.Push(func() error { *cur = old; return nil })
			return nil
		}
		if err := step(enforce.Change{Op: enforce.OpDelete, Object: enforce.LinkRef{Name: l.Name}}); err != nil {
			return err
		}
		h.removeLink(l.Name)
	}
	if err := step(enforce.Change{Op: enforce.OpAdd, Object: l}); err != nil {
		return err
	}
	h.links[l.Name] = &fakeLink{kind: "vlan", mac: l.MAC, mtu: l.MTU, parent: l.Parent, vlanID: l.VLANID}
	u.Push(func() error { h.removeLink(l.Name); return nil })
	return nil
}

func (b *fakeBackend) EnsureVeth(v enforce.VethPair, step func(enforce.Change) error, u *apply.Undo) error {
	h := b.f.host
	pod, err := b.ns(enforce.PodNS)
	if err != nil {
		return err
	}
	if cur := h.links[v.HostName]; cur != nil {
		if cur.kind == "veth" && cur.peerNS == b.podPath && cur.peer == v.PodName {
			if cur.mac == v.HostMAC && cur.mtu == v.MTU {
				return nil
			}
			if err := step(enforce.Change{Op: enforce.OpSet, Object: v}); err != nil {
				return err
			}
			old, oldPeer := *cur, *pod.links[v.PodName]
			cur.mac, cur.mtu = v.HostMAC, v.MTU
			pod.links[v.PodName].mtu = v.MTU
			u.Push(func() error { *cur = old; *pod.links[v.PodName] = oldPeer; return nil })
			return nil
		}
		if err := step(enforce.Change{Op: enforce.OpDelete, Object: enforce.LinkRef{Name: v.HostName}}); err != nil {
			return err
		}
		b.f.deleteHostLink(v.HostName)
	}
	if pod.links[v.PodName] != nil {
		return refuse("pod network namespace %q already has a link %q that is not this pod's veth", b.podPath, v.PodName)
	}
	if err := step(enforce.Change{Op: enforce.OpAdd, Object: v}); err != nil {
		return err
	}
	h.links[v.HostName] = &fakeLink{kind: "veth", mac: v.HostMAC, mtu: v.MTU, peerNS: b.podPath, peer: v.PodName}
	pod.links[v.PodName] = &fakeLink{kind: "veth", mtu: v.MTU, peer: v.HostName}
	u.Push(func() error { b.f.deleteHostLink(v.HostName); return nil })
	return nil
}

func (b *fakeBackend) SetUp(n enforce.Namespace, name string) error {
	ns, err := b.ns(n)
	if err != nil {
		return err
	}
	if ns.links[name] == nil {
		return refuse("no link %q to bring up", name)
	}
	return nil
}

func (b *fakeBackend) LinkExists(n enforce.Namespace, name string) (bool, error) {
	ns, err := b.ns(n)
	if err != nil {
		return false, err
	}
	return ns.links[name] != nil, nil
}

func (b *fakeBackend) DelLink(n enforce.Namespace, name string) error {
	if n == enforce.HostNS {
		b.f.deleteHostLink(name)
		return nil
	}
	ns, err := b.ns(n)
	if err != nil {
		return err
	}
	if l := ns.links[name]; l != nil && l.kind == "veth" {
		b.f.host.removeLink(l.peer)
	}
	ns.removeLink(name)
	return nil
}

func (b *fakeBackend) HasAddr(a enforce.Addr) (bool, error) {
	ns, err := b.ns(a.NS)
	if err != nil {
		return false, err
	}
	return slices.Contains(ns.addrs, a), nil
}

func (b *fakeBackend) AddAddr(a enforce.Addr) error {
	ns, err := b.ns(a.NS)
	if err != nil {
		return err
	}
	if ns.links[a.Dev] == nil {
		return refuse("no link %q for address %s", a.Dev, a.Prefix)
	}
	if a.Prefix.Addr().Is6() && ns.sysctlOf(linkKey("net.ipv6.conf.", a.Dev, "disable_ipv6")) == "1" {
		// The kernel answers EACCES ("Permission denied").
		return refuse("IPv6 is disabled on %q (net.ipv6.conf.%s.disable_ipv6 = 1); cannot add %s", a.Dev, a.Dev, a.Prefix)
	}
	ns.addrs = append(ns.addrs, a)
	return nil
}

func (b *fakeBackend) DelAddr(a enforce.Addr) error {
	ns, err := b.ns(a.NS)
	if err != nil {
		return err
	}
	ns.addrs = slices.DeleteFunc(ns.addrs, func(x enforce.Addr) bool { return x == a })
	return nil
}

func (b *fakeBackend) LookupNeighbor(n enforce.Neighbor) (enforce.Neighbor, bool, error) {
	ns, err := b.ns(n.NS)
	if err != nil {
		return enforce.Neighbor{}, false, err
	}
	for _, x := range ns.neigh {
		if x.Dev == n.Dev && x.IP == n.IP {
			return x, true, nil
		}
	}
	return enforce.Neighbor{}, false, nil
}

func (b *fakeBackend) SetNeighbor(n enforce.Neighbor) error {
	ns, err := b.ns(n.NS)
	if err != nil {
		return err
	}
	if ns.links[n.Dev] == nil {
		return refuse("no link %q for neighbour %s", n.Dev, n.IP)
	}
	for i, x := range ns.neigh {
		if x.Dev == n.Dev && x.IP == n.IP {
			ns.neigh[i] = n
			return nil
		}
	}
	ns.neigh = append(ns.neigh, n)
	return nil
}

func (b *fakeBackend) DelNeighbor(n enforce.Neighbor) error {
	ns, err := b.ns(n.NS)
	if err != nil {
		return err
	}
	ns.neigh = slices.DeleteFunc(ns.neigh, func(x enforce.Neighbor) bool { return x.Dev == n.Dev && x.IP == n.IP })
	return nil
}

func (b *fakeBackend) Routes(n enforce.Namespace, table int) ([]enforce.Route, error) {
	ns, err := b.ns(n)
	if err != nil {
		return nil, err
	}
	var out []enforce.Route
	for _, r := range ns.routes {
		if r.Table == table {
			out = append(out, r)
		}
	}
	return out, nil
}

func (b *fakeBackend) checkRoute(ns *fakeNS, r enforce.Route) error {
	if ns.links[r.Dev] == nil {
		return refuse("no link %q for route %s table %d", r.Dev, r.Dst, r.Table)
	}
	return nil
}

func (b *fakeBackend) AddRoute(r enforce.Route) error {
	ns, err := b.ns(r.NS)
	if err != nil {
		return err
	}
	if err := b.checkRoute(ns, r); err != nil {
		return err
	}
	for _, x := range ns.routes {
		if x.Table == r.Table && x.Dst == r.Dst {
			return refuse("route %s table %d exists", r.Dst, r.Table)
		}
	}
	ns.routes = append(ns.routes, r)
	return nil
}

func (b *fakeBackend) ReplaceRoute(r enforce.Route) error {
	ns, err := b.ns(r.NS)
	if err != nil {
		return err
	}
	if err := b.checkRoute(ns, r); err != nil {
		return err
	}
	for i, x := range ns.routes {
		if x.Table == r.Table && x.Dst == r.Dst {
			ns.routes[i] = r
			return nil
		}
	}
	ns.routes = append(ns.routes, r)
	return nil
}

func (b *fakeBackend) DelRoute(r enforce.Route) error {
	ns, err := b.ns(r.NS)
	if err != nil {
		return err
	}
	ns.routes = slices.DeleteFunc(ns.routes, func(x enforce.Route) bool { return x == r })
	return nil
}

func (b *fakeBackend) Rules() ([]enforce.IPRule, error) { return slices.Clone(b.f.host.rules), nil }

func (b *fakeBackend) AddRule(r enforce.IPRule) error {
	if slices.Contains(b.f.host.rules, r) {
		return refuse("rule %s exists", r)
	}
	b.f.host.rules = append(b.f.host.rules, r)
	slices.SortStableFunc(b.f.host.rules, func(a, b enforce.IPRule) int { return a.Priority - b.Priority })
	return nil
}

func (b *fakeBackend) DelRule(r enforce.IPRule) error {
	i := slices.Index(b.f.host.rules, r)
	if i < 0 {
		return refuse("no rule %s", r)
	}
	b.f.host.rules = slices.Delete(b.f.host.rules, i, i+1)
	return nil
}

func (b *fakeBackend) GetSysctl(s enforce.Sysctl) (string, error) {
	ns, err := b.ns(s.NS)
	if err != nil {
		return "", err
	}
	if v := ns.sysctlOf(s.Key); v != "" {
		return v, nil
	}
	// Like a missing /proc/sys file: wraps fs.ErrNotExist as well.
	return "", fmt.Errorf("%w: no sysctl %s (%w)", ErrRefused, s.Key, fs.ErrNotExist)
}

func (b *fakeBackend) SetSysctl(s enforce.Sysctl) error {
	if _, err := b.GetSysctl(s); err != nil {
		return err
	}
	ns, _ := b.ns(s.NS)
	ns.setSysctl(s.Key, s.Value)
	return nil
}

func refuse(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrRefused}, args...)...)
}
