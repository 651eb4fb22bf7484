package trunk

import (
	"container/heap"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/podsg/podsg/api/podeni"
	"github.com/podsg/podsg/eni"
	"github.com/podsg/podsg/limits"
)

// Options configure a Manager. Zero fields take the documented defaults.
type Options struct {
	// ClusterName names the cluster in the kubernetes.io/cluster/<name> tag
	// of every ENI the Manager creates, and scopes garbage collection.
	// Required.
	ClusterName string
	// Owner is the value of the eks:eni:owner tag (DefaultOwner when empty).
	Owner string
	// Policy governs reuse and deletion in every node's pool (eni.Policy's
	// defaults when zero).
	Policy eni.Policy
	// Budget shapes the EC2 request rate (DefaultBudget when zero).
	Budget BudgetConfig
	// Workers bounds the goroutines that run background maintenance and
	// rebuild listings, for all nodes together (default 16).
	Workers int
	// MaxInFlightStarts, when positive, bounds how many Acquire calls may
	// call EC2 at once, as a controller with a fixed number of pod workers
	// does. Zero means no bound (the budget alone paces EC2 calls).
	MaxInFlightStarts int
	// MaxAttempts bounds the attempts of one EC2 call when it fails with a
	// retryable error: throttling, a server fault or a lost response
	// (default 8).
	MaxAttempts int
	// MaxBackoff caps the SDK's exponential jitter back-off between
	// attempts (default 20 s, the SDK's own).
	MaxBackoff time.Duration
	// Limits gives the instance types' ENI and branch limits
	// (limits.Default() when nil).
	Limits *limits.Table
	// TrunkPollInterval and TrunkAttachTimeout govern the wait for a new
	// trunk's attachment (defaults 1 s and 2 min).
	TrunkPollInterval  time.Duration
	TrunkAttachTimeout time.Duration
	// RollbackTimeout bounds the clean-up after a failed branch creation,
	// which goes on even when the caller's context is cancelled
	// (default 2 min).
	RollbackTimeout time.Duration
	// GCInterval is how often Run collects garbage (default 10 min;
	// negative: never). An ENI is deleted on its second sighting, so
	// leaked ENIs go within two intervals.
	GCInterval time.Duration
	// Logger receives records of what the Manager does; nil logs nothing.
	Logger *slog.Logger
}

// OnDemandOptions returns the production controller's strategy: no reuse
// and no warm ENIs (a new ENI per pod, deleted 60 s after its pod), a
// client-wide limiter of 12 requests/s with burst 18, and 30 pod workers.
// It exists to compare strategies on equal terms.
func OnDemandOptions(clusterName string) Options {
	return Options{
		ClusterName:       clusterName,
		Policy:            eni.OnDemandPolicy(),
		Budget:            ClientLimiterBudget(12, 18),
		MaxInFlightStarts: 30,
		Workers:           30,
	}
}

func (o Options) normalize() (Options, error) {
	if o.ClusterName == "" {
		return o, errors.New("trunk: Options.ClusterName is empty: want the cluster's name, used in the kubernetes.io/cluster/<name> tag")
	}
	if o.Owner == "" {
		o.Owner = DefaultOwner
	}
	if o.Workers <= 0 {
		o.Workers = 16
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 8
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 20 * time.Second
	}
	if o.Limits == nil {
		o.Limits = limits.Default()
	}
	if o.TrunkPollInterval <= 0 {
		o.TrunkPollInterval = time.Second
	}
	if o.TrunkAttachTimeout <= 0 {
		o.TrunkAttachTimeout = 2 * time.Minute
	}
	if o.RollbackTimeout <= 0 {
		o.RollbackTimeout = 2 * time.Minute
	}
	if o.GCInterval == 0 {
		o.GCInterval = 10 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if err := o.Policy.Validate(); err != nil {
		return o, err
	}
	return o, nil
}

// NodeInfo describes a node the Manager serves.
type NodeInfo struct {
	InstanceID   string
	InstanceType string
	// TrunkENIID is the node's trunk ENI.
	TrunkENIID string
	// SubnetID and SubnetCIDR are the subnet of the node's primary ENI,
	// where its branch ENIs are created.
	SubnetID   string
	SubnetCIDR netip.Prefix
	// BranchLimit is how many branch ENIs the node can hold.
	BranchLimit int
}

type node struct {
	id string

	initMu gate
	info   NodeInfo
	pool   *eni.Pool // nil until the trunk is ensured

	// opMu is held shared by calls that use the pool's ENIs, and exclusively
	// by Reconcile.
	opMu gate

	// scheduler state, guarded by Manager.smu
	due     time.Time
	running bool
	rerun   time.Time
	removed bool
}

// Manager gives pods branch ENIs on the trunks of many nodes, over one EC2
// budget. It keeps one eni.Pool per node, backed by EC2, and a bounded set of
// workers for time-driven work. All its state is rebuilt from EC2 with
// Reconcile or ReconcileAll after a restart.
//
// A Manager is safe for concurrent use. Call Run to do background work
// (deleting cooled or idle ENIs, warm targets, garbage collection).
type Manager struct {
	ec2     EC2
	opts    Options
	budget  *Budget
	metrics *metrics
	backoff *retry.ExponentialJitterBackoff
	log     *slog.Logger
	epoch   string
	seq     atomic.Uint64
	starts  chan struct{} // semaphore for MaxInFlightStarts, nil when unbounded

	mu      sync.Mutex
	nodes   map[string]*node
	subnets map[string]netip.Prefix

	inflightMu sync.Mutex
	inflight   map[string]int // ENIs between creation and association

	smu   sync.Mutex
	queue dueHeap
	kick  chan struct{}

	gcMu   gate
	gcPrev map[string]bool

	// life ends with Close; clean-ups that outlive a caller's context (a
	// rollback after the caller gave up) still end with it.
	life context.Context
	kill context.CancelFunc
}

// ErrClosed is matched by errors of calls made after Close.
var ErrClosed = errors.New("trunk: manager closed")

// Close stops the Manager: Run returns, clean-ups in flight stop at their
// next EC2 call, and later calls fail with ErrClosed. EC2 state is left as
// it is; a new Manager rebuilds from it with ReconcileAll. Close is what a
// crash does, minus the process dying.
func (m *Manager) Close() { m.kill() }

// New returns a Manager that calls EC2 through client (an *ec2.Client, or a
// fake).
func New(client EC2, opts Options) (*Manager, error) {
	if client == nil {
		return nil, errors.New("trunk: EC2 client is nil")
	}
	o, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	b, err := NewBudget(o.Budget)
	if err != nil {
		return nil, err
	}
	var e [8]byte
	_, _ = rand.Read(e[:])
	m := &Manager{
		ec2:      client,
		opts:     o,
		budget:   b,
		metrics:  newMetrics(),
		backoff:  retry.NewExponentialJitterBackoff(o.MaxBackoff),
		log:      o.Logger,
		epoch:    hex.EncodeToString(e[:]),
		nodes:    make(map[string]*node),
		subnets:  make(map[string]netip.Prefix),
		inflight: make(map[string]int),
		kick:     make(chan struct{}, 1),
		gcPrev:   make(map[string]bool),
	}
	m.life, m.kill = context.WithCancel(context.Background())
	if o.MaxInFlightStarts > 0 {
		m.starts = make(chan struct{}, o.MaxInFlightStarts)
	}
	return m, nil
}

// Budget returns the Manager's EC2 budget.
func (m *Manager) Budget() *Budget { return m.budget }

// token derives a ClientToken from parts: the same logical request always
// sends the same token, so a retry after a lost response gets the original
// result instead of a second resource.
func token(parts ...string) *string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	s := hex.EncodeToString(h.Sum(nil))[:48]
	return &s
}

func (m *Manager) clusterTag() string { return ClusterTagPrefix + m.opts.ClusterName }

func (m *Manager) nodeFor(id string) *node {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.nodes[id]
	if n == nil {
		n = &node{id: id}
		m.nodes[id] = n
	}
	return n
}

func (m *Manager) lookup(id string) *node {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.nodes[id]
}

// Nodes returns the nodes the Manager serves.
func (m *Manager) Nodes() []NodeInfo {
	m.mu.Lock()
	ns := make([]*node, 0, len(m.nodes))
	for _, n := range m.nodes {
		ns = append(ns, n)
	}
	m.mu.Unlock()
	var out []NodeInfo
	for _, n := range ns {
		n.initMu.Lock()
		if n.pool != nil {
			out = append(out, n.info)
		}
		n.initMu.Unlock()
	}
	return out
}

// Pool returns the branch ENI pool of a node the Manager serves, for
// inspection.
func (m *Manager) Pool(instanceID string) (*eni.Pool, bool) {
	n := m.lookup(instanceID)
	if n == nil {
		return nil, false
	}
	n.initMu.Lock()
	defer n.initMu.Unlock()
	return n.pool, n.pool != nil
}

// EnsureNode makes sure the instance has an attached trunk ENI (finding it,
// or creating and attaching one) and that the Manager serves it, and returns
// what it knows of the node. It is cheap once done. Errors match
// ErrTrunkingUnsupported, ErrNoFreeSlot or ErrUnknownNode where they apply,
// or carry EC2's error.
func (m *Manager) EnsureNode(ctx context.Context, instanceID string) (NodeInfo, error) {
	n := m.nodeFor(instanceID)
	n.initMu.Lock()
	defer n.initMu.Unlock()
	if n.pool != nil {
		return n.info, nil
	}
	inst, err := m.describeInstance(ctx, instanceID)
	if err != nil {
		return NodeInfo{}, err
	}
	return m.initNode(ctx, n, inst)
}

// initNode ensures the trunk of inst and builds the node's pool. n.initMu
// must be held.
func (m *Manager) initNode(ctx context.Context, n *node, inst instanceView) (NodeInfo, error) {
	info, err := m.ensureTrunk(ctx, inst)
	if err != nil {
		return NodeInfo{}, err
	}
	pool, err := eni.NewPool(&nodeBackend{m: m, n: n}, eni.Options{
		Node:   info.InstanceID,
		Limit:  info.BranchLimit,
		Policy: m.opts.Policy,
		Logger: m.log,
		OnDue:  func(t time.Time) { m.schedule(n, t) },
	})
	if err != nil {
		return NodeInfo{}, err
	}
	n.info, n.pool = info, pool
	m.log.Info("serving node", "node", info.InstanceID, "type", info.InstanceType, "trunk", info.TrunkENIID, "branchLimit", info.BranchLimit)
	return info, nil
}

// Result is what Acquire gives a pod.
type Result struct {
	// Annotation is the value of the pod's vpc.amazonaws.com/pod-eni
	// annotation.
	Annotation string
	// Branch is the ENI as the node's pool holds it.
	Branch eni.Branch
}

// Acquire gives pod, on the node instanceID, a branch ENI with groups in the
// node's subnet, and returns the annotation to write on the pod. It ensures
// the node's trunk first. A pod that already holds an ENI gets it back.
//
// Errors wrap the pod and node; EC2's errors keep their code (errors.As to
// smithy.APIError, or ErrorCode). A full node gives an error matching
// eni.ErrNoCapacity: the pod can start once a pod on the node ends and its
// ENI cools down.
func (m *Manager) Acquire(ctx context.Context, instanceID string, pod eni.PodRef, groups eni.GroupSet) (Result, error) {
	start := time.Now()
	if m.life.Err() != nil {
		return Result{}, fmt.Errorf("trunk: pod %s on node %s: %w", pod, instanceID, ErrClosed)
	}
	if groups.IsEmpty() {
		return Result{}, fmt.Errorf("trunk: pod %s on node %s: no security groups: want at least one", pod, instanceID)
	}
	info, err := m.EnsureNode(ctx, instanceID)
	if err != nil {
		return Result{}, fmt.Errorf("trunk: pod %s on node %s: %w", pod, instanceID, err)
	}
	n := m.lookup(instanceID)
	if n == nil {
		return Result{}, fmt.Errorf("trunk: pod %s on node %s: %w: the node was removed", pod, instanceID, ErrUnknownNode)
	}
	if m.starts != nil {
		select {
		case m.starts <- struct{}{}:
			defer func() { <-m.starts }()
		case <-ctx.Done():
			return Result{}, fmt.Errorf("trunk: pod %s on node %s: %w", pod, instanceID, ctx.Err())
		}
	}
	n.opMu.RLock()
	b, err := n.pool.Acquire(ctx, pod, eni.Key{Groups: groups, Subnet: info.SubnetID})
	n.opMu.RUnlock()
	if err != nil {
		return Result{}, fmt.Errorf("trunk: pod %s on node %s: %w", pod, instanceID, err)
	}
	ann, err := podeni.Format(b.ENI)
	if err != nil {
		return Result{}, fmt.Errorf("trunk: pod %s on node %s: branch ENI %s: %w", pod, instanceID, b.ENI.ID, err)
	}
	m.metrics.readyAfter(time.Since(start))
	return Result{Annotation: ann, Branch: b}, nil
}

// Release gives pod's ENI back to its node's pool, where it cools down
// before reuse or deletion. It makes no EC2 call, and reports whether the pod
// held an ENI.
func (m *Manager) Release(instanceID string, pod eni.PodRef) bool {
	n := m.lookup(instanceID)
	if n == nil {
		return false
	}
	n.initMu.Lock()
	p := n.pool
	n.initMu.Unlock()
	return p != nil && p.Release(pod)
}

// RemoveNode handles the termination of a node: every branch ENI on it is
// disassociated and deleted at once (no cool-down), and the Manager stops
// serving it. It retries until done or ctx ends.
func (m *Manager) RemoveNode(ctx context.Context, instanceID string) error {
	n := m.lookup(instanceID)
	if n == nil {
		return nil
	}
	n.initMu.Lock()
	p := n.pool
	n.initMu.Unlock()
	if p != nil {
		if err := p.Drain(ctx); err != nil {
			return fmt.Errorf("trunk: removing node %s: %w", instanceID, err)
		}
	}
	m.smu.Lock()
	n.removed = true
	m.smu.Unlock()
	m.mu.Lock()
	if m.nodes[instanceID] == n {
		delete(m.nodes, instanceID)
	}
	m.mu.Unlock()
	return nil
}

// Metrics returns a snapshot of the Manager's counters and its pools'
// states.
func (m *Manager) Metrics() Metrics {
	s := m.metrics.snapshot()
	m.mu.Lock()
	ns := make([]*node, 0, len(m.nodes))
	for _, n := range m.nodes {
		ns = append(ns, n)
	}
	m.mu.Unlock()
	for _, n := range ns {
		n.initMu.Lock()
		p := n.pool
		n.initMu.Unlock()
		if p == nil {
			continue
		}
		s.Nodes++
		st := p.Stats()
		s.Pools.Limit += st.Limit
		s.Pools.Creating += st.Creating
		s.Pools.InUse += st.InUse
		s.Pools.Cooling += st.Cooling
		s.Pools.Warm += st.Warm
		s.Pools.Deleting += st.Deleting
		s.Pools.WarmHits += st.WarmHits
		s.Pools.Creates += st.Creates
		s.Pools.Retargets += st.Retargets
		s.Pools.Evictions += st.Evictions
		s.Pools.Deletes += st.Deletes
		s.Pools.Failures += st.Failures
	}
	return s
}

func (m *Manager) addInflight(id string) {
	m.inflightMu.Lock()
	m.inflight[id]++
	m.inflightMu.Unlock()
}

func (m *Manager) doneInflight(id string) {
	m.inflightMu.Lock()
	if m.inflight[id]--; m.inflight[id] <= 0 {
		delete(m.inflight, id)
	}
	m.inflightMu.Unlock()
}

// subnetCIDR returns the IPv4 CIDR of a subnet, asking EC2 once.
func (m *Manager) subnetCIDR(ctx context.Context, subnetID string) (netip.Prefix, error) {
	m.mu.Lock()
	p, ok := m.subnets[subnetID]
	m.mu.Unlock()
	if ok {
		return p, nil
	}
	if err := m.loadSubnets(ctx, []string{subnetID}); err != nil {
		return netip.Prefix{}, err
	}
	m.mu.Lock()
	p, ok = m.subnets[subnetID]
	m.mu.Unlock()
	if !ok {
		return netip.Prefix{}, fmt.Errorf("subnet %s: not reported by DescribeSubnets", subnetID)
	}
	return p, nil
}

// loadSubnets caches the CIDRs of subnets not cached yet.
func (m *Manager) loadSubnets(ctx context.Context, ids []string) error {
	m.mu.Lock()
	var want []string
	seen := map[string]bool{}
	for _, id := range ids {
		if _, ok := m.subnets[id]; !ok && !seen[id] && id != "" {
			want = append(want, id)
			seen[id] = true
		}
	}
	m.mu.Unlock()
	for len(want) > 0 {
		batch := want[:min(len(want), 200)]
		want = want[len(batch):]
		out, err := call(ctx, m, "DescribeSubnets", PriorityPodStart, &ec2.DescribeSubnetsInput{SubnetIds: batch}, m.ec2.DescribeSubnets)
		if err != nil {
			return fmt.Errorf("describing subnets %v: %w", batch, err)
		}
		m.mu.Lock()
		for _, s := range out.Subnets {
			if p, err := netip.ParsePrefix(aws.ToString(s.CidrBlock)); err == nil {
				m.subnets[aws.ToString(s.SubnetId)] = p
			}
		}
		m.mu.Unlock()
	}
	return nil
}

// Run does the Manager's background work until ctx is done: it runs each
// pool's Maintain when due, on at most Options.Workers goroutines, and
// collects garbage every Options.GCInterval. It returns ctx's error once its
// workers have stopped.
func (m *Manager) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(m.life, cancel)
	defer stop()
	work := make(chan *node)
	var wg sync.WaitGroup
	for range m.opts.Workers {
		wg.Go(func() {
			for n := range work {
				m.maintain(ctx, n)
			}
		})
	}
	var gc <-chan time.Time
	if m.opts.GCInterval > 0 {
		t := time.NewTicker(m.opts.GCInterval)
		defer t.Stop()
		gc = t.C
	}
	defer func() {
		close(work)
		wg.Wait()
	}()
	for {
		m.smu.Lock()
		now := time.Now()
		var ready []*node
		for m.queue.Len() > 0 && !m.queue[0].at.After(now) {
			it := heap.Pop(&m.queue).(dueItem)
			n := it.n
			if n.removed || !n.due.Equal(it.at) {
				continue
			}
			n.due = time.Time{}
			n.running = true
			ready = append(ready, n)
		}
		var timer *time.Timer
		var fire <-chan time.Time
		if m.queue.Len() > 0 {
			timer = time.NewTimer(m.queue[0].at.Sub(now))
			fire = timer.C
		}
		m.smu.Unlock()
		for _, n := range ready {
			select {
			case work <- n:
			case <-ctx.Done():
				if timer != nil {
					timer.Stop()
				}
				return ctx.Err()
			}
		}
		if len(ready) > 0 {
			if timer != nil {
				timer.Stop()
			}
			continue
		}
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return ctx.Err()
		case <-m.kick:
		case <-fire:
		case <-gc:
			go func() {
				if _, err := m.CollectGarbage(ctx); err != nil && ctx.Err() == nil {
					m.log.Warn("garbage collection", "err", err)
				}
			}()
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

func (m *Manager) maintain(ctx context.Context, n *node) {
	n.initMu.Lock()
	p := n.pool
	n.initMu.Unlock()
	var next time.Time
	if p != nil {
		n.opMu.RLock()
		var err error
		next, err = p.Maintain(ctx)
		n.opMu.RUnlock()
		if err != nil && ctx.Err() == nil {
			m.log.Warn("pool maintenance", "node", n.id, "err", err)
		}
	}
	m.smu.Lock()
	n.running = false
	if r := n.rerun; !r.IsZero() {
		n.rerun = time.Time{}
		if next.IsZero() || r.Before(next) {
			next = r
		}
	}
	m.smu.Unlock()
	if !next.IsZero() {
		m.schedule(n, next)
	}
}

// schedule asks for n's pool to be maintained at t.
func (m *Manager) schedule(n *node, t time.Time) {
	m.smu.Lock()
	defer m.smu.Unlock()
	if n.removed {
		return
	}
	if n.running {
		if n.rerun.IsZero() || t.Before(n.rerun) {
			n.rerun = t
		}
		return
	}
	if !n.due.IsZero() && !t.Before(n.due) {
		return
	}
	n.due = t
	heap.Push(&m.queue, dueItem{at: t, n: n})
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

type dueItem struct {
	at time.Time
	n  *node
}

type dueHeap []dueItem

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(dueItem)) }
func (h *dueHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = dueItem{}
	*h = old[:len(old)-1]
	return it
}
