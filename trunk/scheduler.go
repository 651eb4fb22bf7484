package trunk

import (
	"container/heap"
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Run does the Manager's background work until ctx is done or the Manager
// is closed: it runs each pool's Maintain when due, on at most
// Options.Workers goroutines, and collects garbage every Options.GCInterval
// (one pass at a time). It returns ctx's error (ErrClosed after Close) once
// its workers and its garbage collection have stopped; work it had not
// started stays queued for the next Run.
func (m *Manager) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(m.life, cancel)
	defer stop()
	work := make(chan turn)
	var wg sync.WaitGroup
	defer wg.Wait() // workers, and a garbage-collection pass in flight
	for range m.opts.Workers {
		wg.Go(func() {
			for w := range work {
				if m.startTurn(ctx, w) == nil {
					m.maintain(ctx, w.n)
				} else {
					m.requeue([]*node{w.n}, time.Now())
				}
			}
		})
	}
	defer close(work)
	var gc <-chan time.Time
	if m.opts.GCInterval > 0 {
		t := time.NewTicker(m.opts.GCInterval)
		defer t.Stop()
		gc = t.C
	}
	var collecting atomic.Bool
	// prev is closed once the last node handed out has taken its start.
	prev := make(chan struct{})
	close(prev)
	end := func() error {
		if m.life.Err() != nil {
			return ErrClosed
		}
		return ctx.Err()
	}
	for {
		m.smu.Lock()
		now := time.Now()
		var ready []*node
		// A node is handed out once the time it is due at and the time it
		// was queued at are both past, a nanosecond later at the earliest:
		// every node queued at an instant is in the queue by then,
		// whichever goroutine put it there, so that the nodes handed out
		// together do not depend on the goroutine schedule.
		var early []dueItem
		for m.queue.Len() > 0 && m.queue[0].at.Before(now) {
			it := heap.Pop(&m.queue).(dueItem)
			n := it.n
			if n.removed || !n.due.Equal(it.at) {
				continue
			}
			if !it.queued.Before(now) {
				early = append(early, it)
				continue
			}
			n.due = time.Time{}
			n.running = true
			ready = append(ready, n)
		}
		for _, it := range early {
			heap.Push(&m.queue, it)
		}
		var timer *time.Timer
		var fire <-chan time.Time
		switch {
		case len(early) > 0:
			timer = time.NewTimer(time.Nanosecond)
			fire = timer.C
		case m.queue.Len() > 0:
			timer = time.NewTimer(m.queue[0].at.Add(time.Nanosecond).Sub(now))
			fire = timer.C
		}
		m.smu.Unlock()
		// Nodes due together are handed out in ID order, and start in
		// that order (startTurn), so that their calls take their turns at
		// the budget in an order that does not depend on the goroutine
		// schedule (a simulation in virtual time replays the same).
		slices.SortStableFunc(ready, func(a, b *node) int { return strings.Compare(a.id, b.id) })
		for i, n := range ready {
			w := turn{n: n, after: prev, took: make(chan struct{})}
			select {
			case work <- w:
				prev = w.took
			case <-ctx.Done():
				if timer != nil {
					timer.Stop()
				}
				m.requeue(ready[i:], now)
				return end()
			}
		}
		if len(ready) > 0 {
			if timer != nil {
				timer.Stop()
			}
			continue
		}
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return end()
		case <-m.kick:
		case <-fire:
		case <-gc:
			if collecting.CompareAndSwap(false, true) {
				wg.Go(func() {
					defer collecting.Store(false)
					if _, err := m.CollectGarbage(ctx); err != nil && ctx.Err() == nil {
						m.log.Warn("garbage collection", "err", err)
					}
				})
			}
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// turn is a node handed to a worker.
type turn struct {
	n     *node
	after <-chan struct{} // closed once the node handed out before took its start
	took  chan struct{}   // closed once this one took its start
}

// startTurn waits until w's node may start: after the node handed out
// before it took its start, at a time of its own, two nanoseconds after the
// last start at the latest. Two maintenances never start at the same
// instant, and those handed out together start in the order they were
// handed out whichever worker runs them. (Two nanoseconds: background calls
// take their turn at the budget a nanosecond after they ask.)
func (m *Manager) startTurn(ctx context.Context, w turn) error {
	select {
	case <-w.after:
	case <-ctx.Done():
		close(w.took)
		return ctx.Err()
	}
	m.smu.Lock()
	start := time.Now()
	if next := m.lastStart.Add(2 * time.Nanosecond); start.Before(next) {
		start = next
	}
	m.lastStart = start
	m.smu.Unlock()
	close(w.took)
	return sleep(ctx, time.Until(start))
}

// requeue puts back nodes taken off the queue but never handed to a worker,
// due at at, for the next Run.
func (m *Manager) requeue(ns []*node, at time.Time) {
	for _, n := range ns {
		m.smu.Lock()
		n.running = false
		r := n.rerun
		n.rerun = time.Time{}
		m.smu.Unlock()
		if !r.IsZero() && r.Before(at) {
			at = r
		}
		m.schedule(n, at)
	}
}

func (m *Manager) maintain(ctx context.Context, n *node) {
	if due := m.takeConfirms(n, time.Now()); len(due) > 0 {
		m.confirm(ctx, due)
	}
	_, p, _, _ := n.state()
	var next time.Time
	if p != nil && n.op.RLock(ctx) == nil {
		var err error
		next, err = p.Maintain(ctx)
		n.op.RUnlock()
		if err != nil && ctx.Err() == nil {
			m.log.Warn("pool maintenance", "node", n.id, "err", err)
		}
	}
	if p != nil && ctx.Err() != nil && next.IsZero() {
		next = time.Now() // interrupted: whatever was due is still due
	}
	m.smu.Lock()
	n.running = false
	if c := n.confirmAt; !c.IsZero() && (next.IsZero() || c.Before(next)) {
		next = c
	}
	if r := n.rerun; !r.IsZero() {
		n.rerun = time.Time{}
		if next.IsZero() || r.Before(next) {
			next = r
		}
	}
	m.smu.Unlock()
	if !next.IsZero() {
		m.schedule(n, next)
	}
}

// schedule asks for n's pool to be maintained at t.
func (m *Manager) schedule(n *node, t time.Time) {
	m.smu.Lock()
	defer m.smu.Unlock()
	if n.removed {
		return
	}
	if n.running {
		if n.rerun.IsZero() || t.Before(n.rerun) {
			n.rerun = t
		}
		return
	}
	if !n.due.IsZero() && !t.Before(n.due) {
		return
	}
	n.due = t
	heap.Push(&m.queue, dueItem{at: t, n: n, queued: time.Now()})
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

type dueItem struct {
	at     time.Time
	n      *node
	queued time.Time // when schedule queued it
}

type dueHeap []dueItem

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(dueItem)) }
func (h *dueHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = dueItem{}
	*h = old[:len(old)-1]
	return it
}
