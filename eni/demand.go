package eni

import (
	"cmp"
	"slices"
	"time"
)

const (
	// DefaultDemandWindow is how far back a pool looks at pod starts to
	// decide which security-group sets to keep warm ENIs for.
	DefaultDemandWindow = 10 * time.Minute
	// DefaultDominance is how many times the demand of a key must exceed
	// that of another before a warm ENI of the other is replaced by one of
	// the first.
	DefaultDominance = 2.0
	// DefaultCoreSlots is how many spare slots a pool keeps for ENIs of
	// the groups its keys in demand share (see PrewarmPolicy).
	DefaultCoreSlots = 2
	// NoPrewarm turns demand-driven pre-warming off when given as
	// PrewarmPolicy.Window.
	NoPrewarm = -1
)

// PrewarmPolicy governs demand-driven pre-warming: the pool counts the pod
// starts of each key (security-group set and subnet) on its node over the
// last Window, and shares the node's spare slots among the keys in
// proportion to that demand, so that the next pod of a busy key finds a warm
// ENI instead of waiting for EC2.
//
// The spare slots are those neither in use, nor being deleted, nor being
// created for a pod: free slots and warm, cooling or pre-warming ENIs. A
// key's share is its part of the spare slots in proportion to its pod
// starts (whole slots, the rest to the busiest keys), but never more than its pod starts in the
// window: a key whose three pods started keeps at most three warm. It is
// met, in this order, by its warm ENIs, its ENIs cooling down
// (they will be warm), and ENIs created for it in free slots. When no slot
// is free, a warm ENI of a key that holds more than its share is deleted to
// make room, but only when the key short of its share has at least
// Dominance times its demand, so that two keys of similar demand do not
// trade one ENI back and forth. Shares never exceed Policy.MaxWarm, and warm
// ENIs within their key's share are not deleted for being idle. Once a key
// has had no pod start for Window, its share is zero and its warm ENIs age
// out after Policy.IdleTimeout as usual.
//
// When the keys in demand share some groups (all pods get a cluster-wide
// group, say) and the retarget policy lets an ENI of just those groups
// become an ENI of any of the keys (RetargetSuperset does: it only adds
// groups), CoreSlots of the spare slots go to ENIs of the shared groups, the
// core, instead of the keys' shares, and so do the slots the shares leave
// over. A pod whose key has no warm ENI then takes a core ENI and waits for
// one ModifyNetworkInterfaceAttribute instead of a new ENI: on a node that
// sees many keys, few of which start twice, the core serves them all.
//
// Every warm ENI holds an address of its subnet; in a subnet short of
// addresses, cap them with Policy.MaxWarm or turn pre-warming off.
//
// Pre-warming creates and deletes ENIs in Pool.Maintain, in the background,
// and only while no pod of the node waits for an ENI being created: it
// fills the pool for the next burst rather than competing with the current
// one. Package trunk makes those calls at background priority, so they
// never delay a pod start on another node either. The zero PrewarmPolicy gives the defaults.
type PrewarmPolicy struct {
	// Window is how far back pod starts count. Zero means the policy's
	// IdleTimeout (at least 10 s), or DefaultDemandWindow when warm ENIs
	// never idle out; NoPrewarm (any negative value) turns pre-warming off.
	Window time.Duration
	// Dominance: see PrewarmPolicy. Zero means DefaultDominance; values
	// below 1 are refused.
	Dominance float64
	// CoreSlots: see PrewarmPolicy. Zero means DefaultCoreSlots; NoCore
	// (any negative value) keeps no core ENIs.
	CoreSlots int
}

// NoCore turns core ENIs off when given as PrewarmPolicy.CoreSlots.
const NoCore = -1

func (w PrewarmPolicy) normalize(path string, idle time.Duration) (PrewarmPolicy, error) {
	if w.Window == 0 {
		w.Window = DefaultDemandWindow
		if idle > 0 {
			w.Window = max(idle, demandSlots*time.Second)
		}
	}
	if w.Dominance == 0 {
		w.Dominance = DefaultDominance
	}
	if w.CoreSlots == 0 {
		w.CoreSlots = DefaultCoreSlots
	}
	if w.Window > 0 && w.Window < demandSlots*time.Second {
		return w, invalidOption(path+".Window", w.Window, "want at least %v, 0 for the default, or NoPrewarm", demandSlots*time.Second)
	}
	if w.Dominance < 1 {
		return w, invalidOption(path+".Dominance", w.Dominance, "want at least 1, or 0 for DefaultDominance")
	}
	return w, nil
}

func (w PrewarmPolicy) on() bool { return w.Window > 0 }

// demandSlots is the number of buckets of a demand window.
const demandSlots = 10

// demand counts the pod starts of one key over a sliding window, in
// demandSlots buckets: a fixed 80 bytes per key however many pods start.
type demand struct {
	last   int64 // bucket number of the newest bucket
	counts [demandSlots]uint32
	// groups are the key's groups in the order the newest pod start
	// asked for them: pre-warmed ENIs are created in that order.
	groups GroupSet
}

// advance moves the window so that bucket b is the newest.
func (d *demand) advance(b int64) {
	if b <= d.last {
		return
	}
	if b-d.last >= demandSlots {
		clear(d.counts[:])
	} else {
		for i := d.last + 1; i <= b; i++ {
			d.counts[i%demandSlots] = 0
		}
	}
	d.last = b
}

func (d *demand) sum() int {
	n := 0
	for _, c := range d.counts {
		n += int(c)
	}
	return n
}

func (p *Pool) bucket(now time.Time) int64 {
	return now.UnixNano() / int64(p.policy.Prewarm.Window/demandSlots)
}

// noteDemand counts a pod start of want. p.mu must be held.
func (p *Pool) noteDemand(want Key, now time.Time) {
	if !p.policy.Prewarm.on() || p.policy.MaxWarm == NoWarm {
		return
	}
	k := want.Canonical()
	d := p.demand[k]
	if d == nil {
		d = &demand{}
		p.demand[k] = d
	}
	d.groups = want.Groups
	d.advance(p.bucket(now))
	d.counts[d.last%demandSlots]++
}

// keyDemand is one key's demand and what it has towards its share.
type keyDemand struct {
	key    Key
	starts int
	want   int // share of the spare slots
	have   int // warm + cooling + being created for the key's share
}

// shares computes each key's share of the spare slots from the demand of the
// window ending now, forgetting keys without demand. p.mu must be held.
func (p *Pool) shares(now time.Time) []keyDemand {
	if !p.policy.Prewarm.on() || p.policy.MaxWarm == NoWarm || p.closed || len(p.demand) == 0 {
		return nil
	}
	b := p.bucket(now)
	var out []keyDemand
	total := 0
	for k, d := range p.demand {
		d.advance(b)
		n := d.sum()
		if n == 0 {
			delete(p.demand, k)
			continue
		}
		out = append(out, keyDemand{key: k, starts: n})
		total += n
	}
	if total == 0 {
		return nil
	}
	var have = make(map[Key]int, len(out))
	creatingForPods := 0
	for e := range p.all {
		switch {
		case e.state == StateWarm || e.state == StateCooling:
			have[e.b.id()]++
		case e.state == StateCreating && e.target:
			have[e.b.id()]++
		case e.state == StateCreating:
			creatingForPods++
		}
	}
	for e, k := range p.convert {
		if _, ok := p.all[e]; ok && e.state == StateDeleting {
			have[k]++ // its slot is on its way to k
		} else {
			delete(p.convert, e)
		}
	}
	spare := p.limit - p.counts[StateInUse] - p.counts[StateDeleting] - creatingForPods
	if p.policy.MaxWarm > 0 {
		spare = min(spare, p.policy.MaxWarm)
	}
	spare = max(spare, 0)
	// Each key gets the whole slots of its proportion; the slots left over
	// go to the busiest keys first (ties by the key's name).
	slices.SortFunc(out, func(a, b keyDemand) int {
		if c := cmp.Compare(b.starts, a.starts); c != 0 {
			return c
		}
		return cmp.Compare(a.key.String(), b.key.String())
	})
	core, ok := coreKey(out)
	ok = ok && p.policy.Prewarm.CoreSlots > 0 && p.policy.Retarget(Branch{Groups: core.Groups, Subnet: core.Subnet}, out[0].key)
	exact := spare
	if ok {
		exact = max(spare-p.policy.Prewarm.CoreSlots, 0)
	}
	given := 0
	for i := range out {
		out[i].want = exact * out[i].starts / total
		out[i].have = have[out[i].key]
		given += out[i].want
	}
	for i := 0; !ok && given < spare && i < len(out); i++ {
		out[i].want++
		given++
	}
	for i := range out {
		out[i].want = min(out[i].want, out[i].starts)
	}
	if ok {
		// The core's slots and those the shares leave over go to ENIs of
		// the groups every key in demand has, which the retarget policy
		// lets the pool give to a pod of any of them with one call.
		out = append(out, keyDemand{key: core, starts: total, want: min(spare-given, total), have: have[core]})
	}
	return out
}

// coreKey returns the groups every key of sh has, in their common subnet,
// when there are such groups, at least two keys, and no key has just those
// groups: a warm ENI of the core can become an ENI of any of the keys by
// adding groups (a retarget RetargetSuperset allows), where an ENI of one
// key cannot become one of another. The core of keys that share no group,
// or that lie in several subnets, is none.
func coreKey(sh []keyDemand) (Key, bool) {
	if len(sh) < 2 {
		return Key{}, false
	}
	subnet := sh[0].key.Subnet
	var ids []string
	for id := range sh[0].key.Groups.All() {
		ids = append(ids, id)
	}
	for _, k := range sh[1:] {
		if k.key.Subnet != subnet {
			return Key{}, false
		}
		ids = slices.DeleteFunc(ids, func(id string) bool { return !k.key.Groups.Contains(id) })
	}
	if len(ids) == 0 {
		return Key{}, false
	}
	core := Key{Groups: MustGroupSet(ids...).Canonical(), Subnet: subnet}
	for _, k := range sh {
		if k.key.Groups.Equal(core.Groups) {
			return Key{}, false
		}
	}
	return core, true
}

// shareOf returns k's share in sh.
func shareOf(sh []keyDemand, k Key) int {
	for _, s := range sh {
		if s.key == k {
			return s.want
		}
	}
	return 0
}

// demandOrder returns k with its groups in the order the newest pod start of
// k asked for them. p.mu must be held.
func (p *Pool) demandOrder(k Key) Key {
	if d := p.demand[k]; d != nil && !d.groups.IsEmpty() {
		k.Groups = d.groups
	}
	return k
}

// planPrewarm takes slots for ENIs to create for keys short of their share,
// and sends to deletion warm ENIs of keys above their share when a busier
// key needs the slot. p.mu must be held.
func (p *Pool) planPrewarm(now time.Time, sh []keyDemand) []*entry {
	if p.podsCreating() > 0 {
		return nil
	}
	var out []*entry
	for i := range sh {
		s := &sh[i]
		if p.targetAt[s.key].After(now) {
			continue
		}
		for s.have < s.want {
			if p.policy.MaxWarm > 0 && p.warmN+p.prewarming() >= p.policy.MaxWarm {
				return out
			}
			if p.total() < p.limit {
				out = append(out, p.newCreating(PodRef{}, p.demandOrder(s.key), now))
				s.have++
				continue
			}
			v := p.prewarmVictim(sh, s)
			if v == nil {
				break
			}
			// The slot comes free once v is deleted; a later round
			// creates the key's ENI in it.
			p.toDeleting(v, now)
			p.convert[v] = s.key
			s.have++
		}
	}
	return out
}

// prewarmVictim picks the longest-idle warm ENI of a key holding more than
// its share whose demand the short key s dominates, and counts it out of
// its key. p.mu must be held.
func (p *Pool) prewarmVictim(sh []keyDemand, s *keyDemand) *entry {
	var best *entry
	var from *keyDemand
	for k, stack := range p.warm {
		if k == s.key || len(stack) == 0 {
			continue
		}
		o := keyDemand{key: k}
		var op *keyDemand
		for i := range sh {
			if sh[i].key == k {
				op = &sh[i]
				o = *op
			}
		}
		if op != nil && o.have <= o.want {
			continue
		}
		if float64(s.starts) < p.policy.Prewarm.Dominance*float64(o.starts) {
			continue
		}
		if best == nil || stack[0].idleLonger(best) {
			best, from = stack[0], op
		}
	}
	if best != nil && from != nil {
		from.have--
	}
	return best
}

// prewarmDue reports whether a key is short of its share while a slot is
// free for it, so that Maintain has work now. p.mu must be held.
func (p *Pool) prewarmDue(sh []keyDemand) (time.Time, bool) {
	if len(sh) == 0 || p.podsCreating() > 0 {
		return time.Time{}, false
	}
	var at time.Time
	due := false
	if p.policy.MaxWarm > 0 && p.warmN+p.prewarming() >= p.policy.MaxWarm {
		return time.Time{}, false
	}
	for _, s := range sh {
		if s.have >= s.want || p.total() >= p.limit {
			continue
		}
		t := p.targetAt[s.key]
		if !due || t.Before(at) {
			at, due = t, true
		}
	}
	return at, due
}

// podsCreating counts the ENIs being created or retargeted for pods.
// p.mu must be held.
func (p *Pool) podsCreating() int {
	n := 0
	for e := range p.all {
		if !e.target && e.state == StateCreating {
			n++
		}
	}
	return n
}

// prewarming counts the ENIs being created for warm targets or shares.
// p.mu must be held.
func (p *Pool) prewarming() int {
	n := 0
	for e := range p.all {
		if e.target && e.state == StateCreating {
			n++
		}
	}
	return n
}

// wantPrewarm asks for Maintain when a pod found no warm ENI of its key, or
// took the last one, so that pre-warming can refill. p.mu must be held.
func (p *Pool) wantPrewarm(now time.Time) {
	if p.policy.Prewarm.on() && p.policy.MaxWarm != NoWarm {
		p.notify(now)
	}
}

// prewarmFor returns the ENI on the lowest VLAN being created ahead of
// demand for k, if any. p.mu must be held.
func (p *Pool) prewarmFor(k Key) *entry {
	var best *entry
	for e := range p.all {
		if e.target && e.state == StateCreating && e.b.id() == k && (best == nil || e.b.ENI.VLANID < best.b.ENI.VLANID) {
			best = e
		}
	}
	return best
}
