package fake_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/fake"
)

// lagging returns a Consistency where every lag is d.
func lagging(d time.Duration) fake.Consistency {
	return fake.Consistency{
		Create: fake.Fixed(d), Launch: fake.Fixed(d), Attach: fake.Fixed(d),
		Associate: fake.Fixed(d), Detach: fake.Fixed(d), Delete: fake.Fixed(d),
	}
}

// TestConsistencyLags walks each lag of the model in virtual time: what
// Describe calls show, and what calls naming the resource answer, before and
// after the change propagates.
func TestConsistencyLags(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		const lag = 4 * time.Second
		w := newWorld(t, fake.Options{Consistency: lagging(lag)})
		f := w.f
		eniOf := func(id string) (types.NetworkInterface, error) {
			out, err := f.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{id}})
			if err != nil {
				return types.NetworkInterface{}, err
			}
			require.Len(t, out.NetworkInterfaces, 1)
			return out.NetworkInterfaces[0], nil
		}
		assocs := func() []string {
			out, err := f.DescribeTrunkInterfaceAssociations(ctx, &ec2.DescribeTrunkInterfaceAssociationsInput{
				Filters: []types.Filter{{Name: aws.String("trunk-interface-association.trunk-interface-id"), Values: []string{w.trunk}}}})
			require.NoError(t, err)
			var ids []string
			for _, a := range out.InterfaceAssociations {
				ids = append(ids, aws.ToString(a.AssociationId))
			}
			return ids
		}

		// Create: unknown to every later call, the creator's answer aside.
		created, err := f.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(w.subnet), Groups: []string{w.podSG}})
		require.NoError(t, err)
		branch := aws.ToString(created.NetworkInterface.NetworkInterfaceId)
		_, err = eniOf(branch)
		require.Equal(t, fake.CodeNetworkInterfaceNotFound, fake.ErrorCode(err))
		_, err = f.AssociateTrunkInterface(ctx, &ec2.AssociateTrunkInterfaceInput{TrunkInterfaceId: aws.String(w.trunk),
			BranchInterfaceId: aws.String(branch), VlanId: aws.Int32(7)})
		require.Equal(t, fake.CodeNetworkInterfaceNotFound, fake.ErrorCode(err), "a fresh ID is unknown to calls that name it too")
		list, err := f.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{})
		require.NoError(t, err)
		for _, e := range list.NetworkInterfaces {
			require.NotEqual(t, branch, aws.ToString(e.NetworkInterfaceId), "not listed yet")
		}
		time.Sleep(lag)
		_, err = eniOf(branch)
		require.NoError(t, err)

		// Associate: the association holds at once but shows late.
		as, err := f.AssociateTrunkInterface(ctx, &ec2.AssociateTrunkInterfaceInput{TrunkInterfaceId: aws.String(w.trunk),
			BranchInterfaceId: aws.String(branch), VlanId: aws.Int32(7)})
		require.NoError(t, err)
		assoc := aws.ToString(as.InterfaceAssociation.AssociationId)
		require.Empty(t, assocs())
		e, err := eniOf(branch)
		require.NoError(t, err)
		require.Equal(t, types.NetworkInterfaceStatusAvailable, e.Status, "the branch still looks free")
		require.Equal(t, types.NetworkInterfaceTypeInterface, e.InterfaceType)
		_, err = f.DeleteNetworkInterface(ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: aws.String(branch)})
		require.Equal(t, fake.CodeNetworkInterfaceInUse, fake.ErrorCode(err), "but it is associated")
		_, err = f.DisassociateTrunkInterface(ctx, &ec2.DisassociateTrunkInterfaceInput{AssociationId: aws.String(assoc)})
		require.Equal(t, fake.CodeAssociationNotFound, fake.ErrorCode(err))
		time.Sleep(lag)
		require.Equal(t, []string{assoc}, assocs())
		e, _ = eniOf(branch)
		require.Equal(t, types.NetworkInterfaceTypeBranch, e.InterfaceType)

		// Disassociate: shows late too.
		_, err = f.DisassociateTrunkInterface(ctx, &ec2.DisassociateTrunkInterfaceInput{AssociationId: aws.String(assoc)})
		require.NoError(t, err)
		require.Equal(t, []string{assoc}, assocs(), "still listed")
		e, _ = eniOf(branch)
		require.Equal(t, types.NetworkInterfaceStatusInUse, e.Status)
		time.Sleep(lag)
		require.Empty(t, assocs())
		e, _ = eniOf(branch)
		require.Equal(t, types.NetworkInterfaceStatusAvailable, e.Status)

		// Attach: attaching, then attached; detach: detaching, then gone.
		at, err := f.AttachNetworkInterface(ctx, &ec2.AttachNetworkInterfaceInput{NetworkInterfaceId: aws.String(branch),
			InstanceId: aws.String(w.node.InstanceID), DeviceIndex: aws.Int32(3)})
		require.NoError(t, err)
		e, _ = eniOf(branch)
		require.Equal(t, types.AttachmentStatusAttaching, e.Attachment.Status)
		time.Sleep(lag)
		e, _ = eniOf(branch)
		require.Equal(t, types.AttachmentStatusAttached, e.Attachment.Status)
		_, err = f.DetachNetworkInterface(ctx, &ec2.DetachNetworkInterfaceInput{AttachmentId: at.AttachmentId})
		require.NoError(t, err)
		e, _ = eniOf(branch)
		require.Equal(t, types.AttachmentStatusDetaching, e.Attachment.Status)
		time.Sleep(lag)
		e, _ = eniOf(branch)
		require.Nil(t, e.Attachment)

		// Delete: still listed, unknown to calls that change it.
		_, err = f.DeleteNetworkInterface(ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: aws.String(branch)})
		require.NoError(t, err)
		_, err = eniOf(branch)
		require.NoError(t, err, "a deleted interface is listed until the deletion propagates")
		_, err = f.DeleteNetworkInterface(ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: aws.String(branch)})
		require.Equal(t, fake.CodeNetworkInterfaceNotFound, fake.ErrorCode(err))
		time.Sleep(lag)
		_, err = eniOf(branch)
		require.Equal(t, fake.CodeNetworkInterfaceNotFound, fake.ErrorCode(err))

		// Launch: pending, then running; attaching to a pending instance
		// is refused.
		run, err := f.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-1"), InstanceType: "m5.large",
			MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: aws.String(w.subnet)})
		require.NoError(t, err)
		inst := aws.ToString(run.Instances[0].InstanceId)
		state := func() types.InstanceStateName {
			out, err := f.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{inst}})
			require.NoError(t, err)
			return out.Reservations[0].Instances[0].State.Name
		}
		time.Sleep(lag - time.Millisecond)
		_, err = f.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{inst}})
		require.Equal(t, fake.CodeInstanceNotFound, fake.ErrorCode(err), "created a moment ago")
		time.Sleep(time.Millisecond)
		// Created and launched with the same lag: both show now.
		require.Equal(t, types.InstanceStateNameRunning, state())

		// Terminate: shutting-down, then terminated.
		_, err = f.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{inst}})
		require.NoError(t, err)
		require.Equal(t, types.InstanceStateNameShuttingDown, state())
		time.Sleep(lag)
		require.Equal(t, types.InstanceStateNameTerminated, state())

		// Security groups and rules.
		sg, err := f.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("late"), Description: aws.String("d"), VpcId: aws.String(w.vpc)})
		require.NoError(t, err)
		_, err = f.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{aws.ToString(sg.GroupId)}})
		require.Equal(t, fake.CodeGroupNotFound, fake.ErrorCode(err))
		_, err = f.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(w.subnet), Groups: []string{aws.ToString(sg.GroupId)}})
		require.Equal(t, fake.CodeSecurityGroupIDNotFound, fake.ErrorCode(err))
		time.Sleep(lag)
		_, err = f.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: sg.GroupId})
		require.NoError(t, err)
		_, err = f.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{aws.ToString(sg.GroupId)}})
		require.NoError(t, err, "listed until the deletion propagates")
		time.Sleep(lag)
		_, err = f.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{aws.ToString(sg.GroupId)}})
		require.Equal(t, fake.CodeGroupNotFound, fake.ErrorCode(err))
	})
}

// TestConsistencyOffByDefault checks that the zero Consistency shows every
// change at once, which small unit tests rely on.
func TestConsistencyOffByDefault(t *testing.T) {
	ctx := t.Context()
	w := newWorld(t)
	id := w.eni(t)
	out, err := w.f.AssociateTrunkInterface(ctx, &ec2.AssociateTrunkInterfaceInput{TrunkInterfaceId: aws.String(w.trunk),
		BranchInterfaceId: aws.String(id), VlanId: aws.Int32(9)})
	require.NoError(t, err)
	d, err := w.f.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{id}})
	require.NoError(t, err)
	require.Equal(t, types.NetworkInterfaceTypeBranch, d.NetworkInterfaces[0].InterfaceType)
	_, err = w.f.DisassociateTrunkInterface(ctx, &ec2.DisassociateTrunkInterfaceInput{AssociationId: out.InterfaceAssociation.AssociationId})
	require.NoError(t, err)
	_, err = w.f.DeleteNetworkInterface(ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: aws.String(id)})
	require.NoError(t, err)
	_, err = w.f.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{id}})
	require.Equal(t, fake.CodeNetworkInterfaceNotFound, fake.ErrorCode(err))
}

func TestEventualConsistencyPreset(t *testing.T) {
	c := fake.EventualConsistency()
	lag := fake.Delay{Mean: time.Second, Max: 5 * time.Minute}
	want := fake.Consistency{Create: lag, Attach: lag, Associate: lag, Detach: lag, Delete: lag,
		Launch: fake.Delay{Min: 5 * time.Second, Mean: 10 * time.Second, Max: 5 * time.Minute}}
	require.Equal(t, want, c)
	require.False(t, c.IsZero())
	require.True(t, fake.Consistency{}.IsZero())

	// The lags the preset draws: most under a couple of seconds, none over
	// five minutes, and they vary.
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		w := newWorld(t, fake.Options{Consistency: c})
		var lags []time.Duration
		for i := range 400 {
			start := time.Now()
			out, err := w.f.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(w.subnet),
				ClientToken: aws.String(fmt.Sprintf("t%d", i))})
			require.NoError(t, err)
			id := aws.ToString(out.NetworkInterface.NetworkInterfaceId)
			for {
				if _, err := w.f.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{id}}); err == nil {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			lags = append(lags, time.Since(start))
		}
		under2 := 0
		var total time.Duration
		for _, l := range lags {
			if l < 2*time.Second {
				under2++
			}
			total += l
			require.LessOrEqual(t, l, fake.ConsistencyMaxLag+10*time.Millisecond)
		}
		mean := total / time.Duration(len(lags))
		require.InDelta(t, 0.86, float64(under2)/float64(len(lags)), 0.06, "share of lags under 2 s")
		require.InDelta(t, float64(time.Second), float64(mean), float64(200*time.Millisecond), "mean lag")
	})
}

func TestConsistencyValidation(t *testing.T) {
	for _, c := range []fake.Consistency{
		{Create: fake.Delay{Min: -time.Second}},
		{Attach: fake.Delay{Mean: -1}},
		{Delete: fake.Delay{Min: 2 * time.Second, Max: time.Second}},
	} {
		v := panicValue(func() { fake.New(fake.Options{Consistency: c}) })
		err, ok := v.(error)
		require.True(t, ok, "%v", v)
		require.ErrorIs(t, err, fake.ErrInvalidOptions)
		require.ErrorContains(t, err, "Options.Consistency.")
		require.NotNil(t, panicValue(func() { fake.New().SetConsistency(c) }))
	}
}

// TestDrawsIgnoreScheduling runs the same concurrent requests twice, in
// different orders: every ID, MAC address, latency and fault they get is
// the same, because each draw depends on the seed and the request, not on
// which goroutine came first.
func TestDrawsIgnoreScheduling(t *testing.T) {
	type result struct {
		ENI, MAC string
		Elapsed  time.Duration
		Code     string
	}
	run := func(order []int) map[string]result {
		var out map[string]result
		synctest.Test(t, func(t *testing.T) {
			f := fake.New(fake.Options{Seed: 7, DisableThrottling: true, Consistency: fake.EventualConsistency()})
			subnet := f.AddSubnet(f.AddVPC("10.0.0.0/16"), "10.0.0.0/20", "")
			f.SetLatency(fake.ActionCreateNetworkInterface, fake.Latency{Base: 100 * time.Millisecond, Jitter: time.Second})
			f.InjectFault(fake.Fault{Action: fake.ActionCreateNetworkInterface, Code: fake.CodeInternalError, Probability: 0.3})
			var mu sync.Mutex
			out = map[string]result{}
			var wg sync.WaitGroup
			for _, i := range order {
				wg.Go(func() {
					token := fmt.Sprintf("pod-%d", i)
					start := time.Now()
					r, err := f.CreateNetworkInterface(t.Context(), &ec2.CreateNetworkInterfaceInput{
						SubnetId: aws.String(subnet), ClientToken: aws.String(token)})
					res := result{Elapsed: time.Since(start), Code: fake.ErrorCode(err)}
					if err == nil {
						res.ENI, res.MAC = aws.ToString(r.NetworkInterface.NetworkInterfaceId), aws.ToString(r.NetworkInterface.MacAddress)
					}
					mu.Lock()
					out[token] = res
					mu.Unlock()
				})
			}
			wg.Wait()
		})
		return out
	}
	order := make([]int, 64)
	for i := range order {
		order[i] = i
	}
	first := run(order)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	second := run(order)
	if diff := cmp.Diff(first, second); diff != "" {
		t.Fatalf("draws depend on the order of calls (-first +second):\n%s", diff)
	}
	failed := 0
	for _, r := range first {
		if r.Code != "" {
			failed++
		}
	}
	require.InDelta(t, 0.3*64, failed, 10, "the probabilistic fault fires about 30%% of the time")
}
