package eni

import (
	"context"
	"errors"
	"fmt"
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
// for want (PrewarmPolicy), Acquire waits for it; otherwise a full node
// gives a *CapacityError matching ErrNoCapacity. Acquire honours ctx while it waits; a backend call
// in flight is passed ctx.
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
	// The pool keys ENIs by the canonical key; want keeps the order the
	// groups go to EC2 in when an ENI is created or retargeted for pod.
	id := want.Canonical()
	if count {
		p.noteDemand(want, now)
	}
	if e := p.takeWarm(id); e != nil {
		p.setState(e, StateInUse)
		e.pod, e.since = pod, now
		p.pods[pod] = e
		p.stats.WarmHits++
		if len(p.warm[id]) == 0 {
			p.wantPrewarm(now)
		}
		b := e.b
		p.unlock()
		return b, nil
	}
	p.wantPrewarm(now)
	if v := p.pickRetarget(want); v != nil {
		return p.retarget(ctx, v, pod, want, now)
	}
	if p.total() < p.limit {
		e := p.newCreating(pod, want, now)
		p.unlock()
		return p.create(ctx, e)
	}
	if w := p.prewarmFor(id); w != nil {
		// An ENI is being pre-warmed for this key in the slot the pod
		// would need: wait for it rather than evict or refuse.
		ready := w.ready
		p.unlock()
		select {
		case <-ready:
		case <-ctx.Done():
			return Branch{}, ctx.Err()
		}
		return p.acquire(ctx, pod, want, false)
	}
	if v := p.pickEvict(id); v != nil {
		return p.evict(ctx, v, pod, want, now)
	}
	err := p.capacityError()
	p.unlock()
	return Branch{}, err
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
	switch {
	case p.closed:
		p.forgetPod(e)
		p.toDeleting(e, now)
		err = fmt.Errorf("eni: node %s: %w", p.node, ErrPoolClosed)
	case e.target:
		p.toWarm(e, now)
	case e.released:
		p.forgetPod(e)
		p.toCooling(e, now)
		err = fmt.Errorf("eni: pod %s on node %s: %w", e.pod, p.node, ErrPodReleased)
	default:
		p.setState(e, StateInUse)
		e.since = now
	}
	e.err = err
	close(e.ready)
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
			if p.policy.Retarget(e.b, want) && (best == nil || e.since.Before(best.since)) {
				best = e
			}
		}
	}
	return best
}

func (p *Pool) pickEvict(want Key) *entry { return p.oldestWarm(want, true) }

// retarget gives the warm ENI v to pod with want's groups. p.mu is held on
// entry and released.
func (p *Pool) retarget(ctx context.Context, v *entry, pod PodRef, want Key, now time.Time) (Branch, error) {
	p.unwarm(v)
	p.setState(v, StateCreating)
	v.pod, v.since, v.busy = pod, now, true
	v.ready, v.err, v.released = make(chan struct{}), nil, false
	p.pods[pod] = v
	from := v.b
	p.unlock()

	err := p.backend.RetargetBranch(ctx, from, want.Groups)

	p.mu.Lock()
	now = p.now()
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
	switch {
	case p.closed:
		p.forgetPod(v)
		p.toDeleting(v, now)
		err = fmt.Errorf("eni: node %s: %w", p.node, ErrPoolClosed)
	case v.released:
		p.forgetPod(v)
		p.toCooling(v, now)
		err = fmt.Errorf("eni: pod %s on node %s: %w", pod, p.node, ErrPodReleased)
	default:
		p.setState(v, StateInUse)
	}
	v.err = err
	close(v.ready)
	b := v.b
	p.unlock()
	if err != nil {
		return Branch{}, err
	}
	return b, nil
}

// evict deletes the warm ENI v and creates one for pod in its slot. p.mu is
// held on entry and released.
func (p *Pool) evict(ctx context.Context, v *entry, pod PodRef, want Key, now time.Time) (Branch, error) {
	p.toDeleting(v, now)
	v.busy = true
	// A placeholder without a slot makes concurrent Acquire calls for the
	// same pod wait.
	e := &entry{pod: pod, since: now, ready: make(chan struct{}), state: StateCreating}
	e.b.Groups, e.b.Subnet = want.Groups, want.Subnet
	p.pods[pod] = e
	gone := v.b
	p.unlock()

	err := p.backend.DeleteBranch(ctx, gone)

	p.mu.Lock()
	now = p.now()
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
