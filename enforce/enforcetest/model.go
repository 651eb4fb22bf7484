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
	kind    string // "vlan", "veth", "device"
	mac     podeni.MAC
	mtu     int
	parent  string
	vlanID  int
	peerNS  string // veth: netns path of the pod end ("" for the host)
	peer    string
	ownerNS string // pod end of a veth: "" (its host end is in the host)
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
			"net.ipv4.ip_forward":      "0",
			"net.ipv4.tcp_early_demux": "1",
		},
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
