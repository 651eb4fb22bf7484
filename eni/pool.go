package eni

import (
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Pool holds the branch ENIs of one node's trunk and hands them to pods.
//
// Every ENI takes one slot from the moment its creation starts until its
// deletion ends; the slots never exceed the node's limit. A released ENI
// cools down (Policy.CoolDown), then becomes warm: a pod whose key (groups and
// subnet) matches takes it without any backend call. When a pod's key has no
// warm ENI, Acquire, in this order, retargets a warm ENI of another key that
// Policy.Retarget allows (one backend call, and no idle ENI left to delete
// later), creates one in a free slot, or evicts (deletes) the longest-idle
// warm ENI of another key and creates one in its slot; when none of these is
// possible it returns an error matching ErrNoCapacity.
//
// Time-driven work (deleting ENIs past their cool-down or idle time, warm
// targets, retries) happens in Maintain, which a caller runs when OnDue says
// or in a loop with Run. Cooled ENIs also turn warm on the next Acquire.
//
// A Pool is safe for concurrent use.
type Pool struct {
	node    string
	limit   int
	backend Backend
	policy  Policy
	log     *slog.Logger
	onDue   func(time.Time)
	now     func() time.Time

	wake chan struct{}

	mu       sync.Mutex
	closed   bool
	vlans    VLANs
	counts   [StateDeleting + 1]int
	all      map[*entry]struct{} // every entry holding a slot
	pods     map[PodRef]*entry
	byENI    map[string]*entry
	warm     map[Key][]*entry // stacks, most recently warmed last
	warmN    int
	cooling  queue
	deleting []*entry
	targetAt map[Key]time.Time // earliest next attempt per warm target
	targetN  map[Key]int       // failed attempts per warm target
	demand   map[Key]*demand   // recent pod starts per key, for pre-warming
	convert  map[*entry]Key    // warm ENIs being deleted to make room for a key
	stats    Stats
	due      time.Time // pending OnDue notification
}

// NewPool returns an empty pool for a node whose branch ENIs backend
// creates and deletes. Use Reconcile to load the ENIs a node already has.
//
// A nil backend or bad options give an error that names the field, its
// value and what to do, and matches ErrInvalidOptions.
func NewPool(backend Backend, opts Options) (*Pool, error) {
	if backend == nil {
		return nil, fmt.Errorf("%w: the Backend is nil: pass the Backend that creates the node's branch ENIs (package trunk's, or one of your own)", ErrInvalidOptions)
	}
	if opts.Node == "" {
		return nil, invalidOption("Options.Node", `""`, "name the node (its instance ID): errors and logs say which node they are about")
	}
	if opts.Limit < 1 || opts.Limit > MaxBranchVLAN {
		return nil, invalidOption("Options.Limit", opts.Limit, "want the node's branch-ENI limit, 1 to %d (limits.Lookup gives it per instance type)", MaxBranchVLAN)
	}
	vl, err := NewVLANs(opts.Limit)
	if err != nil {
		return nil, err
	}
	pol, err := opts.Policy.normalize("Options.Policy")
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Pool{
		node:     opts.Node,
		limit:    opts.Limit,
		backend:  backend,
		policy:   pol,
		log:      log.With("node", opts.Node),
		onDue:    opts.OnDue,
		now:      time.Now,
		wake:     make(chan struct{}, 1),
		vlans:    *vl,
		all:      make(map[*entry]struct{}),
		pods:     make(map[PodRef]*entry),
		byENI:    make(map[string]*entry),
		warm:     make(map[Key][]*entry),
		targetAt: make(map[Key]time.Time),
		targetN:  make(map[Key]int),
		demand:   make(map[Key]*demand),
		convert:  make(map[*entry]Key),
	}, nil
}

// Node returns the node the pool serves.
func (p *Pool) Node() string { return p.node }

// Limit returns the node's branch-ENI limit.
func (p *Pool) Limit() int { return p.limit }

// Policy returns the pool's policy with defaults filled in, and the
// cool-down in effect.
func (p *Pool) Policy() Policy {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.policy
}

// SetCoolDown changes the pool's cool-down to EffectiveCoolDown(d) and
// returns it. ENIs cooling down now end their cool-down at their release
// time plus the new value (at once if that has passed), as the VPC resource
// controller applies a changed branch-eni-cooldown to the ENIs in its delete
// queue (DeleteCooledDownENIs in pkg/provider/branch/trunk/trunk.go).
func (p *Pool) SetCoolDown(d time.Duration) time.Duration {
	d = EffectiveCoolDown(d)
	p.mu.Lock()
	p.policy.CoolDown = d
	// The queue is in release order and every due is release + cool-down,
	// so re-timing keeps it in order.
	for _, e := range p.cooling.items[p.cooling.head:] {
		e.due = e.since.Add(d)
	}
	if p.cooling.len() > 0 {
		p.notify(p.cooling.peek().due)
	}
	p.unlock()
	return d
}

// total returns the slots taken. p.mu must be held.
func (p *Pool) total() int {
	return p.counts[StateCreating] + p.counts[StateInUse] + p.counts[StateCooling] + p.counts[StateWarm] + p.counts[StateDeleting]
}

// setState moves e to s, keeping the counts. p.mu must be held.
func (p *Pool) setState(e *entry, s State) {
	if e.slot {
		p.counts[e.state]--
		p.counts[s]++
	}
	e.state = s
}

// notify records that Maintain has work at t. p.mu must be held.
func (p *Pool) notify(t time.Time) {
	if p.due.IsZero() || t.Before(p.due) {
		p.due = t
	}
}

// unlock releases p.mu and delivers a pending notification.
func (p *Pool) unlock() {
	due := p.due
	p.due = time.Time{}
	p.mu.Unlock()
	if due.IsZero() {
		return
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
	if p.onDue != nil {
		p.onDue(due)
	}
}

func (p *Pool) capacityError() error {
	e := &CapacityError{Node: p.node, Stats: p.statsLocked()}
	if p.cooling.len() > 0 {
		e.NextCooled = p.cooling.peek().due
	}
	return e
}

// takeSlot gives e a slot and a VLAN. p.mu must be held.
func (p *Pool) takeSlot(e *entry) {
	vlan, err := p.vlans.Allocate()
	if err != nil {
		// Slots and VLANs are counted together; a free slot has a VLAN.
		panic(fmt.Sprintf("eni: pool of node %s: slot free but %v", p.node, err))
	}
	e.b.ENI.VLANID = vlan
	e.slot = true
	e.state = StateCreating
	p.counts[StateCreating]++
	p.all[e] = struct{}{}
}

// forgetPod detaches e from its pod. p.mu must be held.
func (p *Pool) forgetPod(e *entry) {
	if !e.pod.IsZero() && p.pods[e.pod] == e {
		delete(p.pods, e.pod)
	}
	e.pod = PodRef{}
	e.unverified = false
}

// dropEntry removes e and frees its slot and VLAN. p.mu must be held.
func (p *Pool) dropEntry(e *entry) {
	if e.slot {
		p.counts[e.state]--
		if err := p.vlans.Release(e.b.ENI.VLANID); err != nil {
			// Every slot holds its VLAN: carrying on would hand one
			// VLAN to two ENIs of the trunk.
			panic(fmt.Sprintf("eni: pool of node %s: branch ENI %s holds a slot but %v", p.node, e.b.ENI.ID, err))
		}
		e.slot = false
	}
	delete(p.all, e)
	if e.b.ENI.ID != "" && p.byENI[e.b.ENI.ID] == e {
		delete(p.byENI, e.b.ENI.ID)
	}
	switch e.state {
	case StateCooling:
		p.cooling.remove(e)
	case StateWarm:
		p.unwarm(e)
	case StateDeleting:
		if i := slices.Index(p.deleting, e); i >= 0 {
			p.deleting = slices.Delete(p.deleting, i, i+1)
		}
	}
	p.forgetPod(e)
	e.state = 0
}

func (p *Pool) toCooling(e *entry, now time.Time) {
	p.setState(e, StateCooling)
	e.since = now
	e.due = now.Add(p.policy.CoolDown)
	p.cooling.push(e)
	p.notify(e.due)
}

func (p *Pool) toWarm(e *entry, now time.Time) {
	p.setState(e, StateWarm)
	e.since = now
	k := e.b.id()
	p.warm[k] = append(p.warm[k], e)
	p.warmN++
	if p.policy.IdleTimeout > 0 {
		p.notify(now.Add(p.policy.IdleTimeout))
	}
}

func (p *Pool) toDeleting(e *entry, now time.Time) {
	switch e.state {
	case StateCooling:
		p.cooling.remove(e)
	case StateWarm:
		p.unwarm(e)
	case StateDeleting:
		return
	}
	p.setState(e, StateDeleting)
	e.since, e.due, e.tries = now, now, 0
	p.deleting = append(p.deleting, e)
	p.notify(now)
}

// unwarm removes a warm e from its stack. p.mu must be held.
func (p *Pool) unwarm(e *entry) {
	k := e.b.id()
	s := p.warm[k]
	if i := slices.Index(s, e); i >= 0 {
		s = slices.Delete(s, i, i+1)
		p.warmN--
	}
	if len(s) == 0 {
		delete(p.warm, k)
	} else {
		p.warm[k] = s
	}
}

// takeWarm pops the most recently warmed ENI of k. p.mu must be held.
func (p *Pool) takeWarm(k Key) *entry {
	s := p.warm[k]
	if len(s) == 0 {
		return nil
	}
	e := s[len(s)-1]
	s[len(s)-1] = nil
	p.warm[k] = s[:len(s)-1]
	p.warmN--
	return e
}

// promote ends the cool-down of every cooled ENI: warm, or deleting when the
// policy keeps no warm ENIs or the ENI is unconfirmed. p.mu must be held.
func (p *Pool) promote(now time.Time) {
	for p.cooling.len() > 0 && !p.cooling.peek().due.After(now) {
		e := p.cooling.pop()
		if p.policy.MaxWarm == NoWarm || p.closed || e.unconfirmed {
			p.setState(e, StateDeleting)
			e.since, e.due, e.tries = now, now, 0
			p.deleting = append(p.deleting, e)
			p.notify(now)
			continue
		}
		p.toWarm(e, now)
	}
	if p.policy.MaxWarm > 0 {
		for p.warmN > p.policy.MaxWarm {
			p.toDeleting(p.oldestWarm(Key{}, false), now)
		}
	}
}

// oldestWarm returns the longest-idle warm ENI, of a key other than skip when
// other is set. p.mu must be held.
func (p *Pool) oldestWarm(skip Key, other bool) *entry {
	var best *entry
	for k, s := range p.warm {
		if other && k == skip || len(s) == 0 {
			continue
		}
		if best == nil || s[0].idleLonger(best) {
			best = s[0]
		}
	}
	return best
}

// Release returns pod's ENI to the pool, where it cools down before reuse or
// deletion. It makes no backend call. Releasing a pod whose ENI is still
// being prepared sends the ENI to cool-down once ready. It reports whether
// the pod held (or was being given) an ENI.
func (p *Pool) Release(pod PodRef) bool {
	p.mu.Lock()
	e := p.pods[pod]
	if e == nil {
		p.mu.Unlock()
		return false
	}
	switch e.state {
	case StateInUse:
		p.forgetPod(e)
		p.toCooling(e, p.now())
	case StateCreating:
		e.released = true
	}
	p.unlock()
	return true
}

// Lookup returns the ENI pod holds, if any.
func (p *Pool) Lookup(pod PodRef) (Branch, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.pods[pod]
	if e == nil || e.state != StateInUse {
		return Branch{}, false
	}
	return e.b, true
}

// Stats returns the pool's counts.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.statsLocked()
}

func (p *Pool) statsLocked() Stats {
	s := p.stats
	s.Limit = p.limit
	s.Creating = p.counts[StateCreating]
	s.InUse = p.counts[StateInUse]
	s.Cooling = p.counts[StateCooling]
	s.Warm = p.counts[StateWarm]
	s.Deleting = p.counts[StateDeleting]
	return s
}

// Entries returns every ENI the pool tracks, once each, ordered by VLAN:
// those that hold a slot, and those being deleted that hold none (queued by
// Reconcile when their VLAN clashed, or taken off the trunk by a Replacer:
// VLAN 0).
func (p *Pool) Entries() []Entry {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Entry, 0, len(p.all))
	entry := func(e *entry) Entry {
		return Entry{Branch: e.b, State: e.state, Pod: e.pod, Unverified: e.unverified, Unconfirmed: e.unconfirmed, Since: e.since}
	}
	for e := range p.all {
		out = append(out, entry(e))
	}
	for _, e := range p.deleting {
		// A Replacer's old ENI has left p.all; one that Reconcile queued
		// for deletion without a slot (its VLAN clashed) is still there.
		if _, listed := p.all[e]; !listed {
			out = append(out, entry(e))
		}
	}
	slices.SortFunc(out, func(a, b Entry) int { return a.Branch.ENI.VLANID - b.Branch.ENI.VLANID })
	return out
}
