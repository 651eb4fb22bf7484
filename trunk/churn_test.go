package trunk_test

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/eni"
	"github.com/podsg/podsg/fake"
	"github.com/podsg/podsg/trunk"
)

// TestChurn runs three cluster scenarios under three strategies, in virtual
// time (testing/synctest), and prints one line per scenario and strategy:
//
//	churn scenario=<s> strategy=<st> rollout_s=<f> ready_p50_ms=<f> ready_p99_ms=<f> calls_per_pod=<f> throttled=<n>
//
// The figures are over the scenario's measured phase (below):
//
//   - rollout_s: the mean time a rollout takes, from the moment a
//     Deployment is given a new revision (or, in cold, is created) until
//     every replica of that revision is ready and no old one is left.
//   - ready_p50_ms, ready_p99_ms: quantiles of the time from a pod's
//     creation to its branch ENI being ready (Acquire returned), over every
//     pod created in the phase: what a user waits for before the pod's
//     containers can start. It includes any time the pod waits Pending for
//     a node with a free branch-ENI slot.
//   - calls_per_pod: every EC2 call made during the phase (creations,
//     permissions, associations, listings, deletions, repeats after
//     NotFound and throttled answers included), per pod created in it.
//   - throttled: EC2's RequestLimitExceeded answers during the phase.
//
// # Scenarios
//
// Nodes are m5.large (9 branch ENIs each), their trunks attached, their
// pools empty at the start. Deployments roll out as Kubernetes' default
// strategy does (25 % surge, 25 % unavailable); a new pod is ready 2–5 s
// after it has its ENI, an old pod's ENI is released 1–5 s after the pod is
// deleted (termination). Job pods run 15–45 s.
//
//   - open: 150 nodes (1,350 slots); 12 Deployments, 498 replicas, sized as
//     a Zipf law (160 down to 13) so that popularity is skewed as in a real
//     cluster, each matching its own policy (a cluster-wide group plus the
//     application's group: 12 group sets); a job every 2 s on average
//     drawing among two more group sets (3:1). From 5 virtual minutes on,
//     each Deployment rolls out a new revision every 4–8 minutes until 30
//     minutes. Capacity never binds: the test asserts that no pod waits for
//     a slot.
//   - tight: 50 nodes (450 slots); one 400-replica Deployment and a job
//     every 5 s on average, in two group sets; from 4 minutes on a rollout
//     is due every 4 minutes until 30 minutes. 400 replicas plus 25 % surge
//     need more slots than there are, and every released ENI keeps its slot
//     through the 60 s cool-down: pods wait for capacity whatever the
//     strategy.
//   - cold: 50 nodes with empty pools; a 400-replica Deployment is created
//     at once. EC2's buckets for CreateNetworkInterface and
//     AssociateTrunkInterface refill at 5/s: the rate of the cold start
//     (replicas / rollout_s) is compared with those 5 pods/s.
//
// In open and tight the phase starts with the first rollout (the first
// creation of the Deployments is a warm-up, unmeasured); a Deployment's
// next rollout starts when it is due or, if its previous rollout is still
// going, once that one ends, so that every strategy performs the same
// rollouts. In cold the phase is the creation. Every random draw (job
// arrivals, sets and run times, start-up and termination delays, rollout
// times) is a function of the seed and of the pod's or Deployment's name,
// so all strategies see the same event stream; only what they do with it
// differs.
//
// # Strategies
//
//   - ondemand: the production controller (facts about the VPC resource
//     controller): trunk.OnDemandOptions (a new ENI per pod, deleted 60 s
//     after its pod; a client limiter of 24 requests/s, burst 36; 30 pod
//     workers; the SDK's 3 attempts; association as soon as the ENI
//     exists) and, through permissionEC2, the controller's three calls per
//     pod: CreateNetworkInterface, CreateNetworkInterfacePermission
//     (INSTANCE-ATTACH on the branch, which the controller's
//     AssociateBranchToTrunk grants before associating) and
//     AssociateTrunkInterface; the permission passes the same client
//     limiter.
//   - podsg: trunk.Options{} (the defaults: warm reuse, pre-warming with
//     core ENIs of the shared cluster group, retargeted to a pod's set by
//     adding its group; EC2's buckets with 10 % headroom).
//   - floor: a zero-cost ENI, ready the moment it is asked for, with no EC2
//     call: the limit no strategy can beat. It still holds a released
//     ENI's slot through the cool-down, as every strategy must.
//
// ondemand and podsg run against the fake EC2 with EC2's throttling buckets
// (fake.DefaultBuckets), the latencies of ec2Latencies and EC2's eventual
// consistency (fake.EventualConsistency), identical for both.
//
// # Scheduling and determinism
//
// Pods are placed like a scheduler that knows each node's free branch-ENI
// capacity: a pod is bound to the node with the most free slots, where a
// slot is free unless it holds an ENI in use, being created, cooling down
// or being deleted (a warm ENI is free: any pod may take or evict it). A
// pod waits Pending while no node has a free slot (binding is retried every
// 250 ms). The controller is asked when the pod is bound, and asked again
// 500 ms after an error (ErrNoCapacity included).
//
// The simulation runs on one goroutine. What happens at the same virtual
// instant is handled in an order fixed by what it is about (the event's
// time, then its pod or Deployment name), never by which goroutine got
// there first, and every call into the Manager is made alone: the
// simulation waits (synctest.Wait) until whatever the call set going is
// blocked before it makes the next. The Manager draws its randomness from
// a seeded source (Options.Rand) and the fake's draws are a function of
// each request, so the same seed prints the same lines on every run.
//
// # Goals (asserted)
//
//   - open: podsg's rollout_s within 1.25× of floor's and shorter than
//     ondemand's; podsg's ready_p99_ms at most 1/10 of ondemand's; podsg
//     throttled=0. (A rollout 5× faster than ondemand's is out of reach
//     here: floor's is about 3× faster.)
//   - tight: podsg no worse than ondemand on any figure.
//   - cold: podsg starts at least 0.9 × 5 pods/s, with throttled=0.
//
// -churn.scale=N (see churnScale) runs open alone, N times larger, as a
// probe of how the figures move with the cluster's size.
//
// Every run also checks correctness: no ENI held by two live pods nor a
// VLAN twice on a node, each ENI has its pod's groups, and once every pod
// is gone EC2 holds exactly the ENIs the pools know, none in use.
func TestChurn(t *testing.T) {
	require.GreaterOrEqual(t, *churnScale, 1, "-churn.scale=%d: want how many times larger open runs, 1 or more", *churnScale)
	type key struct{ scenario, strategy string }
	res := map[key]churnResult{}
	var lines []string
	for _, sc := range churnScenarios() {
		plan := newChurnPlan(churnSeed, sc)
		for _, st := range churnStrategies() {
			t.Run(sc.name+"/"+st.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					r := runChurn(t, sc, st, plan)
					res[key{sc.name, st.name}] = r
					if r.actions != "" {
						t.Logf("%s %s: calls over the phase (%d pods): %s", sc.name, st.name, r.pods, r.actions)
					}
					lines = append(lines, r.line())
				})
			})
		}
	}
	for _, l := range lines {
		fmt.Println(l)
	}
	if t.Failed() {
		return
	}
	get := func(sc, st string) churnResult {
		r, ok := res[key{sc, st}]
		require.True(t, ok, "no result for scenario %s strategy %s", sc, st)
		return r
	}

	if *churnScale != 1 {
		// A probe of a larger open cluster: only what must hold at any
		// size is asserted (see churnScale).
		name := churnScenarios()[0].name
		p, od, fl := get(name, "podsg"), get(name, "ondemand"), get(name, "floor")
		t.Logf("%s: ondemand/podsg rollout_s %.1f×, ondemand/floor %.1f×, podsg/floor %.2f×",
			name, od.rollout.Seconds()/p.rollout.Seconds(), od.rollout.Seconds()/fl.rollout.Seconds(), p.rollout.Seconds()/fl.rollout.Seconds())
		require.Less(t, p.rollout, od.rollout, "%s: podsg's rollout_s shorter than ondemand's", name)
		require.LessOrEqual(t, p.p99, od.p99, "%s: podsg's ready_p99_ms no worse than ondemand's", name)
		require.Zero(t, p.throttled, "%s: podsg throttled", name)
		return
	}

	// open. The goal of a rollout 5× faster than ondemand's is not
	// asserted: no strategy reaches it in this scenario, where floor itself
	// is about 3× faster (see BENCHMARKS.md).
	open, openOD, openFloor := get("open", "podsg"), get("open", "ondemand"), get("open", "floor")
	require.LessOrEqual(t, open.rollout.Seconds(), 1.25*openFloor.rollout.Seconds(),
		"open: podsg's rollout_s within 1.25× of floor's")
	require.Less(t, open.rollout, openOD.rollout, "open: podsg's rollout_s shorter than ondemand's")
	require.LessOrEqual(t, 10*open.p99, openOD.p99, "open: podsg's ready_p99_ms at most 1/10 of ondemand's")
	require.Zero(t, open.throttled, "open: podsg throttled")

	tight, tightOD := get("tight", "podsg"), get("tight", "ondemand")
	require.LessOrEqual(t, tight.rollout, tightOD.rollout, "tight: podsg's rollout_s no worse than ondemand's")
	require.LessOrEqual(t, tight.p50, tightOD.p50, "tight: podsg's ready_p50_ms no worse than ondemand's")
	require.LessOrEqual(t, tight.p99, tightOD.p99, "tight: podsg's ready_p99_ms no worse than ondemand's")
	require.LessOrEqual(t, tight.callsPerPod(), tightOD.callsPerPod(), "tight: podsg's calls_per_pod no worse than ondemand's")
	require.LessOrEqual(t, tight.throttled, tightOD.throttled, "tight: podsg's throttled no worse than ondemand's")

	cold := get("cold", "podsg")
	rate := float64(cold.pods) / cold.rollout.Seconds()
	require.GreaterOrEqual(t, rate, 0.9*churnEC2PodsPerSecond,
		"cold: podsg starts %.2f pods/s, want at least 0.9 of EC2's %v", rate, churnEC2PodsPerSecond)
	require.Zero(t, cold.throttled, "cold: podsg throttled")
}

// churnScale sizes a probe of how the figures move with the cluster:
//
//	go test -count=1 -run 'TestChurn$' -v ./trunk/ -args -churn.scale=2
//
// runs open alone with N times its nodes, every Deployment's replicas and
// its job rate (the scenario is then named open-xN; its rollout times, sets
// and seed are unchanged). A probe is not held to the goals, which are set
// for open as it is; it asserts what must hold at any size (podsg's rollouts
// shorter than ondemand's, its p99 no worse, no throttling) and logs, rather
// than fails on, pods that waited for a slot.
var churnScale = flag.Int("churn.scale", 1, "run TestChurn's open scenario alone, N times larger (a probe: see churnScale)")

const (
	churnSeed     = 9
	churnCluster  = "churn"
	churnDuration = 30 * time.Minute
	churnNodeType = "m5.large"
	// churnEC2PodsPerSecond is the refill of EC2's buckets for
	// CreateNetworkInterface and AssociateTrunkInterface: no strategy
	// that makes both calls per pod starts more pods per second for long.
	churnEC2PodsPerSecond = 5.0
	churnAccount          = "123456789012"

	churnMinStart = 2 * time.Second
	churnMaxStart = 5 * time.Second
	churnMinGrace = time.Second
	churnMaxGrace = 5 * time.Second
	churnMinJob   = 15 * time.Second
	churnMaxJob   = 45 * time.Second
	churnRetry    = 500 * time.Millisecond
	// churnSettle is how long the pools and EC2 have to agree once every
	// pod went and its ENI cooled down.
	churnSettle   = 30 * time.Minute
	churnBindTick = 250 * time.Millisecond
)

// churnDeployment is a Deployment of a scenario: its replicas match the
// policy of group set set.
type churnDeployment struct {
	replicas int
	set      int
}

type churnScenario struct {
	name  string
	nodes int
	// sets is how many group sets (policies) the cluster has.
	sets        int
	deployments []churnDeployment
	// cold: the phase is the Deployments' creation on empty pools; no
	// rollouts, no jobs.
	cold bool
	// open: capacity must never bind (no pod may wait for a slot).
	open bool
	// from is when rollouts and jobs start (the phase's start);
	// rolloutEvery the range of the time between two rollouts of a
	// Deployment (its first is due within from + the range's width).
	from         time.Duration
	rolloutEvery [2]time.Duration
	// jobEvery is the mean time between job arrivals (exponential gaps);
	// jobSets the sets jobs draw from, one entry per share.
	jobEvery time.Duration
	jobSets  []int
}

func churnScenarios() []churnScenario {
	// Zipf: the k-th most popular Deployment has about 1/k of the first's
	// replicas.
	zipf := []int{160, 80, 54, 40, 32, 27, 23, 20, 18, 16, 15, 13}
	var open []churnDeployment
	scale := *churnScale
	for i, n := range zipf {
		open = append(open, churnDeployment{replicas: n * scale, set: i})
	}
	openSc := churnScenario{
		name: "open", open: true, nodes: 150 * scale, sets: len(zipf) + 2, deployments: open,
		from: 5 * time.Minute, rolloutEvery: [2]time.Duration{4 * time.Minute, 8 * time.Minute},
		jobEvery: 2 * time.Second / time.Duration(scale), jobSets: []int{len(zipf), len(zipf), len(zipf), len(zipf) + 1},
	}
	if scale != 1 {
		openSc.name = fmt.Sprintf("open-x%d", scale)
		return []churnScenario{openSc}
	}
	return []churnScenario{
		openSc,
		{
			name: "tight", nodes: 50, sets: 2, deployments: []churnDeployment{{replicas: 400, set: 0}},
			from: 4 * time.Minute, rolloutEvery: [2]time.Duration{4 * time.Minute, 4 * time.Minute},
			jobEvery: 5 * time.Second, jobSets: []int{1},
		},
		{
			name: "cold", nodes: 50, sets: 1, deployments: []churnDeployment{{replicas: 400, set: 0}},
			cold: true,
		},
	}
}

// churnStrategy is a way of serving pods: a Manager with opts and, for the
// production model, the controller's permission call; or, with floor, no
// EC2 at all.
type churnStrategy struct {
	name       string
	opts       trunk.Options
	permission bool
	floor      bool
}

func churnStrategies() []churnStrategy {
	return []churnStrategy{
		{name: "ondemand", opts: trunk.OnDemandOptions(churnCluster), permission: true},
		{name: "podsg", opts: trunk.Options{ClusterName: churnCluster}},
		{name: "floor", floor: true},
	}
}

// permissionEC2 is the production controller's EC2 client: before
// associating a branch ENI it grants INSTANCE-ATTACH on it to its account
// (CreateNetworkInterfacePermission; AssociateBranchToTrunk in
// pkg/aws/ec2/api/helper.go of aws/amazon-vpc-resource-controller-k8s),
// through the same client limiter as its other calls. A permission failure
// fails the association, which the Manager retries (throttling) or asks
// again (NotFound for the new ENI), as the controller requeues its pod; a
// permission granted is not asked again.
type permissionEC2 struct {
	*fake.EC2
	budget *trunk.Budget

	mu      sync.Mutex
	granted map[string]bool
}

func (p *permissionEC2) AssociateTrunkInterface(ctx context.Context, in *ec2.AssociateTrunkInterfaceInput, opts ...func(*ec2.Options)) (*ec2.AssociateTrunkInterfaceOutput, error) {
	id := aws.ToString(in.BranchInterfaceId)
	p.mu.Lock()
	done := p.granted[id]
	p.mu.Unlock()
	if !done {
		if err := p.budget.Wait(ctx, string(fake.ActionCreateNetworkInterfacePermission), trunk.PriorityPodStart); err != nil {
			return nil, err
		}
		_, err := p.CreateNetworkInterfacePermission(ctx, &ec2.CreateNetworkInterfacePermissionInput{
			NetworkInterfaceId: in.BranchInterfaceId,
			Permission:         types.InterfacePermissionTypeInstanceAttach,
			AwsAccountId:       aws.String(churnAccount),
		}, opts...)
		if err != nil {
			return nil, err
		}
		p.mu.Lock()
		p.granted[id] = true
		p.mu.Unlock()
	}
	return p.EC2.AssociateTrunkInterface(ctx, in, opts...)
}

// churnPlan is the strategy-independent part of the event stream.
type churnPlan struct {
	seed uint64
	sc   churnScenario
	// rollouts[d] are the times Deployment d's rollouts are due.
	rollouts [][]time.Duration
	// jobs are the job arrivals.
	jobs []time.Duration
	// record keeps the fake's call log, for churnResult.log.
	record bool
}

func newChurnPlan(seed uint64, sc churnScenario) churnPlan {
	p := churnPlan{seed: seed, sc: sc}
	if sc.cold {
		return p
	}
	for d := range sc.deployments {
		r := p.rng(fmt.Sprintf("rollouts-%d", d))
		width := sc.rolloutEvery[1] - sc.rolloutEvery[0]
		at := sc.from + between(r, 0, width)
		var due []time.Duration
		for at < churnDuration {
			due = append(due, at)
			at += between(r, sc.rolloutEvery[0], sc.rolloutEvery[1])
		}
		p.rollouts = append(p.rollouts, due)
	}
	r := p.rng("jobs")
	for at := sc.from; ; {
		at += time.Duration(r.ExpFloat64() * float64(sc.jobEvery))
		if at >= churnDuration {
			break
		}
		p.jobs = append(p.jobs, at)
	}
	return p
}

// rng returns a generator that depends only on the seed and name.
func (p churnPlan) rng(name string) *rand.Rand {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	return rand.New(rand.NewPCG(p.seed, h.Sum64()))
}

// draw returns a duration in [lo, hi) for what, of the pod named name.
func (p churnPlan) draw(name, what string, lo, hi time.Duration) time.Duration {
	return between(p.rng(name+"/"+what), lo, hi)
}

func between(r *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(r.Int64N(int64(hi-lo)))
}

// simPod is a pod of the simulated cluster.
type simPod struct {
	name     string
	ref      eni.PodRef
	dep, rev int // Deployment and revision; dep -1 for a job
	set      int
	measured bool
	node     int

	created, served   time.Time
	eni               string
	vlan              int
	isBound, isServed bool
	ready, deleted    bool
	released          bool
}

// simDeployment is a Deployment and its rollouts.
type simDeployment struct {
	churnDeployment
	name     string
	rev      int
	made     int // pods created for rev
	rolling  bool
	measured bool      // the rollout in progress counts in the figures
	since    time.Time // when it started
	next     int       // index in the plan of the next rollout due
	pods     []*simPod
}

// churnEvent is something that happens to the simulation at a virtual
// instant; events of the same instant are handled in key order.
type churnEvent struct {
	at  time.Time
	key string
	fn  func()
}

// churnSim is the simulated cluster: scheduler, Deployment controller, job
// stream and the pod-ENI controller calling the Manager. Its state is owned
// by the test's goroutine; other goroutines send it events.
type churnSim struct {
	t     *testing.T
	plan  churnPlan
	st    churnStrategy
	m     *trunk.Manager
	f     *fake.EC2
	nodes []string
	limit int
	sets  []eni.GroupSet

	ctx    context.Context
	events chan churnEvent
	wg     sync.WaitGroup

	deps    []*simDeployment
	pods    map[eni.PodRef]*simPod
	all     []*simPod
	pending []*simPod
	bound   []int // per node: pods bound and not released
	holder  map[string]*simPod
	vlans   []map[int]*simPod
	rr      int
	jobs    int

	// floor: per node, the VLANs in use or cooling until a time.
	floorVLANs []map[int]time.Time

	start       time.Time
	phase       bool // the measured phase has started
	rollouts    []time.Duration
	callsAt     int
	throttledAt int
	countsAt    map[fake.Action]fake.Counts
	waited      int // pods that waited Pending for a slot in the phase
	errs        int
}

// churnResult is what one strategy did in one scenario.
type churnResult struct {
	scenario, strategy string
	rollout            time.Duration // mean
	rollouts           int
	p50, p99           time.Duration
	calls, throttled   int
	pods               int
	// actions breaks calls down by action (actionCounts).
	actions string
	// log is every call EC2 answered, its time from the start, action,
	// parameters and outcome (with churnPlan.record).
	log []string
}

func (r churnResult) callsPerPod() float64 { return float64(r.calls) / float64(r.pods) }

func (r churnResult) line() string {
	return fmt.Sprintf("churn scenario=%s strategy=%s rollout_s=%.1f ready_p50_ms=%.0f ready_p99_ms=%.0f calls_per_pod=%.2f throttled=%d",
		r.scenario, r.strategy, r.rollout.Seconds(), ms(r.p50), ms(r.p99), r.callsPerPod(), r.throttled)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// runChurn runs scenario sc for strategy st inside the caller's bubble.
func runChurn(t *testing.T, sc churnScenario, st churnStrategy, plan churnPlan) churnResult {
	logSize := -1
	if plan.record {
		logSize = 1 << 20
	}
	f := fake.New(fake.Options{Seed: plan.seed, CallLogSize: logSize, Consistency: fake.EventualConsistency()})
	vpc := f.AddVPC("10.0.0.0/16")
	subnet := f.AddSubnet(vpc, "10.0.0.0/18", "")
	nodeSG := f.AddSecurityGroup(vpc, "nodes")
	common := f.AddSecurityGroup(vpc, "cluster")
	var sets []eni.GroupSet
	for i := range sc.sets {
		app := f.AddSecurityGroup(vpc, fmt.Sprintf("app-%d", i))
		if sc.sets == 1 {
			sets = append(sets, eni.MustGroupSet(app))
			continue
		}
		sets = append(sets, eni.MustGroupSet(common, app))
	}
	var nodes []string
	var empty []trunk.NodePods
	for range sc.nodes {
		n := f.AddNode(churnNodeType, subnet, nodeSG)
		f.AddTrunk(n.InstanceID, 2)
		nodes = append(nodes, n.InstanceID)
		empty = append(empty, trunk.NodePods{InstanceID: n.InstanceID, Complete: true})
	}
	setLatencies(f)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	s := &churnSim{
		t: t, plan: plan, st: st, f: f, nodes: nodes, sets: sets,
		ctx: ctx, events: make(chan churnEvent, 1<<16),
		pods: make(map[eni.PodRef]*simPod), holder: make(map[string]*simPod),
		bound: make([]int, len(nodes)), vlans: make([]map[int]*simPod, len(nodes)),
	}
	for i := range s.vlans {
		s.vlans[i] = make(map[int]*simPod)
	}
	var runWG sync.WaitGroup
	if st.floor {
		s.limit = 9 // m5.large's branch ENIs
		for range nodes {
			s.floorVLANs = append(s.floorVLANs, make(map[int]time.Time))
		}
	} else {
		opts := st.opts
		opts.Rand = rand.NewChaCha8([32]byte{byte(plan.seed)})
		var client trunk.EC2 = f
		var perm *permissionEC2
		if st.permission {
			perm = &permissionEC2{EC2: f, granted: make(map[string]bool)}
			client = perm
		}
		m, err := trunk.New(client, opts)
		require.NoError(t, err)
		if perm != nil {
			perm.budget = m.Budget()
		}
		rebuilt, err := m.ReconcileAll(ctx, empty)
		require.NoError(t, err)
		for id, r := range rebuilt {
			require.NoError(t, r.Err, "node %s", id)
		}
		info := m.Nodes()
		require.Len(t, info, sc.nodes)
		s.m, s.limit = m, info[0].BranchLimit
		runWG.Go(func() { _ = m.Run(ctx) })
		synctest.Wait()
	}
	for d, spec := range sc.deployments {
		s.deps = append(s.deps, &simDeployment{churnDeployment: spec, name: fmt.Sprintf("deploy-%02d", d)})
	}

	res := s.loop()
	res.scenario, res.strategy = sc.name, st.name
	if plan.record {
		for _, c := range f.Calls() {
			res.log = append(res.log, fmt.Sprintf("%v %s %s %s %s", c.Time.Sub(s.start), c.Action, c.Params, c.Outcome, c.Code))
		}
	}
	switch {
	case sc.open && *churnScale == 1:
		require.Zero(t, s.waited, "open: pods waited for a free slot; the scenario must not be capacity-bound")
	case sc.open && s.waited > 0:
		t.Logf("%s %s: %d pods waited for a free slot", sc.name, st.name, s.waited)
	}
	if st.name != "ondemand" {
		// The production model gives up on a call after the SDK's 3
		// attempts (throttled), and its pod is asked again; podsg never
		// should.
		require.Zero(t, s.errs, "Acquire errors other than ErrNoCapacity")
	}

	// Delete every pod; their ENIs cool down and go.
	for _, p := range s.all {
		s.deletePod(p)
	}
	for s.live() > 0 {
		s.step(nil)
	}
	s.wg.Wait()
	if !st.floor {
		// After the cool-down the pools hold only warm ENIs (or none),
		// and EC2 holds exactly what the pools hold.
		time.Sleep(eni.DefaultCoolDown + 2*time.Minute)
		s.checkEC2()
	}
	cancel()
	runWG.Wait()
	return res
}

// loop runs the scenario's events until the measured phase is over and
// returns its figures.
func (s *churnSim) loop() churnResult {
	s.start = time.Now()
	sc := s.plan.sc
	if sc.cold {
		s.beginPhase()
	}
	for _, d := range s.deps {
		s.startRollout(d, false) // revision 1: the Deployment's creation
	}
	s.bind()
	if !sc.cold {
		s.after(sc.from, "phase", s.beginPhase)
		for i, due := range s.plan.rollouts {
			d := s.deps[i]
			for k, at := range due {
				s.after(at, fmt.Sprintf("rollout/%s/%03d", d.name, k), func() { s.due(d) })
			}
		}
		for j, at := range s.plan.jobs {
			s.after(at, fmt.Sprintf("job/%05d", j), func() { s.newJob(j) })
		}
	}
	tick := time.NewTicker(churnBindTick)
	defer tick.Stop()
	for !s.phaseOver() {
		s.step(tick.C)
	}
	return s.measure()
}

// step waits for the next event or tick, lets every goroutine woken at that
// instant run until it blocks, then handles the events of the instant in
// key order and binds pending pods.
func (s *churnSim) step(tick <-chan time.Time) {
	var batch []churnEvent
	select {
	case ev := <-s.events:
		batch = append(batch, ev)
	case <-tick:
	}
	synctest.Wait()
	for more := true; more; {
		select {
		case ev := <-s.events:
			batch = append(batch, ev)
		default:
			more = false
		}
	}
	slices.SortFunc(batch, func(a, b churnEvent) int {
		return cmp.Or(a.at.Compare(b.at), strings.Compare(a.key, b.key))
	})
	for _, ev := range batch {
		ev.fn()
	}
	s.bind()
}

// after makes fn an event at d from the start of the run.
func (s *churnSim) after(d time.Duration, key string, fn func()) {
	at := s.start.Add(d)
	time.AfterFunc(time.Until(at), func() { s.events <- churnEvent{at: at, key: key, fn: fn} })
}

// in makes fn an event d from now.
func (s *churnSim) in(d time.Duration, key string, fn func()) {
	s.after(time.Since(s.start)+d, key, fn)
}

func (s *churnSim) beginPhase() {
	s.phase = true
	s.callsAt, s.throttledAt = totals(s.f)
	s.countsAt = s.f.AllCounts()
}

// phaseOver reports whether the measured phase has ended: every rollout due
// has been done, every job has arrived and every pod created has its ENI.
func (s *churnSim) phaseOver() bool {
	if !s.phase {
		return false
	}
	sc := s.plan.sc
	if !sc.cold && time.Since(s.start) < churnDuration {
		return false
	}
	for i, d := range s.deps {
		if d.rolling || !sc.cold && d.next < len(s.plan.rollouts[i]) {
			return false
		}
	}
	return len(s.pending) == 0 && !slices.ContainsFunc(s.all, func(p *simPod) bool { return !p.isServed })
}

func (s *churnSim) newPod(name string, dep, rev, set int) *simPod {
	p := &simPod{name: name, dep: dep, rev: rev, set: set, measured: s.phase, created: time.Now()}
	p.ref = eni.PodRef{Namespace: "churn", Name: name, UID: "uid-" + name}
	s.pods[p.ref] = p
	s.all = append(s.all, p)
	s.pending = append(s.pending, p)
	return p
}

func (s *churnSim) newJob(j int) {
	name := fmt.Sprintf("job-%05d", j)
	sets := s.plan.sc.jobSets
	set := sets[s.plan.rng(name+"/set").IntN(len(sets))]
	s.jobs++
	s.newPod(name, -1, 0, set)
}

// due is a rollout of d falling due: it starts now, or when the rollout in
// progress ends.
func (s *churnSim) due(d *simDeployment) {
	if !d.rolling && s.overdue(d) {
		s.startRollout(d, true)
	}
}

// overdue reports whether d has a rollout due that has not started.
func (s *churnSim) overdue(d *simDeployment) bool {
	due := s.plan.rollouts[slices.Index(s.deps, d)]
	return d.next < len(due) && !s.start.Add(due[d.next]).After(time.Now())
}

// startRollout gives d a new revision: a rollout of the plan when planned,
// otherwise the Deployment's creation.
func (s *churnSim) startRollout(d *simDeployment, planned bool) {
	if planned {
		d.next++
	}
	d.rev++
	d.made = 0
	d.rolling = true
	d.measured = s.phase && (planned || s.plan.sc.cold)
	d.since = time.Now()
	s.sync(d)
}

// freeSlots returns how many pods each node can take now.
func (s *churnSim) freeSlots() []int {
	free := make([]int, len(s.nodes))
	if s.st.floor {
		now := time.Now()
		for i, vl := range s.floorVLANs {
			taken := 0
			for _, until := range vl {
				if until.IsZero() || until.After(now) {
					taken++
				}
			}
			held := 0
			for _, p := range s.vlans[i] {
				if !p.released {
					held++
				}
			}
			free[i] = s.limit - taken - (s.bound[i] - held)
		}
		return free
	}
	for i, id := range s.nodes {
		pool, ok := s.m.Pool(id)
		require.True(s.t, ok)
		taken, holding := 0, 0
		for _, e := range pool.Entries() {
			if e.State != eni.StateWarm && e.Branch.ENI.VLANID != 0 { // VLAN 0: off the trunk, holding no slot
				taken++
			}
			if p := s.pods[e.Pod]; p != nil && !e.Pod.IsZero() && p.isBound && !p.released && p.node == i {
				holding++
			}
		}
		free[i] = s.limit - taken - (s.bound[i] - holding)
	}
	return free
}

// bind places pending pods, oldest first, on the nodes with the most free
// slots, and asks the controller for their ENIs.
func (s *churnSim) bind() {
	if len(s.pending) == 0 {
		return
	}
	free := s.freeSlots()
	n := 0
	for _, p := range s.pending {
		best := -1
		for k := range s.nodes {
			i := (s.rr + k) % len(s.nodes)
			if free[i] > 0 && (best < 0 || free[i] > free[best]) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		s.rr = (best + 1) % len(s.nodes)
		free[best]--
		s.bound[best]++
		p.node, p.isBound = best, true
		if p.measured && time.Now().After(p.created) {
			s.waited++
		}
		s.acquire(p)
		n++
	}
	s.pending = slices.Delete(s.pending, 0, n)
}

// acquire asks for p's ENI. The call runs alone: the next one is made once
// everything it set going is blocked.
func (s *churnSim) acquire(p *simPod) {
	if s.st.floor {
		s.floorAcquire(p)
		return
	}
	node, groups := s.nodes[p.node], s.sets[p.set]
	s.wg.Go(func() {
		res, err := s.m.Acquire(s.ctx, node, p.ref, groups)
		now := time.Now()
		if err != nil {
			if s.ctx.Err() != nil {
				return
			}
			capacity := errors.Is(err, eni.ErrNoCapacity)
			s.events <- churnEvent{at: now, key: "failed/" + p.name, fn: func() {
				if !capacity {
					s.errs++
				}
				s.in(churnRetry, "retry/"+p.name, func() { s.acquire(p) })
			}}
			return
		}
		s.events <- churnEvent{at: now, key: "served/" + p.name, fn: func() { s.served(p, res.Branch, now) }}
	})
	synctest.Wait()
}

// floorAcquire gives p a zero-cost ENI at once, on the lowest free VLAN.
func (s *churnSim) floorAcquire(p *simPod) {
	vl, now := s.floorVLANs[p.node], time.Now()
	for v := 1; v <= s.limit; v++ {
		if until, used := vl[v]; used && (until.IsZero() || until.After(now)) {
			continue
		}
		vl[v] = time.Time{}
		b := eni.Branch{Groups: s.sets[p.set]}
		b.ENI.ID, b.ENI.VLANID = fmt.Sprintf("eni-floor-%s", p.name), v
		s.served(p, b, now)
		return
	}
	s.t.Fatalf("floor: node %d has no free VLAN for %s although the scheduler bound it there", p.node, p.name)
}

// served records p's ENI and checks that no other live pod holds it or its
// VLAN.
func (s *churnSim) served(p *simPod, b eni.Branch, at time.Time) {
	if other := s.holder[b.ENI.ID]; other != nil {
		s.t.Errorf("ENI %s given to %s while %s holds it", b.ENI.ID, p.ref, other.ref)
	}
	if other := s.vlans[p.node][b.ENI.VLANID]; other != nil {
		s.t.Errorf("VLAN %d of node %s given to %s while %s holds it", b.ENI.VLANID, s.nodes[p.node], p.ref, other.ref)
	}
	if want := s.sets[p.set]; !b.Groups.ContainsAll(want) || !want.ContainsAll(b.Groups) {
		s.t.Errorf("pod %s got ENI %s with groups %s, want %s", p.ref, b.ENI.ID, b.Groups, want)
	}
	s.holder[b.ENI.ID], s.vlans[p.node][b.ENI.VLANID] = p, p
	p.eni, p.vlan, p.served, p.isServed = b.ENI.ID, b.ENI.VLANID, at, true
	if p.dep < 0 {
		s.in(s.plan.draw(p.name, "run", churnMinJob, churnMaxJob), "end/"+p.name, func() { s.deletePod(p) })
		return
	}
	s.in(s.plan.draw(p.name, "start", churnMinStart, churnMaxStart), "ready/"+p.name, func() {
		p.ready = true
		s.sync(s.deps[p.dep])
	})
}

// deletePod deletes p; its ENI is released once the pod has terminated.
func (s *churnSim) deletePod(p *simPod) {
	if p.deleted {
		return
	}
	p.deleted = true
	if !p.isBound {
		// Never bound: it holds nothing.
		s.pending = slices.DeleteFunc(s.pending, func(q *simPod) bool { return q == p })
		p.released = true
		return
	}
	s.in(s.plan.draw(p.name, "grace", churnMinGrace, churnMaxGrace), "release/"+p.name, func() { s.release(p) })
}

func (s *churnSim) release(p *simPod) {
	if !p.isServed {
		// Still waiting for its ENI (only at the end of a run): ask again
		// once it has one.
		s.in(churnRetry, "release/"+p.name, func() { s.release(p) })
		return
	}
	if s.st.floor {
		s.floorVLANs[p.node][p.vlan] = time.Now().Add(eni.DefaultCoolDown)
	} else {
		require.True(s.t, s.m.Release(s.nodes[p.node], p.ref), "release %s", p.ref)
		synctest.Wait()
	}
	p.released = true
	s.bound[p.node]--
	delete(s.holder, p.eni)
	delete(s.vlans[p.node], p.vlan)
	delete(s.pods, p.ref)
}

// sync is the Deployment controller: scale d's new revision up within the
// surge, scale the old ones down within the unavailability budget, and end
// the rollout once every replica is new and ready.
func (s *churnSim) sync(d *simDeployment) {
	if !d.rolling {
		return
	}
	surge, unavailable := (d.replicas+3)/4, d.replicas/4 // Kubernetes rounds surge up, unavailability down
	var old, cur []*simPod
	avail := 0
	for _, p := range d.pods {
		if p.deleted {
			continue
		}
		if p.rev == d.rev {
			cur = append(cur, p)
		} else {
			old = append(old, p)
		}
		if p.ready {
			avail++
		}
	}
	for up := min(d.replicas-len(cur), d.replicas+surge-len(old)-len(cur)); up > 0; up-- {
		name := fmt.Sprintf("%s-r%d-%04d", d.name, d.rev, d.made)
		d.made++
		p := s.newPod(name, slices.Index(s.deps, d), d.rev, d.set)
		d.pods = append(d.pods, p)
		cur = append(cur, p)
	}
	down := min(len(old), avail-(d.replicas-unavailable))
	for _, p := range old {
		if down <= 0 {
			break
		}
		if p.ready {
			s.deletePod(p)
			down--
		}
	}
	readyCur := 0
	for _, p := range cur {
		if p.ready {
			readyCur++
		}
	}
	if len(old) > 0 || readyCur < d.replicas {
		return
	}
	d.rolling = false
	d.pods = slices.DeleteFunc(d.pods, func(p *simPod) bool { return p.deleted })
	if d.measured {
		s.rollouts = append(s.rollouts, time.Since(d.since))
	}
	// A rollout that fell due meanwhile starts now.
	if !s.plan.sc.cold && s.overdue(d) {
		s.startRollout(d, true)
	}
}

func (s *churnSim) live() int {
	n := 0
	for _, p := range s.all {
		if !p.released {
			n++
		}
	}
	return n
}

// measure computes the figures of the phase.
func (s *churnSim) measure() churnResult {
	var r churnResult
	var lat []time.Duration
	for _, p := range s.all {
		if p.measured {
			r.pods++
			lat = append(lat, p.served.Sub(p.created))
		}
	}
	r.p50, r.p99 = quantile(lat, 0.50), quantile(lat, 0.99)
	var total time.Duration
	for _, d := range s.rollouts {
		total += d
	}
	r.rollouts = len(s.rollouts)
	if r.rollouts > 0 {
		r.rollout = total / time.Duration(r.rollouts)
	}
	calls, throttled := totals(s.f)
	r.calls, r.throttled = calls-s.callsAt, throttled-s.throttledAt
	if s.st.floor {
		r.calls, r.throttled = 0, 0
	} else {
		r.actions = actionCounts(s.countsAt, s.f.AllCounts())
	}
	return r
}

// actionCounts renders the calls of each action made between two
// snapshots of the fake's counters, in action order: Action=calls, with
// the throttled and failed answers among them in brackets.
func actionCounts(before, after map[fake.Action]fake.Counts) string {
	var out []string
	for _, a := range slices.Sorted(maps.Keys(after)) {
		n, b := after[a], before[a]
		calls, throttled, errs := n.Calls-b.Calls, n.Throttled-b.Throttled, n.Errors-b.Errors
		if calls == 0 {
			continue
		}
		f := fmt.Sprintf("%s=%d", a, calls)
		if throttled+errs > 0 {
			f += fmt.Sprintf("(throttled %d, errors %d)", throttled, errs)
		}
		out = append(out, f)
	}
	return strings.Join(out, " ")
}

func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// checkEC2 checks, once every pod is gone, that EC2's branch ENIs are
// exactly those the pools hold, none in use, each on the VLAN its pool has.
func (s *churnSim) checkEC2() {
	t := s.t
	// The pools may still be catching up on background work (deleting
	// ENIs idle too long, refilling core slots) at EC2's rate, and EC2
	// lists a change only after its lag: compare until the two agree, for
	// up to churnSettle. A leak, or an ENI a pool keeps that EC2 no longer
	// has, never settles.
	deadline := time.Now().Add(churnSettle)
	for {
		pooled := map[string]int{}
		for _, id := range s.nodes {
			pool, ok := s.m.Pool(id)
			require.True(t, ok)
			for _, e := range pool.Entries() {
				require.NotEqual(t, eni.StateInUse, e.State, "ENI %s on %s in use after every pod went", e.Branch.ENI.ID, id)
				pooled[e.Branch.ENI.ID] = e.Branch.ENI.VLANID
			}
		}
		onEC2 := branchENIs(t, s.f)
		var leaked, gone []string
		for id := range onEC2 {
			if _, ok := pooled[id]; !ok {
				leaked = append(leaked, id)
			}
		}
		for id := range pooled {
			if _, ok := onEC2[id]; !ok {
				gone = append(gone, id)
			}
		}
		if len(leaked)+len(gone) == 0 || !time.Now().Before(deadline) {
			slices.Sort(leaked)
			slices.Sort(gone)
			require.Empty(t, leaked, "EC2 holds branch ENIs no pool knows (leaked) after %v of waiting for them to agree", churnSettle)
			require.Empty(t, gone, "pools hold ENIs that EC2 does not have after %v of waiting for them to agree", churnSettle)
			for id, vlan := range pooled {
				require.Equal(t, fmt.Sprint(vlan), tagOf(onEC2[id].TagSet, trunk.TagVLANID), "ENI %s", id)
			}
			return
		}
		time.Sleep(10 * time.Second)
	}
}

func tagOf(tags []types.Tag, key string) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value)
		}
	}
	return ""
}

// TestChurnReplays runs podsg in the open scenario twice from the same seed
// and compares what EC2 saw, call by call, time, parameters (ClientTokens
// included) and outcome: a run does not depend on how goroutines are
// scheduled. open is the scenario where most happens at once: many nodes
// maintained at the same instant, pods waiting for the same listing,
// background calls and pod starts asking the budget together.
func TestChurnReplays(t *testing.T) {
	open := churnScenarios()[0]
	var logs [2][]string
	var lines [2]string
	for i := range logs {
		t.Run(fmt.Sprint("run ", i+1), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				plan := newChurnPlan(churnSeed, open)
				plan.record = true
				podsg := churnStrategies()[slices.IndexFunc(churnStrategies(), func(st churnStrategy) bool { return st.name == "podsg" })]
				r := runChurn(t, open, podsg, plan)
				logs[i], lines[i] = r.log, r.line()
			})
		})
	}
	require.NotEmpty(t, logs[0])
	require.Equal(t, lines[0], lines[1])
	for i := range min(len(logs[0]), len(logs[1])) {
		if logs[0][i] != logs[1][i] {
			t.Fatalf("call %d of %d differs:\n  first:  %s\n  second: %s", i, len(logs[0]), logs[0][i], logs[1][i])
		}
	}
	require.Len(t, logs[1], len(logs[0]))
}
