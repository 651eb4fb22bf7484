package trunk

import "sync"

// gate is a readers–writer lock for sections that span EC2 calls. Waiters
// block on channels rather than on a sync.Mutex, which testing/synctest
// counts as durably blocked, so virtual time moves on while a node is being
// set up or reconciled. Writers take precedence over new readers. The zero
// gate is unlocked.
type gate struct {
	mu       sync.Mutex // held only briefly, never across a wait
	readers  int
	writer   bool
	writersQ int
	wake     chan struct{} // closed on every release; nil when nobody waits
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

// RLock takes the gate shared.
func (g *gate) RLock() {
	g.mu.Lock()
	for g.writer || g.writersQ > 0 {
		ch := g.waitCh()
		g.mu.Unlock()
		<-ch
		g.mu.Lock()
	}
	g.readers++
	g.mu.Unlock()
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

// Lock takes the gate exclusively.
func (g *gate) Lock() {
	g.mu.Lock()
	g.writersQ++
	for g.writer || g.readers > 0 {
		ch := g.waitCh()
		g.mu.Unlock()
		<-ch
		g.mu.Lock()
	}
	g.writersQ--
	g.writer = true
	g.mu.Unlock()
}

// Unlock releases an exclusive hold.
func (g *gate) Unlock() {
	g.mu.Lock()
	g.writer = false
	g.broadcast()
	g.mu.Unlock()
}
