package fake

import (
	"fmt"
	"strconv"
	"sync"
	"time"
)

// Fault describes an injected failure of one action. It is a plain value;
// InjectFault copies it.
//
// A fault fires on the OnCall-th call of Action (every action when empty)
// counted from its injection
// (when OnCall > 0), or else on each call with probability Probability. Times
// bounds how often it fires (zero: once when OnCall is set, otherwise
// without bound). Calls rejected by throttling are not counted.
//
// When it fires, a fault with Lost unset fails the call with the EC2 error
// Code (and Message) without touching the state. With Lost set, the call is
// applied first and its answer is then withheld: with Code empty the caller
// gets an error matching ErrLostResponse (a dropped connection on the wire),
// otherwise the EC2 error Code.
type Fault struct {
	Action      Action
	Code        string
	Message     string
	Probability float64
	OnCall      int
	Times       int
	Lost        bool
}

func (ft *Fault) err() error {
	msg := ft.Message
	if msg == "" {
		msg = "An internal error has occurred."
		switch ft.Code {
		case CodeUnauthorizedOperation:
			msg = "You are not authorized to perform this operation."
		case CodeRequestLimitExceeded:
			msg = "Request limit exceeded."
		}
	}
	return apiError(ft.Code, "%s", msg)
}

type activeFault struct {
	Fault
	id    int
	calls int
	fired int
}

// Latency is the delay added to an action's calls: Base plus a uniformly
// distributed amount in [0, Jitter). It is a plain value.
type Latency struct {
	Base   time.Duration
	Jitter time.Duration
}

type faultSet struct {
	mu      sync.Mutex
	nextID  int
	faults  []*activeFault
	latency map[Action]Latency // "" is the default of every action
}

func newFaultSet() *faultSet {
	return &faultSet{latency: make(map[Action]Latency)}
}

// pick returns the fault that fires for this call of action, if any, and the
// latency the call should suffer. key identifies the call for the draws of
// jitter and probabilistic faults (see draws), so that they do not depend
// on the order of concurrent calls; OnCall faults count calls in the order
// they arrive.
func (s *faultSet) pick(action Action, key string, d *draws) (*Fault, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	lat, ok := s.latency[action]
	if !ok {
		lat = s.latency[""]
	}
	wait := lat.Base
	if lat.Jitter > 0 {
		wait += time.Duration(d.float("latency", key) * float64(lat.Jitter))
	}
	var hit *Fault
	for _, af := range s.faults {
		if af.Action != "" && af.Action != action {
			continue
		}
		af.calls++
		if hit != nil {
			continue
		}
		limit := af.Times
		if limit == 0 && af.OnCall > 0 {
			limit = 1
		}
		if limit > 0 && af.fired >= limit {
			continue
		}
		fire := false
		if af.OnCall > 0 {
			fire = af.calls >= af.OnCall
		} else if af.Probability > 0 {
			fire = d.float("fault", strconv.Itoa(af.id), key) < af.Probability
		}
		if fire {
			af.fired++
			ft := af.Fault
			hit = &ft
		}
	}
	return hit, wait
}

// InjectFault arms ft and returns a function that disarms it. An empty
// Action matches every action; an empty Code with Lost unset means
// InternalError. Several faults may match one call; the first to fire, in
// injection order, wins.
//
// InjectFault panics on a fault that cannot do what it says: an Action the
// fake does not implement, a Probability outside [0, 1], a negative OnCall
// or Times, or neither OnCall nor Probability set (it would never fire).
func (f *EC2) InjectFault(ft Fault) (remove func()) {
	mustAction("InjectFault", ft.Action, true)
	switch {
	case ft.Probability < 0 || ft.Probability > 1:
		panic(fmt.Sprintf("fake: InjectFault: Probability %v is outside [0, 1]", ft.Probability))
	case ft.OnCall < 0 || ft.Times < 0:
		panic(fmt.Sprintf("fake: InjectFault: OnCall %d and Times %d must not be negative", ft.OnCall, ft.Times))
	case ft.OnCall == 0 && ft.Probability == 0:
		panic("fake: InjectFault: the fault would never fire; set OnCall (fire on the Nth call) or Probability")
	}
	if !ft.Lost && ft.Code == "" {
		ft.Code = CodeInternalError
	}
	s := f.faults
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	id := s.nextID
	s.faults = append(s.faults, &activeFault{Fault: ft, id: id})
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, af := range s.faults {
			if af.id == id {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
				return
			}
		}
	}
}

// ClearFaults disarms every injected fault.
func (f *EC2) ClearFaults() {
	s := f.faults
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// SetLatency makes every call of action wait l before it is applied. An
// empty action sets the default of every action without a latency of its
// own. The wait uses time.Timer and ends early when the call's context is
// done. SetLatency panics when the fake does not implement action, or on a
// negative Base or Jitter.
func (f *EC2) SetLatency(action Action, l Latency) {
	mustAction("SetLatency", action, true)
	if l.Base < 0 || l.Jitter < 0 {
		panic(fmt.Sprintf("fake: SetLatency(%q): negative latency %+v", action, l))
	}
	s := f.faults
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency[action] = l
}
