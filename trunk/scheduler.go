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
				if sleep(ctx, w.after) == nil {
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
		for m.queue.Len() > 0 && !m.queue[0].at.After(now) {
			it := heap.Pop(&m.queue).(dueItem)
			n := it.n
			if n.removed || !n.due.Equal(it.at) {
				continue
			}
			n.due = time.Time{}
			n.running = true
			ready = append(ready, n)
		}
		var timer *time.Timer
		var fire <-chan time.Time
		if m.queue.Len() > 0 {
			timer = time.NewTimer(m.queue[0].at.Sub(now))
			fire = timer.C
		}
		m.smu.Unlock()
		// Nodes due together start two nanoseconds apart in ID order, so
		// that their calls take their turns at the budget in an order that
		// does not depend on the goroutine schedule (a simulation in
		// virtual time replays the same).
		slices.SortFunc(ready, func(a, b *node) int { return strings.Compare(a.id, b.id) })
		for i, n := range ready {
			select {
			case work <- turn{n: n, after: time.Duration(2 * i)}:
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

// turn is a node handed to a worker, to maintain after a delay.
type turn struct {
	n     *node
	after time.Duration
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
	heap.Push(&m.queue, dueItem{at: t, n: n})
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

type dueItem struct {
	at time.Time
	n  *node
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
