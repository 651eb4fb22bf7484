package trunk

import (
	"maps"
	"sort"
	"sync"
	"time"

	"github.com/podsg/podsg/eni"
)

// Outcome classifies the answer to one EC2 call.
type Outcome string

// The outcomes a Manager counts.
const (
	OutcomeOK        Outcome = "ok"        // the call succeeded
	OutcomeThrottled Outcome = "throttled" // RequestLimitExceeded and other throttling codes
	OutcomeError     Outcome = "error"     // any other error, lost responses included
)

// readyBuckets are the upper bounds of the ENI-ready latency histogram.
var readyBuckets = []time.Duration{
	time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second,
	5 * time.Second, 10 * time.Second, 20 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute,
}

// metrics counts what a Manager does. It is safe for concurrent use.
type metrics struct {
	mu        sync.Mutex
	calls     map[string]map[Outcome]uint64
	throttles uint64
	retries   uint64
	notFound  uint64
	ready     []uint64 // per readyBuckets, plus one overflow
	readyN    uint64
	readySum  time.Duration
}

func newMetrics() *metrics {
	return &metrics{calls: make(map[string]map[Outcome]uint64), ready: make([]uint64, len(readyBuckets)+1)}
}

func (m *metrics) call(action string, o Outcome) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.calls[action]
	if c == nil {
		c = make(map[Outcome]uint64, 3)
		m.calls[action] = c
	}
	c[o]++
	if o == OutcomeThrottled {
		m.throttles++
	}
}

func (m *metrics) retry() {
	m.mu.Lock()
	m.retries++
	m.mu.Unlock()
}

func (m *metrics) notFoundRetry() {
	m.mu.Lock()
	m.notFound++
	m.mu.Unlock()
}

func (m *metrics) readyAfter(d time.Duration) {
	i := sort.Search(len(readyBuckets), func(i int) bool { return d <= readyBuckets[i] })
	m.mu.Lock()
	m.ready[i]++
	m.readyN++
	m.readySum += d
	m.mu.Unlock()
}

// Metrics is a snapshot of a Manager's counters.
type Metrics struct {
	// Calls counts EC2 calls by action and outcome; every attempt counts.
	Calls map[string]map[Outcome]uint64
	// Throttles counts throttled answers (RequestLimitExceeded).
	Throttles uint64
	// Retries counts attempts repeated after a retryable error.
	Retries uint64
	// NotFoundRetries counts attempts repeated because EC2 answered NotFound
	// for an ID it had given the Manager moments before, or refused to
	// delete an ENI as in use while it did not list yet the association
	// made moments before (EC2 is eventually consistent; see the package
	// doc). Calls counts these attempts too.
	NotFoundRetries uint64
	// Nodes is the number of nodes the Manager serves.
	Nodes int
	// Pools sums the pools' Stats over every node.
	Pools eni.Stats
	// Ready is the latency from Acquire to a ready ENI. Pools.WarmHits
	// counts the pods served from a warm ENI, without any EC2 call.
	Ready LatencyHistogram
}

// CallCount returns the calls of action with outcome o.
func (m Metrics) CallCount(action string, o Outcome) uint64 { return m.Calls[action][o] }

// TotalCalls returns every call counted, all actions and outcomes.
func (m Metrics) TotalCalls() uint64 {
	var n uint64
	for _, c := range m.Calls {
		for _, v := range c {
			n += v
		}
	}
	return n
}

// LatencyHistogram counts durations in buckets.
type LatencyHistogram struct {
	// Bounds are the buckets' upper bounds; Counts has one more element,
	// for durations above the last bound.
	Bounds []time.Duration
	Counts []uint64
	Count  uint64
	Sum    time.Duration
}

// Quantile returns the upper bound of the bucket holding quantile q (0..1),
// or zero when the histogram is empty.
func (h LatencyHistogram) Quantile(q float64) time.Duration {
	if h.Count == 0 {
		return 0
	}
	rank := uint64(q*float64(h.Count) + 0.5)
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.Counts {
		seen += c
		if seen >= rank {
			if i < len(h.Bounds) {
				return h.Bounds[i]
			}
			break
		}
	}
	return h.Bounds[len(h.Bounds)-1]
}

func (m *metrics) snapshot() Metrics {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := Metrics{
		Calls:           make(map[string]map[Outcome]uint64, len(m.calls)),
		Throttles:       m.throttles,
		Retries:         m.retries,
		NotFoundRetries: m.notFound,
		Ready: LatencyHistogram{Bounds: readyBuckets, Counts: append([]uint64(nil), m.ready...),
			Count: m.readyN, Sum: m.readySum},
	}
	for a, c := range m.calls {
		out.Calls[a] = maps.Clone(c)
	}
	return out
}

// Metrics returns a snapshot of the Manager's counters and its pools'
// states. It never waits for EC2.
func (m *Manager) Metrics() Metrics {
	s := m.metrics.snapshot()
	for _, n := range m.allNodes() {
		_, p, _, gone := n.state()
		if p == nil || gone {
			continue
		}
		s.Nodes++
		st := p.Stats()
		s.Pools.Limit += st.Limit
		s.Pools.Creating += st.Creating
		s.Pools.InUse += st.InUse
		s.Pools.Cooling += st.Cooling
		s.Pools.Warm += st.Warm
		s.Pools.Deleting += st.Deleting
		s.Pools.WarmHits += st.WarmHits
		s.Pools.Creates += st.Creates
		s.Pools.Retargets += st.Retargets
		s.Pools.Evictions += st.Evictions
		s.Pools.Deletes += st.Deletes
		s.Pools.Failures += st.Failures
	}
	return s
}
