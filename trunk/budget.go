package trunk

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"
)

// Priority orders EC2 calls competing for the same budget.
type Priority uint8

const (
	// PriorityPodStart is for calls a pod is waiting on: creating,
	// associating or retargeting its ENI, and rebuilding state.
	PriorityPodStart Priority = iota
	// PriorityBackground is for deletions and garbage collection. Such calls
	// leave a reserve of every bucket to pod starts.
	PriorityBackground
)

// Rate is a token bucket: Burst calls at once, refilled at PerSecond.
type Rate struct {
	Burst     float64
	PerSecond float64
}

// EC2's documented request-rate buckets per account, region and action.
var (
	RateDescribe         = Rate{Burst: 100, PerSecond: 20}
	RateMutating         = Rate{Burst: 50, PerSecond: 5}
	RateNetworkInterface = Rate{Burst: 100, PerSecond: 5}
)

// BudgetOptions shapes the EC2 budget of a Manager: one token bucket per
// action, kept below EC2's own so that the account is not throttled, plus an
// optional client-wide limiter.
//
// The zero BudgetOptions is DefaultBudget. NewBudget's errors match
// ErrInvalidOptions.
type BudgetOptions struct {
	// Actions gives EC2's bucket of an action. Actions not listed use
	// RateDescribe for Describe* calls and RateMutating otherwise.
	// Nil means EC2's documented buckets.
	Actions map[string]Rate
	// Headroom is the fraction of each EC2 bucket, burst and refill, left
	// unused for other clients of the account: 0.1 keeps 90 %. Zero means
	// 0.1; negative means none (use EC2's full rate).
	Headroom float64
	// Reserve is the fraction of each bucket's burst that background calls
	// leave to pod starts. Zero means 0.25; negative means none.
	Reserve float64
	// Client, when Burst is positive, is one more bucket every call must
	// pass whatever its action, as a client-side limiter does (the VPC
	// resource controller uses 24/s with burst 36).
	Client Rate
	// PerAction applies the per-action buckets. It is implied when Actions
	// is set or when Client is not: only a config that sets Client alone
	// (ClientLimiterBudget) has the client bucket as its only limit.
	PerAction bool
}

// DefaultBudget returns EC2's buckets with 10 % headroom and a 25 % reserve
// for pod starts.
func DefaultBudget() BudgetOptions { return BudgetOptions{PerAction: true} }

// ClientLimiterBudget returns a budget with only one client-wide bucket, the
// way the VPC resource controller limits itself (24 requests/s, burst 36;
// 12 and 18 before 2026).
func ClientLimiterBudget(perSecond, burst float64) BudgetOptions {
	return BudgetOptions{Client: Rate{Burst: burst, PerSecond: perSecond}, Headroom: -1, Reserve: -1}
}

func defaultActionRate(action string) Rate {
	switch action {
	case "CreateNetworkInterface", "DeleteNetworkInterface", "ModifyNetworkInterfaceAttribute":
		return RateNetworkInterface
	}
	if len(action) > 8 && action[:8] == "Describe" {
		return RateDescribe
	}
	return RateMutating
}

// Budget hands out EC2 calls. Pod-start calls reserve tokens ahead (the
// bucket may go negative, and they wait for the refill); background calls
// only take a token while the bucket holds more than its reserve, so they
// yield to pod starts. Both are granted in the order they asked: a
// reservation's turn is fixed when it is made, and background calls wait in
// line. A Budget is safe for concurrent use.
type Budget struct {
	cfg BudgetOptions

	mu      sync.Mutex
	buckets map[string]*bucket
	client  *bucket
}

// A bucket keeps its account in integer units (tokenUnit to a token, refill
// per nanosecond), so that refills, reservations and waits are exact: a
// Budget asked the same things at the same times decides the same, however
// the refills fell in between, where floating-point sums would round
// differently.
type bucket struct {
	rate    Rate  // as configured, after headroom
	burst   int64 // units
	perNs   int64 // units refilled per nanosecond
	reserve int64 // units
	tokens  int64 // units; negative while pod starts have reserved ahead
	last    time.Time
	// line holds the background calls waiting for a token, first in line
	// first; each is woken (its channel closed) when it becomes first.
	line []chan struct{}
}

// NewBudget returns a budget shaped by cfg. Errors match ErrInvalidOptions.
func NewBudget(cfg BudgetOptions) (*Budget, error) {
	if cfg.Actions != nil || cfg.Client.Burst == 0 {
		cfg.PerAction = true
	}
	if cfg.Headroom == 0 {
		cfg.Headroom = 0.1
	}
	if cfg.Headroom < 0 {
		cfg.Headroom = 0
	}
	if cfg.Headroom >= 1 {
		return nil, invalidOptions("BudgetOptions.Headroom is %v: want a fraction below 1 (zero for the default 0.1, negative for none)", cfg.Headroom)
	}
	if cfg.Reserve == 0 {
		cfg.Reserve = 0.25
	}
	if cfg.Reserve < 0 {
		cfg.Reserve = 0
	}
	if cfg.Reserve >= 1 {
		return nil, invalidOptions("BudgetOptions.Reserve is %v: want a fraction below 1 (zero for the default 0.25, negative for none)", cfg.Reserve)
	}
	for a, r := range cfg.Actions {
		if r.Burst < 1 || r.PerSecond <= 0 {
			return nil, invalidOptions("BudgetOptions.Actions[%q] is %+v: want Burst ≥ 1 and PerSecond > 0", a, r)
		}
	}
	b := &Budget{cfg: cfg, buckets: make(map[string]*bucket)}
	if cfg.Client.Burst > 0 {
		if cfg.Client.PerSecond <= 0 {
			return nil, invalidOptions("BudgetOptions.Client.PerSecond is %v while Client.Burst is %v: want a positive rate", cfg.Client.PerSecond, cfg.Client.Burst)
		}
		b.client = b.newBucket(cfg.Client, false)
	}
	return b, nil
}

// tokenUnit is how many units of account make a token. With 10^12, a rate
// in tokens per second is rate·1,000 units per nanosecond: exact for rates
// given to the thousandth of a token per second.
const tokenUnit = 1_000_000_000_000

func (b *Budget) newBucket(r Rate, headroom bool) *bucket {
	if headroom {
		r.Burst = max(1, r.Burst*(1-b.cfg.Headroom))
		r.PerSecond *= 1 - b.cfg.Headroom
	}
	burst := int64(math.Round(r.Burst * tokenUnit))
	return &bucket{
		rate:    r,
		burst:   burst,
		perNs:   max(1, int64(math.Round(r.PerSecond*tokenUnit/float64(time.Second)))),
		reserve: int64(math.Round(r.Burst * b.cfg.Reserve * tokenUnit)),
		tokens:  burst,
	}
}

// Rate returns the bucket the budget applies to action (after headroom).
func (b *Budget) Rate(action string) Rate {
	b.mu.Lock()
	defer b.mu.Unlock()
	if bk := b.bucketFor(action); bk != nil {
		return bk.rate
	}
	return b.client.rate
}

func (b *Budget) bucketFor(action string) *bucket {
	if !b.cfg.PerAction {
		return nil
	}
	bk := b.buckets[action]
	if bk == nil {
		r, ok := b.cfg.Actions[action]
		if !ok {
			r = defaultActionRate(action)
		}
		bk = b.newBucket(r, true)
		b.buckets[action] = bk
	}
	return bk
}

// Wait blocks until a call of action at priority p may be made, or ctx is
// done (its error is returned).
func (b *Budget) Wait(ctx context.Context, action string, p Priority) error {
	b.mu.Lock()
	bk := b.bucketFor(action)
	b.mu.Unlock()
	if bk != nil {
		if err := b.take(ctx, bk, p); err != nil {
			return err
		}
	}
	if b.client != nil {
		if err := b.take(ctx, b.client, p); err != nil {
			if bk != nil {
				b.refund(bk) // no call is made: the action's token goes back
			}
			return err
		}
	}
	return nil
}

// refund gives back a token taken from bk for a call that is not made.
func (b *Budget) refund(bk *bucket) {
	b.mu.Lock()
	bk.tokens = min(bk.burst, bk.tokens+tokenUnit)
	b.mu.Unlock()
}

func (b *Budget) take(ctx context.Context, bk *bucket, p Priority) error {
	if p == PriorityPodStart {
		b.mu.Lock()
		bk.refill(time.Now())
		bk.tokens -= tokenUnit
		if bk.tokens >= 0 {
			b.mu.Unlock()
			return nil
		}
		wait := bk.until(0)
		b.mu.Unlock()
		if err := sleep(ctx, wait); err != nil {
			b.refund(bk) // give the reservation back
			return err
		}
		return nil
	}
	// Background calls are granted one at a time, in the order they
	// asked: only the first in line watches the bucket, so two of them
	// never wake together and race for the same token. A background call
	// joins the line a nanosecond after it asks, so that pod starts asked
	// at the same instant go first whatever the goroutine schedule.
	if err := sleep(ctx, time.Nanosecond); err != nil {
		return err
	}
	w := make(chan struct{})
	b.mu.Lock()
	bk.line = append(bk.line, w)
	first := len(bk.line) == 1
	b.mu.Unlock()
	if !first {
		select {
		case <-w:
		case <-ctx.Done():
			b.leave(bk, w)
			return ctx.Err()
		}
	}
	for {
		b.mu.Lock()
		bk.refill(time.Now())
		need := tokenUnit + bk.reserve
		if bk.tokens >= need {
			bk.tokens -= tokenUnit
			b.next(bk)
			b.mu.Unlock()
			return nil
		}
		wait := bk.until(need)
		b.mu.Unlock()
		if err := sleep(ctx, max(wait, time.Millisecond)); err != nil {
			b.leave(bk, w)
			return err
		}
	}
}

// refill adds the tokens that flowed in since the last look. b.mu must be
// held.
func (bk *bucket) refill(now time.Time) {
	if d := int64(now.Sub(bk.last)); !bk.last.IsZero() && d > 0 && bk.tokens < bk.burst {
		if room := bk.burst - bk.tokens; d >= room/bk.perNs+1 {
			bk.tokens = bk.burst
		} else {
			bk.tokens = min(bk.burst, bk.tokens+d*bk.perNs)
		}
	}
	bk.last = now
}

// until returns how long the refill takes to bring the bucket to level
// units. b.mu must be held.
func (bk *bucket) until(level int64) time.Duration {
	short := level - bk.tokens
	if short <= 0 {
		return 0
	}
	return time.Duration((short + bk.perNs - 1) / bk.perNs)
}

// next takes the first background waiter, which has its token, out of line
// and wakes the one after it. b.mu must be held.
func (b *Budget) next(bk *bucket) {
	bk.line[0] = nil
	bk.line = bk.line[1:]
	if len(bk.line) > 0 {
		close(bk.line[0])
	}
}

// leave takes the background waiter w out of line, waking the next one if w
// was first.
func (b *Budget) leave(bk *bucket, w chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	i := slices.Index(bk.line, w)
	if i < 0 {
		return
	}
	bk.line = slices.Delete(bk.line, i, i+1)
	if i == 0 && len(bk.line) > 0 {
		close(bk.line[0])
	}
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
