package trunk_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/podsg/podsg/api/v1beta1"
	"github.com/podsg/podsg/eni"
	"github.com/podsg/podsg/fake"
	"github.com/podsg/podsg/selector"
	"github.com/podsg/podsg/trunk"
)

// groupRecorder is package fake's EC2 that also keeps the security groups
// of every CreateNetworkInterface input for a branch ENI and of every
// ModifyNetworkInterfaceAttribute input that sets groups.
type groupRecorder struct {
	*fake.EC2
	mu       sync.Mutex
	creates  [][]string
	modifies [][]string
}

func (r *groupRecorder) CreateNetworkInterface(ctx context.Context, in *ec2.CreateNetworkInterfaceInput, opts ...func(*ec2.Options)) (*ec2.CreateNetworkInterfaceOutput, error) {
	if aws.ToString(in.Description) == trunk.BranchDescription {
		r.mu.Lock()
		r.creates = append(r.creates, append([]string(nil), in.Groups...))
		r.mu.Unlock()
	}
	return r.EC2.CreateNetworkInterface(ctx, in, opts...)
}

func (r *groupRecorder) ModifyNetworkInterfaceAttribute(ctx context.Context, in *ec2.ModifyNetworkInterfaceAttributeInput, opts ...func(*ec2.Options)) (*ec2.ModifyNetworkInterfaceAttributeOutput, error) {
	if len(in.Groups) > 0 {
		r.mu.Lock()
		r.modifies = append(r.modifies, append([]string(nil), in.Groups...))
		r.mu.Unlock()
	}
	return r.EC2.ModifyNetworkInterfaceAttribute(ctx, in, opts...)
}

func (r *groupRecorder) calls() (creates, modifies [][]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]string(nil), r.creates...), append([][]string(nil), r.modifies...)
}

// TestGroupOrderReachesEC2 follows a pod's groups from its policies to EC2:
// selector gives them in policy order (policies by name, then list order,
// duplicates dropped, as the VPC resource controller collects them), and
// the CreateNetworkInterface of its branch ENI lists them in that order, as
// the Fargate annotation does. A warm ENI then serves a pod that wants the
// same groups in another order with no EC2 call, and a retarget sends the
// new pod's order.
func TestGroupOrderReachesEC2(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		f, tut := seedTutorial(t)
		sgB := f.AddSecurityGroup(tut.VPCID, "b")
		sgC := f.AddSecurityGroup(tut.VPCID, "c")
		sgD := f.AddSecurityGroup(tut.VPCID, "d")
		sgPod := tut.PodSecurityGroupID

		policy := func(name string, groups ...string) *v1beta1.SecurityGroupPolicy {
			return &v1beta1.SecurityGroupPolicy{
				ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name},
				Spec: v1beta1.SecurityGroupPolicySpec{
					PodSelector:    &metav1.LabelSelector{},
					SecurityGroups: v1beta1.GroupIDs{Groups: groups},
				},
			}
		}
		idx := selector.NewIndex(selector.Options{})
		require.NoError(t, idx.Upsert(policy("b-second", sgB, sgC)))
		require.NoError(t, idx.Upsert(policy("a-first", sgC, sgPod)))
		res := idx.Match(selector.Pod{Namespace: "shop"})
		want := []string{sgC, sgPod, sgB}
		require.Equal(t, want, res.Groups)
		fargate := idx.Match(selector.Pod{Namespace: "shop", FargateProfile: "fp"})
		require.Equal(t, sgC+","+sgPod+","+sgB, fargate.FargateAnnotation())

		rec := &groupRecorder{EC2: f}
		// Warm reuse and retargets, without pre-warming (whose ENIs
		// would be extra creates).
		m, err := trunk.New(rec, trunk.Options{ClusterName: tut.ClusterName,
			Policy: eni.Policy{Prewarm: eni.PrewarmPolicy{Window: eni.NoPrewarm}}})
		require.NoError(t, err)
		defer run(t, m)()
		node := tut.Nodes[0].InstanceID

		groups, err := eni.ParseGroupSet(res.Groups...)
		require.NoError(t, err)
		first, err := m.Acquire(ctx, node, pod(1), groups)
		require.NoError(t, err)
		creates, _ := rec.calls()
		require.Equal(t, [][]string{want}, creates, "CreateNetworkInterface lists the groups in policy order")

		// The same groups in another order: the warm ENI, no EC2 call.
		require.True(t, m.Release(node, pod(1)))
		waitCooled(t)
		second, err := m.Acquire(ctx, node, pod(2), eni.MustGroupSet(sgB, sgPod, sgC))
		require.NoError(t, err)
		require.Equal(t, first.Branch.ENI.ID, second.Branch.ENI.ID)
		creates, modifies := rec.calls()
		require.Len(t, creates, 1)
		require.Empty(t, modifies)

		// A superset retargets the warm ENI in the new pod's order.
		require.True(t, m.Release(node, pod(2)))
		waitCooled(t)
		third, err := m.Acquire(ctx, node, pod(3), eni.MustGroupSet(sgD, sgB, sgC, sgPod))
		require.NoError(t, err)
		require.Equal(t, first.Branch.ENI.ID, third.Branch.ENI.ID)
		creates, modifies = rec.calls()
		require.Len(t, creates, 1)
		require.Equal(t, [][]string{{sgD, sgB, sgC, sgPod}}, modifies)
		f.SetThrottling(false)
		out, err := f.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{third.Branch.ENI.ID}})
		require.NoError(t, err)
		var got []string
		for _, g := range out.NetworkInterfaces[0].Groups {
			got = append(got, aws.ToString(g.GroupId))
		}
		require.ElementsMatch(t, []string{sgD, sgB, sgC, sgPod}, got)
	})
}

// waitCooled waits out the default cool-down and lets the manager's loop
// make the released ENIs warm.
func waitCooled(t *testing.T) {
	t.Helper()
	time.Sleep(eni.DefaultCoolDown + time.Second)
	synctest.Wait()
}
