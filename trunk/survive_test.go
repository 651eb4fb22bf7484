package trunk_test

import (
	"context"
	"errors"
	"maps"
	"runtime"
	"slices"
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

// Scenarios every cluster meets: node churn, restarts and concurrent calls.

// TestReconcileAllServesHealthyNodes rebuilds healthy nodes together with an
// instance EC2 no longer knows, a terminated one and a t3 (which cannot
// trunk), all in one DescribeInstances batch: the healthy nodes are served,
// the others reported.
func TestReconcileAllServesHealthyNodes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := fake.New()
		_, nodes := seedBranches(t, f, "c1", 3, 2)
		vpc := f.AddVPC("10.1.0.0/16")
		subnet := f.AddSubnet(vpc, "10.1.0.0/16", "")
		small := f.AddNode("t3.large", subnet)
		gone := f.AddNode("m5.large", subnet)
		_, err := f.TerminateInstances(t.Context(), &ec2.TerminateInstancesInput{InstanceIds: []string{gone.InstanceID}})
		require.NoError(t, err)
		const vanished = "i-0123456789abcdef0" // well formed, unknown to EC2
		all := append([]trunk.NodePods{{InstanceID: vanished, Complete: true}}, nodes...)
		all = append(all, trunk.NodePods{InstanceID: small.InstanceID, Complete: true}, trunk.NodePods{InstanceID: gone.InstanceID, Complete: true})

		m, err := trunk.New(f, trunk.Options{ClusterName: "c1"})
		require.NoError(t, err)
		res, err := m.ReconcileAll(t.Context(), all)
		require.NoError(t, err, "one bad node does not fail the rebuild")
		require.Len(t, res, len(all))
		for _, np := range nodes {
			r := res[np.InstanceID]
			require.NoError(t, r.Err, "node %s", np.InstanceID)
			require.Equal(t, 2, r.Claimed, "node %s", np.InstanceID)
			_, err := m.Acquire(t.Context(), np.InstanceID, pod(1), eni.MustGroupSet(f.DefaultSecurityGroup(vpc)))
			require.Error(t, err, "groups of another VPC")
		}
		require.ErrorIs(t, res[vanished].Err, trunk.ErrUnknownNode)
		require.ErrorContains(t, res[vanished].Err, vanished)
		require.ErrorIs(t, res[gone.InstanceID].Err, trunk.ErrUnknownNode)
		require.ErrorIs(t, res[small.InstanceID].Err, trunk.ErrTrunkingUnsupported)
		require.ErrorContains(t, res[small.InstanceID].Err, "t3.large")
		require.Len(t, m.Nodes(), len(nodes), "only the healthy nodes are served")
	})
}

// TestRemoveNodeRacingAcquire removes a node while Acquire calls are setting
// it up, and then again and again while eight goroutines acquire and release
// ENIs on it, against an eventually consistent EC2. Nothing panics, every
// Acquire either succeeds or says the node went away (the set-up of the
// removed node and that of the node added again race to attach a trunk: the
// one that loses takes the winner's trunk and deletes its own), and once the
// node is removed for good EC2 holds none of its branch ENIs and no
// unattached trunk.
func TestRemoveNodeRacingAcquire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, tut := seedTutorial(t)
		f.SetThrottling(false)
		f.SetConsistency(fake.EventualConsistency())
		m, err := trunk.New(f, trunk.Options{ClusterName: tut.ClusterName})
		require.NoError(t, err)
		node := tut.Nodes[0].InstanceID
		groups := eni.MustGroupSet(tut.PodSecurityGroupID)
		acceptable := func(err error) bool {
			return err == nil || errors.Is(err, trunk.ErrUnknownNode) || errors.Is(err, eni.ErrPoolClosed) || errors.Is(err, eni.ErrNoCapacity)
		}

		// The node is removed while its set-up waits for DescribeInstances;
		// a third Acquire starts setting it up anew.
		f.SetLatency(fake.ActionDescribeInstances, fake.Latency{Base: time.Second})
		var wg sync.WaitGroup
		// Errors are gathered without blocking (a full channel would leave
		// the goroutines stuck and the bubble deadlocked), and reported
		// from the test's goroutine.
		var errMu sync.Mutex
		var errs []error
		report := func(err error) {
			errMu.Lock()
			errs = append(errs, err)
			errMu.Unlock()
		}
		for i := range 3 {
			wg.Go(func() {
				time.Sleep(time.Duration(i) * 600 * time.Millisecond)
				if _, err := m.Acquire(t.Context(), node, pod(i), groups); !acceptable(err) {
					report(err)
				}
			})
		}
		time.Sleep(500 * time.Millisecond)
		require.NoError(t, m.RemoveNode(t.Context(), node))
		wg.Wait()
		f.SetLatency(fake.ActionDescribeInstances, fake.Latency{})

		// Removals in a loop against eight acquiring goroutines.
		for round := range 20 {
			for g := range 8 {
				wg.Go(func() {
					for i := range 300 {
						p := pod(round*100000 + g*1000 + i)
						_, err := m.Acquire(t.Context(), node, p, groups)
						if err == nil {
							m.Release(node, p)
						} else if !acceptable(err) {
							report(err)
							return
						}
					}
				})
			}
			for range 300 {
				if err := m.RemoveNode(t.Context(), node); err != nil {
					report(err)
					break
				}
				runtime.Gosched()
			}
			wg.Wait()
		}
		require.Empty(t, errs)
		require.NoError(t, m.RemoveNode(t.Context(), node))
		none := func(string) bool { return false }
		require.Empty(t, ids(branchENIsSettled(t, f, none)), "the removed node's ENIs are deleted")
		out, err := f.DescribeNetworkInterfaces(t.Context(), &ec2.DescribeNetworkInterfacesInput{Filters: []types.Filter{
			{Name: aws.String("description"), Values: []string{trunk.TrunkDescription}},
			{Name: aws.String("status"), Values: []string{string(types.NetworkInterfaceStatusAvailable)}},
		}})
		require.NoError(t, err)
		require.Empty(t, out.NetworkInterfaces, "no trunk left unattached by set-ups racing each other")
	})
}

// TestOverlappingReconcileAll runs rebuilds of the same nodes, listed in
// opposite orders, at the same time: both finish, and the nodes serve pods
// afterwards.
func TestOverlappingReconcileAll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := fake.New()
		sg, nodes := seedBranches(t, f, "c1", 6, 2)
		f.SetLatency("", fake.Latency{Base: 10 * time.Millisecond, Jitter: 40 * time.Millisecond})
		m, err := trunk.New(f, trunk.Options{ClusterName: "c1"})
		require.NoError(t, err)
		reversed := make([]trunk.NodePods, len(nodes))
		for i, np := range nodes {
			reversed[len(nodes)-1-i] = np
		}
		for round := range 10 {
			var wg sync.WaitGroup
			for _, list := range [][]trunk.NodePods{nodes, reversed, nodes[2:], reversed[1:]} {
				wg.Go(func() {
					_, err := m.ReconcileAll(t.Context(), list)
					if err != nil {
						t.Errorf("round %d: %v", round, err)
					}
				})
			}
			wg.Wait()
		}
		for _, np := range nodes {
			_, err := m.Acquire(t.Context(), np.InstanceID, pod(1), eni.MustGroupSet(sg))
			require.NoError(t, err)
		}
	})
}

// TestAcquireWaitEndsWithContext makes a rebuild hold a node for an hour
// (EC2 answers its listing slowly): an Acquire on that node gives up when its
// context ends instead of waiting for the rebuild.
func TestAcquireWaitEndsWithContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := fake.New()
		sg, nodes := seedBranches(t, f, "c1", 1, 1)
		m, err := trunk.New(f, trunk.Options{ClusterName: "c1"})
		require.NoError(t, err)
		_, err = m.EnsureNode(t.Context(), nodes[0].InstanceID)
		require.NoError(t, err)
		f.SetLatency(fake.ActionDescribeNetworkInterfaces, fake.Latency{Base: time.Hour})
		var wg sync.WaitGroup
		wg.Go(func() { _, _ = m.ReconcileAll(t.Context(), nodes) })
		synctest.Wait()
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		start := time.Now()
		_, err = m.Acquire(ctx, nodes[0].InstanceID, pod(9), eni.MustGroupSet(sg))
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Equal(t, time.Second, time.Since(start))
		wg.Wait()
	})
}

// TestTrunkAfterFailedAttach fails the attachment of a node's new trunk;
// garbage collection then deletes the unattached trunk. The node must get a
// new trunk on the next try, not the deleted one back from the ClientToken.
func TestTrunkAfterFailedAttach(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, tut := seedTutorial(t)
		m, err := trunk.New(f, trunk.Options{ClusterName: tut.ClusterName})
		require.NoError(t, err)
		node := tut.Nodes[0].InstanceID
		f.InjectFault(fake.Fault{Action: fake.ActionAttachNetworkInterface, Code: fake.CodeUnauthorizedOperation, OnCall: 1})
		_, err = m.EnsureNode(t.Context(), node)
		require.Equal(t, fake.CodeUnauthorizedOperation, trunk.ErrorCode(err))
		for range 2 {
			_, err := m.CollectGarbage(t.Context())
			require.NoError(t, err)
		}
		require.Equal(t, 1, f.Count(fake.ActionDeleteNetworkInterface).OK, "the unattached trunk was collected")
		info, err := m.EnsureNode(t.Context(), node)
		require.NoError(t, err)
		ni := describe(t, f, info.TrunkENIID)
		require.Equal(t, node, aws.ToString(ni.Attachment.InstanceId))
	})
}

// TestReadersDoNotWaitForNodeSetup sets a node up whose trunk takes a minute
// and a half to attach: Metrics, Nodes and garbage collection answer at once
// meanwhile.
func TestReadersDoNotWaitForNodeSetup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, tut := seedTutorial(t)
		m, err := trunk.New(f, trunk.Options{ClusterName: tut.ClusterName})
		require.NoError(t, err)
		_, err = m.EnsureNode(t.Context(), tut.Nodes[1].InstanceID)
		require.NoError(t, err)
		f.SetLatency(fake.ActionAttachNetworkInterface, fake.Latency{Base: 90 * time.Second})
		var wg sync.WaitGroup
		wg.Go(func() {
			if _, err := m.EnsureNode(t.Context(), tut.Nodes[0].InstanceID); err != nil {
				t.Error(err)
			}
		})
		time.Sleep(time.Second)
		start := time.Now()
		require.Equal(t, 1, m.Metrics().Nodes)
		require.Len(t, m.Nodes(), 1)
		_, err = m.CollectGarbage(t.Context())
		require.NoError(t, err)
		// Background calls yield a nanosecond to pod starts (Budget): far
		// from the minute and a half the setup takes.
		require.Less(t, time.Since(start), time.Millisecond, "readers do not wait for a node being set up")
		wg.Wait()
		require.Len(t, m.Nodes(), 2)
	})
}

// TestUnusableCreateAnswerCleanedUp gets an answer to CreateNetworkInterface
// it cannot use (no private IP) and fails the first attempt to delete that
// ENI: the ENI is deleted later all the same, without waiting for garbage
// collection.
func TestUnusableCreateAnswerCleanedUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, tut := seedTutorial(t)
		m, err := trunk.New(noIP{f}, trunk.Options{ClusterName: tut.ClusterName, GCInterval: -1, Policy: noPrewarm})
		require.NoError(t, err)
		defer run(t, m)()
		node := tut.Nodes[0].InstanceID
		_, err = m.EnsureNode(t.Context(), node)
		require.NoError(t, err)
		f.InjectFault(fake.Fault{Action: fake.ActionDeleteNetworkInterface, Code: fake.CodeUnauthorizedOperation, OnCall: 1})
		_, err = m.Acquire(t.Context(), node, pod(1), eni.MustGroupSet(tut.PodSecurityGroupID))
		require.ErrorContains(t, err, "private IP")
		sleepPast(5 * time.Minute)
		require.Empty(t, slices.Collect(maps.Keys(branchENIs(t, f))))
	})
}

// noIP answers CreateNetworkInterface without the ENI's private IP.
type noIP struct{ *fake.EC2 }

func (n noIP) CreateNetworkInterface(ctx context.Context, in *ec2.CreateNetworkInterfaceInput, o ...func(*ec2.Options)) (*ec2.CreateNetworkInterfaceOutput, error) {
	out, err := n.EC2.CreateNetworkInterface(ctx, in, o...)
	if err == nil && in.InterfaceType == "" {
		ni := *out.NetworkInterface
		ni.PrivateIpAddress = nil
		out = &ec2.CreateNetworkInterfaceOutput{NetworkInterface: &ni}
	}
	return out, err
}

// TestBudgetRefundsOnCancel cancels a call waiting for the client-wide
// bucket after it took its action's token: the action's token comes back.
func TestBudgetRefundsOnCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, err := trunk.NewBudget(trunk.BudgetOptions{
			Actions:  map[string]trunk.Rate{"A": {Burst: 2, PerSecond: 0.001}},
			Client:   trunk.Rate{Burst: 1, PerSecond: 0.01},
			Headroom: -1, Reserve: -1, PerAction: true,
		})
		require.NoError(t, err)
		require.NoError(t, b.Wait(t.Context(), "A", trunk.PriorityPodStart))
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		require.ErrorIs(t, b.Wait(ctx, "A", trunk.PriorityPodStart), context.DeadlineExceeded)
		cancel()
		time.Sleep(200 * time.Second) // the client bucket refills
		ctx, cancel = context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		require.NoError(t, b.Wait(ctx, "A", trunk.PriorityPodStart), "the cancelled call's action token was given back")
	})
}

// TestRunWaitsForGarbageCollection stops Run while a garbage-collection
// pass is in an EC2 call: Run returns only after the pass has ended.
func TestRunWaitsForGarbageCollection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, tut := seedTutorial(t)
		slow := &slowList{EC2: f, release: make(chan struct{})}
		m, err := trunk.New(slow, trunk.Options{ClusterName: tut.ClusterName, GCInterval: time.Minute})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			_ = m.Run(ctx)
			close(done)
		}()
		time.Sleep(time.Minute + time.Second)
		synctest.Wait()
		require.True(t, slow.inCall(), "a pass is listing")
		cancel()
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("Run returned while its garbage collection was still calling EC2")
		default:
		}
		close(slow.release)
		<-done
		require.False(t, slow.inCall())
	})
}

// slowList holds every DescribeNetworkInterfaces call until release is
// closed, whatever its context says, as a request already on the wire does.
type slowList struct {
	*fake.EC2
	release chan struct{}
	mu      sync.Mutex
	n       int
}

func (s *slowList) inCall() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n > 0
}

func (s *slowList) DescribeNetworkInterfaces(ctx context.Context, in *ec2.DescribeNetworkInterfacesInput, o ...func(*ec2.Options)) (*ec2.DescribeNetworkInterfacesOutput, error) {
	s.mu.Lock()
	s.n++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.n--
		s.mu.Unlock()
	}()
	<-s.release
	return s.EC2.DescribeNetworkInterfaces(ctx, in, o...)
}

// TestRunAgainMaintainsEveryNode stops Run while nodes are due for
// maintenance and its one worker is busy: a second Run maintains every node,
// including those the first had taken off the queue.
func TestRunAgainMaintainsEveryNode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, tut := seedTutorial(t)
		m, err := trunk.New(f, trunk.Options{ClusterName: tut.ClusterName, Workers: 1, GCInterval: -1,
			Policy: eni.Policy{MaxWarm: eni.NoWarm, Prewarm: eni.PrewarmPolicy{Window: eni.NoPrewarm}}})
		require.NoError(t, err)
		groups := eni.MustGroupSet(tut.PodSecurityGroupID)
		for i := range 3 {
			_, err := m.Acquire(t.Context(), tut.Nodes[i].InstanceID, pod(i), groups)
			require.NoError(t, err)
		}
		for i := range 3 {
			m.Release(tut.Nodes[i].InstanceID, pod(i))
		}
		f.SetLatency(fake.ActionDisassociateTrunkInterface, fake.Latency{Base: 10 * time.Second})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			_ = m.Run(ctx)
			close(done)
		}()
		time.Sleep(eni.DefaultCoolDown + time.Second) // the worker is deleting the first node's ENI
		cancel()
		<-done
		f.SetLatency(fake.ActionDisassociateTrunkInterface, fake.Latency{})
		defer run(t, m)()
		sleepPast(5 * time.Minute)
		require.Empty(t, slices.Collect(maps.Keys(branchENIs(t, f))), "every node's cooled ENI deleted")
	})
}

// TestAcquireBeforeRebuild serves a pod on a node whose trunk already has
// branch ENIs, before any rebuild: the new ENI gets a VLAN of its own, and
// the node's ENIs are held (not released: no pod list vouches for it).
func TestAcquireBeforeRebuild(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := fake.New()
		sg, nodes := seedBranches(t, f, "c1", 1, 3)
		m, err := trunk.New(f, trunk.Options{ClusterName: "c1"})
		require.NoError(t, err)
		res, err := m.Acquire(t.Context(), nodes[0].InstanceID, pod(1), eni.MustGroupSet(sg))
		require.NoError(t, err)
		require.Equal(t, 4, res.Branch.ENI.VLANID)
		p, _ := m.Pool(nodes[0].InstanceID)
		st := p.Stats()
		require.Equal(t, 4, st.InUse)
		require.Zero(t, st.Cooling)

		// The rebuild then sorts them out.
		r, err := m.ReconcileAll(t.Context(), nodes)
		require.NoError(t, err)
		require.NoError(t, r[nodes[0].InstanceID].Err)
		require.Equal(t, 3, r[nodes[0].InstanceID].Claimed)
	})
}

// TestReconcileKeepsENIsGivenAfterListing starts a rebuild whose pod list
// was taken before a pod started: while the rebuild sets up a new node, the
// pod gets its ENI on a node the rebuild then reconciles. The pod keeps its
// ENI in use; the list could not name it.
func TestReconcileKeepsENIsGivenAfterListing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, tut := seedTutorial(t)
		m, err := trunk.New(f, trunk.Options{ClusterName: tut.ClusterName})
		require.NoError(t, err)
		node, fresh := tut.Nodes[0].InstanceID, tut.Nodes[1].InstanceID
		groups := eni.MustGroupSet(tut.PodSecurityGroupID)
		_, err = m.EnsureNode(t.Context(), node)
		require.NoError(t, err)
		list := []trunk.NodePods{{InstanceID: node, Complete: true}, {InstanceID: fresh, Complete: true}}

		f.SetLatency(fake.ActionDescribeInstances, fake.Latency{Base: 5 * time.Second})
		var wg sync.WaitGroup
		wg.Go(func() {
			res, err := m.ReconcileAll(t.Context(), list)
			if err != nil || res[node].Err != nil || res[fresh].Err != nil {
				t.Errorf("ReconcileAll: %v %+v", err, res)
			}
		})
		time.Sleep(time.Second)
		got, err := m.Acquire(t.Context(), node, pod(1), groups) // a pod created after the listing
		require.NoError(t, err)
		wg.Wait()
		p, _ := m.Pool(node)
		b, ok := p.Lookup(pod(1))
		require.True(t, ok, "the pod still holds its ENI")
		require.Equal(t, got.Branch.ENI.ID, b.ENI.ID)
		require.Zero(t, p.Stats().Cooling)
	})
}

// TestReconcileStaleClaim starts a rebuild whose pod list names pod A with
// its ENI; while the rebuild is held up, A ends, its ENI cools down and pod
// B gets it. The rebuild's list is older than that: B keeps the ENI.
func TestReconcileStaleClaim(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, tut := seedTutorial(t)
		m, err := trunk.New(f, trunk.Options{ClusterName: tut.ClusterName, Policy: eni.Policy{CoolDown: eni.MinCoolDown}})
		require.NoError(t, err)
		defer run(t, m)()
		node, fresh := tut.Nodes[0].InstanceID, tut.Nodes[1].InstanceID
		groups := eni.MustGroupSet(tut.PodSecurityGroupID)
		a, err := m.Acquire(t.Context(), node, pod(1), groups)
		require.NoError(t, err)
		list := []trunk.NodePods{
			{InstanceID: node, Complete: true, Pods: []eni.LivePod{{Pod: pod(1), ENIID: a.Branch.ENI.ID}}},
			{InstanceID: fresh, Complete: true},
		}

		f.SetLatency(fake.ActionDescribeInstances, fake.Latency{Base: 2 * time.Minute})
		var wg sync.WaitGroup
		wg.Go(func() {
			if _, err := m.ReconcileAll(t.Context(), list); err != nil {
				t.Error(err)
			}
		})
		time.Sleep(time.Second)
		m.Release(node, pod(1))
		time.Sleep(eni.MinCoolDown + time.Second)
		b, err := m.Acquire(t.Context(), node, pod(2), groups)
		require.NoError(t, err)
		require.Equal(t, a.Branch.ENI.ID, b.Branch.ENI.ID, "the warm ENI is reused")
		wg.Wait()

		p, _ := m.Pool(node)
		got, ok := p.Lookup(pod(2))
		require.True(t, ok, "pod 2 still holds its ENI")
		require.Equal(t, b.Branch.ENI.ID, got.ENI.ID)
		_, ok = p.Lookup(pod(1))
		require.False(t, ok, "the ended pod holds nothing")
	})
}

// TestTrunkNotListedYet sets nodes up while EC2 knows a new ENI only after
// 5 s (eventual consistency): attaching the new trunk, and waiting for the
// attachment, ask again on NotFound instead of failing the set-up, and a
// lost answer to the attachment is settled from the instance.
func TestTrunkNotListedYet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, tut := seedTutorial(t)
		f.SetConsistency(fake.Consistency{Create: fake.Fixed(5 * time.Second)})
		m, err := trunk.New(f, trunk.Options{ClusterName: tut.ClusterName})
		require.NoError(t, err)
		info, err := m.EnsureNode(t.Context(), tut.Nodes[0].InstanceID)
		require.NoError(t, err)
		require.Len(t, m.Nodes(), 1)
		time.Sleep(5 * time.Second)
		ni := describe(t, f, info.TrunkENIID)
		require.Equal(t, types.AttachmentStatusAttached, ni.Attachment.Status)

		// The answer to the attachment is lost too: the retry is refused
		// (already attached), and the instance, not the trunk, tells.
		f.InjectFault(fake.Fault{Action: fake.ActionAttachNetworkInterface, Lost: true, OnCall: 1})
		info, err = m.EnsureNode(t.Context(), tut.Nodes[1].InstanceID)
		require.NoError(t, err)
		time.Sleep(5 * time.Second)
		ni = describe(t, f, info.TrunkENIID)
		require.Equal(t, tut.Nodes[1].InstanceID, aws.ToString(ni.Attachment.InstanceId))
		require.True(t, aws.ToBool(ni.Attachment.DeleteOnTermination))
	})
}
