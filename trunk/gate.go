package trunk

import (
	"context"
	"sync"
)

// gate is a readers–writer lock for sections that span EC2 calls, whose
// waits end with the waiter's context. Waiters block on channels rather than
// on a sync.Mutex, which testing/synctest counts as durably blocked, so
// virtual time moves on while a node is being reconciled. Writers take
// precedence over new readers. The zero gate is unlocked.
type gate struct {
	mu       sync.Mutex // held only briefly, never across a wait
	readers  int
	writer   bool
	writersQ int
	wake     chan struct{} // closed on every change; nil when nobody waits
}

func (g *gate) waitCh() chan struct{} {
	if g.wake == nil {
		g.wake = make(chan struct{})
	}
	return g.wake
}

func (g *gate) broadcast() {
	if g.wake != nil {
		close(g.wake)
		g.wake = nil
	}
}

// wait releases g.mu until the next change or the end of ctx, and takes it
// again. It returns ctx's error when ctx ended.
func (g *gate) wait(ctx context.Context) error {
	ch := g.waitCh()
	g.mu.Unlock()
	var err error
	select {
	case <-ch:
	case <-ctx.Done():
		err = ctx.Err()
	}
	g.mu.Lock()
	return err
}

// RLock takes the gate shared, or returns ctx's error when ctx ends first.
func (g *gate) RLock(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	for g.writer || g.writersQ > 0 {
		if err := g.wait(ctx); err != nil {
			return err
		}
	}
	g.readers++
	return nil
}

// RUnlock releases a shared hold.
func (g *gate) RUnlock() {
	g.mu.Lock()
	g.readers--
	if g.readers == 0 {
		g.broadcast()
	}
	g.mu.Unlock()
}

// Lock takes the gate exclusively, or returns ctx's error when ctx ends
// first.
func (g *gate) Lock(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.writersQ++
	for g.writer || g.readers > 0 {
		if err := g.wait(ctx); err != nil {
			g.writersQ--
			g.broadcast() // readers held back by this writer may go on
			return err
		}
	}
	g.writersQ--
	g.writer = true
	return nil
}

// Unlock releases an exclusive hold.
func (g *gate) Unlock() {
	g.mu.Lock()
	g.writer = false
	g.broadcast()
	g.mu.Unlock()
}
