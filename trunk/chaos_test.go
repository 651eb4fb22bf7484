package trunk_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
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

// cluster models the Kubernetes side that survives controller crashes: the
// live pods of each node, their groups and the ENI their annotation names.
type cluster struct {
	mu   sync.Mutex
	pods map[string]map[eni.PodRef]*podState // node → pods
}

type podState struct {
	groups eni.GroupSet
	eniID  string // from the annotation; "" while pending
}

func (c *cluster) add(node string, p eni.PodRef, g eni.GroupSet) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pods[node][p] = &podState{groups: g}
}

func (c *cluster) annotate(node string, p eni.PodRef, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pods[node][p].eniID = id
}

func (c *cluster) remove(node string, p eni.PodRef) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.pods[node], p)
}

// livePods returns every node's complete list of live pods.
func (c *cluster) livePods() []trunk.NodePods {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []trunk.NodePods
	for node, ps := range c.pods {
		np := trunk.NodePods{InstanceID: node, Complete: true}
		for p, st := range ps {
			np.Pods = append(np.Pods, eni.LivePod{Pod: p, ENIID: st.eniID})
		}
		out = append(out, np)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].InstanceID < out[j].InstanceID })
	return out
}

// controller is the current manager and the context of calls made to it; a
// crash replaces both.
type controller struct {
	mu   rwGate
	m    *trunk.Manager
	ctx  context.Context
	kill context.CancelFunc
	stop func()
}

// chaosRebuilds bounds the rebuild attempts after a crash, and
// chaosDeadline the virtual time the lifecycles may take (about an hour when
// all is well): past either the test fails and says why, instead of running
// on while the Manager cannot make progress.
const (
	chaosRebuilds = 30
	chaosDeadline = 6 * time.Hour
)

var chaosActions = []fake.Action{
	fake.ActionCreateNetworkInterface, fake.ActionAssociateTrunkInterface, fake.ActionDisassociateTrunkInterface, fake.ActionDeleteNetworkInterface,
	fake.ActionModifyNetworkInterfaceAttribute, fake.ActionDescribeNetworkInterfaces, fake.ActionDescribeTrunkInterfaceAssociations,
	fake.ActionDescribeInstances, fake.ActionDescribeSubnets,
}

// TestChaos runs at least 2,000 pod lifecycles on 10 nodes while EC2
// throttles 10% of calls, fails 2% with internal errors and loses 2% of
// responses after acting, lags as EC2 does (fake.EventualConsistency: new
// IDs unknown for a moment, associations and deletions listed late), and
// the controller crashes at random (all in-memory state discarded, a new
// manager rebuilt with ReconcileAll). At the end every live pod holds
// exactly its own ENI with exactly its groups, no VLAN is shared on a trunk,
// and EC2 holds no branch ENI outside a pool. A run that cannot make
// progress (a rebuild failing chaosRebuilds times, or the lifecycles taking
// longer than chaosDeadline) fails and says why.
func TestChaos(t *testing.T) {
	const (
		nodes      = 10
		workers    = 110
		lifecycles = 2000
	)
	synctest.Test(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(7, 11))
		var rngMu sync.Mutex
		randDur := func(lo, hi time.Duration) time.Duration {
			rngMu.Lock()
			defer rngMu.Unlock()
			return lo + time.Duration(rng.Int64N(int64(hi-lo)))
		}
		f := fake.New(fake.Options{Seed: 42, Consistency: fake.EventualConsistency()})
		vpc := f.AddVPC("10.0.0.0/16")
		subnet := f.AddSubnet(vpc, "10.0.0.0/18", "")
		sgNode := f.AddSecurityGroup(vpc, "nodes")
		sgA, sgB := f.AddSecurityGroup(vpc, "a"), f.AddSecurityGroup(vpc, "b")
		keys := []eni.GroupSet{eni.MustGroupSet(sgA), eni.MustGroupSet(sgB), eni.MustGroupSet(sgA, sgB)}
		cl := &cluster{pods: map[string]map[eni.PodRef]*podState{}}
		var ids []string
		for range nodes {
			n := f.AddNode("m5.large", subnet, sgNode)
			ids = append(ids, n.InstanceID)
			cl.pods[n.InstanceID] = map[eni.PodRef]*podState{}
		}
		f.SetLatency("", fake.Latency{Base: 20 * time.Millisecond, Jitter: 30 * time.Millisecond})
		f.SetLatency(fake.ActionCreateNetworkInterface, fake.Latency{Base: 200 * time.Millisecond, Jitter: 300 * time.Millisecond})
		for _, a := range chaosActions {
			f.InjectFault(fake.Fault{Action: a, Code: fake.CodeRequestLimitExceeded, Probability: 0.10})
			f.InjectFault(fake.Fault{Action: a, Code: fake.CodeInternalError, Probability: 0.02})
			f.InjectFault(fake.Fault{Action: a, Lost: true, Probability: 0.02})
		}

		opts := trunk.Options{ClusterName: "chaos"}
		ctl := &controller{}
		var crashes atomic.Int64
		var throttles, retries, notFound atomic.Uint64 // summed over managers
		// start builds a Manager and rebuilds it, again for the nodes that
		// fail (a call lost or refused), a bounded number of times.
		start := func() error {
			m, err := trunk.New(f, opts)
			if err != nil {
				return err
			}
			todo := cl.livePods()
			for attempt := 1; len(todo) > 0; attempt++ {
				res, err := m.ReconcileAll(t.Context(), todo)
				if err != nil {
					return fmt.Errorf("rebuild: %w", err)
				}
				var again []trunk.NodePods
				var why []string
				for _, np := range todo {
					if err := res[np.InstanceID].Err; err != nil {
						again = append(again, np)
						why = append(why, err.Error())
					}
				}
				todo = again
				if len(todo) > 0 && attempt == chaosRebuilds {
					return fmt.Errorf("rebuild: %d nodes still failing after %d attempts: %v", len(todo), attempt, why)
				}
				if len(todo) > 0 {
					time.Sleep(time.Second) // nodes whose rebuild lost a call are rebuilt again
				}
			}
			ctl.m = m
			ctl.ctx, ctl.kill = context.WithCancel(t.Context())
			ctl.stop = run(t, m)
			return nil
		}
		crash := func() error {
			ctl.kill() // calls in flight fail wherever they are
			ctl.mu.Lock()
			defer ctl.mu.Unlock()
			mt := ctl.m.Metrics()
			throttles.Add(mt.Throttles)
			retries.Add(mt.Retries)
			notFound.Add(mt.NotFoundRetries)
			ctl.m.Close()
			ctl.stop()
			crashes.Add(1)
			return start()
		}
		ctl.mu.Lock()
		require.NoError(t, start())
		ctl.mu.Unlock()

		// abort stops the run with a reason, from any goroutine; the test's
		// goroutine fails with it.
		var abortMu sync.Mutex
		var abortWhy string
		abort := func(format string, args ...any) {
			abortMu.Lock()
			defer abortMu.Unlock()
			if abortWhy == "" {
				abortWhy = fmt.Sprintf(format, args...)
			}
		}
		aborted := func() bool {
			abortMu.Lock()
			defer abortMu.Unlock()
			return abortWhy != ""
		}
		var done, started, noCap, acquireErrs atomic.Int64
		finished := make(chan struct{})
		var crasher sync.WaitGroup
		begin := time.Now()
		crasher.Go(func() {
			for {
				select {
				case <-finished:
					return
				case <-time.After(randDur(30*time.Second, 3*time.Minute)):
					if err := crash(); err != nil {
						abort("crash %d: %v", crashes.Load(), err)
						return
					}
					if time.Since(begin) > chaosDeadline {
						ctl.mu.RLock()
						mt := ctl.m.Metrics()
						ctl.mu.RUnlock()
						failing := map[fake.Action]int{}
						for a, c := range f.AllCounts() {
							if c.Errors > 0 {
								failing[a] = c.Errors
							}
						}
						abort("only %d of %d lifecycles after %v of virtual time: pending pods keep failing (%d no-capacity, %d other errors); "+
							"pools %+v; failed EC2 calls by action %v",
							done.Load(), lifecycles, chaosDeadline, noCap.Load(), acquireErrs.Load(), mt.Pools, failing)
						return
					}
				}
			}
		})

		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := 0; ; i++ {
					if done.Load() >= lifecycles || aborted() {
						return
					}
					node := ids[(w+i*7)%nodes]
					p := eni.PodRef{Namespace: "chaos", Name: "w" + itoa(w) + "-" + itoa(i), UID: "u" + itoa(w) + "-" + itoa(i)}
					groups := keys[(w+i)%len(keys)]
					cl.add(node, p, groups)
					started.Add(1)
					for {
						if aborted() {
							return
						}
						ctl.mu.RLock()
						res, err := ctl.m.Acquire(ctl.ctx, node, p, groups)
						if err == nil {
							cl.annotate(node, p, res.Branch.ENI.ID)
						}
						ctl.mu.RUnlock()
						if err == nil {
							break
						}
						if done.Load() >= lifecycles {
							// The run is over: a pod still pending is deleted.
							cl.remove(node, p)
							ctl.mu.RLock()
							ctl.m.Release(node, p)
							ctl.mu.RUnlock()
							return
						}
						if errors.Is(err, eni.ErrNoCapacity) {
							noCap.Add(1)
						} else {
							acquireErrs.Add(1)
						}
						time.Sleep(randDur(2*time.Second, 10*time.Second))
					}
					time.Sleep(randDur(10*time.Second, 2*time.Minute))
					if done.Load() >= lifecycles {
						return // this pod stays alive
					}
					cl.remove(node, p)
					ctl.mu.RLock()
					ctl.m.Release(node, p)
					ctl.mu.RUnlock()
					done.Add(1)
				}
			})
		}
		wg.Wait()
		close(finished)
		crasher.Wait()
		if aborted() {
			ctl.m.Close()
			ctl.stop()
			t.Fatalf("chaos aborted: %s", abortWhy)
		}

		// Chaos ends; let the system converge: a last rebuild, cool-downs,
		// retried deletions and two garbage-collection passes.
		f.ClearFaults()
		require.NoError(t, crash())
		time.Sleep(eni.DefaultCoolDown + 5*time.Minute)
		ctl.mu.RLock()
		m := ctl.m
		ctl.mu.RUnlock()
		gc1, err := m.CollectGarbage(t.Context())
		require.NoError(t, err)
		time.Sleep(time.Minute)
		gc2, err := m.CollectGarbage(t.Context())
		require.NoError(t, err)
		synctest.Wait()

		// Invariants.
		f.SetThrottling(false)
		live := cl.livePods()
		owner := map[string]eni.PodRef{}
		livePods := 0
		for _, np := range live {
			pool, ok := m.Pool(np.InstanceID)
			require.True(t, ok)
			for _, lp := range np.Pods {
				livePods++
				require.NotEmpty(t, lp.ENIID, "pod %s has no ENI", lp.Pod)
				prev, dup := owner[lp.ENIID]
				require.False(t, dup, "ENI %s held by %s and %s", lp.ENIID, prev, lp.Pod)
				owner[lp.ENIID] = lp.Pod
				b, ok := pool.Lookup(lp.Pod)
				require.True(t, ok, "pool of %s does not hold pod %s", np.InstanceID, lp.Pod)
				require.Equal(t, lp.ENIID, b.ENI.ID)
				ni := describe(t, f, lp.ENIID)
				var gids []string
				for _, g := range ni.Groups {
					gids = append(gids, aws.ToString(g.GroupId))
				}
				require.Equal(t, cl.pods[np.InstanceID][lp.Pod].groups, eni.MustGroupSet(gids...), "groups of %s", lp.Pod)
				require.Equal(t, types.NetworkInterfaceStatusInUse, ni.Status)
			}
		}
		held := map[string]eni.State{}
		states := map[eni.State]int{}
		for _, info := range m.Nodes() {
			pool, _ := m.Pool(info.InstanceID)
			for _, e := range pool.Entries() {
				held[e.Branch.ENI.ID] = e.State
				states[e.State]++
			}
			vlans := map[int32]string{}
			out, err := f.DescribeTrunkInterfaceAssociations(t.Context(), &ec2.DescribeTrunkInterfaceAssociationsInput{
				Filters:    []types.Filter{{Name: aws.String("trunk-interface-association.trunk-interface-id"), Values: []string{info.TrunkENIID}}},
				MaxResults: aws.Int32(255),
			})
			require.NoError(t, err)
			for _, a := range out.InterfaceAssociations {
				v := aws.ToInt32(a.VlanId)
				require.Empty(t, vlans[v], "VLAN %d shared on trunk %s", v, info.TrunkENIID)
				vlans[v] = aws.ToString(a.BranchInterfaceId)
			}
		}
		all := branchENIs(t, f)
		for id := range all {
			st, ok := held[id]
			require.True(t, ok, "EC2 holds branch ENI %s that no pool holds", id)
			require.Contains(t, []eni.State{eni.StateInUse, eni.StateCooling, eni.StateWarm}, st, "ENI %s", id)
		}
		mt := m.Metrics()
		var errs, lost, total int
		for _, c := range f.AllCounts() {
			errs += c.Errors
			lost += c.Lost
			total += c.Calls
		}
		require.GreaterOrEqual(t, done.Load(), int64(lifecycles))
		require.Positive(t, crashes.Load())
		require.Positive(t, notFound.Load()+mt.NotFoundRetries, "EC2's lag was met")
		t.Logf("chaos lifecycles=%d started=%d live_pods=%d crashes=%d no_capacity=%d acquire_errors=%d "+
			"ec2_calls=%d throttled=%d retried=%d not_found_retried=%d errors=%d lost=%d branch_enis=%d in_use=%d cooling=%d warm=%d gc_deleted=%d last_manager_warm_hits=%d virtual_s=%.0f",
			done.Load(), started.Load(), livePods, crashes.Load(), noCap.Load(), acquireErrs.Load(),
			total, throttles.Load()+mt.Throttles, retries.Load()+mt.Retries, notFound.Load()+mt.NotFoundRetries, errs, lost, len(all),
			states[eni.StateInUse], states[eni.StateCooling], states[eni.StateWarm],
			gc1.Deleted+gc2.Deleted, mt.Pools.WarmHits, time.Since(time.Unix(946684800, 0)).Seconds())
		ctl.m.Close()
		ctl.stop()
	})
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b [20]byte
	n := len(b)
	for i > 0 {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
	}
	return string(b[n:])
}

// rwGate is a readers–writer lock whose waiters block on channels, which a
// synctest bubble counts as durably blocked (a sync.RWMutex waiter is not,
// and would stop virtual time while the writer waits on EC2).
type rwGate struct {
	mu      sync.Mutex
	readers int
	writer  bool
	queued  int
	wake    chan struct{}
}

func (g *rwGate) wait() {
	if g.wake == nil {
		g.wake = make(chan struct{})
	}
	ch := g.wake
	g.mu.Unlock()
	<-ch
	g.mu.Lock()
}

func (g *rwGate) release() {
	if g.wake != nil {
		close(g.wake)
		g.wake = nil
	}
}

func (g *rwGate) RLock() {
	g.mu.Lock()
	for g.writer || g.queued > 0 {
		g.wait()
	}
	g.readers++
	g.mu.Unlock()
}

func (g *rwGate) RUnlock() {
	g.mu.Lock()
	if g.readers--; g.readers == 0 {
		g.release()
	}
	g.mu.Unlock()
}

func (g *rwGate) Lock() {
	g.mu.Lock()
	g.queued++
	for g.writer || g.readers > 0 {
		g.wait()
	}
	g.queued--
	g.writer = true
	g.mu.Unlock()
}

func (g *rwGate) Unlock() {
	g.mu.Lock()
	g.writer = false
	g.release()
	g.mu.Unlock()
}
