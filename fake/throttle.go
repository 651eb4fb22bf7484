package fake

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// Category is an EC2 throttling category. EC2 keeps one token bucket per
// account, region and action; the category of the action decides the size of
// the bucket and how fast it refills.
type Category string

// The throttling categories EC2 documents.
const (
	// CategoryNonMutating covers Describe* calls that filter or paginate.
	CategoryNonMutating Category = "non-mutating"
	// CategoryUnfiltered covers Describe* calls with neither filters, IDs
	// nor MaxResults: the expensive listing of everything.
	CategoryUnfiltered Category = "unfiltered-non-mutating"
	// CategoryMutating covers mutating calls without a category of their own,
	// AssociateTrunkInterface among them.
	CategoryMutating Category = "mutating"
	// CategoryNetworkInterface covers CreateNetworkInterface,
	// DeleteNetworkInterface and ModifyNetworkInterfaceAttribute.
	CategoryNetworkInterface Category = "network-interface"
	// CategoryCreateTags covers CreateTags.
	CategoryCreateTags Category = "create-tags"
)

// Bucket is a token bucket: it holds at most Size tokens, every call takes
// one, and RefillPerSecond tokens flow back each second. A call that finds
// the bucket empty is throttled and takes nothing. Bucket is a plain value
// describing the numbers; the fake keeps the live token counts, guarded by
// its own lock.
type Bucket struct {
	Size            float64
	RefillPerSecond float64
}

// DefaultBuckets returns EC2's documented bucket of every category.
func DefaultBuckets() map[Category]Bucket {
	return map[Category]Bucket{
		CategoryNonMutating:      {Size: 100, RefillPerSecond: 20},
		CategoryUnfiltered:       {Size: 50, RefillPerSecond: 10},
		CategoryMutating:         {Size: 50, RefillPerSecond: 5},
		CategoryNetworkInterface: {Size: 100, RefillPerSecond: 5},
		CategoryCreateTags:       {Size: 100, RefillPerSecond: 10},
	}
}

// CategoryOf returns the throttling category of action. filtered tells
// whether a non-mutating request narrowed its result with filters, IDs or
// MaxResults; it is ignored for mutating actions.
func CategoryOf(action Action, filtered bool) Category {
	switch action {
	case ActionCreateNetworkInterface, ActionDeleteNetworkInterface, ActionModifyNetworkInterfaceAttribute:
		return CategoryNetworkInterface
	case ActionCreateTags:
		return CategoryCreateTags
	}
	if strings.HasPrefix(string(action), "Describe") {
		if filtered {
			return CategoryNonMutating
		}
		return CategoryUnfiltered
	}
	return CategoryMutating
}

type tokenBucket struct {
	Bucket
	tokens float64
	last   time.Time
}

// take refills b up to now and takes one token if there is one.
func (b *tokenBucket) take(now time.Time) bool {
	if b.last.IsZero() {
		b.tokens = b.Size
	} else if d := now.Sub(b.last); d > 0 {
		b.tokens = min(b.Size, b.tokens+d.Seconds()*b.RefillPerSecond)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

type throttler struct {
	mu       sync.Mutex
	enabled  bool
	category map[Category]Bucket
	action   map[Action]Bucket // per-action overrides
	buckets  map[string]*tokenBucket
}

func newThrottler(enabled bool, overrides map[Category]Bucket) *throttler {
	t := &throttler{
		enabled:  enabled,
		category: DefaultBuckets(),
		action:   make(map[Action]Bucket),
		buckets:  make(map[string]*tokenBucket),
	}
	for c, b := range overrides {
		t.category[c] = b
	}
	return t
}

func (t *throttler) allow(action Action, filtered bool, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.enabled {
		return true
	}
	cat := CategoryOf(action, filtered)
	key := string(action) + "/" + string(cat)
	b := t.buckets[key]
	if b == nil {
		spec, ok := t.action[action]
		if !ok {
			spec = t.category[cat]
		}
		b = &tokenBucket{Bucket: spec}
		t.buckets[key] = b
	}
	return b.take(now)
}

// SetThrottling turns throttling on or off. Turning it on again starts every
// bucket full.
func (f *EC2) SetThrottling(enabled bool) {
	t := f.throttle
	t.mu.Lock()
	defer t.mu.Unlock()
	t.enabled = enabled
	clear(t.buckets)
}

// SetCategoryBucket sets the bucket of every action of category c. Buckets
// already in use start again, full, with the new numbers.
func (f *EC2) SetCategoryBucket(c Category, b Bucket) {
	t := f.throttle
	t.mu.Lock()
	defer t.mu.Unlock()
	t.category[c] = b
	clear(t.buckets)
}

// SetActionBucket gives one action its own bucket size and refill rate,
// whatever its category. Buckets already in use start again, full. It panics
// when the fake does not implement action, or when b holds less than one
// token or refills at a negative rate.
func (f *EC2) SetActionBucket(action Action, b Bucket) {
	mustAction("SetActionBucket", action, false)
	if b.Size < 1 || b.RefillPerSecond < 0 {
		panic(fmt.Sprintf("fake: SetActionBucket(%s): bucket %+v holds no token or refills at a negative rate", action, b))
	}
	t := f.throttle
	t.mu.Lock()
	defer t.mu.Unlock()
	t.action[action] = b
	clear(t.buckets)
}
