package fake

import (
	"fmt"
	"time"
)

// Delay is a distribution of durations: Min plus an exponentially
// distributed amount of mean Mean, capped at Max. The exponential tail is
// the shape of a propagation delay: usually short, now and then long. The
// zero Delay is always zero. It is a plain value.
type Delay struct {
	// Min is the shortest delay.
	Min time.Duration
	// Mean is the mean of the exponential part added to Min (zero: none).
	Mean time.Duration
	// Max caps the delay (zero: no cap). It must be at least Min.
	Max time.Duration
}

// Fixed returns the Delay that is always d.
func Fixed(d time.Duration) Delay { return Delay{Min: d} }

// IsZero reports whether the delay is always zero.
func (d Delay) IsZero() bool { return d.Min == 0 && d.Mean == 0 }

// sample returns the delay for u, a draw in [0, 1).
func (d Delay) sample(u float64) time.Duration {
	out := d.Min
	if d.Mean > 0 {
		out += time.Duration(expDraw(u) * float64(d.Mean))
	}
	if d.Max > 0 && out > d.Max {
		out = d.Max
	}
	return out
}

func (d Delay) validate(field string) error {
	if d.Min < 0 || d.Mean < 0 || d.Max < 0 {
		return invalidOptions(field, d, "durations must not be negative")
	}
	if d.Max > 0 && d.Max < d.Min {
		return invalidOptions(field, d, "Max must be zero (no cap) or at least Min")
	}
	return nil
}

// Consistency describes how far EC2's answers lag behind its changes. EC2
// is eventually consistent: "the result of an API command you run that
// affects your Amazon EC2 resources might not be immediately visible to all
// subsequent commands you run", and a command that names a resource just
// created may answer that it does not exist (EC2 Developer Guide, "Eventual
// consistency in the Amazon EC2 API"). Every lag is drawn, per resource and
// change, from its Delay, deterministically from Options.Seed.
//
// The zero Consistency is strongly consistent: every change shows at once,
// which suits small unit tests. Scenario tests should use
// EventualConsistency, and code that passes under it copes with what EC2
// asks of clients: retry NotFound on an ID it has just been given, wait for
// states to settle, and never conclude from one listing that a resource is
// gone.
//
// Consistency is a plain value.
type Consistency struct {
	// Create is how long a new resource (VPC, subnet, security group and
	// rule, network interface, instance) stays unknown to every later
	// call: Describe calls do not list it and calls that name its ID
	// answer its NotFound error. The call that created it (and its
	// ClientToken retries) return it as usual.
	Create Delay
	// Launch is how long a new instance stays "pending" before it is
	// "running". AttachNetworkInterface refuses a pending instance
	// (IncorrectInstanceState). RunInstances always answers "pending".
	Launch Delay
	// Attach is how long a new attachment reports "attaching" before
	// "attached".
	Attach Delay
	// Associate is how long a new trunk association stays unknown:
	// DescribeTrunkInterfaceAssociations does not list it,
	// DisassociateTrunkInterface answers InvalidAssociationID.NotFound for
	// it, and DescribeNetworkInterfaces still shows the branch as an
	// available interface. The association holds meanwhile: the branch
	// cannot be deleted.
	Associate Delay
	// Detach is how long DescribeNetworkInterfaces keeps showing an
	// attachment after DetachNetworkInterface (status "detaching"), and
	// DescribeTrunkInterfaceAssociations and DescribeNetworkInterfaces an
	// association after DisassociateTrunkInterface. (DescribeInstances
	// shows an instance's interfaces as they are.)
	Detach Delay
	// Delete is how long Describe calls keep listing a deleted network
	// interface, security group or rule, subnet or VPC, and keep showing a
	// terminated instance as "shutting-down". Calls that change them
	// answer NotFound at once.
	Delete Delay
}

// IsZero reports whether c is strongly consistent.
func (c Consistency) IsZero() bool { return c == Consistency{} }

func (c Consistency) validate() error {
	for _, d := range []struct {
		name string
		d    Delay
	}{
		{"Create", c.Create}, {"Launch", c.Launch}, {"Attach", c.Attach},
		{"Associate", c.Associate}, {"Detach", c.Detach}, {"Delete", c.Delete},
	} {
		if err := d.d.validate("Options.Consistency." + d.name); err != nil {
			return err
		}
	}
	return nil
}

// The bound and typical lag of EventualConsistency.
const (
	// ConsistencyTypicalLag is the mean of the preset's lags: EC2 tells
	// clients to retry Describe "starting with a couple of seconds of wait
	// time", so a lag is usually over within a couple of seconds (with an
	// exponential of mean 1 s, 86% are under 2 s, 98% under 4 s).
	ConsistencyTypicalLag = time.Second
	// ConsistencyMaxLag caps the preset's lags: EC2 tells clients to keep
	// increasing the wait "gradually up to five minutes", the longest lag a
	// client is asked to ride out.
	ConsistencyMaxLag = 5 * time.Minute
)

// EventualConsistency returns the consistency preset for scenario tests,
// with values from EC2's guidance to clients (EC2 Developer Guide,
// "Eventual consistency in the Amazon EC2 API": "run the Describe command
// repeatedly, starting with a couple of seconds of wait time, and
// increasing gradually up to five minutes of wait time"). EC2 publishes no
// lag figures beyond that advice, so every propagation lag (Create,
// Associate, Detach, Delete) is exponential with mean ConsistencyTypicalLag,
// capped at ConsistencyMaxLag. Attachments settle in the same time: the
// production VPC resource controller polls a new trunk attachment from 1 s
// on, doubling (aws/amazon-vpc-resource-controller-k8s,
// pkg/aws/ec2/api/helper.go, waitForENIAttachment). Launch is the only
// figure EC2's guidance does not bound: instances are pending for 5 s plus
// an exponential of mean 10 s (an assumption, of the order a launch takes),
// capped at ConsistencyMaxLag.
func EventualConsistency() Consistency {
	lag := Delay{Mean: ConsistencyTypicalLag, Max: ConsistencyMaxLag}
	return Consistency{
		Create:    lag,
		Launch:    Delay{Min: 5 * time.Second, Mean: 10 * time.Second, Max: ConsistencyMaxLag},
		Attach:    lag,
		Associate: lag,
		Detach:    lag,
		Delete:    lag,
	}
}

// SetConsistency changes the consistency model for the changes made from
// now on; changes already made keep the lags they drew. It panics on a
// Delay with a negative duration or a Max below its Min.
func (f *EC2) SetConsistency(c Consistency) {
	if err := c.validate(); err != nil {
		panic(fmt.Errorf("fake: SetConsistency: %w", err))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cons = c
}

// lagKind names what a lag delays, for the draws.
type lagKind string

const (
	lagCreate    lagKind = "create"
	lagLaunch    lagKind = "launch"
	lagAttach    lagKind = "attach"
	lagAssociate lagKind = "associate"
	lagDetach    lagKind = "detach"
	lagDelete    lagKind = "delete"
)

// lag draws the delay of one change of kind to the resource id. Seeding
// (the Add* builders) has no lag: it builds the world as it stands before
// the test. The caller holds f.mu.
func (f *EC2) lag(kind lagKind, id string) time.Duration {
	if f.building {
		return 0
	}
	var d Delay
	switch kind {
	case lagCreate:
		d = f.cons.Create
	case lagLaunch:
		d = f.cons.Launch
	case lagAttach:
		d = f.cons.Attach
	case lagAssociate:
		d = f.cons.Associate
	case lagDetach:
		d = f.cons.Detach
	case lagDelete:
		d = f.cons.Delete
	}
	if d.IsZero() {
		return 0
	}
	return d.sample(f.draws.float("lag", string(kind), id))
}

// sees reports whether calls can see a resource yet: its creation has
// propagated. Seeding sees everything. The caller holds f.mu.
func (f *EC2) sees(m *meta) bool { return f.building || m.visible(f.now) }
