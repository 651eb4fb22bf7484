package trunk_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/api/podeni"
	"github.com/podsg/podsg/eni"
	"github.com/podsg/podsg/fake"
	"github.com/podsg/podsg/trunk"
)

func pod(i int) eni.PodRef {
	return eni.PodRef{Namespace: "default", Name: fmt.Sprintf("pod-%d", i), UID: fmt.Sprintf("uid-%d", i)}
}

// run starts m.Run and returns a function that stops it and waits.
func run(t *testing.T, m *trunk.Manager) (stop func()) {
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { _ = m.Run(ctx) })
	return func() {
		cancel()
		wg.Wait()
	}
}

// branchENIs returns the branch ENIs EC2 holds, by ID.
func branchENIs(t *testing.T, f *fake.EC2) map[string]types.NetworkInterface {
	t.Helper()
	f.SetThrottling(false)
	defer f.SetThrottling(true)
	out := map[string]types.NetworkInterface{}
	p := ec2.NewDescribeNetworkInterfacesPaginator(f, &ec2.DescribeNetworkInterfacesInput{
		Filters:    []types.Filter{{Name: aws.String("description"), Values: []string{trunk.BranchDescription}}},
		MaxResults: aws.Int32(1000),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		require.NoError(t, err)
		for _, ni := range page.NetworkInterfaces {
			out[aws.ToString(ni.NetworkInterfaceId)] = ni
		}
	}
	return out
}

// settledBranchENIs waits, up to fake.ConsistencyMaxLag, until EC2 lists
// want branch ENIs, each associated with a trunk, and returns them: an
// eventually consistent listing shows a new ENI, and then its association,
// only after a while.
func settledBranchENIs(t *testing.T, f *fake.EC2, want int) map[string]types.NetworkInterface {
	t.Helper()
	deadline := time.Now().Add(fake.ConsistencyMaxLag)
	for {
		enis := branchENIs(t, f)
		inUse := 0
		for _, ni := range enis {
			if ni.Status == types.NetworkInterfaceStatusInUse {
				inUse++
			}
		}
		if len(enis) == want && inUse == want {
			return enis
		}
		require.True(t, time.Now().Before(deadline), "EC2 lists %d branch ENIs, %d in use, %v after; want %d in use",
			len(enis), inUse, fake.ConsistencyMaxLag, want)
		time.Sleep(time.Second)
	}
}

// branchENIsSettled returns the branch ENIs EC2 lists once deletions have
// propagated: it waits, up to fake.ConsistencyMaxLag, until the listing
// holds only ENIs that keep is true for (an eventually consistent listing
// shows a deleted ENI for a while), and returns the last listing either way.
func branchENIsSettled(t *testing.T, f *fake.EC2, keep func(id string) bool) map[string]types.NetworkInterface {
	t.Helper()
	deadline := time.Now().Add(fake.ConsistencyMaxLag)
	for {
		enis := branchENIs(t, f)
		extra := false
		for id := range enis {
			extra = extra || !keep(id)
		}
		if !extra || !time.Now().Before(deadline) {
			return enis
		}
		time.Sleep(time.Second)
	}
}

func seedTutorial(t *testing.T) (*fake.EC2, fake.Tutorial) {
	t.Helper()
	f := fake.New()
	tut, err := fake.SeedTutorial(t.Context(), f)
	require.NoError(t, err)
	return f, tut
}

// TestTutorial replays the EKS tutorial against an eventually consistent
// EC2 (fake.EventualConsistency): five m5.large nodes get their trunks and
// hold 45 pods with the policy's group; the 46th waits until a pod is
// deleted and its ENI has cooled down.
func TestTutorial(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		f, tut := seedTutorial(t)
		f.SetConsistency(fake.EventualConsistency())
		m, err := trunk.New(f, trunk.Options{ClusterName: tut.ClusterName})
		require.NoError(t, err)
		defer run(t, m)()
		groups := eni.MustGroupSet(tut.PodSecurityGroupID)

		held := map[int]string{} // pod → node
		for i := range 45 {
			node := tut.Nodes[i%5].InstanceID
			res, err := m.Acquire(ctx, node, pod(i), groups)
			require.NoError(t, err, "pod %d", i)
			b, err := podeni.Parse(res.Annotation)
			require.NoError(t, err)
			require.Equal(t, res.Branch.ENI, b[0])
			held[i] = node
		}
		// EC2 lists what was done once it has propagated.
		enis := settledBranchENIs(t, f, 45)
		for id, ni := range enis {
			require.Len(t, ni.Groups, 1, id)
			require.Equal(t, tut.PodSecurityGroupID, aws.ToString(ni.Groups[0].GroupId))
			require.Equal(t, types.NetworkInterfaceStatusInUse, ni.Status, "associated with its trunk")
		}
		for _, n := range tut.Nodes {
			_, err := m.Acquire(ctx, n.InstanceID, pod(45), groups)
			require.ErrorIs(t, err, eni.ErrNoCapacity, "46th pod on %s", n.InstanceID)
			require.ErrorContains(t, err, "pod default/pod-45 on node "+n.InstanceID)
		}

		require.True(t, m.Release(held[0], pod(0)))
		_, err = m.Acquire(ctx, held[0], pod(45), groups)
		require.ErrorIs(t, err, eni.ErrNoCapacity, "still cooling down")
		time.Sleep(eni.DefaultCoolDown)
		before := f.AllCounts()
		res, err := m.Acquire(ctx, held[0], pod(45), groups)
		require.NoError(t, err)
		require.Equal(t, before, f.AllCounts(), "a warm ENI costs no EC2 call")
		require.Contains(t, enis, res.Branch.ENI.ID)
		require.Equal(t, 45, m.Metrics().Pools.InUse)
		require.Positive(t, m.Metrics().NotFoundRetries, "EC2 did not know some new IDs at first")
	})
}

func TestTrunkingUnsupported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, tut := seedTutorial(t)
		n := f.AddNode("t3.large", tut.SubnetIDs[0], tut.ClusterSecurityGroupID)
		m, err := trunk.New(f, trunk.Options{ClusterName: tut.ClusterName})
		require.NoError(t, err)
		_, err = m.Acquire(t.Context(), n.InstanceID, pod(1), eni.MustGroupSet(tut.PodSecurityGroupID))
		require.ErrorIs(t, err, trunk.ErrTrunkingUnsupported)
		var te *trunk.UnsupportedTypeError
		require.ErrorAs(t, err, &te)
		require.Equal(t, "t3.large", te.InstanceType)
		require.ErrorContains(t, err, "t3.large")
		require.Equal(t, 0, f.Count(fake.ActionCreateNetworkInterface).Calls)
	})
}

func TestMissingSecurityGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, tut := seedTutorial(t)
		m, err := trunk.New(f, trunk.Options{ClusterName: tut.ClusterName})
		require.NoError(t, err)
		node := tut.Nodes[0].InstanceID
		_, err = m.Acquire(t.Context(), node, pod(1), eni.MustGroupSet("sg-0000000000000dead"))
		var ae smithy.APIError
		require.ErrorAs(t, err, &ae)
		require.Equal(t, "InvalidSecurityGroupID.NotFound", ae.ErrorCode())
		require.Equal(t, "InvalidSecurityGroupID.NotFound", trunk.ErrorCode(err))
		require.ErrorContains(t, err, "pod default/pod-1 on node "+node)
		require.Empty(t, branchENIs(t, f), "no ENI left behind")
		p, ok := m.Pool(node)
		require.True(t, ok)
		require.Equal(t, 0, p.Stats().Total())
	})
}

// TestAssociationFailureRollsBack makes AssociateTrunkInterface fail and
// checks that the created ENI is deleted and the error keeps EC2's code.
func TestAssociationFailureRollsBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, tut := seedTutorial(t)
		m, err := trunk.New(f, trunk.Options{ClusterName: tut.ClusterName})
		require.NoError(t, err)
		node := tut.Nodes[0].InstanceID
		_, err = m.EnsureNode(t.Context(), node)
		require.NoError(t, err)
		f.InjectFault(fake.Fault{Action: fake.ActionAssociateTrunkInterface, Code: fake.CodeUnauthorizedOperation, OnCall: 1})
		_, err = m.Acquire(t.Context(), node, pod(1), eni.MustGroupSet(tut.PodSecurityGroupID))
		require.Equal(t, fake.CodeUnauthorizedOperation, trunk.ErrorCode(err))
		require.ErrorContains(t, err, "the ENI was deleted")
		require.Empty(t, branchENIs(t, f))
		require.Equal(t, 1, f.Count(fake.ActionDeleteNetworkInterface).OK)

		// Lost answers: the association happened, the retries find it.
		f.InjectFault(fake.Fault{Action: fake.ActionAssociateTrunkInterface, Lost: true, OnCall: 1})
		f.InjectFault(fake.Fault{Action: fake.ActionCreateNetworkInterface, Lost: true, OnCall: 2})
		for i := 2; i < 4; i++ {
			_, err = m.Acquire(t.Context(), node, pod(i), eni.MustGroupSet(tut.PodSecurityGroupID))
			require.NoError(t, err)
		}
		require.Len(t, branchENIs(t, f), 2, "one ENI per pod despite lost responses")
	})
}

// TestTrunkCreation starts from a node without a trunk and checks the trunk
// EnsureNode creates.
func TestTrunkCreation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := fake.New(fake.Options{Consistency: fake.Consistency{Attach: fake.Fixed(3 * time.Second)}})
		vpc := f.AddVPC("10.0.0.0/16")
		subnet := f.AddSubnet(vpc, "10.0.0.0/20", "")
		sg := f.AddSecurityGroup(vpc, "nodes")
		n := f.AddNode("m5.large", subnet, sg)
		m, err := trunk.New(f, trunk.Options{ClusterName: "c1"})
		require.NoError(t, err)
		info, err := m.EnsureNode(t.Context(), n.InstanceID)
		require.NoError(t, err)
		require.Equal(t, 9, info.BranchLimit)
		ni := describe(t, f, info.TrunkENIID)
		require.Equal(t, types.NetworkInterfaceTypeTrunk, ni.InterfaceType)
		require.Equal(t, trunk.TrunkDescription, aws.ToString(ni.Description))
		require.Equal(t, int32(2), aws.ToInt32(ni.Attachment.DeviceIndex), "highest free index of m5.large's 3")
		require.True(t, aws.ToBool(ni.Attachment.DeleteOnTermination))
		require.Equal(t, types.AttachmentStatusAttached, ni.Attachment.Status)
		require.Equal(t, sg, aws.ToString(ni.Groups[0].GroupId))

		// A second manager finds it.
		m2, err := trunk.New(f, trunk.Options{ClusterName: "c1"})
		require.NoError(t, err)
		info2, err := m2.EnsureNode(t.Context(), n.InstanceID)
		require.NoError(t, err)
		require.Equal(t, info.TrunkENIID, info2.TrunkENIID)

		// No free slot: a node whose three slots are taken.
		n2 := f.AddNode("m5.large", subnet, sg)
		for _, idx := range []int32{1, 2} {
			e := f.AddENI(subnet, "other", sg)
			_, err := f.AttachNetworkInterface(t.Context(), &ec2.AttachNetworkInterfaceInput{
				InstanceId: aws.String(n2.InstanceID), NetworkInterfaceId: aws.String(e), DeviceIndex: aws.Int32(idx)})
			require.NoError(t, err)
		}
		_, err = m.EnsureNode(t.Context(), n2.InstanceID)
		require.ErrorIs(t, err, trunk.ErrNoFreeSlot)
		require.ErrorContains(t, err, "detach an ENI")
	})
}

func describe(t *testing.T, f *fake.EC2, id string) types.NetworkInterface {
	t.Helper()
	out, err := f.DescribeNetworkInterfaces(t.Context(), &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{id}})
	require.NoError(t, err)
	require.Len(t, out.NetworkInterfaces, 1)
	return out.NetworkInterfaces[0]
}
