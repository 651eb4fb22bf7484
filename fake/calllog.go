package fake

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"
)

// Outcome is how a call ended.
type Outcome string

// Outcomes of a call.
const (
	OutcomeOK        Outcome = "ok"        // applied and answered
	OutcomeError     Outcome = "error"     // rejected by EC2's rules; nothing changed
	OutcomeThrottled Outcome = "throttled" // RequestLimitExceeded; nothing changed
	OutcomeFault     Outcome = "fault"     // injected error; nothing changed
	OutcomeLost      Outcome = "lost"      // injected lost response; the change was applied
	OutcomeCanceled  Outcome = "canceled"  // the context ended first; nothing changed
)

// Call is one record of the call log, a plain value.
type Call struct {
	// Time is when the call arrived.
	Time time.Time
	// Action is the EC2 action, for example ActionCreateNetworkInterface.
	Action Action
	// Params summarizes the request: its IDs, types, VLAN and the like, as
	// space-separated Name=value pairs in field order.
	Params string
	// Outcome says how the call ended.
	Outcome Outcome
	// Code is the EC2 error code of a failed call (or the error text when
	// it has no code, as for a canceled context); empty on success.
	Code string
	// Elapsed is how long the call took, latency included.
	Elapsed time.Duration
}

// Counts are the per-outcome counters of one action, a snapshot taken by
// Count or AllCounts.
type Counts struct {
	Calls     int // every call, whatever its outcome
	OK        int
	Errors    int // OutcomeError and OutcomeFault
	Throttled int
	Lost      int
	Canceled  int
}

type callLog struct {
	mu     sync.Mutex
	size   int
	calls  []Call // a ring once it holds size records
	next   int    // where the next record goes when the ring is full
	counts map[Action]*Counts
}

// ordered returns the records oldest first. The caller holds l.mu.
func (l *callLog) ordered() []Call {
	out := make([]Call, 0, len(l.calls))
	out = append(out, l.calls[l.next:]...)
	return append(out, l.calls[:l.next]...)
}

func newCallLog(size int) *callLog {
	return &callLog{size: size, counts: make(map[Action]*Counts)}
}

func (l *callLog) add(c Call) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.counts[c.Action]
	if n == nil {
		n = &Counts{}
		l.counts[c.Action] = n
	}
	n.Calls++
	switch c.Outcome {
	case OutcomeOK:
		n.OK++
	case OutcomeError, OutcomeFault:
		n.Errors++
	case OutcomeThrottled:
		n.Throttled++
	case OutcomeLost:
		n.Lost++
	case OutcomeCanceled:
		n.Canceled++
	}
	if l.size < 0 {
		return
	}
	if len(l.calls) < l.size {
		l.calls = append(l.calls, c)
		return
	}
	l.calls[l.next] = c
	l.next = (l.next + 1) % l.size
}

// Calls returns a copy of the call log, oldest first.
func (f *EC2) Calls() []Call {
	l := f.log
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ordered()
}

// CallsOf returns the logged calls of one action, oldest first. It panics
// when the fake does not implement action.
func (f *EC2) CallsOf(action Action) []Call {
	mustAction("CallsOf", action, false)
	l := f.log
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Call
	for _, c := range l.ordered() {
		if c.Action == action {
			out = append(out, c)
		}
	}
	return out
}

// Count returns the counters of action (zero when it was never called). It
// panics when the fake does not implement action.
func (f *EC2) Count(action Action) Counts {
	mustAction("Count", action, false)
	l := f.log
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := l.counts[action]; n != nil {
		return *n
	}
	return Counts{}
}

// AllCounts returns the counters of every action called so far.
func (f *EC2) AllCounts() map[Action]Counts {
	l := f.log
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[Action]Counts, len(l.counts))
	for a, n := range l.counts {
		out[a] = *n
	}
	return out
}

// ResetCalls empties the call log and zeroes every counter.
func (f *EC2) ResetCalls() {
	l := f.log
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = nil
	l.next = 0
	clear(l.counts)
}

// summarize renders the identifying fields of a request: pointers to strings,
// integers and booleans, string slices, and string-typed enums, skipping
// empty ones and free text (descriptions, tokens).
func summarize(in any) string {
	v := reflect.ValueOf(in)
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return ""
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return ""
	}
	var b strings.Builder
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() || sf.Name == "Description" || sf.Name == "NextToken" || sf.Name == "DryRun" {
			continue
		}
		fv := v.Field(i)
		var s string
		switch {
		case fv.Kind() == reflect.Pointer && !fv.IsNil():
			e := fv.Elem()
			switch e.Kind() {
			case reflect.String, reflect.Int32, reflect.Int64, reflect.Int, reflect.Bool:
				s = fmt.Sprint(e.Interface())
			}
		case fv.Kind() == reflect.String && fv.Len() > 0:
			s = fv.String()
		case fv.Kind() == reflect.Slice && fv.Len() > 0 && fv.Type().Elem().Kind() == reflect.String:
			parts := make([]string, fv.Len())
			for j := range parts {
				parts[j] = fv.Index(j).String()
			}
			s = strings.Join(parts, ",")
		}
		if s == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(sf.Name)
		b.WriteByte('=')
		b.WriteString(s)
	}
	return b.String()
}
