package eni

import (
	"fmt"
	"time"
)

// State is where a branch ENI is in its life in a pool.
type State uint8

const (
	// StateCreating is an ENI being created, or retargeted, for a pod or a
	// warm target. It holds a slot.
	StateCreating State = iota + 1
	// StateInUse is an ENI given to a pod.
	StateInUse
	// StateCooling is an ENI released by its pod, waiting out the cool-down.
	StateCooling
	// StateWarm is an ENI that has cooled down, ready for a pod of its key.
	StateWarm
	// StateDeleting is an ENI being disassociated and deleted.
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

// Entry describes one ENI of a pool, for inspection.
type Entry struct {
	Branch Branch
	State  State
	// Pod is the pod holding the ENI (in use or being prepared for it).
	Pod PodRef
	// Unverified marks an ENI held for a pod the last Reconcile could not
	// name because its pod list was incomplete.
	Unverified bool
	// Unconfirmed marks an ENI adopted from a listing that no later listing
	// has confirmed yet (ReconcileInput.Unconfirmed, Pool.Confirm).
	Unconfirmed bool
	// Since is when the ENI entered its state.
	Since time.Time
}
