package trunk_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/eni"
	"github.com/podsg/podsg/fake"
	"github.com/podsg/podsg/trunk"
)

// The churn scenario. Every figure it prints is virtual time in a
// testing/synctest bubble, against the fake EC2 with EC2's throttling
// buckets (fake.DefaultBuckets), the latencies of ec2Latencies and EC2's
// eventual consistency (fake.EventualConsistency: a new ENI unknown for
// about a second, so that associating it may take a second request or
// more).
//
//   - 50 m5.large nodes (9 branch ENIs each: 450 slots), their trunks already
//     attached, their pools empty.
//   - At 0 s a Deployment of 400 replicas is created (policy "web"): the cold
//     start, about 90 s. From 2 minutes on (or once the cold start is over,
//     if later), job pods of a second policy ("jobs") arrive, one every 5 s
//     on average (exponential gaps), each running 15–45 s.
//   - At 3.5 minutes (or 2 minutes after the cold start, if later), and a
//     minute after each rollout ends, the Deployment is rolled out again, as Kubernetes does with its
//     default strategy: 25 % surge (100 pods over 400) and 25 % unavailable.
//     A new pod is ready 2–5 s after it has its ENI; an old pod's ENI is
//     released 1–5 s after the pod is deleted (termination).
//   - New rollouts and jobs stop at 30 virtual minutes; the test lets the
//     last rollout finish, deletes every pod and checks EC2 against the
//     pools.
//
// Every random draw (job arrivals and run times, start-up and termination
// delays) is a function of the seed and the pod's number, so both strategies
// see the same event stream; only what they do with it differs.
//
// Pods are placed like a scheduler that knows each node's free branch-ENI
// capacity: a pod is bound to the node with the most free slots, where a
// slot is free unless it holds an ENI in use, being created, cooling down
// or being deleted (a warm ENI is free: any pod may take or evict it). A pod
// waits Pending while no node has a free slot; that time (pending_p99_ms on
// the detail line) is set by the 60 s cool-down and the cluster's size, not
// by the controller, and is reported apart. The controller is asked when the
// pod is bound, and retries after an error (ErrNoCapacity included) every
// 500 ms.
const (
	churnSeed         = 9
	churnNodes        = 50
	churnInstanceType = "m5.large"
	churnReplicas     = 400
	churnSurge        = churnReplicas / 4
	churnUnavailable  = churnReplicas / 4
	churnDuration     = 30 * time.Minute
	churnJobsFrom     = 2 * time.Minute
	churnFirstRollout = 3*time.Minute + 30*time.Second
	churnRolloutPause = time.Minute
	churnJobEvery     = 5 * time.Second
	churnMinJob       = 15 * time.Second
	churnMaxJob       = 45 * time.Second
	churnMinStart     = 2 * time.Second
	churnMaxStart     = 5 * time.Second
	churnMinGrace     = time.Second
	churnMaxGrace     = 5 * time.Second
	churnRetry        = 500 * time.Millisecond
	churnBindEvery    = 250 * time.Millisecond
	churnCluster      = "churn"
)

// churnStrategy is a way of running the Manager.
type churnStrategy struct {
	name string
	opts trunk.Options
}

// churnStrategies are the two strategies compared: the production
// controller's (trunk.OnDemandOptions) and podsg's defaults.
func churnStrategies() []churnStrategy {
	return []churnStrategy{
		{"ondemand", trunk.OnDemandOptions(churnCluster)},
		{"podsg", trunk.Options{ClusterName: churnCluster}},
	}
}

// TestChurn runs the churn scenario for each strategy and prints, per
// strategy, one line a script reads:
//
//	churn strategy=<name> pods_per_s=<f> p50_ms=<f> p99_ms=<f> calls_per_pod=<f> throttled=<n>
//
// The rollout figures are over the pods the rollouts create (the
// Deployment's new revisions after the first, about 2,400 pods):
// pods_per_s is their number divided by the virtual time during which at
// least one of them was bound and still waiting for its ENI (the
// controller's service rate while it has rollout work); p50_ms and p99_ms
// are the quantiles of the virtual time from a pod's request (its binding)
// to its ENI being ready. calls_per_pod counts every EC2 call of the run
// (creations, associations, deletions, listings and retries, throttled
// answers included) per pod given an ENI; throttled counts the
// RequestLimitExceeded answers EC2 gave.
//
// It also prints a churn-cold line per strategy (the first 400 replicas on
// empty pools, their rate compared with EC2's own limit of about 5 pods/s,
// the 5/s refill of CreateNetworkInterface and AssociateTrunkInterface) and
// a churn-detail line (rollout throughput over the rollouts' wall time,
// time Pending for capacity, job pods' p99, warm hits, creations,
// evictions). The test asserts correctness only: every pod is served, no
// ENI is held by two live pods nor a VLAN twice on a node, each ENI has its
// pod's groups, and at the end EC2 holds exactly the ENIs the pools know,
// none of them in use.
func TestChurn(t *testing.T) {
	plan := newChurnPlan(churnSeed)
	var results []churnResult
	for _, st := range churnStrategies() {
		t.Run(st.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				results = append(results, runChurn(t, st, plan))
			})
		})
	}
	for _, r := range results {
		fmt.Println(r.line())
	}
	for _, r := range results {
		fmt.Println(r.coldLine())
	}
	for _, r := range results {
		fmt.Println(r.detailLine())
	}
}

// churnPlan is the strategy-independent part of the event stream.
type churnPlan struct {
	seed uint64
	// jobs are the job arrivals, as offsets from the start of the job stream.
	jobs []time.Duration
}

func newChurnPlan(seed uint64) churnPlan {
	rng := rand.New(rand.NewPCG(seed, 1))
	p := churnPlan{seed: seed}
	for at := time.Duration(0); at < churnDuration; {
		at += time.Duration(rng.ExpFloat64() * float64(churnJobEvery))
		p.jobs = append(p.jobs, at)
	}
	return p
}

// draw returns a duration in [lo, hi) that depends only on the seed, the pod
// and what it is for.
func (p churnPlan) draw(pod int, what uint64, lo, hi time.Duration) time.Duration {
	r := rand.New(rand.NewPCG(p.seed, uint64(pod)<<4|what))
	return lo + time.Duration(r.Int64N(int64(hi-lo)))
}

const (
	drawStart = iota + 1
	drawGrace
	drawJob
)

// simPod is a pod of the simulated cluster.
type simPod struct {
	n    int
	ref  eni.PodRef
	job  bool
	rev  int // Deployment revision; 0 for the cold start
	node int

	created, bound, served time.Time
	eni                    string
	vlan                   int
	isBound, isServed      bool
	ready, deleted         bool
	released               bool
}

type window struct{ from, to time.Time }

// churnSim is the simulated cluster: scheduler, Deployment controller, job
// stream and the pod-ENI controller calling the Manager. Its state is owned
// by the goroutine running loop; other goroutines send it closures.
type churnSim struct {
	t     *testing.T
	plan  churnPlan
	m     *trunk.Manager
	f     *fake.EC2
	nodes []string
	limit int
	web   eni.GroupSet
	jobs  eni.GroupSet

	ctx    context.Context
	events chan func()
	wg     sync.WaitGroup

	nextPod int
	pods    map[eni.PodRef]*simPod
	all     []*simPod
	pending []*simPod
	bound   []int // per node: pods bound and not released
	holder  map[string]*simPod
	vlans   []map[int]*simPod
	rr      int

	start, end time.Time
	rev        int
	rolling    bool
	windows    []window
	coldDone   time.Time
	jobTimers  []*time.Timer
	stopping   bool
	errs       int
}

// churnResult is what one strategy did.
type churnResult struct {
	name         string
	rolloutPods  int
	busy         time.Duration
	windowTime   time.Duration
	windowGrants int
	p50, p99     time.Duration
	pendingP99   time.Duration
	jobP99       time.Duration
	calls        int
	throttled    int
	pods         int
	jobs         int
	rollouts     int
	coldPods     int
	cold         time.Duration
	coldCalls    int
	coldThrottle int
	warmHits     uint64
	creates      uint64
	evictions    uint64
	retargets    uint64
	errs         int
}

func (r churnResult) podsPerSecond() float64 {
	if r.busy <= 0 {
		return math.Inf(1)
	}
	return float64(r.rolloutPods) / r.busy.Seconds()
}

func (r churnResult) line() string {
	return fmt.Sprintf("churn strategy=%s pods_per_s=%.2f p50_ms=%.1f p99_ms=%.1f calls_per_pod=%.2f throttled=%d",
		r.name, r.podsPerSecond(), ms(r.p50), ms(r.p99), float64(r.calls)/float64(r.pods), r.throttled)
}

func (r churnResult) coldLine() string {
	rate := float64(r.coldPods) / r.cold.Seconds()
	return fmt.Sprintf("churn-cold strategy=%s pods=%d seconds=%.1f pods_per_s=%.2f ec2_limit_pods_per_s=5.00 of_limit=%.2f calls=%d throttled=%d",
		r.name, r.coldPods, r.cold.Seconds(), rate, rate/5, r.coldCalls, r.coldThrottle)
}

func (r churnResult) detailLine() string {
	return fmt.Sprintf("churn-detail strategy=%s rollouts=%d rollout_pods=%d rollout_s=%.0f rollout_window_pods_per_s=%.2f pending_p99_ms=%.0f job_p99_ms=%.0f pods=%d jobs=%d warm_hits=%d creates=%d evictions=%d retargets=%d acquire_errors=%d",
		r.name, r.rollouts, r.rolloutPods, r.windowTime.Seconds(), float64(r.windowGrants)/r.windowTime.Seconds(),
		ms(r.pendingP99), ms(r.jobP99), r.pods, r.jobs, r.warmHits, r.creates, r.evictions, r.retargets, r.errs)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// runChurn runs the scenario for one strategy inside the caller's bubble.
func runChurn(t *testing.T, st churnStrategy, plan churnPlan) churnResult {
	f := fake.New(fake.Options{Seed: plan.seed, CallLogSize: -1, Consistency: fake.EventualConsistency()})
	vpc := f.AddVPC("10.0.0.0/16")
	subnet := f.AddSubnet(vpc, "10.0.0.0/18", "")
	nodeSG := f.AddSecurityGroup(vpc, "nodes")
	web := eni.MustGroupSet(f.AddSecurityGroup(vpc, "web"))
	jobs := eni.MustGroupSet(f.AddSecurityGroup(vpc, "jobs"))
	var nodes []string
	var empty []trunk.NodePods
	for range churnNodes {
		n := f.AddNode(churnInstanceType, subnet, nodeSG)
		f.AddTrunk(n.InstanceID, 2)
		nodes = append(nodes, n.InstanceID)
		empty = append(empty, trunk.NodePods{InstanceID: n.InstanceID, Complete: true})
	}
	setLatencies(f)

	m, err := trunk.New(f, st.opts)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	rebuilt, err := m.ReconcileAll(ctx, empty)
	require.NoError(t, err)
	for id, r := range rebuilt {
		require.NoError(t, r.Err, "node %s", id)
	}
	info := m.Nodes()
	require.Len(t, info, churnNodes)
	var runWG sync.WaitGroup
	runWG.Go(func() { _ = m.Run(ctx) })
	f.ResetCalls()

	s := &churnSim{
		t: t, plan: plan, m: m, f: f, nodes: nodes, limit: info[0].BranchLimit, web: web, jobs: jobs,
		ctx: ctx, events: make(chan func(), 1<<16),
		pods: make(map[eni.PodRef]*simPod), holder: make(map[string]*simPod),
		bound: make([]int, len(nodes)), vlans: make([]map[int]*simPod, len(nodes)),
	}
	for i := range s.vlans {
		s.vlans[i] = make(map[int]*simPod)
	}
	res := s.loop()
	res.name = st.name

	s.wg.Wait()
	// Every pod is gone: after the cool-down the pools hold only warm ENIs
	// (or none), and EC2 holds exactly what the pools hold.
	time.Sleep(eni.DefaultCoolDown + 2*time.Minute)
	s.checkEC2()
	cancel()
	runWG.Wait()
	return res
}

// loop runs the scenario and returns its measurements.
func (s *churnSim) loop() churnResult {
	s.start = time.Now()
	s.end = s.start.Add(churnDuration)
	for range churnReplicas {
		s.newPod(false, 0)
	}
	tick := time.NewTicker(churnBindEvery)
	defer tick.Stop()
	var coldCalls, coldThrottled int
	s.bind()
	for {
		select {
		case fn := <-s.events:
			fn()
		case <-tick.C:
			s.bind()
		}
		if s.coldDone.IsZero() && s.coldReady() {
			s.coldDone = time.Now()
			coldCalls, coldThrottled = totals(s.f)
			s.startJobs(later(s.start.Add(churnJobsFrom), s.coldDone))
			first := later(s.start.Add(churnFirstRollout), s.coldDone.Add(2*time.Minute))
			s.after(first.Sub(s.coldDone), s.rollout)
		}
		if !time.Now().Before(s.end) && !s.stopping {
			s.stopping = true
			for _, tm := range s.jobTimers {
				tm.Stop()
			}
		}
		if s.stopping && !s.rolling && s.settled() {
			break
		}
	}
	res := s.measure()
	res.coldCalls, res.coldThrottle = coldCalls, coldThrottled
	// Delete every pod; their ENIs cool down and go.
	for _, p := range s.all {
		if !p.deleted {
			s.deletePod(p)
		}
	}
	for s.live() > 0 {
		(<-s.events)()
	}
	return res
}

// after runs fn on the loop's goroutine after d.
func (s *churnSim) after(d time.Duration, fn func()) *time.Timer {
	return time.AfterFunc(d, func() { s.events <- fn })
}

func (s *churnSim) newPod(job bool, rev int) *simPod {
	s.nextPod++
	p := &simPod{n: s.nextPod, job: job, rev: rev, created: time.Now()}
	name := fmt.Sprintf("web-r%d-%d", rev, p.n)
	if job {
		name = fmt.Sprintf("job-%d", p.n)
	}
	p.ref = eni.PodRef{Namespace: "churn", Name: name, UID: fmt.Sprintf("uid-%d", p.n)}
	s.pods[p.ref] = p
	s.all = append(s.all, p)
	s.pending = append(s.pending, p)
	return p
}

// freeSlots returns how many pods each node can take now.
func (s *churnSim) freeSlots() []int {
	free := make([]int, len(s.nodes))
	for i, id := range s.nodes {
		pool, ok := s.m.Pool(id)
		require.True(s.t, ok)
		taken, holding := 0, 0
		for _, e := range pool.Entries() {
			if e.State != eni.StateWarm {
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
		p.node, p.bound, p.isBound = best, time.Now(), true
		s.acquire(p)
		n++
	}
	s.pending = slices.Delete(s.pending, 0, n)
}

// acquire asks the Manager for p's ENI until it has one.
func (s *churnSim) acquire(p *simPod) {
	groups := s.web
	if p.job {
		groups = s.jobs
	}
	node := s.nodes[p.node]
	s.wg.Go(func() {
		for {
			res, err := s.m.Acquire(s.ctx, node, p.ref, groups)
			if err == nil {
				now := time.Now()
				s.events <- func() { s.served(p, res.Branch, now) }
				return
			}
			if s.ctx.Err() != nil {
				return
			}
			capacity := errors.Is(err, eni.ErrNoCapacity)
			s.events <- func() {
				if !capacity {
					s.errs++
				}
			}
			time.Sleep(churnRetry)
		}
	})
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
	if !b.Groups.ContainsAll(s.groupsOf(p)) || !s.groupsOf(p).ContainsAll(b.Groups) {
		s.t.Errorf("pod %s got ENI %s with groups %s", p.ref, b.ENI.ID, b.Groups)
	}
	s.holder[b.ENI.ID], s.vlans[p.node][b.ENI.VLANID] = p, p
	p.eni, p.vlan, p.served, p.isServed = b.ENI.ID, b.ENI.VLANID, at, true
	if p.job {
		s.after(s.plan.draw(p.n, drawJob, churnMinJob, churnMaxJob), func() { s.deletePod(p) })
		return
	}
	s.after(s.plan.draw(p.n, drawStart, churnMinStart, churnMaxStart), func() {
		p.ready = true
		s.sync()
	})
}

func (s *churnSim) groupsOf(p *simPod) eni.GroupSet {
	if p.job {
		return s.jobs
	}
	return s.web
}

// deletePod deletes p; its ENI is released once the pod has terminated.
func (s *churnSim) deletePod(p *simPod) {
	if p.deleted {
		return
	}
	p.deleted = true
	s.after(s.plan.draw(p.n, drawGrace, churnMinGrace, churnMaxGrace), func() {
		require.True(s.t, s.m.Release(s.nodes[p.node], p.ref), "release %s", p.ref)
		p.released = true
		s.bound[p.node]--
		delete(s.holder, p.eni)
		delete(s.vlans[p.node], p.vlan)
		delete(s.pods, p.ref)
	})
}

func (s *churnSim) coldReady() bool {
	for _, p := range s.all {
		if !p.job && p.rev == 0 && !p.isServed {
			return false
		}
	}
	return true
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// startJobs schedules the job arrivals of the plan from the time from on.
func (s *churnSim) startJobs(from time.Time) {
	for _, at := range s.plan.jobs {
		if from.Add(at).After(s.end) {
			break
		}
		s.jobTimers = append(s.jobTimers, s.after(time.Until(from.Add(at)), func() {
			if !s.stopping {
				s.newPod(true, 0)
			}
		}))
	}
}

// rollout starts a new revision of the Deployment.
func (s *churnSim) rollout() {
	if s.stopping {
		return
	}
	s.rev++
	s.rolling = true
	s.windows = append(s.windows, window{from: time.Now()})
	s.sync()
}

// sync is the Deployment controller: scale the new revision up within the
// surge, scale the old ones down within the unavailability budget, and end
// the rollout once every replica is new and ready.
func (s *churnSim) sync() {
	if !s.rolling {
		return
	}
	var old, cur []*simPod
	avail := 0
	for _, p := range s.all {
		if p.job || p.deleted {
			continue
		}
		if p.rev == s.rev {
			cur = append(cur, p)
		} else {
			old = append(old, p)
		}
		if p.ready {
			avail++
		}
	}
	for up := min(churnReplicas-len(cur), churnReplicas+churnSurge-len(old)-len(cur)); up > 0; up-- {
		s.newPod(false, s.rev)
	}
	down := min(len(old), avail-(churnReplicas-churnUnavailable))
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
	if len(old) == 0 && readyCur == churnReplicas {
		s.rolling = false
		s.windows[len(s.windows)-1].to = time.Now()
		s.after(churnRolloutPause, s.rollout)
	}
}

// settled reports whether every pod created has its ENI.
func (s *churnSim) settled() bool {
	return len(s.pending) == 0 && !slices.ContainsFunc(s.all, func(p *simPod) bool { return !p.isServed })
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

// measure computes the figures of the run so far.
func (s *churnSim) measure() churnResult {
	var r churnResult
	in := func(t time.Time) bool {
		for _, w := range s.windows {
			if !t.Before(w.from) && (w.to.IsZero() || !t.After(w.to)) {
				return true
			}
		}
		return false
	}
	var lat, pend, jobLat []time.Duration
	var spans []window
	for _, p := range s.all {
		pend = append(pend, p.bound.Sub(p.created))
		if in(p.served) {
			r.windowGrants++
		}
		switch {
		case p.job:
			r.jobs++
			jobLat = append(jobLat, p.served.Sub(p.bound))
		case p.rev == 0:
			r.coldPods++
			r.cold = max(r.cold, p.served.Sub(s.start))
		default:
			r.rolloutPods++
			lat = append(lat, p.served.Sub(p.bound))
			spans = append(spans, window{p.bound, p.served})
		}
	}
	r.jobP99 = quantile(jobLat, 0.99)
	r.pods = len(s.all)
	r.p50, r.p99 = quantile(lat, 0.50), quantile(lat, 0.99)
	r.pendingP99 = quantile(pend, 0.99)
	r.busy = union(spans)
	for _, w := range s.windows {
		r.windowTime += w.to.Sub(w.from)
	}
	r.rollouts = len(s.windows)
	r.calls, r.throttled = totals(s.f)
	met := s.m.Metrics()
	r.warmHits, r.creates, r.evictions, r.retargets = met.Pools.WarmHits, met.Pools.Creates, met.Pools.Evictions, met.Pools.Retargets
	r.errs = s.errs
	return r
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

// union returns the total length covered by spans.
func union(spans []window) time.Duration {
	slices.SortFunc(spans, func(a, b window) int { return a.from.Compare(b.from) })
	var total time.Duration
	var cur window
	for i, w := range spans {
		if i == 0 || w.from.After(cur.to) {
			total += cur.to.Sub(cur.from)
			cur = w
			continue
		}
		if w.to.After(cur.to) {
			cur.to = w.to
		}
	}
	return total + cur.to.Sub(cur.from)
}

// checkEC2 checks, once every pod is gone, that EC2's branch ENIs are
// exactly those the pools hold, none in use, each on the VLAN its pool has.
func (s *churnSim) checkEC2() {
	t := s.t
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
	ids := make([]string, 0, len(onEC2))
	for id := range onEC2 {
		ids = append(ids, id)
	}
	for id, vlan := range pooled {
		ni, ok := onEC2[id]
		require.True(t, ok, "pool holds ENI %s that EC2 does not have", id)
		require.Equal(t, fmt.Sprint(vlan), tagOf(ni.TagSet, trunk.TagVLANID), "ENI %s", id)
	}
	require.Len(t, ids, len(pooled), "EC2 holds branch ENIs no pool knows (leaked): %v", leaked(ids, pooled))
}

func leaked(ids []string, pooled map[string]int) []string {
	var out []string
	for _, id := range ids {
		if _, ok := pooled[id]; !ok {
			out = append(out, id)
		}
	}
	return out
}

func tagOf(tags []types.Tag, key string) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value)
		}
	}
	return ""
}
