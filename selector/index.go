package selector

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/podsg/podsg/api/v1beta1"
)

// Options configure an Index. The zero value is ready to use.
type Options struct {
	// Validate is passed to v1beta1.Validate for every policy inserted;
	// set MaxGroups to the account's quota of security groups per network
	// interface when it was raised.
	Validate v1beta1.ValidateOptions
	// Logger receives a warning for every invalid policy inserted and
	// debug records of updates. Nil means silent.
	Logger *slog.Logger
}

// Index holds the compiled SecurityGroupPolicy objects of a cluster and
// matches pods against them.
//
// An Index is safe for concurrent use. Writers (Upsert, Delete, ReplaceAll)
// are serialised among themselves; readers (Match, Explain, Get, Len) take
// no lock and never wait for writers. Each namespace's policies form an
// immutable snapshot that a writer replaces with one atomic store, so a
// reader sees every policy of the pod's namespace either before or after
// each update, never half of one; ReplaceAll swaps all namespaces at once.
//
// The zero Index is empty and uses the zero Options.
type Index struct {
	opts  Options
	mu    sync.Mutex // serialises writers
	root  atomic.Pointer[root]
	count atomic.Int64
}

// root maps namespaces to their slots. It is immutable: a writer that adds
// or removes a namespace stores a new root.
type root struct {
	ns map[string]*slot
}

// slot holds the current snapshot of one namespace.
type slot struct {
	snap atomic.Pointer[snapshot]
}

// NewIndex returns an empty index.
func NewIndex(opts Options) *Index {
	return &Index{opts: opts}
}

var discard = slog.New(slog.DiscardHandler)

func (x *Index) logger() *slog.Logger {
	if x.opts.Logger == nil {
		return discard
	}
	return x.opts.Logger
}

// snapshot returns the current policies of namespace ns, or nil.
func (x *Index) snapshot(ns string) *snapshot {
	r := x.root.Load()
	if r == nil {
		return nil
	}
	s := r.ns[ns]
	if s == nil {
		return nil
	}
	return s.snap.Load()
}

func checkKey(p *v1beta1.SecurityGroupPolicy) error {
	switch {
	case p == nil:
		return fmt.Errorf("%w: nil policy", ErrInvalidPolicy)
	case p.Namespace == "" || p.Name == "":
		return fmt.Errorf("%w: metadata.namespace %q, metadata.name %q: a policy in the index needs both (set them, as the API server does)",
			ErrInvalidPolicy, p.Namespace, p.Name)
	}
	return nil
}

// Upsert inserts p, or replaces the policy of the same namespace and name.
// The index keeps no reference to p.
//
// Upsert refuses (and returns an error matching ErrInvalidPolicy for) a
// nil policy or one without namespace or name. Otherwise p is stored even
// when v1beta1.Validate finds problems, so that matching behaves as the VPC
// resource controller's would and Explain can report it; the returned
// *PolicyError lists the problems, for the caller to surface (for example as
// an event on the policy).
//
// Pods matched before Upsert returns keep their result: a policy applies to
// pods matched after it.
func (x *Index) Upsert(p *v1beta1.SecurityGroupPolicy) error {
	if err := checkKey(p); err != nil {
		return err
	}
	c := Compile(p, x.opts.Validate)

	x.mu.Lock()
	defer x.mu.Unlock()
	r := x.root.Load()
	var s *slot
	if r != nil {
		s = r.ns[c.namespace]
	}
	if s == nil {
		s = &slot{}
		s.snap.Store(newSnapshot([]*Policy{c}))
		nr := &root{ns: make(map[string]*slot, 1)}
		if r != nil {
			nr.ns = maps.Clone(r.ns)
		}
		nr.ns[c.namespace] = s
		x.root.Store(nr)
		x.count.Add(1)
	} else {
		old := s.snap.Load().policies
		i, found := slices.BinarySearchFunc(old, c.name, byName)
		ps := make([]*Policy, len(old), len(old)+1)
		copy(ps, old)
		if found {
			ps[i] = c
		} else {
			ps = slices.Insert(ps, i, c)
			x.count.Add(1)
		}
		s.snap.Store(newSnapshot(ps))
	}
	x.logger().Debug("security group policy stored", "namespace", c.namespace, "name", c.name, "groups", c.groups)
	if c.err != nil {
		x.logger().Warn("invalid security group policy", "namespace", c.namespace, "name", c.name, "error", c.err)
	}
	return c.err
}

func byName(p *Policy, name string) int { return cmp.Compare(p.name, name) }

// Delete removes the policy namespace/name and reports whether it was
// present. Pods matched before keep their result.
func (x *Index) Delete(namespace, name string) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	r := x.root.Load()
	if r == nil {
		return false
	}
	s := r.ns[namespace]
	if s == nil {
		return false
	}
	old := s.snap.Load().policies
	i, found := slices.BinarySearchFunc(old, name, byName)
	if !found {
		return false
	}
	x.count.Add(-1)
	if len(old) == 1 {
		// Drop the namespace, so that deleted namespaces do not
		// accumulate. Readers that loaded the old root still see a
		// consistent (older) snapshot.
		nr := &root{ns: maps.Clone(r.ns)}
		delete(nr.ns, namespace)
		x.root.Store(nr)
		x.logger().Debug("security group policy deleted", "namespace", namespace, "name", name)
		return true
	}
	ps := make([]*Policy, 0, len(old)-1)
	ps = append(ps, old[:i]...)
	ps = append(ps, old[i+1:]...)
	s.snap.Store(newSnapshot(ps))
	x.logger().Debug("security group policy deleted", "namespace", namespace, "name", name)
	return true
}

// ReplaceAll replaces the content of the index with policies, as after a
// relist, in one atomic step: a concurrent Match sees either the old or the
// new set. When two policies have the same namespace and name, the later
// one wins. Like Upsert, it stores invalid policies and returns their
// problems (errors.Join of *PolicyError values); policies without namespace
// or name are skipped and reported too.
func (x *Index) ReplaceAll(policies []*v1beta1.SecurityGroupPolicy) error {
	var errs []error
	byNS := make(map[string]map[string]*Policy)
	for _, p := range policies {
		if err := checkKey(p); err != nil {
			errs = append(errs, err)
			continue
		}
		c := Compile(p, x.opts.Validate)
		m := byNS[c.namespace]
		if m == nil {
			m = make(map[string]*Policy)
			byNS[c.namespace] = m
		}
		m[c.name] = c
	}
	nr := &root{ns: make(map[string]*slot, len(byNS))}
	n := 0
	for ns, m := range byNS {
		ps := slices.SortedFunc(maps.Values(m), func(a, b *Policy) int { return cmp.Compare(a.name, b.name) })
		for _, c := range ps {
			if c.err != nil {
				errs = append(errs, c.err)
			}
		}
		s := &slot{}
		s.snap.Store(newSnapshot(ps))
		nr.ns[ns] = s
		n += len(ps)
	}

	x.mu.Lock()
	x.root.Store(nr)
	x.count.Store(int64(n))
	x.mu.Unlock()

	log := x.logger()
	log.Debug("security group policies replaced", "policies", n, "namespaces", len(byNS))
	for _, err := range errs {
		log.Warn("invalid security group policy", "error", err)
	}
	return errors.Join(errs...)
}

// Get returns the compiled policy namespace/name.
func (x *Index) Get(namespace, name string) (*Policy, bool) {
	s := x.snapshot(namespace)
	if s == nil {
		return nil, false
	}
	i, found := slices.BinarySearchFunc(s.policies, name, byName)
	if !found {
		return nil, false
	}
	return s.policies[i], true
}

// Policies returns the compiled policies of namespace, sorted by name: one
// consistent snapshot. The slice is the caller's; the policies are shared.
func (x *Index) Policies(namespace string) []*Policy {
	s := x.snapshot(namespace)
	if s == nil {
		return nil
	}
	return slices.Clone(s.policies)
}

// Len returns the number of policies in the index; an update that runs
// concurrently may or may not be counted yet.
func (x *Index) Len() int { return int(x.count.Load()) }
