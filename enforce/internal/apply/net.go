// Package apply is the one algorithm that makes an enforce.Plan true,
// shared by the kernel appliers (package enforce/kernel) and the in-memory
// model (package enforce/enforcetest): what to create, change and purge,
// in which order, and how to roll a failed setup back. Each caller provides
// a backend that performs single operations.
package apply

import (
	"context"
	"errors"
	"io/fs"
	"slices"

	"github.com/podsg/podsg/enforce"
)

// NetBackend is what Net needs from a network stack: the kernel (package
// enforce/kernel) or the in-memory model (package enforce/enforcetest).
// Link methods take the step function and undo log because creating or
// adopting a link is several steps that depend on what exists.
type NetBackend interface {
	// EnsureVLAN and EnsureVeth create or adopt a link with the wanted
	// attributes; they need not bring it up (Net calls SetUp once the
	// link's sysctls are set).
	EnsureVLAN(l enforce.VLANLink, step func(enforce.Change) error, u *Undo) error
	EnsureVeth(v enforce.VethPair, step func(enforce.Change) error, u *Undo) error
	// SetUp brings a link up; it is a no-op for a link that is up.
	SetUp(ns enforce.Namespace, name string) error
	LinkExists(ns enforce.Namespace, name string) (bool, error)
	DelLink(ns enforce.Namespace, name string) error

	HasAddr(a enforce.Addr) (bool, error)
	AddAddr(a enforce.Addr) error
	DelAddr(a enforce.Addr) error

	LookupNeighbor(n enforce.Neighbor) (cur enforce.Neighbor, ok bool, err error)
	SetNeighbor(n enforce.Neighbor) error
	DelNeighbor(n enforce.Neighbor) error

	// Routes lists the unicast routes of one table, of both families.
	Routes(ns enforce.Namespace, table int) ([]enforce.Route, error)
	AddRoute(r enforce.Route) error
	ReplaceRoute(r enforce.Route) error
	DelRoute(r enforce.Route) error

	// Rules lists the host's rules of both families.
	Rules() ([]enforce.IPRule, error)
	AddRule(r enforce.IPRule) error
	DelRule(r enforce.IPRule) error

	// GetSysctl returns a parameter's value, or an error matching
	// fs.ErrNotExist where the kernel lacks it.
	GetSysctl(s enforce.Sysctl) (string, error)
	SetSysctl(s enforce.Sysctl) error
}

// Net applies the routing part of p (everything but iptables) through
// be. step is called before each change; an error from it aborts like a
// failed change.
func Net(ctx context.Context, be NetBackend, p *enforce.Plan, step func(enforce.Change) error) error {
	if p.Kind == enforce.PodTeardown {
		return purge(ctx, be, p, step, false)
	}
	var u Undo
	var current enforce.Change
	guard := func(c enforce.Change) error {
		current = c
		if err := ctx.Err(); err != nil {
			return err
		}
		return step(c)
	}
	fail := func(err error) error {
		e := &enforce.StepError{Plan: p.String(), Change: current, Err: err}
		e.RollbackErr = u.Run()
		return e
	}
	w := &p.Want
	for _, l := range w.VLANs {
		if err := be.EnsureVLAN(l, guard, &u); err != nil {
			return fail(err)
		}
	}
	for _, v := range w.Veths {
		if err := be.EnsureVeth(v, guard, &u); err != nil {
			return fail(err)
		}
	}
	// Sysctls before the links go up: the IPv6 settings of a VLAN link or
	// veth must hold from its first packet.
	for _, s := range w.Sysctls {
		old, err := be.GetSysctl(s)
		if s.Optional && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err == nil && old != s.Value {
			if err = guard(enforce.Change{Op: enforce.OpSet, Object: s}); err == nil {
				err = be.SetSysctl(s)
			}
			if err == nil {
				prev := s
				prev.Value = old
				u.Push(func() error { return be.SetSysctl(prev) })
			}
		}
		if err != nil {
			return fail(err)
		}
	}
	for _, l := range w.VLANs {
		if err := be.SetUp(enforce.HostNS, l.Name); err != nil {
			return fail(err)
		}
	}
	for _, v := range w.Veths {
		if err := be.SetUp(enforce.HostNS, v.HostName); err != nil {
			return fail(err)
		}
		if err := be.SetUp(enforce.PodNS, v.PodName); err != nil {
			return fail(err)
		}
	}
	for _, a := range w.Addrs {
		ok, err := be.HasAddr(a)
		if err == nil && !ok {
			if err = guard(enforce.Change{Op: enforce.OpAdd, Object: a}); err == nil {
				err = be.AddAddr(a)
			}
			if err == nil {
				u.Push(func() error { return be.DelAddr(a) })
			}
		}
		if err != nil {
			return fail(err)
		}
	}
	for _, n := range w.Neighbors {
		cur, ok, err := be.LookupNeighbor(n)
		if err == nil && (!ok || cur != n) {
			op := enforce.OpAdd
			if ok {
				op = enforce.OpSet
			}
			if err = guard(enforce.Change{Op: op, Object: n}); err == nil {
				err = be.SetNeighbor(n)
			}
			if err == nil {
				if ok {
					u.Push(func() error { return be.SetNeighbor(cur) })
				} else {
					u.Push(func() error { return be.DelNeighbor(n) })
				}
			}
		}
		if err != nil {
			return fail(err)
		}
	}
	for _, r := range w.Routes {
		if err := ensureRoute(be, r, guard, &u); err != nil {
			return fail(err)
		}
	}
	if len(w.Rules) > 0 {
		have, err := be.Rules()
		if err != nil {
			return fail(err)
		}
		for _, r := range w.Rules {
			if slices.Contains(have, r) {
				continue
			}
			if err := guard(enforce.Change{Op: enforce.OpAdd, Object: r}); err != nil {
				return fail(err)
			}
			if err := be.AddRule(r); err != nil {
				return fail(err)
			}
			u.Push(func() error { return be.DelRule(r) })
		}
	}
	if err := purge(ctx, be, p, guard, true); err != nil {
		return fail(err)
	}
	return nil
}

func ensureRoute(be NetBackend, r enforce.Route, step func(enforce.Change) error, u *Undo) error {
	have, err := be.Routes(r.NS, r.Table)
	if err != nil {
		return err
	}
	for _, h := range have {
		if h.Dst != r.Dst {
			continue
		}
		if h == r {
			return nil
		}
		if err := step(enforce.Change{Op: enforce.OpSet, Object: r}); err != nil {
			return err
		}
		if err := be.ReplaceRoute(r); err != nil {
			return err
		}
		u.Push(func() error { return be.ReplaceRoute(h) })
		return nil
	}
	if err := step(enforce.Change{Op: enforce.OpAdd, Object: r}); err != nil {
		return err
	}
	if err := be.AddRoute(r); err != nil {
		return err
	}
	u.Push(func() error { return be.DelRoute(r) })
	return nil
}

// purgeNet deletes what p.Purge selects and p.Want does not list. With
// failFast it stops at the first error (setup plans, which then roll back);
// otherwise it goes on and returns every error (teardown).
func purge(ctx context.Context, be NetBackend, p *enforce.Plan, step func(enforce.Change) error, failFast bool) error {
	var errs []error
	failed := func(err error) bool {
		if err == nil {
			return false
		}
		if !failFast {
			err = &enforce.StepError{Plan: p.String(), Err: err}
		}
		errs = append(errs, err)
		return failFast
	}
	guard := step
	if !failFast {
		guard = func(c enforce.Change) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			return step(c)
		}
	}
	del := func(c enforce.Change, f func() error) error {
		if err := guard(c); err != nil {
			return err
		}
		if err := f(); err != nil {
			if !failFast {
				return &enforce.StepError{Plan: p.String(), Change: c, Err: err}
			}
			return err
		}
		return nil
	}
	pg, w := &p.Purge, &p.Want
	if len(pg.Rules) > 0 {
		have, err := be.Rules()
		if failed(err) {
			return errors.Join(errs...)
		}
		for _, r := range have {
			if slices.Contains(w.Rules, r) || !slices.ContainsFunc(pg.Rules, func(m enforce.IPRuleMatch) bool { return m.Matches(r) }) {
				continue
			}
			if err := del(enforce.Change{Op: enforce.OpDelete, Object: r}, func() error { return be.DelRule(r) }); err != nil && failFast {
				return err
			} else if err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, m := range pg.Routes {
		have, err := be.Routes(m.NS, m.Table)
		if failed(err) {
			return errors.Join(errs...)
		}
		for _, r := range have {
			if !m.Matches(r) || slices.Contains(w.Routes, r) {
				continue
			}
			if err := del(enforce.Change{Op: enforce.OpDelete, Object: r}, func() error { return be.DelRoute(r) }); err != nil && failFast {
				return err
			} else if err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, l := range pg.Links {
		if l.NS == enforce.HostNS && wantsLink(w, l.Name) {
			continue
		}
		ok, err := be.LinkExists(l.NS, l.Name)
		if failed(err) {
			return errors.Join(errs...)
		}
		if !ok {
			continue
		}
		if err := del(enforce.Change{Op: enforce.OpDelete, Object: l}, func() error { return be.DelLink(l.NS, l.Name) }); err != nil && failFast {
			return err
		} else if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// wantsLink reports whether w creates a host link named name.
func wantsLink(w *enforce.State, name string) bool {
	for _, l := range w.VLANs {
		if l.Name == name {
			return true
		}
	}
	for _, v := range w.Veths {
		if v.HostName == name {
			return true
		}
	}
	return false
}
