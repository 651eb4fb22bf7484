package trunk

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/podsg/podsg/api/podeni"
	"github.com/podsg/podsg/eni"
)

// NodeInfo describes a node the Manager serves.
type NodeInfo struct {
	InstanceID   string
	InstanceType string
	// TrunkENIID is the node's trunk ENI.
	TrunkENIID string
	// SubnetID is the subnet where the node's new branch ENIs are created:
	// the instance's, or the one Options.CustomNetworking gives. SubnetCIDR
	// and SubnetIPv6CIDR are its CIDRs (SubnetCIDR is the zero Prefix for
	// an IPv6-only subnet, SubnetIPv6CIDR for a subnet without IPv6).
	SubnetID       string
	SubnetCIDR     netip.Prefix
	SubnetIPv6CIDR netip.Prefix
	// BranchLimit is how many branch ENIs the node can hold.
	BranchLimit int
}

// node is the Manager's state of one node.
//
// Locks, in the only order in which any two are held together: setup, then
// the op gates of several nodes in ascending instance ID, then mu. Manager.mu
// and node.mu are held only briefly and never across a wait or an EC2 call,
// so readers (Nodes, Metrics, Pool, Release, garbage collection) never wait
// for EC2. Every wait on setup or op ends with the waiter's context.
type node struct {
	id string

	// setup is held (one token) by the goroutine setting the node up: its
	// trunk, its pool and the adoption of the ENIs it already has.
	setup chan struct{}

	// op is held shared by calls that use the pool's ENIs, and exclusively
	// while the pool is reconciled with EC2's listing or the node marked
	// removed.
	op gate

	mu      sync.Mutex
	info    NodeInfo
	net     nodeNet   // where the node's ENIs go
	pool    *eni.Pool // nil until the trunk is ensured
	adopted bool      // the ENIs the node had when the pool was built are in it
	gone    bool      // removed: the Manager no longer serves the node

	// unlisted are the ENIs (held by the pool or named by a live pod) that
	// the last listing of the node lacked; guarded by op, held exclusively.
	unlisted map[string]bool

	// scheduler state, guarded by Manager.smu
	due     time.Time
	running bool
	rerun   time.Time
	removed bool
	// confirmAt is when a listing is due to confirm the ENIs the pool
	// adopted unconfirmed (zero: none due).
	confirmAt time.Time
}

// state returns the node's pool and info; pool is nil until it is set up.
func (n *node) state() (NodeInfo, *eni.Pool, bool, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.info, n.pool, n.adopted, n.gone
}

// Manager gives pods branch ENIs on the trunks of many nodes, over one EC2
// budget. It keeps one eni.Pool per node, backed by EC2, and a bounded set of
// workers for time-driven work. All its state is rebuilt from EC2 with
// ReconcileAll after a restart.
//
// A Manager is safe for concurrent use. Call Run to do background work
// (deleting cooled or idle ENIs, warm targets, garbage collection).
type Manager struct {
	ec2     EC2
	opts    Options
	budget  *Budget
	metrics *metrics
	rnd     *random
	log     *slog.Logger
	epoch   string
	starts  chan struct{} // semaphore for MaxInFlightStarts, nil when unbounded

	// coolDown is the cool-down SetCoolDown set (0: Options.Policy's);
	// coolMu serialises SetCoolDown calls.
	coolDown atomic.Int64
	coolMu   sync.Mutex

	mu      sync.Mutex
	nodes   map[string]*node
	subnets map[string]subnetCIDRs

	inflightMu sync.Mutex
	inflight   map[string]int // ENIs between creation and association

	// recent remembers the IDs EC2 gave the Manager and the ENIs it
	// deleted, while EC2 may still answer and list as if they were not.
	recent *recentIDs
	// look lists new ENIs until EC2 knows them (awaitListed).
	look *lookout

	smu       sync.Mutex
	queue     dueHeap
	kick      chan struct{}
	lastStart time.Time // when the last maintenance started (startTurn)

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
// fake). Errors match ErrInvalidOptions.
func New(client EC2, opts Options) (*Manager, error) {
	if client == nil {
		return nil, invalidOptions("the EC2 client is nil: want an *ec2.Client (or a fake)")
	}
	o, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	b, err := NewBudget(o.Budget)
	if err != nil {
		return nil, err
	}
	rnd := newRandom(o.Rand)
	epoch, err := rnd.epoch()
	if err != nil {
		return nil, invalidOptions("Options.Rand: reading 8 bytes failed (%v): want a source that does not run dry, or nil for crypto/rand", err)
	}
	m := &Manager{
		ec2:      client,
		opts:     o,
		budget:   b,
		metrics:  newMetrics(),
		rnd:      rnd,
		log:      o.Logger,
		epoch:    epoch,
		nodes:    make(map[string]*node),
		subnets:  make(map[string]subnetCIDRs),
		inflight: make(map[string]int),
		recent:   newRecentIDs(),
		look:     newLookout(),
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

// unique returns a string no other request of this Manager, nor of any
// other, uses for the same node and VLAN (vlan 0: the node's trunk): for
// ClientTokens of requests that must not be answered with the result of an
// earlier one. It does not depend on the order of concurrent calls for
// other nodes or VLANs.
func (m *Manager) unique(instanceID string, vlan int) string {
	return m.epoch + "-" + m.rnd.generation(instanceID, vlan)
}

func (m *Manager) clusterTag() string { return ClusterTagPrefix + m.opts.ClusterName }

func (m *Manager) nodeFor(id string) *node {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.nodes[id]
	if n == nil {
		n = &node{id: id, setup: make(chan struct{}, 1)}
		m.nodes[id] = n
	}
	return n
}

func (m *Manager) lookup(id string) *node {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.nodes[id]
}

// allNodes returns the nodes in instance ID order, so that work done over
// all of them happens in the same order on every run.
func (m *Manager) allNodes() []*node {
	m.mu.Lock()
	ns := make([]*node, 0, len(m.nodes))
	for _, n := range m.nodes {
		ns = append(ns, n)
	}
	m.mu.Unlock()
	slices.SortFunc(ns, func(a, b *node) int { return strings.Compare(a.id, b.id) })
	return ns
}

// Nodes returns the nodes the Manager serves. It never waits for EC2.
func (m *Manager) Nodes() []NodeInfo {
	var out []NodeInfo
	for _, n := range m.allNodes() {
		if info, p, _, gone := n.state(); p != nil && !gone {
			out = append(out, info)
		}
	}
	return out
}

// Pool returns the branch ENI pool of a node the Manager serves, for
// inspection. It never waits for EC2.
func (m *Manager) Pool(instanceID string) (*eni.Pool, bool) {
	n := m.lookup(instanceID)
	if n == nil {
		return nil, false
	}
	_, p, _, gone := n.state()
	return p, p != nil && !gone
}

// EnsureNode makes sure the instance has an attached trunk ENI (finding it,
// or creating and attaching one) and that the Manager serves it, and returns
// what it knows of the node. The first time it finds a trunk that already
// exists, it also loads the branch ENIs on it (without a pod list, so none
// is released), so that a node served before its rebuild never reuses their
// VLANs. It is cheap once done. With Options.CustomNetworking, every call
// asks for the node's custom network again, so that calling it after the
// node's ENIConfig changed sends its new branch ENIs to the new subnet (see
// CustomNetwork). Errors match ErrTrunkingUnsupported, ErrNoFreeSlot,
// ErrNodeNetwork or ErrUnknownNode where they apply, or carry EC2's error.
func (m *Manager) EnsureNode(ctx context.Context, instanceID string) (NodeInfo, error) {
	n, info, _, err := m.ensure(ctx, instanceID)
	if err != nil || m.opts.CustomNetworking == nil {
		return info, err
	}
	select {
	case n.setup <- struct{}{}:
		defer func() { <-n.setup }()
	case <-ctx.Done():
		return NodeInfo{}, ctx.Err()
	}
	return m.refreshNetwork(ctx, n)
}

// ensure is EnsureNode; it also returns the node and its pool.
func (m *Manager) ensure(ctx context.Context, instanceID string) (*node, NodeInfo, *eni.Pool, error) {
	if m.life.Err() != nil {
		return nil, NodeInfo{}, nil, ErrClosed
	}
	n := m.nodeFor(instanceID)
	if info, p, adopted, gone := n.state(); gone {
		return nil, NodeInfo{}, nil, removedError(instanceID)
	} else if p != nil && adopted {
		return n, info, p, nil
	}
	select {
	case n.setup <- struct{}{}:
		defer func() { <-n.setup }()
	case <-ctx.Done():
		return nil, NodeInfo{}, nil, ctx.Err()
	}
	if err := m.setUp(ctx, n, nil); err != nil {
		return nil, NodeInfo{}, nil, err
	}
	if err := m.adopt(ctx, n); err != nil {
		return nil, NodeInfo{}, nil, err
	}
	info, p, _, gone := n.state()
	if gone {
		return nil, NodeInfo{}, nil, removedError(instanceID)
	}
	return n, info, p, nil
}

func removedError(id string) error {
	return fmt.Errorf("%w: node %s was removed", ErrUnknownNode, id)
}

// setUp ensures the trunk of n and builds its pool, unless that is done.
// inst, when set, is the instance as EC2 described it. n.setup must be held.
func (m *Manager) setUp(ctx context.Context, n *node, inst *instanceView) error {
	if _, p, _, gone := n.state(); gone {
		return removedError(n.id)
	} else if p != nil {
		return nil
	}
	if inst == nil {
		v, err := m.describeInstance(ctx, n.id)
		if err != nil {
			return err
		}
		inst = &v
	}
	net, err := m.nodeNetwork(ctx, *inst)
	if err != nil {
		return err
	}
	info, fresh, err := m.ensureTrunk(ctx, *inst, net)
	if err != nil {
		return err
	}
	pool, err := eni.NewPool(&nodeBackend{m: m, info: info}, eni.Options{
		Node:   info.InstanceID,
		Limit:  info.BranchLimit,
		Policy: m.opts.Policy,
		Logger: m.log,
		OnDue:  func(t time.Time) { m.schedule(n, t) },
	})
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.gone {
		return removedError(n.id) // the trunk stays with the instance (DeleteOnTermination)
	}
	// A trunk attached now has no branches; one found attached may have.
	n.info, n.net, n.pool, n.adopted = info, net, pool, fresh
	if d := m.coolDown.Load(); d != 0 {
		pool.SetCoolDown(time.Duration(d))
	}
	m.log.Info("serving node", "node", info.InstanceID, "type", info.InstanceType, "trunk", info.TrunkENIID, "branchLimit", info.BranchLimit)
	return nil
}

// adopt loads into n's pool the branch ENIs its trunk already has, unless a
// rebuild did. It knows no pods, so it releases none of them: they stay held
// until ReconcileAll gets a complete pod list. n.setup must be held.
func (m *Manager) adopt(ctx context.Context, n *node) error {
	if _, p, adopted, _ := n.state(); p == nil || adopted {
		return nil
	}
	if err := n.op.Lock(ctx); err != nil {
		return err
	}
	defer n.op.Unlock()
	if _, _, adopted, gone := n.state(); adopted || gone {
		return nil
	}
	var nis []types.NetworkInterface
	err := m.listENIs(ctx, PriorityPodStart, m.nodeFilters(n.id), func(page []types.NetworkInterface) { nis = append(nis, page...) })
	if err != nil {
		return fmt.Errorf("node %s: listing the branch ENIs on its trunk: %w", n.id, err)
	}
	if err := m.loadSubnets(ctx, subnetsOf(nis)); err != nil {
		return fmt.Errorf("node %s: %w", n.id, err)
	}
	res := m.reconcileNode(ctx, n, nis, nil, nil, false, time.Time{})
	m.markAdopted(n)
	if res.Adopted > 0 {
		m.log.Info("adopted the branch ENIs of a node before its rebuild", "node", n.id, "enis", res.Adopted)
	}
	return nil
}

func (m *Manager) markAdopted(n *node) {
	n.mu.Lock()
	n.adopted = true
	n.mu.Unlock()
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
// the node's trunk first. A pod that already holds an ENI gets it back. A
// new ENI gets the groups in the order of groups (give selector's policy
// order, as the VPC resource controller does); a warm ENI with the same
// groups in any order serves the pod without an EC2 call.
//
// Errors wrap the pod and node; EC2's errors keep their code (errors.As to
// smithy.APIError, or ErrorCode). A full node gives an error matching
// eni.ErrNoCapacity: the pod can start once a pod on the node ends and its
// ENI cools down. A node removed meanwhile gives one matching
// ErrUnknownNode. Every wait ends with ctx.
func (m *Manager) Acquire(ctx context.Context, instanceID string, pod eni.PodRef, groups eni.GroupSet) (Result, error) {
	start := time.Now()
	fail := func(err error) (Result, error) {
		return Result{}, fmt.Errorf("trunk: pod %s on node %s: %w", pod, instanceID, err)
	}
	if m.life.Err() != nil {
		return fail(ErrClosed)
	}
	if groups.IsEmpty() {
		return fail(errors.New("no security groups: want at least one"))
	}
	n, info, pool, err := m.ensure(ctx, instanceID)
	if err != nil {
		return fail(err)
	}
	if m.starts != nil {
		select {
		case m.starts <- struct{}{}:
			defer func() { <-m.starts }()
		case <-ctx.Done():
			return fail(ctx.Err())
		}
	}
	if err := n.op.RLock(ctx); err != nil {
		return fail(err)
	}
	b, err := pool.Acquire(ctx, pod, eni.Key{Groups: groups, Subnet: info.SubnetID})
	n.op.RUnlock()
	if errors.Is(err, eni.ErrPoolClosed) {
		return fail(fmt.Errorf("%w: node %s was removed (%w)", ErrUnknownNode, instanceID, err))
	}
	if err != nil {
		return fail(err)
	}
	ann, err := podeni.Format(b.ENI)
	if err != nil {
		return fail(fmt.Errorf("branch ENI %s: %w", b.ENI.ID, err))
	}
	m.metrics.readyAfter(time.Since(start))
	return Result{Annotation: ann, Branch: b}, nil
}

// Release gives pod's ENI back to its node's pool, where it cools down
// before reuse or deletion. It makes no EC2 call and never waits, and reports
// whether the pod held an ENI.
func (m *Manager) Release(instanceID string, pod eni.PodRef) bool {
	n := m.lookup(instanceID)
	if n == nil {
		return false
	}
	_, p, _, _ := n.state()
	return p != nil && p.Release(pod)
}

// RemoveNode handles the termination of a node: every branch ENI on it is
// disassociated and deleted at once (no cool-down), and the Manager stops
// serving it; calls for it fail with ErrUnknownNode meanwhile. It retries
// until done or ctx ends; calling it again goes on where it stopped. A later
// call for the same instance sets the node up anew.
func (m *Manager) RemoveNode(ctx context.Context, instanceID string) error {
	n := m.lookup(instanceID)
	if n == nil {
		return nil
	}
	// Exclusively, so that no reconcile loads ENIs into the pool after the
	// drain has listed what to delete.
	if err := n.op.Lock(ctx); err != nil {
		return fmt.Errorf("trunk: removing node %s: %w", instanceID, err)
	}
	n.mu.Lock()
	n.gone = true
	p := n.pool
	n.mu.Unlock()
	n.op.Unlock()
	m.smu.Lock()
	n.removed = true
	m.smu.Unlock()
	if p != nil {
		if err := p.Drain(ctx); err != nil {
			return fmt.Errorf("trunk: removing node %s: %w", instanceID, err)
		}
	}
	m.mu.Lock()
	if m.nodes[instanceID] == n {
		delete(m.nodes, instanceID)
	}
	m.mu.Unlock()
	return nil
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

func (m *Manager) isInflight(id string) bool {
	m.inflightMu.Lock()
	defer m.inflightMu.Unlock()
	return m.inflight[id] > 0
}
