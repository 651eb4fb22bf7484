package enforcetest

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/podsg/podsg/enforce"
	"github.com/podsg/podsg/enforce/internal/apply"
)

// ErrRefused is wrapped by the errors the Fake returns where the kernel
// would refuse a change (a missing link, a duplicate route or rule, a
// missing network namespace).
var ErrRefused = errors.New("enforcetest: the fake network state refuses the change")

// Fake is an in-memory enforce.Applier for unit tests of code that uses
// package enforce (a CNI plugin, a node agent). It keeps a model of the
// node's and pods' network namespaces, applies plans with the same
// algorithm as kernel.Netlink and kernel.IPTables (package enforce/kernel),
// refuses what the kernel refuses (routes over missing links, duplicate
// rules, VLANs on a missing trunk, veths into an unknown namespace), records
// every change and can inject failures.
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
	changes []enforce.Change
	fail    func(enforce.Change) error
	chains  map[enforce.ChainRef][][]string
	builtin map[enforce.ChainRef][][]string
	nft     map[enforce.NFTableRef]enforce.ConnmarkTable
}

// NewFake returns a Fake with an empty node.
func NewFake() *Fake {
	f := &Fake{
		host:    newFakeNS(),
		pods:    map[string]*fakeNS{},
		chains:  map[enforce.ChainRef][][]string{},
		builtin: map[enforce.ChainRef][][]string{},
		nft:     map[enforce.NFTableRef]enforce.ConnmarkTable{},
	}
	f.host.rules = []enforce.IPRule{{Priority: 0, Table: enforce.TableLocal}, {Priority: 32766, Table: enforce.TableMain}, {Priority: 32767, Table: enforce.TableDefault}}
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
func (f *Fake) FailWhen(fn func(enforce.Change) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = fn
}

// Changes returns every change Apply has made so far, in order, including
// changes that a failed Apply later rolled back (rollbacks are not listed).
func (f *Fake) Changes() []enforce.Change {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.changes)
}

// Host returns the node namespace's state: links created by plans (VLANs
// and host ends of veths, not the links declared with AddLink), addresses,
// routes of every table, rules, sysctls, iptables and nftables tables.
func (f *Fake) Host() enforce.State {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.host.state(enforce.HostNS, "")
	for _, ref := range sortedRefs(f.chains) {
		s.Chains = append(s.Chains, enforce.Chain{Table: ref.Table, Name: ref.Name, Rules: slices.Clone(f.chains[ref])})
	}
	for _, ref := range sortedRefs(f.builtin) {
		for _, spec := range f.builtin[ref] {
			s.IPTables = append(s.IPTables, enforce.IPTablesRule{Table: ref.Table, Chain: ref.Name, Spec: slices.Clone(spec)})
		}
	}
	for _, ref := range slices.SortedFunc(maps.Keys(f.nft), func(a, b enforce.NFTableRef) int {
		return strings.Compare(a.Family+" "+a.Name, b.Family+" "+b.Name)
	}) {
		s.ConnmarkTables = append(s.ConnmarkTables, cloneConnmark(f.nft[ref]))
	}
	return s
}

// Pod returns the state of the pod namespace at path: its veth, addresses,
// neighbours and routes. ok is false when the namespace is unknown.
func (f *Fake) Pod(path string) (s enforce.State, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	pod := f.pods[path]
	if pod == nil {
		return enforce.State{}, false
	}
	return pod.state(enforce.PodNS, path), true
}

// Sysctl returns the value of a kernel parameter in the node's namespace
// (podNetNS "") or in a pod's, as GetSysctl of the kernel would: a
// per-interface parameter ("net.ipv6.conf.vlan/eth/3.accept_ra") exists
// while its link does, with Linux's default until set. ok is false for a
// parameter or namespace that does not exist.
func (f *Fake) Sysctl(podNetNS, key string) (value string, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ns := f.host
	if podNetNS != "" {
		if ns = f.pods[podNetNS]; ns == nil {
			return "", false
		}
	}
	v := ns.sysctlOf(key)
	return v, v != ""
}

// Apply applies p to the model. See enforce.Applier for the semantics.
func (f *Fake) Apply(ctx context.Context, p *enforce.Plan) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	be := &fakeBackend{f: f, podPath: p.PodNetNS}
	step := func(c enforce.Change) error {
		if f.fail != nil {
			if err := f.fail(c); err != nil {
				return err
			}
		}
		f.changes = append(f.changes, c)
		return nil
	}
	if err := apply.Net(ctx, be, p, step); err != nil {
		return err
	}
	// As kernel.IPTables: the nftables table first, so that connections
	// stay marked while the iptables chain that did it goes away, and
	// the other form's table last.
	if err := apply.NFTWant(ctx, fakeNFT{f}, p, step); err != nil {
		return err
	}
	if err := apply.IPTables(ctx, fakeIPT{f}, p, step); err != nil {
		return err
	}
	return apply.NFTPurge(ctx, fakeNFT{f}, p, step)
}
