package trunk

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// A branch ENI EC2 has just created is usually unknown to EC2's other calls
// for a moment (see recentIDs). Associating it then costs an
// AssociateTrunkInterface answered NotFound, a token of the mutating
// bucket (5/s for the account) spent for nothing, and a wait of a second or
// more before asking again. EC2's advice is to poll a Describe call until
// the resource shows (EC2 Developer Guide, "Eventual consistency in the
// Amazon EC2 API"): the Manager does so before the association, for all
// the new ENIs waiting together, with one DescribeNetworkInterfaces call
// filtered by network-interface-id at once and then every listedPoll, on
// the Describe bucket (100, 20/s) that pod starts barely use.
const (
	// listedPoll is the time between two listings of the ENIs waiting.
	listedPoll = 200 * time.Millisecond
	// listedMaxWait bounds the wait for one ENI: past it, the association
	// is asked anyway, and a NotFound is asked again as for any fresh ID.
	listedMaxWait = 10 * time.Second
)

// lookout lists the new ENIs that associations wait for.
type lookout struct {
	mu      sync.Mutex
	waiting map[string][]chan time.Duration // ENI ID → its waiters, sent their stagger once listed
	polling bool                            // a goroutine runs poll
}

func newLookout() *lookout { return &lookout{waiting: make(map[string][]chan time.Duration)} }

// awaitListed waits until DescribeNetworkInterfaces lists the ENI id, at
// most listedMaxWait or until ctx ends; either way the caller goes on (the
// association handles NotFound itself).
func (m *Manager) awaitListed(ctx context.Context, id string) {
	l := m.look
	ch := make(chan time.Duration, 1)
	l.mu.Lock()
	l.waiting[id] = append(l.waiting[id], ch)
	start := !l.polling
	l.polling = true
	l.mu.Unlock()
	if start {
		go m.poll()
	}
	t := time.NewTimer(listedMaxWait)
	defer t.Stop()
	select {
	case d := <-ch:
		_ = sleep(ctx, d)
		return
	case <-t.C:
	case <-ctx.Done():
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	ws := l.waiting[id]
	if i := slices.Index(ws, ch); i >= 0 {
		ws = slices.Delete(ws, i, i+1)
		if len(ws) == 0 {
			delete(l.waiting, id)
		} else {
			l.waiting[id] = ws
		}
	}
}

// poll lists the waiting ENIs at once, then every listedPoll, in ID order,
// at most maxFilterValues per call, and wakes the waiters of those listed.
// The waiters go on two nanoseconds apart, in ID order: their associations
// then take their turns at the budget in an order that does not depend on
// how goroutines are scheduled, so that a simulation in virtual time
// replays the same calls. It returns once nobody waits (or the Manager is
// closed), so that an idle Manager runs no poller.
func (m *Manager) poll() {
	l := m.look
	// The first listing goes at once (two nanoseconds later, so that every
	// ENI that began to wait at the same instant is in it), for an ENI EC2
	// may know already; the next ones every listedPoll.
	wait := 2 * time.Nanosecond
	for {
		if sleep(m.life, wait) != nil {
			l.mu.Lock()
			l.polling = false
			l.mu.Unlock()
			return
		}
		wait = listedPoll
		l.mu.Lock()
		ids := make([]string, 0, len(l.waiting))
		for id := range l.waiting {
			ids = append(ids, id)
		}
		if len(ids) == 0 {
			l.polling = false
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
		slices.Sort(ids)
		for chunk := range slices.Chunk(ids, maxFilterValues) {
			var listed []string
			err := m.listENIs(m.life, PriorityPodStart, []types.Filter{filter("network-interface-id", chunk...)}, func(nis []types.NetworkInterface) {
				for _, ni := range nis {
					listed = append(listed, aws.ToString(ni.NetworkInterfaceId))
				}
			})
			if err != nil {
				m.log.Debug("listing new branch ENIs", "err", err)
				continue // asked again at the next poll, or the waiters give up
			}
			slices.Sort(listed)
			l.mu.Lock()
			var turn time.Duration
			for _, id := range listed {
				for _, ch := range l.waiting[id] {
					ch <- turn
					turn += 2 // even: background calls take their turn at odd nanoseconds (Budget)
				}
				delete(l.waiting, id)
			}
			l.mu.Unlock()
		}
		l.mu.Lock()
		if len(l.waiting) == 0 {
			// Nobody waits any more: stop now rather than after another
			// poll.
			l.polling = false
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
	}
}
