package enforcetest

import (
	"maps"
	"slices"
	"strings"

	"github.com/podsg/podsg/api/podeni"
	"github.com/podsg/podsg/enforce"
)

// The model of network namespaces the Fake keeps.

type fakeLink struct {
	kind   string // "vlan", "veth", "device"
	mac    podeni.MAC
	mtu    int
	parent string
	vlanID int
	peerNS string // veth: netns path of the pod end ("" for the host)
	peer   string
}

type fakeNS struct {
	links   map[string]*fakeLink
	addrs   []enforce.Addr
	neigh   []enforce.Neighbor
	routes  []enforce.Route
	rules   []enforce.IPRule
	sysctls map[string]string
}

func newFakeNS() *fakeNS {
	return &fakeNS{
		links: map[string]*fakeLink{"lo": {kind: "device", mtu: 65536}},
		sysctls: map[string]string{
			"net.ipv4.ip_forward":            "0",
			"net.ipv4.tcp_early_demux":       "1",
			"net.ipv6.conf.all.disable_ipv6": "0",
			"net.ipv6.conf.all.forwarding":   "0",
		},
	}
}

// linkSysctlDefaults are the values a new link's per-interface parameters
// have in a fresh network namespace (Linux's defaults).
var linkSysctlDefaults = map[string]string{
	"net.ipv4.conf.rp_filter":        "0",
	"net.ipv6.conf.accept_ra":        "1",
	"net.ipv6.conf.accept_redirects": "1",
	"net.ipv6.conf.forwarding":       "0",
	"net.ipv6.conf.disable_ipv6":     "0",
}

// linkKey is the sysctl key of a per-interface parameter:
// linkKey("net.ipv6.conf.", "vlan.eth.3", "accept_ra") is
// "net.ipv6.conf.vlan/eth/3.accept_ra".
func linkKey(prefix, dev, param string) string {
	return prefix + strings.ReplaceAll(dev, ".", "/") + "." + param
}

// splitLinkKey splits a per-interface key into its prefix
// ("net.ipv6.conf."), link name and parameter; ok is false for other keys.
func splitLinkKey(key string) (prefix, dev, param string, ok bool) {
	for _, pre := range []string{"net.ipv4.conf.", "net.ipv6.conf."} {
		rest, found := strings.CutPrefix(key, pre)
		if !found {
			continue
		}
		i := strings.LastIndexByte(rest, '.')
		if i <= 0 {
			return "", "", "", false
		}
		return pre, strings.ReplaceAll(rest[:i], "/", "."), rest[i+1:], true
	}
	return "", "", "", false
}

// sysctlOf returns a parameter's value, "" when the namespace has no such
// parameter: a link's parameters exist while the link does.
func (ns *fakeNS) sysctlOf(key string) string {
	if v, ok := ns.sysctls[key]; ok {
		return v
	}
	pre, dev, param, ok := splitLinkKey(key)
	if !ok || (dev != "all" && dev != "default" && ns.links[dev] == nil) {
		return ""
	}
	if pre+param == "net.ipv6.conf.forwarding" {
		// A link's IPv6 forwarding follows the last write of
		// net.ipv6.conf.all.forwarding (addrconf_fixup_forwarding in
		// Linux's net/ipv6/addrconf.c), unless set since.
		return ns.sysctls["net.ipv6.conf.all.forwarding"]
	}
	return linkSysctlDefaults[pre+param]
}

// setSysctl writes a parameter; writing net.ipv6.conf.all.forwarding
// writes every link's too, as the kernel does.
func (ns *fakeNS) setSysctl(key, value string) {
	ns.sysctls[key] = value
	if key != "net.ipv6.conf.all.forwarding" {
		return
	}
	for k := range ns.sysctls {
		if pre, dev, param, ok := splitLinkKey(k); ok && pre == "net.ipv6.conf." && param == "forwarding" && dev != "all" {
			delete(ns.sysctls, k)
		}
	}
}

func sortedRefs(m map[enforce.ChainRef][][]string) []enforce.ChainRef {
	refs := slices.Collect(maps.Keys(m))
	slices.SortFunc(refs, func(a, b enforce.ChainRef) int {
		return strings.Compare(a.Table+" "+a.Name, b.Table+" "+b.Name)
	})
	return refs
}

func (ns *fakeNS) state(which enforce.Namespace, path string) enforce.State {
	var s enforce.State
	for _, name := range slices.Sorted(maps.Keys(ns.links)) {
		l := ns.links[name]
		switch {
		case l.kind == "vlan":
			s.VLANs = append(s.VLANs, enforce.VLANLink{Name: name, Parent: l.parent, VLANID: l.vlanID, MAC: l.mac, MTU: l.mtu})
		case l.kind == "veth" && which == enforce.HostNS:
			s.Veths = append(s.Veths, enforce.VethPair{HostName: name, HostMAC: l.mac, PodName: l.peer, MTU: l.mtu})
		case l.kind == "veth":
			s.Veths = append(s.Veths, enforce.VethPair{HostName: l.peer, PodName: name, MTU: l.mtu})
		}
	}
	s.Addrs = cloneOrNil(ns.addrs)
	s.Neighbors = cloneOrNil(ns.neigh)
	s.Routes = cloneOrNil(ns.routes)
	s.Rules = cloneOrNil(ns.rules)
	for _, k := range slices.Sorted(maps.Keys(ns.sysctls)) {
		s.Sysctls = append(s.Sysctls, enforce.Sysctl{NS: which, Key: k, Value: ns.sysctls[k]})
	}
	return s
}

// removeLink deletes a link and what the kernel deletes with it.
func (ns *fakeNS) removeLink(name string) {
	delete(ns.links, name)
	for k := range ns.sysctls {
		if _, dev, _, ok := splitLinkKey(k); ok && dev == name {
			delete(ns.sysctls, k)
		}
	}
	ns.addrs = slices.DeleteFunc(ns.addrs, func(a enforce.Addr) bool { return a.Dev == name })
	ns.neigh = slices.DeleteFunc(ns.neigh, func(n enforce.Neighbor) bool { return n.Dev == name })
	ns.routes = slices.DeleteFunc(ns.routes, func(r enforce.Route) bool { return r.Dev == name })
}

// deleteHostLink deletes a host link; a veth takes its pod end with it.
func (f *Fake) deleteHostLink(name string) {
	l := f.host.links[name]
	if l == nil {
		return
	}
	if l.kind == "veth" {
		if pod := f.pods[l.peerNS]; pod != nil {
			pod.removeLink(l.peer)
		}
	}
	f.host.removeLink(name)
}

// cloneOrNil copies s, returning nil for an empty slice so that states
// compare equal however they became empty.
func cloneOrNil[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}
