package enforce

import (
	"context"
	"errors"
	"slices"
)

// netBackend is what the shared apply algorithm needs from a network stack:
// the kernel (netlink) or the in-memory fake. Link methods take the step
// function and undo log because creating or adopting a link is several
// steps that depend on what exists.
type netBackend interface {
	ensureVLAN(l VLANLink, step func(Change) error, u *undoLog) error
	ensureVeth(v VethPair, step func(Change) error, u *undoLog) error
	linkExists(ns Namespace, name string) (bool, error)
	delLink(ns Namespace, name string) error

	hasAddr(a Addr) (bool, error)
	addAddr(a Addr) error
	delAddr(a Addr) error

	neighbor(n Neighbor) (cur Neighbor, ok bool, err error)
	setNeighbor(n Neighbor) error
	delNeighbor(n Neighbor) error

	// routes lists the IPv4 routes of one table.
	routes(ns Namespace, table int) ([]Route, error)
	addRoute(r Route) error
	replaceRoute(r Route) error
	delRoute(r Route) error

	rules() ([]Rule, error)
	addRule(r Rule) error
	delRule(r Rule) error

	sysctl(s Sysctl) (string, error)
	setSysctl(s Sysctl) error
}

// applyNet applies the routing part of p (everything but iptables) through
// be. step is called before each change; an error from it aborts like a
// failed change.
func applyNet(ctx context.Context, be netBackend, p *Plan, step func(Change) error) error {
	if p.Kind == PodTeardown {
		return purgeNet(ctx, be, p, step, false)
	}
	var u undoLog
	var current Change
	guard := func(c Change) error {
		current = c
		if err := ctx.Err(); err != nil {
			return err
		}
		return step(c)
	}
	fail := func(err error) error {
		e := &StepError{Plan: planName(p), Change: current, Err: err}
		e.RollbackErr = u.run()
		return e
	}
	w := &p.Want
	for _, l := range w.VLANs {
		if err := be.ensureVLAN(l, guard, &u); err != nil {
			return fail(err)
		}
	}
	for _, v := range w.Veths {
		if err := be.ensureVeth(v, guard, &u); err != nil {
			return fail(err)
		}
	}
	for _, a := range w.Addrs {
		ok, err := be.hasAddr(a)
		if err == nil && !ok {
			if err = guard(Change{OpAdd, a}); err == nil {
				err = be.addAddr(a)
			}
			if err == nil {
				u.push(func() error { return be.delAddr(a) })
			}
		}
		if err != nil {
			return fail(err)
		}
	}
	for _, n := range w.Neighbors {
		cur, ok, err := be.neighbor(n)
		if err == nil && (!ok || cur != n) {
			op := OpAdd
			if ok {
				op = OpSet
			}
			if err = guard(Change{op, n}); err == nil {
				err = be.setNeighbor(n)
			}
			if err == nil {
				if ok {
					u.push(func() error { return be.setNeighbor(cur) })
				} else {
					u.push(func() error { return be.delNeighbor(n) })
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
		have, err := be.rules()
		if err != nil {
			return fail(err)
		}
		for _, r := range w.Rules {
			if slices.Contains(have, r) {
				continue
			}
			if err := guard(Change{OpAdd, r}); err != nil {
				return fail(err)
			}
			if err := be.addRule(r); err != nil {
				return fail(err)
			}
			u.push(func() error { return be.delRule(r) })
		}
	}
	for _, s := range w.Sysctls {
		old, err := be.sysctl(s)
		if err == nil && old != s.Value {
			if err = guard(Change{OpSet, s}); err == nil {
				err = be.setSysctl(s)
			}
			if err == nil {
				prev := s
				prev.Value = old
				u.push(func() error { return be.setSysctl(prev) })
			}
		}
		if err != nil {
			return fail(err)
		}
	}
	if err := purgeNet(ctx, be, p, guard, true); err != nil {
		return fail(err)
	}
	return nil
}

func ensureRoute(be netBackend, r Route, step func(Change) error, u *undoLog) error {
	have, err := be.routes(r.NS, r.Table)
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
		if err := step(Change{OpSet, r}); err != nil {
			return err
		}
		if err := be.replaceRoute(r); err != nil {
			return err
		}
		u.push(func() error { return be.replaceRoute(h) })
		return nil
	}
	if err := step(Change{OpAdd, r}); err != nil {
		return err
	}
	if err := be.addRoute(r); err != nil {
		return err
	}
	u.push(func() error { return be.delRoute(r) })
	return nil
}

// purgeNet deletes what p.Purge selects and p.Want does not list. With
// failFast it stops at the first error (setup plans, which then roll back);
// otherwise it goes on and returns every error (teardown).
func purgeNet(ctx context.Context, be netBackend, p *Plan, step func(Change) error, failFast bool) error {
	var errs []error
	failed := func(err error) bool {
		if err == nil {
			return false
		}
		if !failFast {
			err = &StepError{Plan: planName(p), Err: err}
		}
		errs = append(errs, err)
		return failFast
	}
	guard := step
	if !failFast {
		guard = func(c Change) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			return step(c)
		}
	}
	del := func(c Change, f func() error) error {
		if err := guard(c); err != nil {
			return err
		}
		if err := f(); err != nil {
			if !failFast {
				return &StepError{Plan: planName(p), Change: c, Err: err}
			}
			return err
		}
		return nil
	}
	pg, w := &p.Purge, &p.Want
	if len(pg.Rules) > 0 {
		have, err := be.rules()
		if failed(err) {
			return errors.Join(errs...)
		}
		for _, r := range have {
			if w.wantsRule(r) || !slices.ContainsFunc(pg.Rules, func(m RuleMatch) bool { return m.Matches(r) }) {
				continue
			}
			if err := del(Change{OpDelete, r}, func() error { return be.delRule(r) }); err != nil && failFast {
				return err
			} else if err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, m := range pg.Routes {
		have, err := be.routes(m.NS, m.Table)
		if failed(err) {
			return errors.Join(errs...)
		}
		for _, r := range have {
			if !m.Matches(r) || w.wantsRoute(r) {
				continue
			}
			if err := del(Change{OpDelete, r}, func() error { return be.delRoute(r) }); err != nil && failFast {
				return err
			} else if err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, l := range pg.Links {
		if l.NS == HostNS && w.wantsLink(l.Name) {
			continue
		}
		ok, err := be.linkExists(l.NS, l.Name)
		if failed(err) {
			return errors.Join(errs...)
		}
		if !ok {
			continue
		}
		if err := del(Change{OpDelete, l}, func() error { return be.delLink(l.NS, l.Name) }); err != nil && failFast {
			return err
		} else if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// iptBackend is what the shared iptables algorithm needs: go-iptables or
// the fake.
type iptBackend interface {
	chainExists(table, chain string) (bool, error)
	newChain(table, chain string) error
	// ruleCount is the number of rules in a chain.
	ruleCount(table, chain string) (int, error)
	exists(table, chain string, spec []string) (bool, error)
	appendRule(table, chain string, spec []string) error
	deleteRule(table, chain string, spec []string) error
	clearChain(table, chain string) error
	deleteChain(table, chain string) error
}

// applyIPT applies the iptables part of p. It is idempotent but not
// transactional: on failure, applying the plan again completes it.
func applyIPT(ctx context.Context, be iptBackend, p *Plan, step func(Change) error) error {
	var errs []error
	wrap := func(c Change, err error) error {
		return &StepError{Plan: planName(p), Change: c, Err: err}
	}
	do := func(c Change, f func() error) error {
		if err := ctx.Err(); err != nil {
			return wrap(c, err)
		}
		if err := step(c); err != nil {
			return wrap(c, err)
		}
		if err := f(); err != nil {
			return wrap(c, err)
		}
		return nil
	}
	for _, ch := range p.Want.Chains {
		ok, err := be.chainExists(ch.Table, ch.Name)
		if err != nil {
			return wrap(Change{OpAdd, ch}, err)
		}
		if ok {
			same, err := chainHas(be, ch)
			if err != nil {
				return wrap(Change{OpSet, ch}, err)
			}
			if same {
				continue
			}
		}
		op := OpSet
		if !ok {
			op = OpAdd
		}
		if err := do(Change{op, ch}, func() error {
			if !ok {
				if err := be.newChain(ch.Table, ch.Name); err != nil {
					return err
				}
			} else if err := be.clearChain(ch.Table, ch.Name); err != nil {
				return err
			}
			for _, spec := range ch.Rules {
				if err := be.appendRule(ch.Table, ch.Name, spec); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
	}
	// Rules in built-in chains: when one of a chain's rules is missing,
	// re-append them all so that their relative order holds.
	for _, group := range groupByChain(p.Want.IPTables) {
		missing := false
		present := make([]bool, len(group))
		for i, r := range group {
			ok, err := be.exists(r.Table, r.Chain, r.Spec)
			if err != nil {
				return wrap(Change{OpAdd, r}, err)
			}
			present[i] = ok
			missing = missing || !ok
		}
		if !missing {
			continue
		}
		for i, r := range group {
			if present[i] {
				if err := do(Change{OpDelete, r}, func() error { return be.deleteRule(r.Table, r.Chain, r.Spec) }); err != nil {
					return err
				}
			}
		}
		for _, r := range group {
			if err := do(Change{OpAdd, r}, func() error { return be.appendRule(r.Table, r.Chain, r.Spec) }); err != nil {
				return err
			}
		}
	}
	for _, r := range p.Purge.IPTables {
		// A rule that jumps to a missing chain cannot exist (and iptables
		// refuses to check for it).
		if j := jumpTarget(r.Spec); j != "" && !builtinTarget(j) {
			if ok, err := be.chainExists(r.Table, j); err == nil && !ok {
				continue
			}
		}
		for {
			ok, err := be.exists(r.Table, r.Chain, r.Spec)
			if err != nil {
				errs = append(errs, wrap(Change{OpDelete, r}, err))
				break
			}
			if !ok {
				break
			}
			if err := do(Change{OpDelete, r}, func() error { return be.deleteRule(r.Table, r.Chain, r.Spec) }); err != nil {
				errs = append(errs, err)
				break
			}
		}
	}
	for _, c := range p.Purge.Chains {
		ok, err := be.chainExists(c.Table, c.Name)
		if err != nil {
			errs = append(errs, wrap(Change{OpDelete, c}, err))
			continue
		}
		if !ok {
			continue
		}
		if err := do(Change{OpDelete, c}, func() error {
			if err := be.clearChain(c.Table, c.Name); err != nil {
				return err
			}
			return be.deleteChain(c.Table, c.Name)
		}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func chainHas(be iptBackend, ch Chain) (bool, error) {
	n, err := be.ruleCount(ch.Table, ch.Name)
	if err != nil || n != len(ch.Rules) {
		return false, err
	}
	for _, spec := range ch.Rules {
		ok, err := be.exists(ch.Table, ch.Name, spec)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

func groupByChain(rs []IPTablesRule) [][]IPTablesRule {
	var out [][]IPTablesRule
	index := map[[2]string]int{}
	for _, r := range rs {
		k := [2]string{r.Table, r.Chain}
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], r)
	}
	return out
}
