package eni

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/podsg/podsg/api/podeni"
)

// ErrNoCapacity is matched (errors.Is) by the error Acquire returns when the
// node's branch-ENI limit is reached and nothing can be freed: every slot is
// in use by a pod, cooling down or being deleted. The pod must wait until a
// pod on the node ends and its ENI cools down, or run on another node.
var ErrNoCapacity = errors.New("no branch ENI capacity on the node")

// ErrInvalidOptions is matched (errors.Is) by the errors NewPool and
// Policy.Validate return for bad options. The message names the field, its
// value and what to do.
var ErrInvalidOptions = errors.New("eni: invalid options")

// invalidOption returns an error matching ErrInvalidOptions for field.
func invalidOption(field string, value any, format string, args ...any) error {
	return fmt.Errorf("%w: %s = %v: %s", ErrInvalidOptions, field, value, fmt.Sprintf(format, args...))
}

// ErrPoolClosed is returned by Acquire once Drain has started.
var ErrPoolClosed = errors.New("branch ENI pool is closed")

// ErrPodReleased is returned by Acquire when the pod was released while its
// ENI was being prepared; the ENI went to cool-down instead.
var ErrPodReleased = errors.New("pod released while its branch ENI was being prepared")

// PodRef identifies a pod. UID tells apart pods that reuse a name (a
// StatefulSet replica recreated with the same name is another pod).
// PodRef is comparable.
type PodRef struct {
	Namespace string
	Name      string
	UID       string
}

// String returns "namespace/name".
func (p PodRef) String() string { return p.Namespace + "/" + p.Name }

// IsZero reports whether p is the zero PodRef.
func (p PodRef) IsZero() bool { return p == PodRef{} }

// Branch is a branch ENI as a pool holds it: its annotation value and the key
// it serves.
type Branch struct {
	// ENI is the annotation value; ENI.VLANID is its VLAN on the trunk.
	ENI podeni.BranchENI
	// Groups is the ENI's security-group set.
	Groups GroupSet
	// Subnet is the ENI's subnet ID.
	Subnet string
}

// Key returns the key b serves.
func (b Branch) Key() Key { return Key{Groups: b.Groups, Subnet: b.Subnet} }

// CreateRequest asks a Backend for a branch ENI on the pool's trunk.
type CreateRequest struct {
	// Pod is the pod the ENI is for; zero for an ENI created for a warm
	// target.
	Pod PodRef
	// Key is the security-group set and subnet of the ENI.
	Key Key
	// VLAN is the VLAN ID the pool allocated for it, 1..MaxBranchVLAN.
	VLAN int
}

// Backend creates, deletes and retargets the branch ENIs of one node's trunk.
// Package trunk implements it on EC2. Methods are called without the pool's
// lock held and may run concurrently; they must honour ctx.
type Backend interface {
	// CreateBranch creates a branch ENI for req and associates it with the
	// trunk on req.VLAN. On failure nothing may remain associated on
	// req.VLAN, unless the error matches *InDoubtError (errors.As), in which
	// case the pool keeps the VLAN and deletes the named ENI later.
	CreateBranch(ctx context.Context, req CreateRequest) (podeni.BranchENI, error)
	// DeleteBranch disassociates b from the trunk and deletes it. An ENI
	// that no longer exists counts as deleted (nil error).
	DeleteBranch(ctx context.Context, b Branch) error
	// RetargetBranch replaces b's security groups with groups. On failure
	// the pool deletes b, since its groups are then unknown.
	RetargetBranch(ctx context.Context, b Branch, groups GroupSet) error
}

// InDoubtError is returned by a Backend's CreateBranch when it could not
// establish whether the ENI it created is still associated with the trunk
// (for instance its clean-up was interrupted). The pool then keeps the VLAN
// held and deletes the ENI in the background.
type InDoubtError struct {
	// ENI is the branch ENI in doubt; ENI.ID must be set.
	ENI podeni.BranchENI
	// Err is the failure that left it in doubt.
	Err error
}

func (e *InDoubtError) Error() string {
	return fmt.Sprintf("branch ENI %s on VLAN %d left in doubt: %v", e.ENI.ID, e.ENI.VLANID, e.Err)
}

func (e *InDoubtError) Unwrap() error { return e.Err }

// CapacityError is the error Acquire returns when the node is full. It
// matches ErrNoCapacity.
type CapacityError struct {
	Node  string
	Stats Stats
	// NextCooled is when the next cooling ENI ends its cool-down, zero when
	// none is cooling.
	NextCooled time.Time
}

func (e *CapacityError) Error() string {
	s := e.Stats
	msg := fmt.Sprintf("eni: node %s has no free branch ENI: %d of %d taken (%d in use, %d being prepared, %d cooling, %d being deleted)",
		e.Node, s.Total(), s.Limit, s.InUse, s.Creating, s.Cooling, s.Deleting)
	if !e.NextCooled.IsZero() {
		msg += fmt.Sprintf("; the next ENI finishes its cool-down at %s", e.NextCooled.Format(time.RFC3339))
	}
	return msg + "; the pod can start when a pod on this node ends and its ENI cools down, or on another node"
}

// Is makes CapacityError match ErrNoCapacity.
func (e *CapacityError) Is(target error) bool { return target == ErrNoCapacity }

// State is where a branch ENI is in its life in a pool.
type State uint8

const (
	// StateCreating: being created, or retargeted, for a pod or a warm
	// target. It holds a slot.
	StateCreating State = iota + 1
	// StateInUse: given to a pod.
	StateInUse
	// StateCooling: released by its pod, waiting out the cool-down.
	StateCooling
	// StateWarm: cooled down, ready for a pod of its key.
	StateWarm
	// StateDeleting: being disassociated and deleted.
	StateDeleting
)

var stateNames = [...]string{"", "creating", "in-use", "cooling", "warm", "deleting"}

func (s State) String() string {
	if int(s) < len(stateNames) && s != 0 {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", s)
}

// Stats counts a pool's ENIs by state, and its activity since it was built.
type Stats struct {
	Limit    int
	Creating int
	InUse    int
	Cooling  int
	Warm     int
	Deleting int

	// WarmHits counts pods given a warm ENI without any backend call.
	WarmHits uint64
	// Creates counts ENIs created, for pods and for warm targets.
	Creates uint64
	// Retargets counts warm ENIs retargeted to another key.
	Retargets uint64
	// Evictions counts warm ENIs deleted to make room for another key.
	Evictions uint64
	// Deletes counts ENIs deleted.
	Deletes uint64
	// Failures counts failed backend calls.
	Failures uint64
}

// Total returns the slots taken: every state together.
func (s Stats) Total() int { return s.Creating + s.InUse + s.Cooling + s.Warm + s.Deleting }

// Options configure a Pool. NewPool checks the fields marked Required; the
// zero value of every other field means its documented default.
type Options struct {
	// Node names the node in errors and logs (its instance ID). Required.
	Node string
	// Limit is the node's branch-ENI limit, 1..MaxBranchVLAN. Required.
	Limit int
	// Policy governs reuse and deletion; the zero Policy gives the defaults.
	Policy Policy
	// Logger receives debug records of transitions; nil logs nothing.
	Logger *slog.Logger
	// OnDue, if set, is called with the time at which Maintain has work to
	// do, whenever that time may have moved earlier (a release, a cooled ENI
	// due for deletion). It is called without the pool's lock held and must
	// not block. A scheduler serving many pools uses it instead of running
	// one goroutine per pool.
	OnDue func(due time.Time)
}

type entry struct {
	b     Branch
	state State
	pod   PodRef
	since time.Time // when the entry entered its state
	due   time.Time // cooling: end of cool-down; deleting: next attempt
	tries int       // failed deletion attempts
	busy  bool      // a backend call for this entry is in flight
	slot  bool      // counts toward capacity (false while an eviction frees one)
	// creating only:
	ready    chan struct{} // closed when the creation ends
	err      error         // outcome, for Acquire calls waiting on ready
	released bool          // the pod was released meanwhile
	target   bool          // created for a warm target
	// in use only: the last reconcile could not name the pod.
	unverified bool
}

// queue is a FIFO of entries that reuses its backing array.
type queue struct {
	items []*entry
	head  int
}

func (q *queue) len() int { return len(q.items) - q.head }

func (q *queue) peek() *entry { return q.items[q.head] }

func (q *queue) push(e *entry) {
	if q.head > 0 && len(q.items) == cap(q.items) {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items = q.items[:n]
		q.head = 0
	}
	q.items = append(q.items, e)
}

func (q *queue) pop() *entry {
	e := q.items[q.head]
	q.items[q.head] = nil
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	}
	return e
}

func (q *queue) remove(e *entry) {
	for i := q.head; i < len(q.items); i++ {
		if q.items[i] == e {
			copy(q.items[i:], q.items[i+1:])
			q.items[len(q.items)-1] = nil
			q.items = q.items[:len(q.items)-1]
			return
		}
	}
}

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

// Policy returns the pool's policy with defaults filled in.
func (p *Pool) Policy() Policy { return p.policy }

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
	if count {
		p.noteDemand(want, now)
	}
	if e := p.takeWarm(want); e != nil {
		p.setState(e, StateInUse)
		e.pod, e.since = pod, now
		p.pods[pod] = e
		p.stats.WarmHits++
		if len(p.warm[want]) == 0 {
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
	if w := p.prewarmFor(want); w != nil {
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
	if v := p.pickEvict(want); v != nil {
		return p.evict(ctx, v, pod, want, now)
	}
	err := p.capacityError()
	p.unlock()
	return Branch{}, err
}

func (p *Pool) capacityError() error {
	e := &CapacityError{Node: p.node, Stats: p.statsLocked()}
	if p.cooling.len() > 0 {
		e.NextCooled = p.cooling.peek().due
	}
	return e
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
			p.log.Error("pool bookkeeping", "err", err)
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
	k := e.b.Key()
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
	k := e.b.Key()
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
// policy keeps no warm ENIs. p.mu must be held.
func (p *Pool) promote(now time.Time) {
	for p.cooling.len() > 0 && !p.cooling.peek().due.After(now) {
		e := p.cooling.pop()
		if p.policy.MaxWarm == NoWarm || p.closed {
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
		if best == nil || s[0].since.Before(best.since) {
			best = s[0]
		}
	}
	return best
}

func (p *Pool) pickRetarget(want Key) *entry {
	var best *entry
	for k, s := range p.warm {
		if k == want || len(s) == 0 {
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

// Entry describes one ENI of a pool, for inspection.
type Entry struct {
	Branch Branch
	State  State
	// Pod is the pod holding the ENI (in use or being prepared for it).
	Pod PodRef
	// Unverified marks an ENI held for a pod the last Reconcile could not
	// name because its pod list was incomplete.
	Unverified bool
	// Since is when the ENI entered its state.
	Since time.Time
}

// Entries returns every ENI the pool tracks, ordered by VLAN.
func (p *Pool) Entries() []Entry {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Entry, 0, len(p.all))
	for e := range p.all {
		out = append(out, Entry{Branch: e.b, State: e.state, Pod: e.pod, Unverified: e.unverified, Since: e.since})
	}
	slices.SortFunc(out, func(a, b Entry) int { return a.Branch.ENI.VLANID - b.Branch.ENI.VLANID })
	return out
}
