package eni

import "time"

// entry is the pool's bookkeeping of one branch ENI. Its fields are guarded
// by the pool's lock.
type entry struct {
	b     Branch
	state State
	pod   PodRef
	since time.Time // when the entry entered its state
	due   time.Time // cooling: end of cool-down; deleting: next attempt
	tries int       // failed deletion attempts
	busy  bool      // a backend call for this entry is in flight
	slot  bool      // counts toward capacity (false while an eviction frees one)
	made  time.Time // when the backend created the ENI; zero when adopted
	// creating only:
	ready    chan struct{} // closed when the creation ends
	err      error         // outcome, for Acquire calls waiting on ready
	released bool          // the pod was released meanwhile
	target   bool          // created for a warm target
	waiters  []*waiter     // pods waiting for this pre-warming ENI, first come first
	// in use only: the last reconcile could not name the pod.
	unverified bool
	// adopted from a listing that may show ENIs deleted moments before
	// (ReconcileInput.Unconfirmed), and no later listing confirmed it
	// (Pool.Confirm): never reused, deleted once cooled down.
	unconfirmed bool
}

// idleLonger reports whether e entered its state before o, or at the same
// time on a lower VLAN: a total order, so that choosing the longest-idle ENI
// never depends on map iteration.
func (e *entry) idleLonger(o *entry) bool {
	if !e.since.Equal(o.since) {
		return e.since.Before(o.since)
	}
	return e.b.ENI.VLANID < o.b.ENI.VLANID
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
