package eni

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Acquire gives pod a branch ENI of key want and returns it. A pod that
// already holds an ENI gets the same one back, whatever want says (a running
// pod keeps the groups it started with); a second Acquire for a pod whose ENI
// is being prepared waits for it.
//
// A warm ENI of the same key is taken without any backend call. Otherwise
// Acquire calls the backend (see Pool for the order of choices), and errors
// are the backend's. When the node is full but an ENI is being pre-warmed
// for want (PrewarmPolicy), Acquire waits for it: pods waiting so are served
// in the order they came, each choice made for them by the pool as the ENI
// they waited for is ready, so that they never race for it. Otherwise a
// full node gives a *CapacityError matching ErrNoCapacity. Acquire honours
// ctx while it waits; a backend call in flight is passed ctx.
func (p *Pool) Acquire(ctx context.Context, pod PodRef, want Key) (Branch, error) {
	return p.acquire(ctx, pod, want, true)
}

// acquire is Acquire; count tells whether the pod start counts as demand (it
// does once per call of Acquire).
func (p *Pool) acquire(ctx context.Context, pod PodRef, want Key, count bool) (Branch, error) {
	if pod.IsZero() {
		return Branch{}, errors.New("eni: Acquire: pod is the zero PodRef: want the pod's namespace, name and UID")
	}
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return Branch{}, fmt.Errorf("eni: node %s: %w", p.node, ErrPoolClosed)
		}
		e := p.pods[pod]
		if e == nil {
			break
		}
		if e.state == StateInUse {
			b := e.b
			p.mu.Unlock()
			return b, nil
		}
		ready := e.ready
		p.mu.Unlock()
		select {
		case <-ready:
		case <-ctx.Done():
			return Branch{}, ctx.Err()
		}
		p.mu.Lock()
		err := e.err
		p.mu.Unlock()
		if err != nil {
			return Branch{}, err
		}
	}
	now := p.now()
	p.promote(now)
	if count {
		p.noteDemand(want, now)
	}
	st := p.decide(pod, want, now)
	p.unlock()
	return p.run(ctx, st)
}

// stepKind is what a pod's Acquire does after the pool chose for it.
type stepKind uint8

const (
	stepDone     stepKind = iota // b or err is the answer
	stepCreate                   // create e, which holds a slot for the pod
	stepRetarget                 // retarget v, taken for the pod, from its groups from
	stepEvict                    // delete v to make room, then create the pod's ENI
	stepWait                     // wait for w: an ENI being pre-warmed for the pod's key
	stepAgain                    // the pod has an entry now: start over
)

// step is the choice the pool made for a pod, under its lock; run carries it
// out without the lock.
type step struct {
	kind stepKind
	b    Branch
	err  error
	e    *entry  // stepCreate, stepEvict: the pod's entry
	v    *entry  // stepRetarget, stepEvict: the warm ENI used
	from Branch  // stepRetarget: v as it was
	w    *waiter // stepWait
	pod  PodRef
	want Key
}

// waiter is a pod's Acquire waiting for an ENI being pre-warmed for its key.
// When that creation ends, the goroutine that ran it makes the pod's next
// choice (next) and closes ch.
type waiter struct {
	pod  PodRef
	want Key
	ch   chan struct{}
	next step
	done bool // next is set and ch closed
}

// decide makes pod's choice, in the order the Pool documents, and takes what
// it chose (a warm ENI, a slot, a victim) so that no other caller can.
// p.mu must be held.
func (p *Pool) decide(pod PodRef, want Key, now time.Time) step {
	if p.closed {
		return step{err: fmt.Errorf("eni: node %s: %w", p.node, ErrPoolClosed)}
	}
	if p.pods[pod] != nil {
		return step{kind: stepAgain}
	}
	// The pool keys ENIs by the canonical key; want keeps the order the
	// groups go to EC2 in when an ENI is created or retargeted for pod.
	id := want.Canonical()
	if e := p.takeWarm(id); e != nil {
		p.setState(e, StateInUse)
		e.pod, e.since = pod, now
		p.pods[pod] = e
		p.stats.WarmHits++
		if len(p.warm[id]) == 0 {
			p.wantPrewarm(now)
		}
		return step{b: e.b}
	}
	p.wantPrewarm(now)
	if v := p.pickRetarget(want); v != nil {
		from := v.b
		p.unwarm(v)
		p.setState(v, StateCreating)
		v.pod, v.since, v.busy = pod, now, true
		// Being prepared for a pod now, not pre-warmed: no pod may wait
		// for it as for an ENI being pre-warmed (prewarmFor).
		v.target = false
		v.ready, v.err, v.released = make(chan struct{}), nil, false
		p.pods[pod] = v
		return step{kind: stepRetarget, v: v, from: from, pod: pod, want: want}
	}
	if p.total() < p.limit {
		return step{kind: stepCreate, e: p.newCreating(pod, want, now)}
	}
	if w := p.prewarmFor(id); w != nil {
		// An ENI is being pre-warmed for this key in the slot the pod
		// would need: wait for it rather than evict or refuse.
		wt := &waiter{pod: pod, want: want, ch: make(chan struct{})}
		w.waiters = append(w.waiters, wt)
		return step{kind: stepWait, w: wt}
	}
	if v := p.pickEvict(id); v != nil {
		p.toDeleting(v, now)
		v.busy = true
		// A placeholder without a slot makes concurrent Acquire calls for
		// the same pod wait.
		e := &entry{pod: pod, since: now, ready: make(chan struct{}), state: StateCreating}
		e.b.Groups, e.b.Subnet = want.Groups, want.Subnet
		p.pods[pod] = e
		return step{kind: stepEvict, e: e, v: v, pod: pod, want: want}
	}
	return step{err: p.capacityError()}
}

// run carries out st without the pool's lock.
func (p *Pool) run(ctx context.Context, st step) (Branch, error) {
	for {
		switch st.kind {
		case stepDone:
			return st.b, st.err
		case stepCreate:
			return p.create(ctx, st.e)
		case stepRetarget:
			return p.retarget(ctx, st.v, st.from, st.pod, st.want)
		case stepEvict:
			return p.evict(ctx, st.v, st.e, st.pod, st.want)
		case stepAgain:
			return p.acquire(ctx, st.pod, st.want, false)
		case stepWait:
			w := st.w
			select {
			case <-w.ch:
			case <-ctx.Done():
				p.mu.Lock()
				if !w.done {
					p.dropWaiter(w)
					p.mu.Unlock()
					return Branch{}, ctx.Err()
				}
				p.mu.Unlock()
				// The pool chose for the pod already (it may hold an
				// ENI now): carry it out, with the ended context.
			}
			st = w.next
			if st.kind == stepAgain {
				st.pod, st.want = w.pod, w.want
			}
		}
	}
}

// dropWaiter takes w out of the waiters of the ENI it waits for. p.mu must
// be held.
func (p *Pool) dropWaiter(w *waiter) {
	for e := range p.all {
		if i := slices.Index(e.waiters, w); i >= 0 {
			e.waiters = slices.Delete(e.waiters, i, i+1)
			return
		}
	}
}

// serveWaiters makes, in the order they came, the next choice of the pods
// that waited for e, whose creation has just ended, and wakes them. p.mu
// must be held.
func (p *Pool) serveWaiters(e *entry, now time.Time) {
	ws := e.waiters
	e.waiters = nil
	if len(ws) > 0 {
		p.promote(now)
	}
	for _, w := range ws {
		w.next = p.decide(w.pod, w.want, now)
		w.done = true
		close(w.ch)
	}
}

// newCreating takes a free slot for a new ENI. p.mu must be held and a slot
// must be free.
func (p *Pool) newCreating(pod PodRef, want Key, now time.Time) *entry {
	e := &entry{pod: pod, since: now, ready: make(chan struct{}), target: pod.IsZero()}
	e.b.Groups, e.b.Subnet = want.Groups, want.Subnet
	p.takeSlot(e)
	if !e.target {
		p.pods[pod] = e
	}
	return e
}

// create runs the backend creation for e, which holds a slot.
func (p *Pool) create(ctx context.Context, e *entry) (Branch, error) {
	req := CreateRequest{Pod: e.pod, Key: e.b.Key(), VLAN: e.b.ENI.VLANID}
	got, err := p.backend.CreateBranch(ctx, req)
	p.mu.Lock()
	now := p.now()
	if err == nil && got.VLANID != req.VLAN {
		err = &InDoubtError{ENI: got, Err: fmt.Errorf("backend associated VLAN %d, not the VLAN %d the pool allocated", got.VLANID, req.VLAN)}
	}
	if err != nil {
		p.stats.Failures++
		var doubt *InDoubtError
		if errors.As(err, &doubt) && doubt.ENI.ID != "" {
			e.b.ENI = doubt.ENI
			e.b.ENI.VLANID = req.VLAN
			p.byENI[e.b.ENI.ID] = e
			p.toDeleting(e, now)
		} else {
			p.dropEntry(e)
		}
		if !e.target && p.pods[e.pod] == e {
			delete(p.pods, e.pod)
		}
		e.err = err
		close(e.ready)
		p.serveWaiters(e, now)
		p.log.Debug("branch ENI creation failed", "pod", e.pod.String(), "vlan", req.VLAN, "err", err)
		p.unlock()
		return Branch{}, err
	}
	e.b.ENI = got
	e.made = now
	p.byENI[got.ID] = e
	p.stats.Creates++
	if !e.target {
		p.wantPrewarm(now)
	}
	if e.target && !p.closed {
		p.toWarm(e, now)
	} else {
		err = p.settle(e, e.pod, now, now)
	}
	e.err = err
	close(e.ready)
	p.serveWaiters(e, now)
	b := e.b
	p.log.Debug("branch ENI created", "eni", got.ID, "vlan", got.VLANID, "key", b.Key().String())
	p.unlock()
	if err != nil {
		return Branch{}, err
	}
	return b, nil
}

// pickRetarget picks the longest-idle warm ENI of another key that the
// Retarget policy lets serve want. p.mu must be held.
func (p *Pool) pickRetarget(want Key) *entry {
	id := want.Canonical()
	var best *entry
	for k, s := range p.warm {
		if k == id || len(s) == 0 {
			continue
		}
		for _, e := range s {
			if p.policy.Retarget(e.b, want) && (best == nil || e.idleLonger(best)) {
				best = e
			}
		}
	}
	return best
}

func (p *Pool) pickEvict(want Key) *entry { return p.oldestWarm(want, true) }

// retarget gives the warm ENI v, taken for pod by decide, want's groups.
func (p *Pool) retarget(ctx context.Context, v *entry, from Branch, pod PodRef, want Key) (Branch, error) {
	err := p.backend.RetargetBranch(ctx, from, want.Groups)

	p.mu.Lock()
	now := p.now()
	v.busy = false
	if err != nil {
		p.stats.Failures++
		p.forgetPod(v)
		p.toDeleting(v, now)
		v.err = err
		close(v.ready)
		p.unlock()
		return Branch{}, err
	}
	v.b.Groups = want.Groups
	p.stats.Retargets++
	err = p.settle(v, pod, now, v.since)
	v.err = err
	close(v.ready)
	b := v.b
	p.unlock()
	if err != nil {
		return Branch{}, err
	}
	return b, nil
}

// evict makes room for pod's ENI by removing the warm ENI v, sent to
// deletion by decide, and creates the pod's ENI (e, a placeholder without a
// slot) in its slot. With a Replacer backend the two overlap; otherwise v is
// deleted first.
func (p *Pool) evict(ctx context.Context, v, e *entry, pod PodRef, want Key) (Branch, error) {
	if r, ok := p.backend.(Replacer); ok {
		return p.replace(ctx, r, v, e, pod, want)
	}
	gone := v.b
	err := p.backend.DeleteBranch(ctx, gone)

	p.mu.Lock()
	now := p.now()
	v.busy = false
	if err != nil {
		p.stats.Failures++
		v.tries++
		v.due = now.Add(p.policy.Backoff(v.tries))
		p.notify(v.due)
		p.forgetPod(e)
		e.err = err
		close(e.ready)
		p.unlock()
		return Branch{}, fmt.Errorf("eni: node %s: evicting warm ENI %s to make room: %w", p.node, gone.ENI.ID, err)
	}
	p.dropEntry(v)
	p.stats.Evictions++
	p.stats.Deletes++
	if p.closed || e.released || p.total() >= p.limit {
		p.forgetPod(e)
		err := p.capacityError()
		if p.closed {
			err = fmt.Errorf("eni: node %s: %w", p.node, ErrPoolClosed)
		} else if e.released {
			err = fmt.Errorf("eni: pod %s on node %s: %w", pod, p.node, ErrPodReleased)
		}
		e.err = err
		close(e.ready)
		p.unlock()
		return Branch{}, err
	}
	p.takeSlot(e)
	p.unlock()
	return p.create(ctx, e)
}

// replace gives pod, through r, a new ENI in the slot of the warm ENI v:
// the backend takes v off the trunk while it creates the new ENI, which
// takes v's VLAN. v, no longer associated, is deleted in the background.
func (p *Pool) replace(ctx context.Context, r Replacer, v, e *entry, pod PodRef, want Key) (Branch, error) {
	old := v.b
	req := CreateRequest{Pod: pod, Key: want, VLAN: old.ENI.VLANID}
	got, err := r.ReplaceBranch(ctx, old, req)

	p.mu.Lock()
	now := p.now()
	v.busy = false
	if err == nil && got.VLANID != req.VLAN {
		err = &InDoubtError{ENI: got, Err: fmt.Errorf("backend associated VLAN %d, not the VLAN %d of the ENI it replaced", got.VLANID, req.VLAN)}
	}
	var doubt *InDoubtError
	if err != nil && !(errors.As(err, &doubt) && doubt.ENI.ID != "") {
		// Nothing new holds the VLAN; v may still: it keeps its slot
		// until its deletion, retried in the background, confirms it gone.
		p.stats.Failures++
		v.tries++
		v.due = now.Add(p.policy.Backoff(v.tries))
		p.notify(v.due)
		p.forgetPod(e)
		e.err = err
		close(e.ready)
		p.unlock()
		return Branch{}, fmt.Errorf("eni: node %s: replacing warm ENI %s to make room: %w", p.node, old.ENI.ID, err)
	}
	// The new ENI (or one in doubt) holds v's VLAN: it takes v's slot, and
	// v, off the trunk, waits for its deletion without one.
	p.handOver(v, e)
	p.stats.Evictions++
	if err != nil {
		p.stats.Failures++
		e.b.ENI = doubt.ENI
		e.b.ENI.VLANID = req.VLAN
		p.byENI[e.b.ENI.ID] = e
		p.toDeleting(e, now)
		p.forgetPod(e)
		e.err = err
		close(e.ready)
		p.unlock()
		return Branch{}, err
	}
	e.b.ENI = got
	e.made = now
	p.byENI[got.ID] = e
	p.stats.Creates++
	p.wantPrewarm(now)
	err = p.settle(e, pod, now, now)
	e.err = err
	close(e.ready)
	b := e.b
	p.log.Debug("branch ENI replaced", "old", old.ENI.ID, "eni", got.ID, "vlan", got.VLANID, "key", b.Key().String())
	p.unlock()
	if err != nil {
		return Branch{}, err
	}
	return b, nil
}

// handOver gives the slot and VLAN of v, which a Replacer took off the trunk
// and which is being deleted, to e, the entry of the ENI that took its place.
// v stays in the deletion queue without a slot, its VLAN 0. p.mu must be
// held.
func (p *Pool) handOver(v, e *entry) {
	vlan := v.b.ENI.VLANID
	p.counts[v.state]--
	v.slot = false
	delete(p.all, v)
	v.b.ENI.VLANID = 0
	v.b.ENI.AssociationID = ""
	v.due = p.now()
	p.notify(v.due)
	e.b.ENI.VLANID = vlan
	e.slot = true
	e.state = StateCreating
	p.counts[StateCreating]++
	p.all[e] = struct{}{}
}

// settle ends the creation or retargeting of e for pod: e is deleted if the
// pool closed meanwhile, cools down if the pod was released meanwhile (the
// error says which), and is otherwise in use for the pod since inUseSince.
// p.mu must be held.
func (p *Pool) settle(e *entry, pod PodRef, now, inUseSince time.Time) error {
	switch {
	case p.closed:
		p.forgetPod(e)
		p.toDeleting(e, now)
		return fmt.Errorf("eni: node %s: %w", p.node, ErrPoolClosed)
	case e.released:
		p.forgetPod(e)
		p.toCooling(e, now)
		return fmt.Errorf("eni: pod %s on node %s: %w", pod, p.node, ErrPodReleased)
	}
	p.setState(e, StateInUse)
	e.since = inUseSince
	return nil
}
