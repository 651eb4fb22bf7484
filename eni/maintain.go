package eni

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Maintain does the pool's time-driven work that is due: it ends cool-downs,
// deletes ENIs idle past Policy.IdleTimeout or beyond Policy.MaxWarm (or all
// cooled ones under NoWarm), retries failed deletions, and creates ENIs for
// warm targets while the node has free slots. Backend calls run one at a time,
// in the caller's goroutine.
//
// It returns when Maintain should run next (zero when nothing is pending) and
// the failures of this round joined; failed work is retried after
// Policy.Backoff. Maintain may run concurrently with every other method.
func (p *Pool) Maintain(ctx context.Context) (next time.Time, err error) {
	p.mu.Lock()
	now := p.now()
	p.promote(now)
	sh := p.shares(now)
	p.expireIdle(now, sh)
	var dels []*entry
	for _, e := range p.deleting {
		if !e.busy && !e.due.After(now) {
			e.busy = true
			dels = append(dels, e)
		}
	}
	targets := p.planPrewarm(now, sh)
	targets = append(targets, p.planTargets(now)...)
	p.unlock()

	var errs []error
	for i, e := range dels {
		if ctx.Err() != nil {
			p.mu.Lock()
			for _, r := range dels[i:] {
				r.busy = false
			}
			p.mu.Unlock()
			errs = append(errs, ctx.Err())
			break
		}
		err := p.backend.DeleteBranch(ctx, e.b)
		p.mu.Lock()
		e.busy = false
		if err == nil {
			p.dropEntry(e)
			p.stats.Deletes++
			p.log.Debug("branch ENI deleted", "eni", e.b.ENI.ID, "vlan", e.b.ENI.VLANID)
		} else {
			p.stats.Failures++
			e.tries++
			e.due = p.now().Add(p.policy.Backoff(e.tries))
			errs = append(errs, fmt.Errorf("eni: node %s: deleting branch ENI %s (attempt %d, next at %s): %w",
				p.node, e.b.ENI.ID, e.tries, e.due.Format(time.RFC3339), err))
		}
		p.mu.Unlock()
	}
	for _, e := range targets {
		k := e.b.id()
		_, err := p.create(ctx, e)
		p.mu.Lock()
		if err != nil {
			tries := p.targetTries(k) + 1
			p.targetAt[k] = p.now().Add(p.policy.Backoff(tries))
			p.targetN[k] = tries
			errs = append(errs, fmt.Errorf("eni: node %s: warm target %s: %w", p.node, k, err))
		} else {
			delete(p.targetN, k)
			delete(p.targetAt, k)
		}
		p.mu.Unlock()
	}
	p.mu.Lock()
	next = p.nextDue(p.now())
	p.mu.Unlock()
	return next, errors.Join(errs...)
}

func (p *Pool) targetTries(k Key) int { return p.targetN[k] }

// targetCount returns the warm target for k. p.mu must be held.
func (p *Pool) targetCount(k Key) int {
	n := 0
	for _, t := range p.policy.WarmTargets {
		if t.Key == k {
			n += t.Count
		}
	}
	return n
}

// expireIdle sends warm ENIs idle past the policy's timeout to deletion,
// keeping the warm targets and the pre-warming shares. p.mu must be held.
func (p *Pool) expireIdle(now time.Time, sh []keyDemand) {
	if p.policy.IdleTimeout <= 0 {
		return
	}
	var old []*entry
	for k, s := range p.warm {
		keep := p.targetCount(k) + shareOf(sh, k)
		for i := 0; i < len(s)-keep; i++ {
			if now.Sub(s[i].since) < p.policy.IdleTimeout {
				break
			}
			old = append(old, s[i])
		}
	}
	slices.SortFunc(old, func(a, b *entry) int { return a.b.ENI.VLANID - b.b.ENI.VLANID })
	for _, e := range old {
		p.toDeleting(e, now)
	}
}

// planTargets takes slots for warm-target ENIs to create now. p.mu must be
// held.
func (p *Pool) planTargets(now time.Time) []*entry {
	if p.closed || len(p.policy.WarmTargets) == 0 {
		return nil
	}
	var out []*entry
	for _, t := range p.policy.WarmTargets {
		if p.targetAt[t.Key].After(now) {
			continue
		}
		have := len(p.warm[t.Key]) + p.creatingTargets(t.Key)
		for ; have < t.Count && p.total() < p.limit; have++ {
			out = append(out, p.newCreating(PodRef{}, t.Key, now))
		}
	}
	return out
}

func (p *Pool) creatingTargets(k Key) int {
	n := 0
	for e := range p.all {
		if e.target && e.state == StateCreating && e.b.id() == k {
			n++
		}
	}
	return n
}

// nextDue returns when Maintain next has work. p.mu must be held.
func (p *Pool) nextDue(now time.Time) time.Time {
	var next time.Time
	at := func(t time.Time) {
		if t.Before(now) {
			t = now
		}
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	if p.cooling.len() > 0 {
		at(p.cooling.peek().due)
	}
	sh := p.shares(now)
	if p.policy.IdleTimeout > 0 {
		for k, s := range p.warm {
			if len(s) > p.targetCount(k)+shareOf(sh, k) {
				at(s[0].since.Add(p.policy.IdleTimeout))
			}
		}
	}
	for _, e := range p.deleting {
		if !e.busy {
			at(e.due)
		}
	}
	if t, ok := p.prewarmDue(sh); ok {
		at(t)
	}
	if !p.closed && p.total() < p.limit {
		for _, t := range p.policy.WarmTargets {
			if len(p.warm[t.Key])+p.creatingTargets(t.Key) < t.Count {
				at(p.targetAt[t.Key])
			}
		}
	}
	return next
}

// Run calls Maintain whenever it has work, until ctx is done, and returns
// ctx's error. Failures are logged and retried per the policy. One goroutine
// per pool is simple; a controller serving many nodes can instead call
// Maintain from a shared scheduler driven by Options.OnDue.
func (p *Pool) Run(ctx context.Context) error {
	for {
		next, err := p.Maintain(ctx)
		if err != nil && ctx.Err() == nil {
			p.log.Warn("branch ENI pool maintenance", "err", err)
		}
		var timer *time.Timer
		var fire <-chan time.Time
		if !next.IsZero() {
			timer = time.NewTimer(time.Until(next))
			fire = timer.C
		}
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return ctx.Err()
		case <-p.wake:
		case <-fire:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// Drain empties the pool for a node that is going away: it refuses further
// Acquire calls (ErrPoolClosed), forgets every pod, and deletes every ENI
// without waiting for cool-downs, retrying until all are gone or ctx is done.
func (p *Pool) Drain(ctx context.Context) error {
	p.mu.Lock()
	p.closed = true
	now := p.now()
	for e := range p.all {
		if e.state == StateCreating {
			continue // sent to deletion when its creation ends
		}
		p.forgetPod(e)
		p.toDeleting(e, now)
	}
	p.unlock()
	for {
		next, err := p.Maintain(ctx)
		p.mu.Lock()
		left := len(p.all)
		p.mu.Unlock()
		if left == 0 {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("eni: draining node %s: %d branch ENIs left: %w", p.node, left, errors.Join(ctx.Err(), err))
		}
		wait := time.Until(next)
		if next.IsZero() || wait <= 0 {
			wait = time.Second // a creation in flight; look again shortly
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-p.wake:
		case <-t.C:
		}
		t.Stop()
	}
}
