package trunk_test

import (
	"context"
	"maps"
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

// Scenarios of EC2's eventual consistency (fake.Consistency): an ID EC2
// has just handed out is unknown to the calls that follow for a moment,
// associations and deletions show in listings only after a while. The
// Manager must do what EC2 asks of its clients: retry NotFound on the IDs
// it was just given, and never conclude from one listing that an ENI is
// gone.

// ids returns the keys of a map of ENIs, sorted.
func ids[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// TestFreshBranchAssociated gives a pod a new ENI while EC2 takes a while to
// know a new ENI. By default the Manager lists the ENI until EC2 knows it and
// only then associates it: no association is answered NotFound. With
// OnDemandOptions (the production controller's way) it associates at once,
// EC2 answers NotFound, and the Manager asks again; so it does when EC2
// takes longer to know the ENI than the Manager waits for the listing. The
// pod gets its ENI either way, and nothing is left behind.
func TestFreshBranchAssociated(t *testing.T) {
	tests := []struct {
		name     string
		opts     trunk.Options
		lag      time.Duration
		notFound bool // associations answered NotFound
		listed   bool // DescribeNetworkInterfaces listings before the association
	}{
		{"listed first", trunk.Options{Policy: noPrewarm}, 3 * time.Second, false, true},
		{"at once", trunk.OnDemandOptions(""), 3 * time.Second, true, false},
		{"listing gives up", trunk.Options{Policy: noPrewarm}, 15 * time.Second, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f, tut := seedTutorial(t)
				opts := tt.opts
				opts.ClusterName, opts.GCInterval = tut.ClusterName, -1
				m, err := trunk.New(f, opts)
				require.NoError(t, err)
				node := tut.Nodes[0].InstanceID
				_, err = m.EnsureNode(t.Context(), node)
				require.NoError(t, err)
				f.SetConsistency(fake.Consistency{Create: fake.Fixed(tt.lag)})
				lists := f.Count(fake.ActionDescribeNetworkInterfaces).Calls

				res, err := m.Acquire(t.Context(), node, pod(1), eni.MustGroupSet(tut.PodSecurityGroupID))
				require.NoError(t, err)
				assoc := f.Count(fake.ActionAssociateTrunkInterface)
				require.Equal(t, tt.notFound, assoc.Errors > 0, "associations answered NotFound: %d", assoc.Errors)
				require.Equal(t, tt.listed, f.Count(fake.ActionDescribeNetworkInterfaces).Calls > lists, "listings before the association")
				require.Equal(t, 1, assoc.OK)
				require.Equal(t, uint64(assoc.Errors), m.Metrics().NotFoundRetries, "every NotFound was retried, and counted")
				time.Sleep(10 * time.Second)
				require.Equal(t, []string{res.Branch.ENI.ID}, ids(branchENIs(t, f)), "one ENI, the pod's")
			})
		})
	}
}

// TestRollbackDeletesFreshENI refuses the association of a pod's new ENI
// while EC2 does not know that ENI yet: deleting it answers NotFound, which
// for an ID this fresh means "not yet", not "gone". The Manager deletes it
// once EC2 knows it; no ENI is left behind for garbage collection.
func TestRollbackDeletesFreshENI(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, tut := seedTutorial(t)
		m, err := trunk.New(f, trunk.Options{ClusterName: tut.ClusterName, GCInterval: -1, Policy: noPrewarm})
		require.NoError(t, err)
		node := tut.Nodes[0].InstanceID
		_, err = m.EnsureNode(t.Context(), node)
		require.NoError(t, err)
		f.SetConsistency(fake.Consistency{Create: fake.Fixed(3 * time.Second)})
		f.InjectFault(fake.Fault{Action: fake.ActionAssociateTrunkInterface, Code: fake.CodeUnauthorizedOperation, OnCall: 1})

		_, err = m.Acquire(t.Context(), node, pod(1), eni.MustGroupSet(tut.PodSecurityGroupID))
		require.Equal(t, fake.CodeUnauthorizedOperation, trunk.ErrorCode(err))
		require.ErrorContains(t, err, "the ENI was deleted")
		require.Equal(t, 1, f.Count(fake.ActionDeleteNetworkInterface).OK, "deleted once EC2 knew it")
		time.Sleep(10 * time.Second)
		require.Empty(t, ids(branchENIs(t, f)), "no ENI leaked")
		p, _ := m.Pool(node)
		require.Zero(t, p.Stats().Total(), "no VLAN held")
	})
}

// TestRemoveNodeRightAfterAcquire removes a node moments after its pods got
// their ENIs, while EC2 does not know their associations yet (10 s):
// DisassociateTrunkInterface answers NotFound for an association EC2
// handed out moments before, and neither the association nor its ENI is
// taken for gone. RemoveNode succeeds at once and every ENI is deleted.
func TestRemoveNodeRightAfterAcquire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, tut := seedTutorial(t)
		m, err := trunk.New(f, trunk.Options{ClusterName: tut.ClusterName, GCInterval: -1, Policy: noPrewarm})
		require.NoError(t, err)
		node := tut.Nodes[0].InstanceID
		_, err = m.EnsureNode(t.Context(), node)
		require.NoError(t, err)
		f.SetConsistency(fake.Consistency{Associate: fake.Fixed(10 * time.Second)})
		for i := range 3 {
			_, err := m.Acquire(t.Context(), node, pod(i), eni.MustGroupSet(tut.PodSecurityGroupID))
			require.NoError(t, err)
		}
		m.Release(node, pod(0))

		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		require.NoError(t, m.RemoveNode(ctx, node))
		require.Equal(t, 3, f.Count(fake.ActionDisassociateTrunkInterface).OK)
		require.Equal(t, 3, f.Count(fake.ActionDeleteNetworkInterface).OK)
		require.Zero(t, f.Count(fake.ActionDeleteNetworkInterface).Errors, "no ENI deleted while still associated")
		require.Zero(t, m.Metrics().Pools.Failures)
		require.Empty(t, ids(branchENIs(t, f)))
	})
}

// TestReconcileAssociationListedLate rebuilds a node whose pod got its ENI
// moments before, while EC2 lists new associations only after 3 minutes
// (its guidance: retry for up to five): until then the ENI is listed as
// an available interface. Rebuilds at 0 s and 150 s keep the pod's ENI in
// the pool and report nothing missing; the rebuild after the association
// shows finds the ENI where it was.
func TestReconcileAssociationListedLate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, tut := seedTutorial(t)
		m, err := trunk.New(f, trunk.Options{ClusterName: tut.ClusterName, GCInterval: -1, Policy: noPrewarm})
		require.NoError(t, err)
		node := tut.Nodes[0].InstanceID
		_, err = m.EnsureNode(t.Context(), node)
		require.NoError(t, err)
		f.SetConsistency(fake.Consistency{Associate: fake.Fixed(3 * time.Minute)})
		got, err := m.Acquire(t.Context(), node, pod(1), eni.MustGroupSet(tut.PodSecurityGroupID))
		require.NoError(t, err)
		list := []trunk.NodePods{{InstanceID: node, Complete: true, Pods: []eni.LivePod{{Pod: pod(1), ENIID: got.Branch.ENI.ID}}}}
		start := time.Now()
		for _, at := range []time.Duration{0, 150 * time.Second, 200 * time.Second} {
			time.Sleep(time.Until(start.Add(at)))
			res, err := m.ReconcileAll(t.Context(), list)
			require.NoError(t, err)
			r := res[node]
			require.NoError(t, r.Err)
			require.Zero(t, r.Gone, "at %v", at)
			require.Empty(t, r.Missing, "at %v", at)
			p, _ := m.Pool(node)
			b, ok := p.Lookup(pod(1))
			require.True(t, ok, "at %v: the pod still holds its ENI", at)
			require.Equal(t, got.Branch.ENI, b.ENI)
			require.Equal(t, 1, p.Stats().Total(), "at %v", at)
		}
		require.Equal(t, []string{got.Branch.ENI.ID}, ids(branchENIs(t, f)))
	})
}

// TestRebuildAfterCrashAssociationListedLate crashes the controller moments
// after a pod got its ENI, while EC2 lists the association only after
// 20 s: the new Manager's rebuild sees the pod's ENI as an available
// interface. It keeps it for the pod, on the VLAN its tags name, instead of
// reporting the pod missing and handing that VLAN to the next pod.
func TestRebuildAfterCrashAssociationListedLate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, tut := seedTutorial(t)
		opts := trunk.Options{ClusterName: tut.ClusterName, GCInterval: -1, Policy: noPrewarm}
		m1, err := trunk.New(f, opts)
		require.NoError(t, err)
		node := tut.Nodes[0].InstanceID
		groups := eni.MustGroupSet(tut.PodSecurityGroupID)
		_, err = m1.EnsureNode(t.Context(), node)
		require.NoError(t, err)
		f.SetConsistency(fake.Consistency{Associate: fake.Fixed(20 * time.Second)})
		got, err := m1.Acquire(t.Context(), node, pod(1), groups)
		require.NoError(t, err)
		m1.Close()

		m2, err := trunk.New(f, opts)
		require.NoError(t, err)
		list := []trunk.NodePods{{InstanceID: node, Complete: true, Pods: []eni.LivePod{{Pod: pod(1), ENIID: got.Branch.ENI.ID}}}}
		res, err := m2.ReconcileAll(t.Context(), list)
		require.NoError(t, err)
		require.NoError(t, res[node].Err)
		require.Empty(t, res[node].Missing, "the pod's ENI is there, only listed late")
		p, _ := m2.Pool(node)
		b, ok := p.Lookup(pod(1))
		require.True(t, ok, "the pod keeps its ENI")
		require.Equal(t, got.Branch.ENI.VLANID, b.ENI.VLANID)

		errs := f.Count(fake.ActionAssociateTrunkInterface).Errors
		other, err := m2.Acquire(t.Context(), node, pod(2), groups)
		require.NoError(t, err)
		require.NotEqual(t, got.Branch.ENI.VLANID, other.Branch.ENI.VLANID)
		require.Equal(t, errs, f.Count(fake.ActionAssociateTrunkInterface).Errors, "no association refused for a VLAN in use")
	})
}

// hideOnce answers the next DescribeNetworkInterfaces listings without the
// ENIs in hide, as an eventually consistent listing may.
type hideOnce struct {
	*fake.EC2
	mu    sync.Mutex
	hide  map[string]bool
	times int // listings left to hide them from
}

func (h *hideOnce) set(times int, ids ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.times, h.hide = times, map[string]bool{}
	for _, id := range ids {
		h.hide[id] = true
	}
}

func (h *hideOnce) DescribeNetworkInterfaces(ctx context.Context, in *ec2.DescribeNetworkInterfacesInput, o ...func(*ec2.Options)) (*ec2.DescribeNetworkInterfacesOutput, error) {
	out, err := h.EC2.DescribeNetworkInterfaces(ctx, in, o...)
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil || h.times == 0 || len(in.Filters) == 0 {
		return out, err
	}
	h.times--
	cp := *out
	cp.NetworkInterfaces = slices.DeleteFunc(slices.Clone(out.NetworkInterfaces), func(ni types.NetworkInterface) bool {
		return h.hide[aws.ToString(ni.NetworkInterfaceId)]
	})
	return &cp, nil
}

// TestReconcileOneListingLacksENI rebuilds a node from a listing that lacks
// one of its ENIs: the pool keeps it and its pod is not reported missing,
// since one listing proves nothing. Only when the next rebuild's listing
// lacks it too is it forgotten and its pod reported.
func TestReconcileOneListingLacksENI(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := fake.New()
		_, nodes := seedBranches(t, f, "c1", 1, 3)
		h := &hideOnce{EC2: f}
		m, err := trunk.New(h, trunk.Options{ClusterName: "c1", GCInterval: -1})
		require.NoError(t, err)
		node, lacking := nodes[0].InstanceID, nodes[0].Pods[1]
		res, err := m.ReconcileAll(t.Context(), nodes)
		require.NoError(t, err)
		require.Equal(t, 3, res[node].Claimed)

		h.set(1, lacking.ENIID)
		res, err = m.ReconcileAll(t.Context(), nodes)
		require.NoError(t, err)
		require.Zero(t, res[node].Gone, "one listing lacked it")
		require.Empty(t, res[node].Missing)
		p, _ := m.Pool(node)
		_, ok := p.Lookup(lacking.Pod)
		require.True(t, ok)
		require.Equal(t, 3, p.Stats().InUse)

		res, err = m.ReconcileAll(t.Context(), nodes)
		require.NoError(t, err)
		require.Zero(t, res[node].Gone, "listed again")
		require.Empty(t, res[node].Missing)

		h.set(2, lacking.ENIID)
		for range 2 {
			res, err = m.ReconcileAll(t.Context(), nodes)
			require.NoError(t, err)
		}
		require.Equal(t, 1, res[node].Gone, "two listings in a row lacked it")
		require.Equal(t, []eni.PodRef{lacking.Pod}, res[node].Missing)
	})
}

// TestDeletedENIListedLate deletes a pod's ENI after its cool-down while
// EC2 keeps listing deleted ENIs, with their associations, for 30 s: the
// rebuild right after does not adopt the ENI the Manager itself deleted,
// which would hold a slot of the node for another cool-down.
func TestDeletedENIListedLate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, tut := seedTutorial(t)
		m, err := trunk.New(f, trunk.Options{ClusterName: tut.ClusterName, GCInterval: -1, Policy: eni.OnDemandPolicy()})
		require.NoError(t, err)
		defer run(t, m)()
		node := tut.Nodes[0].InstanceID
		f.SetConsistency(fake.Consistency{Detach: fake.Fixed(30 * time.Second), Delete: fake.Fixed(30 * time.Second)})
		_, err = m.Acquire(t.Context(), node, pod(1), eni.MustGroupSet(tut.PodSecurityGroupID))
		require.NoError(t, err)
		m.Release(node, pod(1))
		time.Sleep(eni.OnDemandPolicy().CoolDown + 5*time.Second)
		synctest.Wait()
		require.Equal(t, 1, f.Count(fake.ActionDeleteNetworkInterface).OK)
		require.Len(t, branchENIs(t, f), 1, "still listed")

		res, err := m.ReconcileAll(t.Context(), []trunk.NodePods{{InstanceID: node, Complete: true}})
		require.NoError(t, err)
		require.Zero(t, res[node].Adopted, "the Manager deleted it")
		p, _ := m.Pool(node)
		require.Zero(t, p.Stats().Total())
	})
}

// TestRebuildRightAfterDeletion restarts the controller moments after the
// previous one deleted a node's ENIs, while EC2 still lists deleted ENIs,
// associated, for 10 s. The new Manager's rebuild adopts what it lists, but
// an ENI that only that listing vouches for is not reused: the listing that
// confirms adopted ENIs no longer shows it, so a pod is never given an ENI
// that does not exist. An ENI that is there is confirmed and reused.
func TestRebuildRightAfterDeletion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, tut := seedTutorial(t)
		opts := trunk.Options{ClusterName: tut.ClusterName, GCInterval: -1, Policy: noPrewarm}
		groups := eni.MustGroupSet(tut.PodSecurityGroupID)
		gone, kept := tut.Nodes[0].InstanceID, tut.Nodes[1].InstanceID
		m1, err := trunk.New(f, opts)
		require.NoError(t, err)
		a, err := m1.Acquire(t.Context(), gone, pod(1), groups)
		require.NoError(t, err)
		b, err := m1.Acquire(t.Context(), kept, pod(2), groups)
		require.NoError(t, err)
		f.SetConsistency(fake.Consistency{Detach: fake.Fixed(10 * time.Second), Delete: fake.Fixed(10 * time.Second)})
		require.NoError(t, m1.RemoveNode(t.Context(), gone)) // its instance stays; its ENIs go
		m1.Close()
		require.Contains(t, branchENIs(t, f), a.Branch.ENI.ID, "still listed")

		m2, err := trunk.New(f, opts)
		require.NoError(t, err)
		res, err := m2.ReconcileAll(t.Context(), []trunk.NodePods{{InstanceID: gone, Complete: true}, {InstanceID: kept, Complete: true}})
		require.NoError(t, err)
		require.Equal(t, 1, res[gone].Released, "the listing shows the deleted ENI")
		require.Equal(t, 1, res[kept].Released)
		defer run(t, m2)()
		time.Sleep(eni.DefaultCoolDown + time.Second)
		synctest.Wait()

		got, err := m2.Acquire(t.Context(), gone, pod(3), groups)
		require.NoError(t, err)
		require.NotEqual(t, a.Branch.ENI.ID, got.Branch.ENI.ID, "not the deleted ENI")
		require.Equal(t, trunk.BranchDescription, aws.ToString(describe(t, f, got.Branch.ENI.ID).Description))
		before := f.AllCounts()
		got, err = m2.Acquire(t.Context(), kept, pod(4), groups)
		require.NoError(t, err)
		require.Equal(t, b.Branch.ENI.ID, got.Branch.ENI.ID, "the ENI that is there was confirmed and is reused")
		require.Equal(t, before, f.AllCounts(), "without an EC2 call")
	})
}

// TestRebuildRightAfterDisassociation restarts the controller after the
// previous one disassociated an ENI and crashed before deleting it, while
// EC2 lists the association for 10 s more: the rebuild adopts the ENI as
// associated, but the confirming listing shows it available, so it is
// deleted after its cool-down instead of being handed to a pod.
func TestRebuildRightAfterDisassociation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, tut := seedTutorial(t)
		opts := trunk.Options{ClusterName: tut.ClusterName, GCInterval: -1, Policy: noPrewarm}
		groups := eni.MustGroupSet(tut.PodSecurityGroupID)
		node := tut.Nodes[0].InstanceID
		m1, err := trunk.New(f, opts)
		require.NoError(t, err)
		a, err := m1.Acquire(t.Context(), node, pod(1), groups)
		require.NoError(t, err)
		m1.Release(node, pod(1))
		f.SetConsistency(fake.Consistency{Detach: fake.Fixed(10 * time.Second)})
		_, err = f.DisassociateTrunkInterface(t.Context(), &ec2.DisassociateTrunkInterfaceInput{AssociationId: aws.String(a.Branch.ENI.AssociationID)})
		require.NoError(t, err)
		m1.Close() // before deleting it

		m2, err := trunk.New(f, opts)
		require.NoError(t, err)
		res, err := m2.ReconcileAll(t.Context(), []trunk.NodePods{{InstanceID: node, Complete: true}})
		require.NoError(t, err)
		require.Equal(t, 1, res[node].Released, "the listing shows the association")
		defer run(t, m2)()
		time.Sleep(eni.DefaultCoolDown + time.Second)
		synctest.Wait()

		got, err := m2.Acquire(t.Context(), node, pod(2), groups)
		require.NoError(t, err)
		require.NotEqual(t, a.Branch.ENI.ID, got.Branch.ENI.ID, "not the disassociated ENI")
		require.Equal(t, []string{got.Branch.ENI.ID}, ids(branchENIsSettled(t, f, func(id string) bool { return id == got.Branch.ENI.ID })),
			"the disassociated ENI was deleted")
	})
}
