package fake

import (
	"math"
	"reflect"
	"strconv"
	"sync"
)

// draws makes every pseudo-random choice of the fake: IDs, MAC addresses,
// latency jitter, probabilistic faults and consistency lags. A draw is a
// hash of the seed and of what identifies the choice (the action, the
// request's identity, the resource ID), never a shared generator advanced
// in call order, so concurrent callers get the same draws whatever the
// goroutine schedule: a scenario reproduces its figures from its seed.
//
// Identical requests (same action and identity) are told apart by their
// occurrence: the first, second, … such request. Only requests that are
// indistinguishable anyway can swap draws between runs.
type draws struct {
	seed uint64
	mu   sync.Mutex
	seen map[uint64]uint32 // occurrences per request key hash
}

func newDraws(seed uint64) *draws {
	return &draws{seed: seed, seen: make(map[uint64]uint32)}
}

// hash is FNV-1a over the seed and the parts, each terminated so that
// ("ab", "c") and ("a", "bc") differ, finished with splitmix64's mixer.
func (d *draws) hash(parts ...string) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	for i := range 8 {
		h = (h ^ uint64(byte(d.seed>>(8*i)))) * prime
	}
	for _, p := range parts {
		for i := 0; i < len(p); i++ {
			h = (h ^ uint64(p[i])) * prime
		}
		h *= prime // the terminator, a zero byte
	}
	return mix(h)
}

func mix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// unit maps a hash to [0, 1).
func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }

// callKey returns the key of one call: its action, its identity and its
// occurrence among identical calls.
func (d *draws) callKey(action Action, identity string) string {
	k := d.hash(string(action), identity)
	d.mu.Lock()
	n := d.seen[k]
	d.seen[k] = n + 1
	d.mu.Unlock()
	return string(action) + "\x00" + identity + "\x00" + strconv.FormatUint(uint64(n), 10)
}

// float returns a draw in [0, 1) for what parts identify.
func (d *draws) float(parts ...string) float64 { return unit(d.hash(parts...)) }

// identity renders what tells a request apart from others of its action:
// the summary of its parameters, its ClientToken and its NextToken.
func identity(in any, params string) string {
	v := reflect.ValueOf(in)
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return params
		}
		v = v.Elem()
	}
	id := params
	for _, name := range []string{"ClientToken", "NextToken"} {
		if fv := v.FieldByName(name); fv.IsValid() && fv.Kind() == reflect.Pointer && !fv.IsNil() {
			id += "\x00" + name + "=" + fv.Elem().String()
		}
	}
	return id
}

// expDraw turns u in [0, 1) into an exponentially distributed multiple of
// the mean: -ln(1-u).
func expDraw(u float64) float64 { return -math.Log1p(-u) }
