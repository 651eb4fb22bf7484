package enforce

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/podsg/podsg/eni"
)

// ErrFakeState is wrapped by the errors the Fake returns where the kernel
// would refuse a change (a missing link, a duplicate route or rule, a
// missing network namespace).
var ErrFakeState = errors.New("enforce: fake network state refuses the change")

// Fake is an in-memory Applier for unit tests of code that uses this
// package (a CNI plugin, a node agent). It keeps a model of the node's and
// pods' network namespaces, applies plans with the same algorithm as the
// netlink and iptables appliers, refuses what the kernel refuses (routes
// over missing links, duplicate rules, VLANs on a missing trunk, veths into
// an unknown namespace), records every change and can inject failures.
//
// A new Fake has the kernel's default rules (local at 0, main at 32766,
// default at 32767), the link "lo" and default sysctls; declare the
// node's other links with AddLink and each pod's namespace with AddNetNS.
// A Fake is safe for concurrent use; the FailWhen hook runs with the Fake
// locked and must not call its methods.
type Fake struct {
	mu      sync.Mutex
	host    *fakeNS
	pods    map[string]*fakeNS
	changes []Change
	fail    func(Change) error
	chains  map[ChainRef][][]string
	builtin map[ChainRef][][]string
}

type fakeLink struct {
	kind   string // "vlan", "veth", "device"
	mac    eni.MAC
	mtu    int
	parent string
	vlanID int
	peerNS string // veth: netns path of the pod end ("" for the host)
	peer   string
}

type fakeNS struct {
	links   map[string]*fakeLink
	addrs   []Addr
	neigh   []Neighbor
	routes  []Route
	rules   []Rule
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

// NewFake returns a Fake with an empty node.
func NewFake() *Fake {
	f := &Fake{
		host:    newFakeNS(),
		pods:    map[string]*fakeNS{},
		chains:  map[ChainRef][][]string{},
		builtin: map[ChainRef][][]string{},
	}
	f.host.rules = []Rule{{Priority: 0, Table: TableLocal}, {Priority: 32766, Table: TableMain}, {Priority: 32767, Table: 253}}
	return f
}

// AddLink declares an existing link of the node, such as the trunk or the
// primary interface.
func (f *Fake) AddLink(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.host.links[name] = &fakeLink{kind: "device", mtu: 9001}
}

// AddNetNS declares a pod's network namespace (what the container runtime
// creates before CNI ADD).
func (f *Fake) AddNetNS(path string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pods[path] == nil {
		f.pods[path] = newFakeNS()
	}
}

// DeleteNetNS removes a pod's network namespace, as the container runtime
// does when a pod goes away; the host ends of its veths vanish with it.
func (f *Fake) DeleteNetNS(path string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	pod := f.pods[path]
	if pod == nil {
		return
	}
	for _, l := range pod.links {
		if l.kind == "veth" {
			f.host.removeLink(l.peer)
		}
	}
	delete(f.pods, path)
}

// FailWhen makes Apply call fn before each change; a non-nil error aborts
// the change as if the kernel had refused it (setup plans then roll back).
// Pass nil to stop injecting failures.
func (f *Fake) FailWhen(fn func(Change) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = fn
}

// Changes returns every change Apply has made so far, in order, including
// changes that a failed Apply later rolled back (rollbacks are not listed).
func (f *Fake) Changes() []Change {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.changes)
}

// Host returns the node namespace's state: links created by plans (VLANs
// and host ends of veths, not the links declared with AddLink), addresses,
// routes of every table, rules, sysctls and iptables.
func (f *Fake) Host() State {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.host.state(HostNS, "")
	for _, ref := range sortedRefs(f.chains) {
		s.Chains = append(s.Chains, Chain{Table: ref.Table, Name: ref.Name, Rules: slices.Clone(f.chains[ref])})
	}
	for _, ref := range sortedRefs(f.builtin) {
		for _, spec := range f.builtin[ref] {
			s.IPTables = append(s.IPTables, IPTablesRule{Table: ref.Table, Chain: ref.Name, Spec: slices.Clone(spec)})
		}
	}
	return s
}

// Pod returns the state of the pod namespace at path: its veth, addresses,
// neighbours and routes. ok is false when the namespace is unknown.
func (f *Fake) Pod(path string) (s State, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	pod := f.pods[path]
	if pod == nil {
		return State{}, false
	}
	return pod.state(PodNS, path), true
}

func sortedRefs(m map[ChainRef][][]string) []ChainRef {
	refs := slices.Collect(maps.Keys(m))
	slices.SortFunc(refs, func(a, b ChainRef) int {
		return strings.Compare(a.Table+" "+a.Name, b.Table+" "+b.Name)
	})
	return refs
}

func (ns *fakeNS) state(which Namespace, path string) State {
	var s State
	for _, name := range slices.Sorted(maps.Keys(ns.links)) {
		l := ns.links[name]
		switch {
		case l.kind == "vlan":
			s.VLANs = append(s.VLANs, VLANLink{Name: name, Parent: l.parent, VLANID: l.vlanID, MAC: l.mac, MTU: l.mtu})
		case l.kind == "veth" && which == HostNS:
			s.Veths = append(s.Veths, VethPair{HostName: name, HostMAC: l.mac, PodName: l.peer, MTU: l.mtu})
		case l.kind == "veth":
			s.Veths = append(s.Veths, VethPair{HostName: l.peer, PodName: name, MTU: l.mtu})
		}
	}
	s.Addrs = cloneOrNil(ns.addrs)
	s.Neighbors = cloneOrNil(ns.neigh)
	s.Routes = cloneOrNil(ns.routes)
	s.Rules = cloneOrNil(ns.rules)
	for _, k := range slices.Sorted(maps.Keys(ns.sysctls)) {
		s.Sysctls = append(s.Sysctls, Sysctl{NS: which, Key: k, Value: ns.sysctls[k]})
	}
	return s
}

// removeLink deletes a link and what the kernel deletes with it.
func (ns *fakeNS) removeLink(name string) {
	delete(ns.links, name)
	ns.addrs = slices.DeleteFunc(ns.addrs, func(a Addr) bool { return a.Dev == name })
	ns.neigh = slices.DeleteFunc(ns.neigh, func(n Neighbor) bool { return n.Dev == name })
	ns.routes = slices.DeleteFunc(ns.routes, func(r Route) bool { return r.Dev == name })
}

// Apply applies p to the model. See Applier for the semantics.
func (f *Fake) Apply(ctx context.Context, p *Plan) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	be := &fakeBackend{f: f, podPath: p.PodNetNS}
	step := func(c Change) error {
		if f.fail != nil {
			if err := f.fail(c); err != nil {
				return err
			}
		}
		f.changes = append(f.changes, c)
		return nil
	}
	if err := applyNet(ctx, be, p, step); err != nil {
		return err
	}
	return applyIPT(ctx, fakeIPT{f}, p, step)
}

type fakeBackend struct {
	f       *Fake
	podPath string
}

func refuse(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrFakeState}, args...)...)
}

func (b *fakeBackend) ns(n Namespace) (*fakeNS, error) {
	if n == HostNS {
		return b.f.host, nil
	}
	pod := b.f.pods[b.podPath]
	if pod == nil {
		return nil, refuse("no network namespace %q (declare it with AddNetNS)", b.podPath)
	}
	return pod, nil
}

func (b *fakeBackend) ensureVLAN(l VLANLink, step func(Change) error, u *undoLog) error {
	h := b.f.host
	if p := h.links[l.Parent]; p == nil {
		return refuse("trunk link %q does not exist", l.Parent)
	}
	if cur := h.links[l.Name]; cur != nil {
		if cur.kind == "vlan" && cur.parent == l.Parent && cur.vlanID == l.VLANID {
			if cur.mac == l.MAC && cur.mtu == l.MTU {
				return nil
			}
			if err := step(Change{OpSet, l}); err != nil {
				return err
			}
			old := *cur
			cur.mac, cur.mtu = l.MAC, l.MTU
			u.push(func() error { *cur = old; return nil })
			return nil
		}
		if err := step(Change{OpDelete, LinkRef{Name: l.Name}}); err != nil {
			return err
		}
		h.removeLink(l.Name)
	}
	if err := step(Change{OpAdd, l}); err != nil {
		return err
	}
	h.links[l.Name] = &fakeLink{kind: "vlan", mac: l.MAC, mtu: l.MTU, parent: l.Parent, vlanID: l.VLANID}
	u.push(func() error { h.removeLink(l.Name); return nil })
	return nil
}

func (b *fakeBackend) ensureVeth(v VethPair, step func(Change) error, u *undoLog) error {
	h := b.f.host
	pod, err := b.ns(PodNS)
	if err != nil {
		return err
	}
	if cur := h.links[v.HostName]; cur != nil {
		if cur.kind == "veth" && cur.peerNS == b.podPath && cur.peer == v.PodName {
			if cur.mac == v.HostMAC && cur.mtu == v.MTU {
				return nil
			}
			if err := step(Change{OpSet, v}); err != nil {
				return err
			}
			old, oldPeer := *cur, *pod.links[v.PodName]
			cur.mac, cur.mtu = v.HostMAC, v.MTU
			pod.links[v.PodName].mtu = v.MTU
			u.push(func() error { *cur = old; *pod.links[v.PodName] = oldPeer; return nil })
			return nil
		}
		if err := step(Change{OpDelete, LinkRef{Name: v.HostName}}); err != nil {
			return err
		}
		b.f.deleteHostLink(v.HostName)
	}
	if pod.links[v.PodName] != nil {
		return refuse("pod network namespace %q already has a link %q that is not this pod's veth", b.podPath, v.PodName)
	}
	if err := step(Change{OpAdd, v}); err != nil {
		return err
	}
	h.links[v.HostName] = &fakeLink{kind: "veth", mac: v.HostMAC, mtu: v.MTU, peerNS: b.podPath, peer: v.PodName}
	pod.links[v.PodName] = &fakeLink{kind: "veth", mtu: v.MTU, peer: v.HostName}
	u.push(func() error { b.f.deleteHostLink(v.HostName); return nil })
	return nil
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

func (b *fakeBackend) linkExists(n Namespace, name string) (bool, error) {
	ns, err := b.ns(n)
	if err != nil {
		return false, err
	}
	return ns.links[name] != nil, nil
}

func (b *fakeBackend) delLink(n Namespace, name string) error {
	if n == HostNS {
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

func (b *fakeBackend) hasAddr(a Addr) (bool, error) {
	ns, err := b.ns(a.NS)
	if err != nil {
		return false, err
	}
	return slices.Contains(ns.addrs, a), nil
}

func (b *fakeBackend) addAddr(a Addr) error {
	ns, err := b.ns(a.NS)
	if err != nil {
		return err
	}
	if ns.links[a.Dev] == nil {
		return refuse("no link %q for address %s", a.Dev, a.Prefix)
	}
	ns.addrs = append(ns.addrs, a)
	return nil
}

func (b *fakeBackend) delAddr(a Addr) error {
	ns, err := b.ns(a.NS)
	if err != nil {
		return err
	}
	ns.addrs = slices.DeleteFunc(ns.addrs, func(x Addr) bool { return x == a })
	return nil
}

func (b *fakeBackend) neighbor(n Neighbor) (Neighbor, bool, error) {
	ns, err := b.ns(n.NS)
	if err != nil {
		return Neighbor{}, false, err
	}
	for _, x := range ns.neigh {
		if x.Dev == n.Dev && x.IP == n.IP {
			return x, true, nil
		}
	}
	return Neighbor{}, false, nil
}

func (b *fakeBackend) setNeighbor(n Neighbor) error {
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

func (b *fakeBackend) delNeighbor(n Neighbor) error {
	ns, err := b.ns(n.NS)
	if err != nil {
		return err
	}
	ns.neigh = slices.DeleteFunc(ns.neigh, func(x Neighbor) bool { return x.Dev == n.Dev && x.IP == n.IP })
	return nil
}

func (b *fakeBackend) routes(n Namespace, table int) ([]Route, error) {
	ns, err := b.ns(n)
	if err != nil {
		return nil, err
	}
	var out []Route
	for _, r := range ns.routes {
		if r.Table == table {
			out = append(out, r)
		}
	}
	return out, nil
}

func (b *fakeBackend) checkRoute(ns *fakeNS, r Route) error {
	if ns.links[r.Dev] == nil {
		return refuse("no link %q for route %s table %d", r.Dev, r.Dst, r.Table)
	}
	return nil
}

func (b *fakeBackend) addRoute(r Route) error {
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

func (b *fakeBackend) replaceRoute(r Route) error {
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

func (b *fakeBackend) delRoute(r Route) error {
	ns, err := b.ns(r.NS)
	if err != nil {
		return err
	}
	ns.routes = slices.DeleteFunc(ns.routes, func(x Route) bool { return x == r })
	return nil
}

func (b *fakeBackend) rules() ([]Rule, error) { return slices.Clone(b.f.host.rules), nil }

func (b *fakeBackend) addRule(r Rule) error {
	if slices.Contains(b.f.host.rules, r) {
		return refuse("rule %s exists", strings.Join(ruleArgs(r), " "))
	}
	b.f.host.rules = append(b.f.host.rules, r)
	slices.SortStableFunc(b.f.host.rules, func(a, b Rule) int { return a.Priority - b.Priority })
	return nil
}

func (b *fakeBackend) delRule(r Rule) error {
	i := slices.Index(b.f.host.rules, r)
	if i < 0 {
		return refuse("no rule %s", strings.Join(ruleArgs(r), " "))
	}
	b.f.host.rules = slices.Delete(b.f.host.rules, i, i+1)
	return nil
}

func (b *fakeBackend) sysctl(s Sysctl) (string, error) {
	ns, err := b.ns(s.NS)
	if err != nil {
		return "", err
	}
	if v, ok := ns.sysctls[s.Key]; ok {
		return v, nil
	}
	if dev, ok := strings.CutPrefix(s.Key, "net.ipv4.conf."); ok {
		if i := strings.LastIndexByte(dev, '.'); i > 0 && ns.links[strings.ReplaceAll(dev[:i], "/", ".")] != nil {
			return "0", nil
		}
	}
	return "", refuse("no sysctl %s", s.Key)
}

func (b *fakeBackend) setSysctl(s Sysctl) error {
	if _, err := b.sysctl(s); err != nil {
		return err
	}
	ns, _ := b.ns(s.NS)
	ns.sysctls[s.Key] = s.Value
	return nil
}

// fakeIPT models iptables: owned chains and built-in chains.
type fakeIPT struct{ f *Fake }

func builtinChain(table, chain string) bool {
	switch chain {
	case "PREROUTING", "POSTROUTING", "INPUT", "OUTPUT", "FORWARD":
		return table == "nat" || table == "mangle" || table == "filter" || table == "raw"
	}
	return false
}

func (t fakeIPT) rulesOf(table, chain string) ([][]string, bool) {
	ref := ChainRef{Table: table, Name: chain}
	if builtinChain(table, chain) {
		return t.f.builtin[ref], true
	}
	r, ok := t.f.chains[ref]
	return r, ok
}

func (t fakeIPT) setRules(table, chain string, rs [][]string) {
	ref := ChainRef{Table: table, Name: chain}
	if builtinChain(table, chain) {
		if len(rs) == 0 {
			delete(t.f.builtin, ref)
		} else {
			t.f.builtin[ref] = rs
		}
		return
	}
	t.f.chains[ref] = rs
}

func (t fakeIPT) chainExists(table, chain string) (bool, error) {
	_, ok := t.rulesOf(table, chain)
	return ok, nil
}

func (t fakeIPT) newChain(table, chain string) error {
	if _, ok := t.rulesOf(table, chain); ok {
		return refuse("chain %s %s exists", table, chain)
	}
	t.f.chains[ChainRef{Table: table, Name: chain}] = [][]string{}
	return nil
}

func (t fakeIPT) ruleCount(table, chain string) (int, error) {
	rs, ok := t.rulesOf(table, chain)
	if !ok {
		return 0, refuse("no chain %s %s", table, chain)
	}
	return len(rs), nil
}

func (t fakeIPT) exists(table, chain string, spec []string) (bool, error) {
	rs, ok := t.rulesOf(table, chain)
	if !ok {
		return false, refuse("no chain %s %s", table, chain)
	}
	return slices.ContainsFunc(rs, func(r []string) bool { return slices.Equal(r, spec) }), nil
}

func (t fakeIPT) appendRule(table, chain string, spec []string) error {
	rs, ok := t.rulesOf(table, chain)
	if !ok {
		return refuse("no chain %s %s", table, chain)
	}
	if j := jumpTarget(spec); j != "" && !builtinTarget(j) {
		if _, ok := t.f.chains[ChainRef{Table: table, Name: j}]; !ok {
			return refuse("chain %s %s jumps to missing chain %s", table, chain, j)
		}
	}
	t.setRules(table, chain, append(slices.Clone(rs), slices.Clone(spec)))
	return nil
}

func (t fakeIPT) deleteRule(table, chain string, spec []string) error {
	rs, _ := t.rulesOf(table, chain)
	i := slices.IndexFunc(rs, func(r []string) bool { return slices.Equal(r, spec) })
	if i < 0 {
		return refuse("no such rule in %s %s", table, chain)
	}
	t.setRules(table, chain, slices.Delete(slices.Clone(rs), i, i+1))
	return nil
}

func (t fakeIPT) clearChain(table, chain string) error {
	if _, ok := t.rulesOf(table, chain); !ok {
		return refuse("no chain %s %s", table, chain)
	}
	t.setRules(table, chain, [][]string{})
	return nil
}

func (t fakeIPT) deleteChain(table, chain string) error {
	for ref, rs := range t.f.builtin {
		for _, r := range rs {
			if ref.Table == table && jumpTarget(r) == chain {
				return refuse("chain %s %s is still referenced from %s", table, chain, ref.Name)
			}
		}
	}
	for ref, rs := range t.f.chains {
		for _, r := range rs {
			if ref.Table == table && jumpTarget(r) == chain {
				return refuse("chain %s %s is still referenced from %s", table, chain, ref.Name)
			}
		}
	}
	delete(t.f.chains, ChainRef{Table: table, Name: chain})
	return nil
}

func jumpTarget(spec []string) string {
	for i := 0; i+1 < len(spec); i++ {
		if spec[i] == "-j" {
			return spec[i+1]
		}
	}
	return ""
}

func builtinTarget(t string) bool {
	return t == strings.ToUpper(t) && !strings.Contains(t, "-")
}

// cloneOrNil copies s, returning nil for an empty slice so that states
// compare equal however they became empty.
func cloneOrNil[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}
