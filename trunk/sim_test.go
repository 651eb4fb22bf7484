package trunk_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/podsg/podsg/eni"
	"github.com/podsg/podsg/fake"
	"github.com/podsg/podsg/limits"
	"github.com/podsg/podsg/trunk"
)

// TestSimulation is a deterministic simulation of everything a controller
// does to a Manager, in the spirit of FoundationDB's simulation testing. For
// each seed, one pseudo-random generator draws a schedule of steps, run in
// a testing/synctest bubble (virtual time) against package fake with
// throttling, internal errors, lost responses and latency (rates drawn per
// seed), and EC2's eventual consistency as the fake models it
// (simConsistency: new IDs unknown for a moment, attachments "attaching",
// associations and deletions listed late), kept until the end. A third of
// the steps start at the same instant as the next one:
//
//   - nodes added (m5/c5/r5, which trunk), t-family nodes (which cannot),
//     node objects whose instance EC2 never knew, and nodes removed (their
//     instances terminated, RemoveNode called);
//   - pods created (Acquire from a goroutine, retried as a controller
//     requeues, the annotation written when it succeeds; one in five gives
//     up on each attempt after a moment) and deleted (Release), with
//     several security-group sets, placed as the scheduler does (on nodes
//     whose live pods leave a branch ENI to spare);
//   - ReconcileAll with complete and with incomplete pod lists, started from
//     goroutines so that they overlap each other and everything else;
//   - Run started and stopped, garbage-collection passes, readers (Metrics,
//     Nodes, Pool) called while everything runs;
//   - crashes: the Manager and every call in flight dropped, a new Manager
//     built and rebuilt with complete pod lists;
//   - one-shot refusals of AttachNetworkInterface and AssociateTrunkInterface.
//
// Every EC2 call the Manager makes passes a ledger that records what EC2
// applied (associations, disassociations, deletions), so the checks need no
// EC2 call. After every step, once the bubble is idle, and at the end:
//
//   - no panic, and no call still running long after its context ended (a
//     deadlock): every wait in the Manager ends with its context;
//   - no branch ENI of a live pod disassociated or deleted, and none given
//     to a pod after it was deleted;
//   - no ENI held by two live pods, no VLAN shared by two live pods of a
//     node or by two ENIs of a pool, and every annotation's VLAN is the VLAN
//     EC2 associated the ENI with, on the trunk of the pod's node;
//   - a pool that holds a live pod's ENI holds it in use, for that pod;
//   - readers never wait (no virtual time passes in Metrics, Nodes, Pool);
//   - after every rebuild, every healthy node is served, a t-family node is
//     reported ErrTrunkingUnsupported and an unknown instance ErrUnknownNode;
//   - at the end, faults cleared and every pod served: after a complete
//     rebuild, the cool-down and two garbage-collection passes, every branch
//     ENI in EC2 is held by a pool (in use, cooling or warm), every in-use ENI
//     by its live pod with the pod's groups on the pod's trunk, each trunk's
//     VLANs are distinct, removed nodes left nothing behind, and every live
//     node that can trunk has an attached trunk.
//
// What a seed reproduces, exactly: the schedule (each step's kind,
// arguments and virtual start time, so the step counts of the summary
// line), the Manager's options and the fake's configuration and seed. The
// schedule's generator is used by the main goroutine only and never
// consumes draws that depend on call outcomes (a pod reconciler draws its
// patience from the pod and its attempt). What it does not reproduce: the
// outcome of each call. The fake draws latency, faults and lags from its
// seed and the request, but a request's identity includes its ClientToken,
// which carries a per-Manager random epoch (so that no two Managers ever
// share a token), retries wait the SDK's randomly jittered back-off, and
// goroutines that run at the same virtual instant interleave freely (which
// takes the last token of a bucket, the warm ENI, the next VLAN). The
// checks hold for every interleaving, but a failure that needs a rare one
// may not come back on replay: PODSG_SIM_REPEAT runs a seed many times side
// by side, and the failure's steps and the ENI's history (the Manager's
// association, disassociation and deletion calls on it, with their
// outcomes) point at the scenario, which then becomes a deterministic
// regression test (as each one found so far has).
// A panic in one of the Manager's own goroutines (Run's workers) ends the
// test binary with its stack; run with -v to see which seeds were running.
//
// make test runs simDefaultSeeds seeds, with -race. PODSG_SIM_SEEDS=N runs
// seeds 1..N (make soak runs 2,000); PODSG_SIM_SEED=N replays seed N, and
// PODSG_SIM_REPEAT=K runs it K times side by side to meet more
// interleavings. A failure names the seed, the step, the seed's
// configuration and the steps before it. The test prints
//
//	simulation seeds=N steps=M failures=0 <event>=<count> …
//
// counting every kind of step and the outcomes of the calls they made.
func TestSimulation(t *testing.T) {
	seeds := simSeedList(t)
	tot := &simTotals{counts: map[string]int{}}
	t.Run("seeds", func(t *testing.T) {
		for _, seed := range seeds {
			t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { // repeats get a #NN suffix
				t.Parallel()
				var s *sim
				synctest.Test(t, func(t *testing.T) {
					s = newSim(t, seed)
					s.run()
				})
				tot.add(s)
				if s.failure != "" {
					t.Errorf("simulation seed=%d failed at step %d: %s\nsteps before it:\n%s\nreplay: PODSG_SIM_SEED=%d go test -run 'TestSimulation' -count=1 ./trunk/",
						seed, s.failedAt, s.failure, s.recent(), seed)
				}
			})
		}
	})
	if t.Failed() {
		return
	}
	keys := slices.Sorted(maps.Keys(tot.counts))
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%d", k, tot.counts[k])
	}
	fmt.Printf("simulation seeds=%d steps=%d failures=%d%s\n", len(seeds), tot.steps, tot.failures, b.String())
}

// simDefaultSeeds is how many seeds make test runs.
const simDefaultSeeds = 64

func simSeedList(t *testing.T) []uint64 {
	if v := os.Getenv("PODSG_SIM_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("PODSG_SIM_SEED=%q: want a seed number", v)
		}
		// PODSG_SIM_REPEAT=N runs it N times side by side, to meet more
		// interleavings.
		repeat := 1
		if r := os.Getenv("PODSG_SIM_REPEAT"); r != "" {
			if repeat, err = strconv.Atoi(r); err != nil || repeat < 1 {
				t.Fatalf("PODSG_SIM_REPEAT=%q: want a positive number", r)
			}
		}
		return slices.Repeat([]uint64{n}, repeat)
	}
	count := uint64(simDefaultSeeds)
	if v := os.Getenv("PODSG_SIM_SEEDS"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n == 0 {
			t.Fatalf("PODSG_SIM_SEEDS=%q: want a positive number of seeds", v)
		}
		count = n
	}
	out := make([]uint64, count)
	for i := range out {
		out[i] = uint64(i + 1)
	}
	return out
}

type simTotals struct {
	mu       sync.Mutex
	steps    int
	failures int
	counts   map[string]int
}

func (tt *simTotals) add(s *sim) {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	tt.steps += s.steps
	if s.failure != "" {
		tt.failures++
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.counts {
		tt.counts[k] += v
	}
}

// Simulation parameters.
const (
	simSteps     = 250
	simOpTimeout = 15 * time.Minute // a controller's deadline for one call
	simStuck     = 5 * time.Minute  // past its deadline, a call is stuck
)

var simGroupNames = []string{"web", "db", "cache"}

type sNodeKind uint8

const (
	simHealthy  sNodeKind = iota // can trunk
	simSmall                     // t-family: cannot trunk
	simVanished                  // a node object whose instance EC2 never knew
)

type sNode struct {
	id    string
	kind  sNodeKind
	limit int // branch ENIs, for the scheduler
	live  bool
}

type sPod struct {
	seq       int
	ref       eni.PodRef
	node      *sNode
	groups    eni.GroupSet
	live      bool
	acquiring bool
	acquires  int    // Acquire loops started for it
	eniID     string // from the annotation; "" while pending
	vlan      int
}

// simCtl is one controller process: a Manager, the context of its calls,
// its Run loop and the goroutines of its calls.
type simCtl struct {
	m      *trunk.Manager
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	closed bool // no more calls: the controller is going down
	active int  // calls running

	runCancel context.CancelFunc
	runDone   chan struct{}
}

type simOp struct {
	name  string
	step  int
	start time.Time
}

type sim struct {
	t    *testing.T
	seed uint64
	rng  *rand.Rand // the schedule's; used by the main goroutine only
	f    *fake.EC2
	led  *ledger
	opts trunk.Options

	subnet string
	groups []eni.GroupSet
	types  []string

	cloud     context.Context // lives as long as the bubble: EC2's own work
	cloudStop context.CancelFunc
	cloudWG   sync.WaitGroup

	ctl *simCtl

	// cluster: the Kubernetes side, which survives crashes. Decisions of
	// the schedule depend only on what the schedule did (nodes and pods
	// created and deleted), never on call outcomes.
	cmu    sync.Mutex
	nodes  []*sNode
	pods   []*sPod
	podSeq int

	mu       sync.Mutex // guards what follows
	counts   map[string]int
	failure  string
	failedAt int
	inflight map[int]simOp
	opSeq    int
	history  map[string][]string // ENI → what happened to it, for failures

	step  int
	steps int
	log   []string

	ghosts []string // deleted ENIs EC2 still listed at the end
}

func newSim(t *testing.T, seed uint64) *sim {
	rng := rand.New(rand.NewPCG(seed, 0x73696d))
	s := &sim{t: t, seed: seed, rng: rng, counts: map[string]int{}, inflight: map[int]simOp{}, history: map[string][]string{}}
	cons, slow := simConsistency(rng)
	s.f = fake.New(fake.Options{Seed: seed, CallLogSize: -1, Consistency: cons})
	s.led = newLedger(s)
	vpc := s.f.AddVPC("10.0.0.0/16")
	s.subnet = s.f.AddSubnet(vpc, "10.0.0.0/17", "")
	var ids []string
	for _, n := range simGroupNames {
		ids = append(ids, s.f.AddSecurityGroup(vpc, n))
	}
	s.groups = []eni.GroupSet{eni.MustGroupSet(ids[0]), eni.MustGroupSet(ids[1]), eni.MustGroupSet(ids[0], ids[1]), eni.MustGroupSet(ids[2])}
	s.types = []string{"m5.large", "c5.large", "r5.large", "m5.xlarge"}

	// The fake: latency and background faults whose rates the seed picks.
	s.f.SetLatency("", fake.Latency{Base: time.Duration(5+rng.IntN(40)) * time.Millisecond, Jitter: 50 * time.Millisecond})
	s.f.SetLatency(fake.ActionCreateNetworkInterface, fake.Latency{Base: 100 * time.Millisecond, Jitter: 400 * time.Millisecond})
	s.f.SetLatency(fake.ActionAttachNetworkInterface, fake.Latency{Base: 200 * time.Millisecond, Jitter: 800 * time.Millisecond})
	throttle, internal, lost := rng.Float64()*0.2, rng.Float64()*0.05, rng.Float64()*0.05
	for _, a := range simActions {
		if throttle > 0 {
			s.f.InjectFault(fake.Fault{Action: a, Code: fake.CodeRequestLimitExceeded, Probability: throttle})
		}
		if internal > 0 {
			s.f.InjectFault(fake.Fault{Action: a, Code: fake.CodeInternalError, Probability: internal})
		}
		if lost > 0 {
			s.f.InjectFault(fake.Fault{Action: a, Lost: true, Probability: lost})
		}
	}

	// The Manager's options.
	policies := []eni.Policy{
		{},
		eni.OnDemandPolicy(),
		{MaxWarm: 2, CoolDown: eni.MinCoolDown, IdleTimeout: 3 * time.Minute},
		{Retarget: eni.AlwaysRetarget, Prewarm: eni.PrewarmPolicy{Window: eni.NoPrewarm}},
		{WarmTargets: []eni.WarmTarget{{Key: eni.Key{Groups: s.groups[0], Subnet: s.subnet}, Count: 2}}, IdleTimeout: -1},
	}
	pi := rng.IntN(len(policies))
	s.opts = trunk.Options{
		ClusterName: "sim",
		Policy:      policies[pi],
		Workers:     1 + rng.IntN(6),
		GCInterval:  time.Duration(2+rng.IntN(9)) * time.Minute,
	}
	if rng.IntN(3) == 0 {
		s.opts.MaxInFlightStarts = 1 + rng.IntN(4)
	}
	s.cloud, s.cloudStop = context.WithCancel(s.t.Context())
	s.logf("seed %d: consistency lags ×%d, faults throttle=%.3f internal=%.3f lost=%.3f, workers %d, in-flight starts %d, GC every %v, policy %d",
		seed, slow, throttle, internal, lost, s.opts.Workers, s.opts.MaxInFlightStarts, s.opts.GCInterval, pi)
	return s
}

// simConsistency draws a seed's eventual consistency: EC2's as the fake
// models it (fake.EventualConsistency), with the mean of every lag
// multiplied by slow, 3 for a third of the seeds (1 otherwise); the cap of
// five minutes stays.
func simConsistency(rng *rand.Rand) (fake.Consistency, int) {
	c := fake.EventualConsistency()
	slow := 1
	if rng.IntN(3) == 0 {
		slow = 3
	}
	for _, d := range []*fake.Delay{&c.Create, &c.Launch, &c.Attach, &c.Associate, &c.Detach, &c.Delete} {
		d.Mean *= time.Duration(slow)
	}
	return c, slow
}

// simActions are the actions whose calls get background faults.
var simActions = []fake.Action{
	fake.ActionCreateNetworkInterface, fake.ActionAssociateTrunkInterface, fake.ActionDisassociateTrunkInterface,
	fake.ActionDeleteNetworkInterface, fake.ActionModifyNetworkInterfaceAttribute, fake.ActionDescribeNetworkInterfaces,
	fake.ActionDescribeTrunkInterfaceAssociations, fake.ActionDescribeInstances, fake.ActionDescribeSubnets,
	fake.ActionAttachNetworkInterface, fake.ActionTerminateInstances,
}

// simKinds are the kinds of steps with their weights.
var simKinds = []struct {
	name   string
	weight int
}{
	{"create_pod", 30},
	{"delete_pod", 20},
	{"add_node", 4},
	{"add_t_node", 1},
	{"add_vanished_node", 1},
	{"remove_node", 3},
	{"reconcile_complete", 5},
	{"reconcile_incomplete", 4},
	{"run_start", 3},
	{"run_stop", 2},
	{"gc", 3},
	{"crash", 2},
	{"attach_refused", 2},
	{"associate_refused", 2},
	{"resync", 6},
	{"observe", 4},
	{"wait", 6},
}

func (s *sim) pickKind() string {
	total := 0
	for _, k := range simKinds {
		total += k.weight
	}
	n := s.rng.IntN(total)
	for _, k := range simKinds {
		if n < k.weight {
			return k.name
		}
		n -= k.weight
	}
	panic("unreachable")
}

func (s *sim) count(k string, n int) {
	s.mu.Lock()
	s.counts[k] += n
	s.mu.Unlock()
}

// note records an event in an ENI's history.
func (s *sim) note(id, format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.history[id] = append(s.history[id], fmt.Sprintf("%8.1fs step %d: ", time.Since(simEpoch).Seconds(), s.step)+fmt.Sprintf(format, args...))
}

// story returns an ENI's history.
func (s *sim) story(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return "\n    " + strings.Join(s.history[id], "\n    ")
}

// fail records the first violation.
func (s *sim) fail(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failure == "" {
		s.failure = fmt.Sprintf(format, args...)
		s.failedAt = s.step
	}
}

func (s *sim) failed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failure != ""
}

func (s *sim) setStep(i int) {
	s.mu.Lock()
	s.step = i
	s.mu.Unlock()
}

func (s *sim) recent() string {
	from := max(1, len(s.log)-25)
	return strings.Join(append(s.log[:1:1], s.log[from:]...), "\n")
}

func (s *sim) logf(format string, args ...any) {
	s.log = append(s.log, fmt.Sprintf("  %4d %8.1fs ", s.step, time.Since(simEpoch).Seconds())+fmt.Sprintf(format, args...))
}

// simEpoch is the start of virtual time in a synctest bubble.
var simEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// run runs the schedule, then the end phase, then tears everything down.
func (s *sim) run() {
	defer s.teardown()
	s.setCtl(s.newCtl())
	for range 3 {
		s.addNode(simHealthy)
	}
	s.rebuild()
	s.startRun()
	for i := 1; i <= simSteps && !s.failed(); i++ {
		s.setStep(i)
		s.steps++
		kind := s.pickKind()
		s.count(kind, 1)
		s.do(kind)
		var gap time.Duration // a third of the steps start together with the next
		if s.rng.IntN(3) != 0 {
			gap = time.Duration(s.rng.IntN(3000)) * time.Millisecond
		}
		time.Sleep(gap)
		synctest.Wait()
		s.check()
	}
	if !s.failed() {
		s.setStep(simSteps + 1)
		s.logf("end: faults cleared, waiting for quiescence")
		s.end()
	}
}

func (s *sim) do(kind string) {
	switch kind {
	case "create_pod":
		s.createPod()
	case "delete_pod":
		s.deletePod()
	case "add_node":
		s.addNode(simHealthy)
	case "add_t_node":
		s.addNode(simSmall)
	case "add_vanished_node":
		s.addNode(simVanished)
	case "remove_node":
		s.removeNode()
	case "reconcile_complete":
		s.reconcile(true)
	case "reconcile_incomplete":
		s.reconcile(false)
	case "run_start":
		s.logf("run start")
		s.startRun()
	case "run_stop":
		s.logf("run stop")
		s.stopRun(s.ctl)
	case "gc":
		s.logf("gc")
		ctl := s.ctl
		s.goOp(ctl, "gc", func(ctx context.Context) {
			if _, err := ctl.m.CollectGarbage(ctx); err != nil {
				s.count("gc_error", 1)
			}
		})
	case "crash":
		s.crash()
	case "attach_refused":
		s.logf("next AttachNetworkInterface refused")
		s.f.InjectFault(fake.Fault{Action: fake.ActionAttachNetworkInterface, Code: fake.CodeAttachmentLimitExceeded, OnCall: 1})
	case "associate_refused":
		s.logf("next AssociateTrunkInterface refused")
		s.f.InjectFault(fake.Fault{Action: fake.ActionAssociateTrunkInterface, Code: fake.CodeInvalidParameterValue, OnCall: 1})
	case "resync":
		s.logf("resync pending pods")
		s.resync()
	case "observe":
		s.observe()
	case "wait":
		d := time.Duration(30+s.rng.IntN(150)) * time.Second
		s.logf("wait %v", d)
		time.Sleep(d)
	}
}

// goOp runs fn on a goroutine of ctl, with a controller's deadline, and
// turns a panic into a failure.
func (s *sim) goOp(ctl *simCtl, name string, fn func(ctx context.Context)) {
	ctl.mu.Lock()
	defer ctl.mu.Unlock()
	if ctl.closed {
		return
	}
	s.mu.Lock()
	s.opSeq++
	id := s.opSeq
	s.inflight[id] = simOp{name: name, step: s.step, start: time.Now()}
	s.mu.Unlock()
	ctl.active++
	go func() {
		defer func() {
			if r := recover(); r != nil {
				s.fail("panic in %s: %v\n%s", name, r, debug.Stack())
			}
			s.mu.Lock()
			delete(s.inflight, id)
			s.mu.Unlock()
			ctl.mu.Lock()
			ctl.active--
			ctl.mu.Unlock()
		}()
		ctx, cancel := context.WithTimeout(ctl.ctx, simOpTimeout)
		defer cancel()
		fn(ctx)
	}()
}

// goCloud runs fn as EC2's own work, which outlives controllers.
func (s *sim) goCloud(fn func(ctx context.Context)) {
	s.cloudWG.Go(func() {
		defer func() {
			if r := recover(); r != nil {
				s.fail("panic: %v\n%s", r, debug.Stack())
			}
		}()
		fn(s.cloud)
	})
}

// current returns the controller now running, for goroutines that outlive
// controllers.
func (s *sim) current() *simCtl {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ctl
}

func (s *sim) setCtl(ctl *simCtl) {
	s.mu.Lock()
	s.ctl = ctl
	s.mu.Unlock()
}

func (s *sim) newCtl() *simCtl {
	m, err := trunk.New(s.led, s.opts)
	if err != nil {
		s.fail("trunk.New: %v", err)
		m, _ = trunk.New(s.led, trunk.Options{ClusterName: "sim"})
	}
	ctl := &simCtl{m: m}
	ctl.ctx, ctl.cancel = context.WithCancel(s.t.Context())
	return ctl
}

func (s *sim) startRun() {
	ctl := s.ctl
	if ctl.runDone != nil {
		return
	}
	ctx, cancel := context.WithCancel(ctl.ctx)
	ctl.runCancel, ctl.runDone = cancel, make(chan struct{})
	done := ctl.runDone
	go func() {
		defer close(done)
		defer func() {
			if r := recover(); r != nil {
				s.fail("panic in Run: %v\n%s", r, debug.Stack())
			}
		}()
		err := ctl.m.Run(ctx)
		if !errors.Is(err, context.Canceled) && !errors.Is(err, trunk.ErrClosed) {
			s.fail("Run returned %v", err)
		}
	}()
}

// stopRun stops ctl's Run and waits for it, which must not take long: every
// wait in Run ends with its context.
func (s *sim) stopRun(ctl *simCtl) {
	if ctl.runDone == nil {
		return
	}
	ctl.runCancel()
	select {
	case <-ctl.runDone:
	case <-time.After(simStuck):
		s.fail("Run still running %v after its context ended", simStuck)
		<-ctl.runDone
	}
	ctl.runDone = nil
}

// shut stops ctl from starting calls, ends their contexts and waits for
// them.
func (s *sim) shut(ctl *simCtl) {
	ctl.mu.Lock()
	ctl.closed = true
	ctl.mu.Unlock()
	ctl.cancel()
	s.stopRun(ctl)
	ctl.m.Close()
	s.waitOps(ctl, simStuck)
}

// waitOps waits for ctl's calls, polling in virtual time (calls may still
// start meanwhile, from goroutines that outlive controllers).
func (s *sim) waitOps(ctl *simCtl, within time.Duration) {
	deadline := time.Now().Add(within)
	for {
		ctl.mu.Lock()
		n := ctl.active
		ctl.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			s.mu.Lock()
			var names []string
			for _, op := range s.inflight {
				names = append(names, fmt.Sprintf("%s (step %d)", op.name, op.step))
			}
			s.mu.Unlock()
			slices.Sort(names)
			s.fail("calls still running %v later (deadlock?): %s", within, strings.Join(names, ", "))
			return
		}
		time.Sleep(time.Second)
	}
}

func (s *sim) teardown() {
	s.cloudStop()
	s.cloudWG.Wait()
	if s.ctl != nil {
		s.shut(s.ctl)
	}
}

// --- Nodes ---------------------------------------------------------------

func (s *sim) liveNodes(kind sNodeKind) []*sNode {
	var out []*sNode
	for _, n := range s.nodes {
		if n.live && n.kind == kind {
			out = append(out, n)
		}
	}
	return out
}

func (s *sim) addNode(kind sNodeKind) {
	n := &sNode{kind: kind, live: true}
	switch kind {
	case simHealthy:
		typ := s.types[s.rng.IntN(len(s.types))]
		n.id = s.f.AddNode(typ, s.subnet).InstanceID
		lim, _ := limitsOf(typ)
		n.limit = lim
		s.logf("add node %s (%s)", n.id, typ)
	case simSmall:
		n.id = s.f.AddNode("t3.large", s.subnet).InstanceID
		s.logf("add t-family node %s", n.id)
	case simVanished:
		n.id = fmt.Sprintf("i-%017x", s.rng.Uint64()>>4|1<<59)
		s.logf("add node object %s whose instance EC2 does not know", n.id)
	}
	s.cmu.Lock()
	s.nodes = append(s.nodes, n)
	s.cmu.Unlock()
	ctl := s.ctl
	s.goOp(ctl, "ensure "+n.id, func(ctx context.Context) {
		// The node reconciler: set the node up, requeueing on errors,
		// until the node object is deleted.
		for attempt := 0; attempt < 8 && ctx.Err() == nil; attempt++ {
			s.cmu.Lock()
			live := n.live
			s.cmu.Unlock()
			if !live {
				return
			}
			_, err := ctl.m.EnsureNode(ctx, n.id)
			switch {
			case kind == simSmall && err == nil:
				s.fail("EnsureNode of t-family node %s succeeded", n.id)
				return
			case kind == simVanished && err == nil:
				s.fail("EnsureNode of unknown instance %s succeeded", n.id)
				return
			case kind == simSmall && errors.Is(err, trunk.ErrTrunkingUnsupported),
				kind == simVanished && errors.Is(err, trunk.ErrUnknownNode):
				s.count("ensure_reported", 1)
				return
			case err == nil:
				s.count("ensure_ok", 1)
				return
			}
			s.count("ensure_error", 1)
			if sleepCtx(ctx, time.Duration(5+attempt*10)*time.Second) != nil {
				return
			}
		}
	})
}

func (s *sim) removeNode() {
	var cands []*sNode
	healthy := len(s.liveNodes(simHealthy))
	for _, n := range s.nodes {
		if n.live && (n.kind != simHealthy || healthy > 1) {
			cands = append(cands, n)
		}
	}
	if len(cands) == 0 {
		s.logf("remove node: none to remove")
		return
	}
	n := cands[s.rng.IntN(len(cands))]
	s.logf("remove node %s", n.id)
	s.cmu.Lock()
	n.live = false
	for _, p := range s.pods {
		if p.node == n {
			p.live = false
		}
	}
	s.cmu.Unlock()
	// The instance is terminated; the node controller deletes the Node once
	// it is gone, and the controller removes it then (and may see the
	// deletion earlier, while the instance shuts down).
	if n.kind != simVanished {
		s.goCloud(func(ctx context.Context) {
			for ctx.Err() == nil {
				_, err := s.f.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{n.id}})
				if err == nil || errors.Is(err, fake.ErrLostResponse) {
					s.led.terminated(n.id)
					s.removeFromController(s.current(), n)
					return
				}
				if sleepCtx(ctx, 5*time.Second) != nil {
					return
				}
			}
		})
	}
	s.removeFromController(s.ctl, n)
}

// removeFromController calls RemoveNode on ctl until it succeeds or ctl
// crashes.
func (s *sim) removeFromController(ctl *simCtl, n *sNode) {
	s.goOp(ctl, "remove "+n.id, func(ctx context.Context) {
		for ctx.Err() == nil {
			if err := ctl.m.RemoveNode(ctx, n.id); err == nil {
				return
			}
			s.count("remove_node_retry", 1)
			if sleepCtx(ctx, 10*time.Second) != nil {
				return
			}
		}
	})
}

// --- Pods ----------------------------------------------------------------

func (s *sim) createPod() {
	// The scheduler places a pod on a node with a branch ENI to spare,
	// counting the live pods there (not the ENIs cooling down).
	var nodes []*sNode
	for _, n := range s.liveNodes(simHealthy) {
		used := 0
		for _, p := range s.pods {
			if p.live && p.node == n {
				used++
			}
		}
		if used < n.limit {
			nodes = append(nodes, n)
		}
	}
	if len(nodes) == 0 {
		s.logf("create pod: every node is full")
		return
	}
	n := nodes[s.rng.IntN(len(nodes))]
	g := s.groups[s.rng.IntN(len(s.groups))]
	s.podSeq++
	name := fmt.Sprintf("p%d", s.podSeq)
	p := &sPod{seq: s.podSeq, ref: eni.PodRef{Namespace: "sim", Name: name, UID: fmt.Sprintf("u%d-%d", s.seed, s.podSeq)},
		node: n, groups: g, live: true}
	s.logf("create pod %s on %s groups %s", name, n.id, g)
	s.cmu.Lock()
	s.pods = append(s.pods, p)
	s.cmu.Unlock()
	s.acquire(p)
}

// acquire gives p its ENI from a goroutine of the current controller, as a
// pod reconciler does, requeueing on errors.
func (s *sim) acquire(p *sPod) {
	s.cmu.Lock()
	if !p.live || p.acquiring || p.eniID != "" {
		s.cmu.Unlock()
		return
	}
	p.acquiring = true
	p.acquires++
	// Whether, and how, this pod reconciler gives up is drawn from the pod
	// and its attempt, not from the schedule's generator: how often a pod
	// is resynced depends on call outcomes, and the schedule must not.
	rng := rand.New(rand.NewPCG(s.seed, uint64(p.seq)<<16|uint64(p.acquires)))
	s.cmu.Unlock()
	ctl := s.ctl
	impatient := rng.IntN(5) == 0 // gives up on each attempt after a moment
	s.goOp(ctl, "acquire "+p.ref.Name, func(ctx context.Context) {
		defer func() {
			s.cmu.Lock()
			p.acquiring = false
			s.cmu.Unlock()
		}()
		for attempt := 0; attempt < 10; attempt++ {
			s.cmu.Lock()
			live := p.live
			s.cmu.Unlock()
			if !live {
				return
			}
			actx, cancel := ctx, context.CancelFunc(func() {})
			if impatient {
				actx, cancel = context.WithTimeout(ctx, time.Duration(100+rng.IntN(3000))*time.Millisecond)
			}
			res, err := ctl.m.Acquire(actx, p.node.id, p.ref, p.groups)
			cancel()
			if err == nil {
				s.annotate(ctl, p, res)
				return
			}
			switch {
			case errors.Is(err, eni.ErrNoCapacity):
				s.count("acquire_no_capacity", 1)
			case ctx.Err() != nil:
				return
			case errors.Is(err, context.DeadlineExceeded):
				s.count("acquire_gave_up", 1)
			default:
				s.count("acquire_error", 1)
			}
			if sleepCtx(ctx, time.Duration(2+rng.IntN(20))*time.Second) != nil {
				return
			}
		}
	})
}

// annotate writes the pod's annotation, or releases the ENI of a pod
// deleted meanwhile.
func (s *sim) annotate(ctl *simCtl, p *sPod, res trunk.Result) {
	id := res.Branch.ENI.ID
	s.note(id, "Acquire gave it to %s (VLAN %d)", p.ref.Name, res.Branch.ENI.VLANID)
	s.cmu.Lock()
	if !p.live {
		s.cmu.Unlock()
		ctl.m.Release(p.node.id, p.ref)
		s.count("acquire_after_delete", 1)
		return
	}
	for _, o := range s.pods {
		if o != p && o.live && o.eniID == id {
			s.cmu.Unlock()
			s.fail("pod %s given ENI %s, which live pod %s holds", p.ref.Name, id, o.ref.Name)
			return
		}
	}
	p.eniID, p.vlan = id, res.Branch.ENI.VLANID
	s.cmu.Unlock()
	if why := s.led.gone(id); why != "" {
		s.fail("pod %s given ENI %s, which was %s; its history:%s", p.ref.Name, id, why, s.story(id))
	}
	s.count("acquire_ok", 1)
}

func (s *sim) deletePod() {
	var live []*sPod
	for _, p := range s.pods {
		if p.live {
			live = append(live, p)
		}
	}
	if len(live) == 0 {
		s.logf("delete pod: none live")
		return
	}
	p := live[s.rng.IntN(len(live))]
	s.logf("delete pod %s", p.ref.Name)
	if p.eniID != "" {
		s.note(p.eniID, "pod %s deleted", p.ref.Name)
	}
	s.cmu.Lock()
	p.live = false
	s.cmu.Unlock()
	s.ctl.m.Release(p.node.id, p.ref)
}

// resync starts an Acquire for every live pod without an ENI, as a pod
// reconciler's periodic resync does.
func (s *sim) resync() {
	for _, p := range s.pods {
		if p.live && p.node.live {
			s.acquire(p)
		}
	}
}

// --- Reconcile, crash, rebuild --------------------------------------------

// snapshot returns the live pods of nodes, as a controller lists them.
func (s *sim) snapshot(nodes []*sNode, complete bool) []trunk.NodePods {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	out := make([]trunk.NodePods, 0, len(nodes))
	for _, n := range nodes {
		np := trunk.NodePods{InstanceID: n.id, Complete: complete}
		for _, p := range s.pods {
			if p.live && p.node == n {
				np.Pods = append(np.Pods, eni.LivePod{Pod: p.ref, ENIID: p.eniID})
			}
		}
		out = append(out, np)
	}
	return out
}

func (s *sim) reconcile(complete bool) {
	var nodes []*sNode
	for _, n := range s.nodes {
		if n.live && (complete || s.rng.IntN(2) == 0) {
			nodes = append(nodes, n)
		}
	}
	s.rng.Shuffle(len(nodes), func(i, j int) { nodes[i], nodes[j] = nodes[j], nodes[i] })
	list := s.snapshot(nodes, complete)
	if !complete {
		for i := range list {
			pods := list[i].Pods
			list[i].Pods = nil
			for _, lp := range pods {
				if s.rng.IntN(3) != 0 {
					list[i].Pods = append(list[i].Pods, lp)
				}
			}
		}
	}
	s.logf("reconcile complete=%v %d nodes", complete, len(list))
	ctl := s.ctl
	kinds := s.kinds()
	s.goOp(ctl, "reconcile", func(ctx context.Context) {
		res, err := ctl.m.ReconcileAll(ctx, list)
		switch {
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			s.fail("ReconcileAll still running after %v (deadlock?): %v", simOpTimeout, err)
			return
		case err != nil && ctx.Err() == nil:
			s.fail("ReconcileAll returned %v with its context live", err)
			return
		case err != nil:
			return // the controller crashed
		}
		s.checkResults(res, list, kinds, false)
	})
}

func (s *sim) kinds() map[string]sNodeKind {
	out := make(map[string]sNodeKind, len(s.nodes))
	for _, n := range s.nodes {
		out[n.id] = n.kind
	}
	return out
}

// checkResults checks ReconcileAll's per-node results, and returns the
// healthy nodes that failed (a transient EC2 error, or an instance not
// visible yet).
func (s *sim) checkResults(res map[string]trunk.NodeResult, list []trunk.NodePods, kinds map[string]sNodeKind, rebuild bool) []string {
	var retry []string
	for _, np := range list {
		r, ok := res[np.InstanceID]
		if !ok {
			s.fail("ReconcileAll gave no result for node %s", np.InstanceID)
			continue
		}
		switch kinds[np.InstanceID] {
		case simSmall:
			if r.Err == nil {
				s.fail("ReconcileAll served t-family node %s", np.InstanceID)
			}
			if !errors.Is(r.Err, trunk.ErrTrunkingUnsupported) {
				retry = append(retry, np.InstanceID)
			}
		case simVanished:
			if r.Err == nil {
				s.fail("ReconcileAll served unknown instance %s", np.InstanceID)
			}
			if !errors.Is(r.Err, trunk.ErrUnknownNode) {
				retry = append(retry, np.InstanceID)
			}
		default:
			if r.Err != nil {
				retry = append(retry, np.InstanceID)
				if rebuild {
					s.count("rebuild_node_retry", 1)
				}
			}
		}
	}
	return retry
}

// crash drops the controller with every call in flight, builds a new one
// and rebuilds it.
func (s *sim) crash() {
	s.logf("crash")
	s.mu.Lock()
	for id := range s.history {
		s.history[id] = append(s.history[id], fmt.Sprintf("%8.1fs step %d: crash", time.Since(simEpoch).Seconds(), s.step))
	}
	s.mu.Unlock()
	old := s.ctl
	running := old.runDone != nil
	s.shut(old)
	s.setCtl(s.newCtl())
	s.rebuild()
	if running {
		s.startRun()
	}
	s.resync()
}

// rebuild runs ReconcileAll over every live node with complete pod lists,
// again for the nodes that fail transiently, until every healthy node is
// served.
func (s *sim) rebuild() {
	var nodes []*sNode
	for _, n := range s.nodes {
		if n.live {
			nodes = append(nodes, n)
		}
	}
	kinds := s.kinds()
	for attempt := 0; ; attempt++ {
		list := s.snapshot(nodes, true)
		ctx, cancel := context.WithTimeout(s.ctl.ctx, simOpTimeout)
		res, err := s.ctl.m.ReconcileAll(ctx, list)
		cancel()
		if err != nil {
			s.fail("rebuild: ReconcileAll returned %v", err)
			return
		}
		retry := s.checkResults(res, list, kinds, true)
		var again []*sNode
		for _, n := range nodes {
			if slices.Contains(retry, n.id) {
				again = append(again, n)
			}
		}
		var unserved []string
		for _, n := range again {
			if n.kind == simHealthy {
				unserved = append(unserved, fmt.Sprintf("%s: %v", n.id, res[n.id].Err))
			}
		}
		if len(again) == 0 {
			break
		}
		if attempt == 9 {
			if len(unserved) > 0 {
				s.fail("after 10 rebuilds, healthy nodes still not served: %s", strings.Join(unserved, "; "))
			}
			break
		}
		nodes = again
		time.Sleep(10 * time.Second)
	}
	for _, n := range s.liveNodes(simHealthy) {
		if _, ok := s.ctl.m.Pool(n.id); !ok {
			s.fail("healthy node %s not served after the rebuild", n.id)
		}
	}
}

// --- Readers -------------------------------------------------------------

// observe calls the readers, which must answer without waiting.
func (s *sim) observe() {
	m := s.ctl.m
	start := time.Now()
	mt := m.Metrics()
	infos := m.Nodes()
	for _, n := range s.nodes {
		m.Pool(n.id)
	}
	if d := time.Since(start); d != 0 {
		s.fail("readers waited %v", d)
	}
	kinds := s.kinds()
	for _, info := range infos {
		if k, ok := kinds[info.InstanceID]; !ok || k != simHealthy {
			s.fail("Nodes lists %s, which cannot be served", info.InstanceID)
		}
	}
	s.logf("observe: %d nodes, %d in use, %d cooling, %d warm", len(infos), mt.Pools.InUse, mt.Pools.Cooling, mt.Pools.Warm)
}

// --- Checks ----------------------------------------------------------------

// check runs the invariants that hold at every moment.
func (s *sim) check() {
	// Calls far past their deadline are stuck.
	s.mu.Lock()
	for _, op := range s.inflight {
		if time.Since(op.start) > simOpTimeout+simStuck {
			s.mu.Unlock()
			s.fail("%s (from step %d) still running %v after it started: a wait that ignores its context?", op.name, op.step, time.Since(op.start))
			return
		}
	}
	s.mu.Unlock()

	s.cmu.Lock()
	defer s.cmu.Unlock()
	owner := map[string]*sPod{}
	vlans := map[*sNode]map[int]*sPod{}
	for _, p := range s.pods {
		if !p.live || p.eniID == "" {
			continue
		}
		if o := owner[p.eniID]; o != nil {
			s.fail("ENI %s held by live pods %s and %s", p.eniID, o.ref.Name, p.ref.Name)
			return
		}
		owner[p.eniID] = p
		if vlans[p.node] == nil {
			vlans[p.node] = map[int]*sPod{}
		}
		if o := vlans[p.node][p.vlan]; o != nil {
			s.fail("VLAN %d on node %s held by live pods %s and %s", p.vlan, p.node.id, o.ref.Name, p.ref.Name)
			return
		}
		vlans[p.node][p.vlan] = p
		if why := s.led.gone(p.eniID); why != "" {
			s.fail("live pod %s's ENI %s was %s", p.ref.Name, p.eniID, why)
			return
		}
		if a, ok := s.led.association(p.eniID); !ok {
			s.fail("live pod %s's ENI %s has no association EC2 made; its history:%s", p.ref.Name, p.eniID, s.story(p.eniID))
			return
		} else if a.vlan != p.vlan || s.led.instanceOf(a.trunk) != p.node.id {
			s.fail("live pod %s's annotation says VLAN %d on node %s; EC2 associated ENI %s on VLAN %d with trunk %s of %s",
				p.ref.Name, p.vlan, p.node.id, p.eniID, a.vlan, a.trunk, s.led.instanceOf(a.trunk))
			return
		}
	}
	// Pools: a live pod's ENI is in use for it; no VLAN or ENI twice.
	held := map[string]string{}
	for _, n := range s.nodes {
		pool, ok := s.ctl.m.Pool(n.id)
		if !ok {
			continue
		}
		vl := map[int]string{}
		for _, e := range pool.Entries() {
			id := e.Branch.ENI.ID
			if id != "" {
				if other, dup := held[id]; dup {
					s.fail("ENI %s is in the pools of %s and %s", id, other, n.id)
					return
				}
				held[id] = n.id
			}
			if e.State != eni.StateDeleting {
				if other, dup := vl[e.Branch.ENI.VLANID]; dup {
					s.fail("pool of %s holds VLAN %d for %s and %s", n.id, e.Branch.ENI.VLANID, other, id)
					return
				}
				vl[e.Branch.ENI.VLANID] = id
			}
			if p := owner[id]; p != nil && (e.State != eni.StateInUse || !e.Pod.IsZero() && e.Pod != p.ref) {
				s.fail("live pod %s's ENI %s is %s in the pool of %s (for pod %q, since %v); its history:%s",
					p.ref.Name, id, e.State, n.id, e.Pod.Name, e.Since.Sub(simEpoch), s.story(id))
				return
			}
		}
	}
}

// end clears the faults, lets everything settle, serves every pod, runs a
// complete rebuild, the cool-down and two garbage-collection passes, then
// checks EC2 against the pools and the cluster.
func (s *sim) end() {
	s.f.ClearFaults()
	s.startRun()
	s.waitOps(s.ctl, simOpTimeout+simStuck)
	for _, n := range s.liveNodes(simHealthy) {
		if _, err := s.ctl.m.EnsureNode(s.ctl.ctx, n.id); err != nil {
			s.fail("node %s has no trunk once faults stopped: %v", n.id, err)
			return
		}
	}
	// A complete rebuild releases what incomplete ones held; then every
	// live pod gets its ENI.
	s.rebuild()
	for round := 0; ; round++ {
		s.resync()
		time.Sleep(time.Minute)
		synctest.Wait()
		s.check()
		if s.failed() {
			return
		}
		s.cmu.Lock()
		var pending []string
		for _, p := range s.pods {
			if p.live && p.eniID == "" {
				pending = append(pending, p.ref.Name)
			}
		}
		s.cmu.Unlock()
		if len(pending) == 0 {
			break
		}
		if round == 30 {
			s.fail("pods never served once faults stopped: %v", pending)
			return
		}
	}
	s.waitOps(s.ctl, simOpTimeout+simStuck)
	s.rebuild()
	cool := cmp.Or(s.opts.Policy.CoolDown, eni.DefaultCoolDown)
	time.Sleep(cool + 6*time.Minute) // past the cool-down and the longest retry back-off
	if !s.waitQuiet() {
		return
	}
	for range 2 {
		if _, err := s.ctl.m.CollectGarbage(s.ctl.ctx); err != nil {
			s.fail("garbage collection once faults stopped: %v", err)
			return
		}
		time.Sleep(time.Minute)
	}
	if !s.waitQuiet() {
		return
	}
	// From here no call waits, so nothing else runs while EC2 is read.
	for _, a := range []fake.Action{"", fake.ActionCreateNetworkInterface, fake.ActionAttachNetworkInterface} {
		s.f.SetLatency(a, fake.Latency{})
	}
	s.f.SetThrottling(false)
	synctest.Wait()
	s.check()
	if s.failed() {
		return
	}
	s.checkEC2()
	s.f.SetThrottling(true)
	if !s.failed() {
		s.awaitGone(s.ghosts)
	}
}

// waitQuiet waits until no pool is creating or deleting an ENI (idle warm
// ENIs expire on their own schedule), an hour at most.
func (s *sim) waitQuiet() bool {
	var busy []string
	for range 60 {
		synctest.Wait()
		busy = busy[:0]
		for _, info := range s.ctl.m.Nodes() {
			pool, _ := s.ctl.m.Pool(info.InstanceID)
			for _, e := range pool.Entries() {
				if e.State == eni.StateCreating || e.State == eni.StateDeleting {
					busy = append(busy, fmt.Sprintf("%s %s since %v", e.Branch.ENI.ID, e.State, e.Since.Sub(simEpoch)))
				}
			}
		}
		if len(busy) == 0 {
			return true
		}
		time.Sleep(time.Minute)
	}
	s.fail("pools still busy an hour after faults stopped: %s", strings.Join(busy, ", "))
	return false
}

// checkEC2 compares EC2 with the pools and the cluster.
func (s *sim) checkEC2() {
	ctx := s.cloud
	m := s.ctl.m
	states := map[string]eni.Entry{}
	for _, info := range m.Nodes() {
		pool, _ := m.Pool(info.InstanceID)
		for _, e := range pool.Entries() {
			states[e.Branch.ENI.ID] = e
		}
	}
	var all []types.NetworkInterface
	p := ec2.NewDescribeNetworkInterfacesPaginator(s.f, &ec2.DescribeNetworkInterfacesInput{MaxResults: aws.Int32(1000)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			s.fail("listing ENIs: %v", err)
			return
		}
		all = append(all, page.NetworkInterfaces...)
	}
	// EC2 lists a deleted ENI for a while (eventual consistency): one the
	// ledger saw deleted is checked apart, and must vanish within the
	// longest lag.
	var ghosts []string
	all = slices.DeleteFunc(all, func(ni types.NetworkInterface) bool {
		id := aws.ToString(ni.NetworkInterfaceId)
		if _, held := states[id]; !held && s.led.gone(id) == "deleted" {
			ghosts = append(ghosts, id)
			return true
		}
		return false
	})
	byID := map[string]types.NetworkInterface{}
	for _, ni := range all {
		id := aws.ToString(ni.NetworkInterfaceId)
		byID[id] = ni
		if aws.ToString(ni.Description) == trunk.TrunkDescription {
			if ni.Attachment == nil {
				s.fail("trunk ENI %s is attached to no instance", id)
				return
			}
			continue
		}
		if aws.ToString(ni.Description) != trunk.BranchDescription {
			continue
		}
		e, ok := states[id]
		if !ok {
			s.fail("EC2 holds branch ENI %s (%s, node %s, VLAN %s) that no pool holds (ledger: %q); its history:%s", id, ni.Status,
				tagOf(ni.TagSet, trunk.TagInstanceID), tagOf(ni.TagSet, trunk.TagVLANID), s.led.gone(id), s.story(id))
			return
		}
		if e.State != eni.StateInUse && e.State != eni.StateCooling && e.State != eni.StateWarm {
			a, _ := s.led.association(id)
			s.fail("branch ENI %s is %s after quiescence, since %v (EC2: %s, association %+v, ledger: %q)",
				id, e.State, e.Since.Sub(simEpoch), ni.Status, a, s.led.gone(id))
			return
		}
	}
	// Maintenance never stalls: nothing cools down for longer than the
	// cool-down.
	cool := cmp.Or(s.opts.Policy.CoolDown, eni.DefaultCoolDown)
	for id, e := range states {
		if e.State == eni.StateCooling && time.Since(e.Since) > cool+time.Minute {
			s.fail("ENI %s has been cooling down for %v: its node is not maintained", id, time.Since(e.Since))
			return
		}
	}
	s.cmu.Lock()
	defer s.cmu.Unlock()
	live := map[eni.PodRef]*sPod{}
	for _, p := range s.pods {
		if p.live {
			live[p.ref] = p
		}
	}
	for id, e := range states {
		if e.State == eni.StateInUse && live[e.Pod] == nil {
			s.fail("pool holds ENI %s in use for %q, which is not a live pod", id, e.Pod.Name)
			return
		}
	}
	trunks := map[string]string{} // instance → trunk
	for _, info := range m.Nodes() {
		trunks[info.InstanceID] = info.TrunkENIID
		ni, ok := byID[info.TrunkENIID]
		if !ok || ni.Attachment == nil || aws.ToString(ni.Attachment.InstanceId) != info.InstanceID || ni.Attachment.Status != types.AttachmentStatusAttached {
			var att string
			if ni.Attachment != nil {
				att = fmt.Sprintf("attached to %s (%s)", aws.ToString(ni.Attachment.InstanceId), ni.Attachment.Status)
			}
			s.fail("node %s: trunk %s is not attached to it: in EC2 %v, %s, ledger %q", info.InstanceID, info.TrunkENIID, ok, att, s.led.gone(info.TrunkENIID))
			return
		}
	}
	for _, n := range s.nodes {
		if n.live && n.kind == simHealthy && trunks[n.id] == "" {
			s.fail("live node %s has no trunk", n.id)
			return
		}
	}
	for _, ni := range all {
		if aws.ToString(ni.Description) == trunk.TrunkDescription {
			in := aws.ToString(ni.Attachment.InstanceId)
			if trunks[in] != aws.ToString(ni.NetworkInterfaceId) {
				s.fail("trunk ENI %s on %s is not the trunk the Manager serves that node with (%q)", aws.ToString(ni.NetworkInterfaceId), in, trunks[in])
				return
			}
		}
	}
	assocs := map[string]types.TrunkInterfaceAssociation{}
	ap := ec2.NewDescribeTrunkInterfaceAssociationsPaginator(s.f, &ec2.DescribeTrunkInterfaceAssociationsInput{MaxResults: aws.Int32(255)})
	vlans := map[string]map[int32]string{}
	for ap.HasMorePages() {
		page, err := ap.NextPage(ctx)
		if err != nil {
			s.fail("listing associations: %v", err)
			return
		}
		for _, a := range page.InterfaceAssociations {
			tr, v := aws.ToString(a.TrunkInterfaceId), aws.ToInt32(a.VlanId)
			if vlans[tr] == nil {
				vlans[tr] = map[int32]string{}
			}
			if o := vlans[tr][v]; o != "" {
				s.fail("VLAN %d shared on trunk %s by %s and %s", v, tr, o, aws.ToString(a.BranchInterfaceId))
				return
			}
			vlans[tr][v] = aws.ToString(a.BranchInterfaceId)
			assocs[aws.ToString(a.BranchInterfaceId)] = a
		}
	}
	for _, p := range live {
		ni, ok := byID[p.eniID]
		if !ok {
			s.fail("live pod %s's ENI %s is not in EC2", p.ref.Name, p.eniID)
			return
		}
		a := assocs[p.eniID]
		if aws.ToString(a.TrunkInterfaceId) != trunks[p.node.id] || int(aws.ToInt32(a.VlanId)) != p.vlan {
			s.fail("live pod %s: ENI %s is on trunk %s VLAN %d, want trunk %s VLAN %d", p.ref.Name, p.eniID,
				aws.ToString(a.TrunkInterfaceId), aws.ToInt32(a.VlanId), trunks[p.node.id], p.vlan)
			return
		}
		var gids []string
		for _, g := range ni.Groups {
			gids = append(gids, aws.ToString(g.GroupId))
		}
		if got := eni.MustGroupSet(gids...); got != p.groups {
			s.fail("live pod %s: ENI %s has groups %s, want %s", p.ref.Name, p.eniID, got, p.groups)
			return
		}
		if e := states[p.eniID]; e.State != eni.StateInUse || e.Pod != p.ref {
			s.fail("live pod %s: its pool holds ENI %s %s for %q", p.ref.Name, p.eniID, e.State, e.Pod.Name)
			return
		}
	}
	for _, n := range s.nodes {
		if n.live {
			continue
		}
		for _, ni := range all {
			if tagOf(ni.TagSet, trunk.TagInstanceID) == n.id {
				s.fail("removed node %s left ENI %s (%s)", n.id, aws.ToString(ni.NetworkInterfaceId), ni.Status)
				return
			}
		}
	}
	s.count("branch_enis_at_end", len(states))
	s.ghosts = ghosts
}

// awaitGone waits until EC2 no longer lists the deleted ENIs ids, at most
// fake.ConsistencyMaxLag.
func (s *sim) awaitGone(ids []string) {
	if len(ids) == 0 {
		return
	}
	deadline := time.Now().Add(fake.ConsistencyMaxLag)
	for len(ids) > 0 {
		batch := ids[:min(len(ids), 200)] // EC2's bound on filter values
		out, err := s.f.DescribeNetworkInterfaces(s.cloud, &ec2.DescribeNetworkInterfacesInput{
			Filters: []types.Filter{{Name: aws.String("network-interface-id"), Values: batch}}})
		switch {
		case err != nil:
			s.fail("listing deleted ENIs: %v", err)
			return
		case len(out.NetworkInterfaces) == 0:
			ids = ids[len(batch):]
		case time.Now().After(deadline):
			s.fail("EC2 still lists ENI %s %v after it was deleted", aws.ToString(out.NetworkInterfaces[0].NetworkInterfaceId), fake.ConsistencyMaxLag)
			return
		default:
			time.Sleep(time.Second)
		}
	}
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// --- The ledger ------------------------------------------------------------

// ledger passes the Manager's EC2 calls to the fake and records what EC2
// applied: associations, disassociations and deletions. A call whose answer
// was lost was applied all the same.
type ledger struct {
	*fake.EC2
	s *sim

	mu       sync.Mutex
	assoc    map[string]simAssoc // branch ENI → its association
	byAssoc  map[string]string   // association ID → branch ENI
	instance map[string]string   // trunk ENI → instance
	fate     map[string]string   // ENI → what happened to it
}

type simAssoc struct {
	id, trunk string
	vlan      int
}

func newLedger(s *sim) *ledger {
	return &ledger{EC2: s.f, s: s, assoc: map[string]simAssoc{}, byAssoc: map[string]string{},
		instance: map[string]string{}, fate: map[string]string{}}
}

func applied(err error) bool { return err == nil || errors.Is(err, fake.ErrLostResponse) }

func (l *ledger) record(a types.TrunkInterfaceAssociation) {
	b := aws.ToString(a.BranchInterfaceId)
	l.assoc[b] = simAssoc{id: aws.ToString(a.AssociationId), trunk: aws.ToString(a.TrunkInterfaceId), vlan: int(aws.ToInt32(a.VlanId))}
	l.byAssoc[aws.ToString(a.AssociationId)] = b
}

// gone says what happened to an ENI that must not be used: "" when nothing.
func (l *ledger) gone(id string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fate[id]
}

func (l *ledger) association(branch string) (simAssoc, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a, ok := l.assoc[branch]
	return a, ok
}

func (l *ledger) instanceOf(trunkID string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.instance[trunkID]
}

// lost records what happened to an ENI, and fails the simulation if a live
// pod holds it.
func (l *ledger) lost(id, what string) {
	l.mu.Lock()
	l.fate[id] = what
	l.mu.Unlock()
	l.s.cmu.Lock()
	defer l.s.cmu.Unlock()
	for _, p := range l.s.pods {
		if p.live && p.eniID == id {
			l.s.fail("ENI %s of live pod %s was %s", id, p.ref.Name, what)
		}
	}
}

// terminated records that EC2 dropped the associations of an instance's
// trunk when it terminated it.
func (l *ledger) terminated(instanceID string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for b, a := range l.assoc {
		if l.instance[a.trunk] == instanceID {
			delete(l.assoc, b)
			delete(l.byAssoc, a.id)
			l.fate[b] = "disassociated by the termination of " + instanceID
		}
	}
}

func (l *ledger) AssociateTrunkInterface(ctx context.Context, in *ec2.AssociateTrunkInterfaceInput, o ...func(*ec2.Options)) (*ec2.AssociateTrunkInterfaceOutput, error) {
	out, err := l.EC2.AssociateTrunkInterface(ctx, in, o...)
	l.s.note(aws.ToString(in.BranchInterfaceId), "AssociateTrunkInterface VLAN %d: %v", aws.ToInt32(in.VlanId), outcome(err))
	switch {
	case err == nil && out.InterfaceAssociation != nil:
		l.mu.Lock()
		l.record(*out.InterfaceAssociation)
		l.mu.Unlock()
	case applied(err):
		// Made, its answer lost: its ID is learnt when a listing shows it.
		l.mu.Lock()
		l.record(types.TrunkInterfaceAssociation{BranchInterfaceId: in.BranchInterfaceId, TrunkInterfaceId: in.TrunkInterfaceId, VlanId: in.VlanId})
		l.mu.Unlock()
	}
	return out, err
}

func (l *ledger) DescribeTrunkInterfaceAssociations(ctx context.Context, in *ec2.DescribeTrunkInterfaceAssociationsInput, o ...func(*ec2.Options)) (*ec2.DescribeTrunkInterfaceAssociationsOutput, error) {
	out, err := l.EC2.DescribeTrunkInterfaceAssociations(ctx, in, o...)
	if err == nil {
		l.mu.Lock()
		for _, a := range out.InterfaceAssociations {
			l.record(a)
		}
		l.mu.Unlock()
	}
	return out, err
}

func (l *ledger) DisassociateTrunkInterface(ctx context.Context, in *ec2.DisassociateTrunkInterfaceInput, o ...func(*ec2.Options)) (*ec2.DisassociateTrunkInterfaceOutput, error) {
	l.mu.Lock()
	branch := l.byAssoc[aws.ToString(in.AssociationId)]
	l.mu.Unlock()
	out, err := l.EC2.DisassociateTrunkInterface(ctx, in, o...)
	if branch != "" {
		l.s.note(branch, "DisassociateTrunkInterface %s: %v", aws.ToString(in.AssociationId), outcome(err))
	}
	if applied(err) && branch != "" {
		l.mu.Lock()
		if a, ok := l.assoc[branch]; ok && a.id == aws.ToString(in.AssociationId) {
			delete(l.assoc, branch)
		}
		l.mu.Unlock()
		l.lost(branch, "disassociated")
	}
	return out, err
}

func (l *ledger) DeleteNetworkInterface(ctx context.Context, in *ec2.DeleteNetworkInterfaceInput, o ...func(*ec2.Options)) (*ec2.DeleteNetworkInterfaceOutput, error) {
	out, err := l.EC2.DeleteNetworkInterface(ctx, in, o...)
	id := aws.ToString(in.NetworkInterfaceId)
	l.s.note(id, "DeleteNetworkInterface: %v", outcome(err))
	if applied(err) {
		l.lost(id, "deleted")
	}
	return out, err
}

// outcome renders a call's error for an ENI's history.
func outcome(err error) string {
	if err == nil {
		return "ok"
	}
	if c := trunk.ErrorCode(err); c != "" {
		return c
	}
	return err.Error()
}

func (l *ledger) AttachNetworkInterface(ctx context.Context, in *ec2.AttachNetworkInterfaceInput, o ...func(*ec2.Options)) (*ec2.AttachNetworkInterfaceOutput, error) {
	out, err := l.EC2.AttachNetworkInterface(ctx, in, o...)
	if applied(err) {
		l.mu.Lock()
		l.instance[aws.ToString(in.NetworkInterfaceId)] = aws.ToString(in.InstanceId)
		l.mu.Unlock()
	}
	return out, err
}

// limitsOf returns the branch-ENI limit of an instance type.
func limitsOf(typ string) (int, error) {
	l, err := limits.Default().Lookup(typ)
	return l.MaxBranchENIs, err
}
