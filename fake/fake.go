package fake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/podsg/podsg/limits"
)

// Defaults of Options.
const (
	DefaultRegion          = "us-west-2"
	DefaultAccountID       = "123456789012"
	DefaultMaxGroupsPerENI = 5
	DefaultRulesPerGroup   = 60
	DefaultSeed            = 1
	DefaultCallLogSize     = 10000
)

// Options configure an EC2. The zero value of every field means its default,
// so Options{} is the default fake. Options is a plain value; New copies it.
type Options struct {
	// Region is the region the fake pretends to be (DefaultRegion when
	// empty). Availability zones default to Region + "a".
	Region string
	// AccountID owns every resource (DefaultAccountID when empty).
	AccountID string
	// Limits is the instance-type table behind RunInstances, attachment
	// limits, trunk compatibility, branch limits and DescribeInstanceTypes
	// (limits.Default() when nil).
	Limits *limits.Table
	// MaxGroupsPerENI is the quota "security groups per network interface"
	// (DefaultMaxGroupsPerENI when zero; EC2 allows raising it to 16).
	MaxGroupsPerENI int
	// RulesPerGroup is the quota of inbound and, separately, outbound rules
	// per security group (DefaultRulesPerGroup when zero).
	RulesPerGroup int
	// Seed seeds every pseudo-random choice: IDs, MAC addresses, latency
	// jitter, probabilistic faults and consistency lags. Each choice is a
	// function of the seed and of the call that makes it (its action, its
	// parameters, its ClientToken and which occurrence of that request it
	// is), not of the order in which concurrent calls arrive, so the same
	// seed and the same requests give the same results (DefaultSeed when
	// zero).
	Seed uint64
	// DisableThrottling turns the token buckets off. Throttling is on by
	// default with EC2's documented bucket sizes (see DefaultBuckets).
	DisableThrottling bool
	// Buckets overrides the bucket of whole categories.
	Buckets map[Category]Bucket
	// Consistency is how far Describe calls lag behind changes: the zero
	// value is strongly consistent; EventualConsistency is EC2's. See
	// Consistency.
	Consistency Consistency
	// CallLogSize bounds the call log; the oldest records are dropped first
	// (DefaultCallLogSize when zero; negative keeps no log, counters still
	// count).
	CallLogSize int
	// Logger receives one debug record per call. Nil is silent.
	Logger *slog.Logger
}

// EC2 is an in-process fake of the EC2 API surface that security groups for
// pods uses: VPCs, subnets, security groups and their rules, instances,
// network interfaces (interface, trunk and branch), trunk associations and
// tags. Each operation has the exact signature of the *ec2.Client method of
// the same name, so *EC2 satisfies any interface written for the SDK client.
//
// Every call goes through the same pipeline: the context is checked, the
// action's token bucket is charged (RequestLimitExceeded when empty), the
// configured latency elapses (time.Timer, so synctest bubbles run it in
// virtual time), injected faults are consulted, the operation runs atomically
// against the state, and the call is logged and counted. Errors are EC2's
// codes and messages as *smithy.GenericAPIError values wrapped in a
// *smithy.OperationError, as the SDK returns them.
//
// Optional functional arguments (...func(*ec2.Options)) are accepted and
// ignored. Outputs are fresh values owned by the caller, a ClientToken
// retry's included (it gets its own copy of the original answer).
//
// An EC2 is safe for concurrent use. Create one with New; the zero value is
// not usable.
type EC2 struct {
	opts   Options
	limits *limits.Table

	draws *draws

	mu     sync.Mutex // guards everything below
	issued map[string]bool
	st     state
	tokens map[string]idempotent // action + "\x00" + ClientToken
	// tokensSwept is the size of tokens after its last sweep.
	tokensSwept int
	cons        Consistency
	// The operation running under mu: when it started, the key of its
	// call (for its draws, IDs among them), how many IDs it has issued,
	// and whether it is seeding (builders), which sees everything at once.
	now      time.Time
	opKey    string
	opN      int
	building bool

	throttle *throttler
	faults   *faultSet
	log      *callLog
}

// ErrInvalidOptions is matched (errors.Is) by the error New panics with and
// NewServer returns when an Options or ServerOptions field holds a value
// that means nothing: the error names the field, the value and what to use
// instead.
var ErrInvalidOptions = errors.New("fake: invalid options")

func invalidOptions(field string, value any, advice string) error {
	return fmt.Errorf("%w: %s is %v; %s", ErrInvalidOptions, field, value, advice)
}

// validate checks the fields whose zero value is not their only invalid
// value.
func (o Options) validate() error {
	if o.MaxGroupsPerENI < 0 || o.MaxGroupsPerENI > maxGroupsPerENIQuota {
		return invalidOptions("Options.MaxGroupsPerENI", o.MaxGroupsPerENI,
			fmt.Sprintf("EC2's quota is 5 by default and can be raised to %d; use 0 for the default", maxGroupsPerENIQuota))
	}
	if o.RulesPerGroup < 0 {
		return invalidOptions("Options.RulesPerGroup", o.RulesPerGroup, "use 0 for the default of 60 or a positive quota")
	}
	for c, b := range o.Buckets {
		if _, ok := DefaultBuckets()[c]; !ok {
			return invalidOptions(fmt.Sprintf("Options.Buckets[%q]", c), b, "use one of the Category constants")
		}
		if b.Size < 1 || b.RefillPerSecond < 0 {
			return invalidOptions(fmt.Sprintf("Options.Buckets[%q]", c), b, "a bucket holds at least one token and refills at a rate >= 0")
		}
	}
	return nil
}

// maxGroupsPerENIQuota is the highest value EC2 lets the quota "security
// groups per network interface" be raised to.
const maxGroupsPerENIQuota = 16

// New returns an empty fake EC2 (no VPCs). It takes at most one Options; its
// zero fields mean their defaults, so New() is the fake with every default.
// New panics when given more than one Options, or with an error matching
// ErrInvalidOptions when a field holds a value that means nothing (a
// negative quota, say): options are written by the test author, and a wrong
// one is a bug in the test.
func New(opts ...Options) *EC2 {
	if len(opts) > 1 {
		panic(fmt.Sprintf("fake.New: got %d Options values; pass at most one (fake.New() or fake.New(fake.Options{...}))", len(opts)))
	}
	var o Options
	if len(opts) == 1 {
		o = opts[0]
	}
	if err := o.Consistency.validate(); err != nil {
		panic(fmt.Errorf("fake.New: %w", err))
	}
	if err := o.validate(); err != nil {
		panic(fmt.Errorf("fake.New: %w", err))
	}
	if o.Region == "" {
		o.Region = DefaultRegion
	}
	if o.AccountID == "" {
		o.AccountID = DefaultAccountID
	}
	if o.Limits == nil {
		o.Limits = limits.Default()
	}
	if o.MaxGroupsPerENI == 0 {
		o.MaxGroupsPerENI = DefaultMaxGroupsPerENI
	}
	if o.RulesPerGroup == 0 {
		o.RulesPerGroup = DefaultRulesPerGroup
	}
	if o.Seed == 0 {
		o.Seed = DefaultSeed
	}
	if o.CallLogSize == 0 {
		o.CallLogSize = DefaultCallLogSize
	}
	f := &EC2{
		opts:     o,
		limits:   o.Limits,
		draws:    newDraws(o.Seed),
		issued:   make(map[string]bool),
		cons:     o.Consistency,
		tokens:   make(map[string]idempotent),
		throttle: newThrottler(!o.DisableThrottling, o.Buckets),
		faults:   newFaultSet(),
		log:      newCallLog(o.CallLogSize),
	}
	f.st.init()
	return f
}

// Region returns the region the fake reports.
func (f *EC2) Region() string { return f.opts.Region }

// AccountID returns the account that owns the fake's resources.
func (f *EC2) AccountID() string { return f.opts.AccountID }

// call runs one operation through the pipeline described on EC2. op runs with
// f.mu held. filtered tells the throttler whether the request narrowed its
// result (filters, IDs or MaxResults); mutating calls pass true.
func call[I, O any](ctx context.Context, f *EC2, action Action, in *I, filtered bool, op func(*I) (*O, error)) (*O, error) {
	if in == nil {
		in = new(I)
	}
	start := time.Now()
	params := summarize(in)
	key := f.draws.callKey(action, identity(in, params))
	finish := func(out *O, err error, outcome Outcome) (*O, error) {
		f.record(action, params, start, outcome, err)
		if err != nil {
			var lost *LostResponseError
			if errors.As(err, &lost) {
				return nil, err
			}
			return nil, opError(string(action), err)
		}
		return out, nil
	}
	if err := ctx.Err(); err != nil {
		return finish(nil, err, OutcomeCanceled)
	}
	if !f.throttle.allow(action, filtered, start) {
		return finish(nil, apiError(CodeRequestLimitExceeded, "Request limit exceeded."), OutcomeThrottled)
	}
	fault, delay := f.faults.pick(action, key, f.draws)
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return finish(nil, ctx.Err(), OutcomeCanceled)
		}
	}
	if fault != nil && !fault.Lost {
		return finish(nil, fault.err(), OutcomeFault)
	}
	if err := checkEnums(in); err != nil {
		return finish(nil, err, OutcomeError)
	}
	f.mu.Lock()
	f.now, f.opKey, f.opN = time.Now(), key, 0
	out, err := op(in)
	f.mu.Unlock()
	if err != nil {
		return finish(nil, err, OutcomeError)
	}
	if fault != nil {
		if fault.Code == "" {
			return finish(nil, &LostResponseError{Action: action}, OutcomeLost)
		}
		return finish(nil, fault.err(), OutcomeLost)
	}
	return finish(out, nil, OutcomeOK)
}

func (f *EC2) record(action Action, params string, start time.Time, outcome Outcome, err error) {
	rec := Call{
		Time:    start,
		Action:  action,
		Params:  params,
		Outcome: outcome,
		Code:    ErrorCode(err),
		Elapsed: time.Since(start),
	}
	if err != nil && rec.Code == "" {
		rec.Code = err.Error()
	}
	f.log.add(rec)
	if f.opts.Logger != nil {
		f.opts.Logger.LogAttrs(context.Background(), slog.LevelDebug, "fake ec2 call",
			slog.String("action", string(action)), slog.String("params", params),
			slog.String("outcome", string(outcome)), slog.String("code", rec.Code))
	}
}

// dry reports whether a DryRun flag is set.
func dry(p *bool) bool { return p != nil && *p }
