package eni

import (
	"fmt"
	"slices"
	"time"
)

// LivePod is a pod on the node that has not ended (not Succeeded, Failed or
// deleted).
type LivePod struct {
	Pod PodRef
	// ENIID is the branch ENI named by the pod's pod-eni annotation, or ""
	// when the pod has none yet.
	ENIID string
}

// ReconcileInput is what a Pool is reconciled against.
type ReconcileInput struct {
	// Found lists every branch ENI that EC2 reports associated with the
	// node's trunk, with ENI.VLANID set.
	Found []Branch
	// Pods lists the node's live pods.
	Pods []LivePod
	// Complete vouches that Pods lists every live pod of the node. Without
	// it no ENI is sent towards deletion: ENIs no listed pod claims are held
	// (Entry.Unverified) until a reconcile with a complete list.
	Complete bool
	// ListedAt is when Pods was listed. The pool's changes since win over
	// the list: an ENI the pool gave to a pod at or after it stays in use
	// even when Pods does not name its pod, and an ENI whose state changed
	// at or after it (released, given to another pod) is not moved to the
	// pod the list names. Zero: the list wins.
	ListedAt time.Time
	// MadeAfter: an ENI the pool created at or after it is kept even when
	// Found does not list it, since EC2 lists a new ENI only after a while
	// (eventual consistency). Zero forgets every ENI Found does not list.
	MadeAfter time.Time
	// Unconfirmed says that Found may list ENIs deleted moments before (an
	// eventually consistent listing shows a deletion only after a while).
	// ENIs the pool adopts from it that no live pod names are then never
	// reused on this listing's word alone: they are deleted once cooled
	// down, unless a later listing confirms them first (Confirm).
	Unconfirmed bool
}

// ReconcileResult says what a reconcile changed.
type ReconcileResult struct {
	// Adopted counts ENIs found on EC2 that the pool did not know.
	Adopted int
	// Claimed counts ENIs given to (or moved to) the live pod that names
	// them.
	Claimed int
	// Released counts ENIs that no live pod holds, sent to cool-down.
	Released int
	// Held counts ENIs that no listed pod claims, kept because the pod list
	// was incomplete.
	Held int
	// Gone counts ENIs the pool knew that EC2 no longer reports.
	Gone int
	// Missing lists live pods whose annotated ENI EC2 does not report on
	// this trunk; they need a new ENI.
	Missing []PodRef
	// Conflicts describes ENIs that could not be placed consistently (two
	// pods naming one ENI, two ENIs on one VLAN).
	Conflicts []string
}

// Reconcile aligns the pool with what EC2 reports and with the node's live
// pods, after a restart (on an empty pool) or periodically. It makes no
// backend call:
//   - an ENI named by a live pod's annotation is in use by that pod and keeps
//     its VLAN, whatever state the pool had it in;
//   - with a complete pod list, an in-use ENI whose pod is not live goes to
//     cool-down, as does an adopted ENI that no pod names (so a pod deleted
//     during a restart still gets its cool-down);
//   - with an incomplete list, such ENIs are held, never deleted;
//   - ENIs the pool knew but EC2 no longer reports are forgotten, unless
//     made after ReconcileInput.MadeAfter (too new to be listed).
//
// ENIs being created, retargeted or deleted at the time are left alone.
func (p *Pool) Reconcile(in ReconcileInput) ReconcileResult {
	var res ReconcileResult
	p.mu.Lock()
	defer p.unlock()
	now := p.now()

	live := make(map[PodRef]bool, len(in.Pods))
	claims := make(map[string]PodRef, len(in.Pods))
	for _, lp := range in.Pods {
		live[lp.Pod] = true
		if lp.ENIID == "" {
			continue
		}
		if other, dup := claims[lp.ENIID]; dup {
			res.Conflicts = append(res.Conflicts, fmt.Sprintf("branch ENI %s is named by pods %s and %s; kept for %s", lp.ENIID, other, lp.Pod, other))
			res.Missing = append(res.Missing, lp.Pod)
			continue
		}
		claims[lp.ENIID] = lp.Pod
	}
	// newer reports whether the pool changed e's state after the pods were
	// listed, so that the list cannot override it.
	newer := func(e *entry) bool {
		return e != nil && !in.ListedAt.IsZero() && !e.since.Before(in.ListedAt)
	}
	found := make(map[string]bool, len(in.Found))
	for _, b := range in.Found {
		found[b.ENI.ID] = true
	}

	// ENIs EC2 no longer has (unless too new to be listed).
	for id, e := range p.byENI {
		if found[id] || e.busy || e.state == StateCreating || !in.MadeAfter.IsZero() && !e.made.Before(in.MadeAfter) {
			continue
		}
		if e.state != StateDeleting {
			res.Gone++
		}
		p.dropEntry(e)
	}

	seen := make(map[string]bool, len(in.Found))
	for _, b := range in.Found {
		id := b.ENI.ID
		if seen[id] {
			continue
		}
		seen[id] = true
		pod, claimed := claims[id]
		e := p.byENI[id]
		if e == nil {
			e = &entry{b: b, since: now}
			if err := p.vlans.Reserve(b.ENI.VLANID); err != nil {
				res.Conflicts = append(res.Conflicts, fmt.Sprintf("branch ENI %s: %v", id, err))
				if claimed || !in.Complete {
					// Keep it out of the way without a slot; a later
					// reconcile places it once the clash is resolved.
					continue
				}
				e.state = StateDeleting
				p.byENI[id] = e
				p.all[e] = struct{}{}
				p.toDeletingNoSlot(e, now)
				continue
			}
			e.slot = true
			e.state = StateInUse
			p.counts[StateInUse]++
			p.all[e] = struct{}{}
			p.byENI[id] = e
			res.Adopted++
			switch {
			case claimed && newer(p.pods[pod]):
				e.unverified = true
				res.Held++
				res.Conflicts = append(res.Conflicts, fmt.Sprintf("branch ENI %s is named by pod %s, which the pool gave another ENI after the pods were listed; held", id, pod))
			case claimed:
				p.claim(e, pod)
				res.Claimed++
			case in.Complete:
				e.unconfirmed = in.Unconfirmed
				p.toCooling(e, now)
				res.Released++
			default:
				e.unconfirmed = in.Unconfirmed
				e.unverified = true
				res.Held++
			}
			continue
		}
		if e.busy || e.state == StateCreating {
			continue
		}
		if claimed {
			if e.state == StateInUse && e.pod == pod {
				e.unverified = false
				continue
			}
			held := e.state == StateInUse && e.pod.IsZero() // adopted, no pod known: nothing newer about pods
			if newer(e) && !held || newer(p.pods[pod]) {
				// The pool's state changed after the pods were listed (the
				// pod ended and the ENI went on, or the pod got another
				// one): the list is the older truth.
				res.Conflicts = append(res.Conflicts, fmt.Sprintf("branch ENI %s is named by pod %s, but the pool's state of it (%s) is newer than the pod list; kept", id, pod, e.state))
				continue
			}
			p.leaveState(e)
			p.claim(e, pod)
			res.Claimed++
			continue
		}
		if e.state != StateInUse {
			continue
		}
		switch {
		case !e.pod.IsZero() && live[e.pod]:
			// Acquired for a live pod whose annotation is not written yet.
		case !e.pod.IsZero() && !in.ListedAt.IsZero() && !e.since.Before(in.ListedAt):
			// Acquired after the pods were listed.
		case in.Complete:
			p.forgetPod(e)
			p.toCooling(e, now)
			res.Released++
		default:
			if e.pod.IsZero() {
				res.Held++
			}
		}
	}
	for id, pod := range claims {
		if !found[id] {
			res.Missing = append(res.Missing, pod)
		}
	}
	slices.SortFunc(res.Missing, func(a, b PodRef) int {
		if a.Namespace != b.Namespace {
			if a.Namespace < b.Namespace {
				return -1
			}
			return 1
		}
		if a.Name < b.Name {
			return -1
		} else if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return res
}

// Confirm records that a listing made after the one an ENI was adopted
// from still shows it (see ReconcileInput.Unconfirmed): the ENIs ids that
// the pool holds unconfirmed may be reused from then on. It makes no backend
// call and returns how many it confirmed.
func (p *Pool) Confirm(ids []string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, id := range ids {
		if e := p.byENI[id]; e != nil && e.unconfirmed {
			e.unconfirmed = false
			n++
		}
	}
	return n
}

// Unconfirmed reports whether the pool holds ENIs that wait for a listing to
// confirm them (see ReconcileInput.Unconfirmed).
func (p *Pool) Unconfirmed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for e := range p.all {
		if e.unconfirmed {
			return true
		}
	}
	return false
}

// claim gives e, which is out of every queue, to pod. p.mu must be held.
func (p *Pool) claim(e *entry, pod PodRef) {
	if old := p.pods[pod]; old != nil && old != e && old.state == StateInUse {
		// The annotation wins over what the pool remembered for the pod.
		p.forgetPod(old)
		p.toCooling(old, p.now())
	}
	p.forgetPod(e)
	p.setState(e, StateInUse)
	e.pod, e.since = pod, p.now()
	p.pods[pod] = e
}

// leaveState takes e out of its state's queue, leaving it in use without a
// pod. p.mu must be held.
func (p *Pool) leaveState(e *entry) {
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
	p.setState(e, StateInUse)
}

// toDeletingNoSlot queues e, which holds no slot, for deletion. p.mu must be
// held.
func (p *Pool) toDeletingNoSlot(e *entry, now time.Time) {
	e.since, e.due = now, now
	p.deleting = append(p.deleting, e)
	p.notify(now)
}
