package trunk_test

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/eni"
	"github.com/podsg/podsg/fake"
	"github.com/podsg/podsg/trunk"
)

var noPrewarm = eni.Policy{Prewarm: eni.PrewarmPolicy{Window: eni.NoPrewarm}}

func totalCalls(f *fake.EC2) int {
	n := 0
	for _, c := range f.AllCounts() {
		n += c.Calls
	}
	return n
}

// TestCallsPerPodStart counts the EC2 calls one pod start costs on a node
// whose trunk exists: cold (create + associate), warm (reuse: none) and
// retargeted (one ModifyNetworkInterfaceAttribute), and under OnDemandPolicy
// (a new ENI every time).
func TestCallsPerPodStart(t *testing.T) {
	tests := []struct {
		name     string
		opts     trunk.Options
		second   func(tut fake.Tutorial, extra string) eni.GroupSet
		want     int
		wantCall fake.Action
	}{
		// Pre-warming is off: its background refills would land in the
		// count of one pod start.
		{"warm", trunk.Options{Policy: noPrewarm}, func(tut fake.Tutorial, _ string) eni.GroupSet { return eni.MustGroupSet(tut.PodSecurityGroupID) }, 0, ""},
		{"retarget", trunk.Options{Policy: noPrewarm}, func(tut fake.Tutorial, extra string) eni.GroupSet {
			return eni.MustGroupSet(tut.PodSecurityGroupID, extra)
		}, 1, fake.ActionModifyNetworkInterfaceAttribute},
		{"ondemand", trunk.OnDemandOptions(""), func(tut fake.Tutorial, _ string) eni.GroupSet { return eni.MustGroupSet(tut.PodSecurityGroupID) }, 2, fake.ActionAssociateTrunkInterface},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := t.Context()
				f, tut := seedTutorial(t)
				extra := f.AddSecurityGroup(tut.VPCID, "extra")
				opts := tt.opts
				opts.ClusterName = tut.ClusterName
				m, err := trunk.New(f, opts)
				require.NoError(t, err)
				defer run(t, m)()
				node := tut.Nodes[0].InstanceID
				_, err = m.EnsureNode(ctx, node)
				require.NoError(t, err)

				before := totalCalls(f)
				creates, assocs := f.Count(fake.ActionCreateNetworkInterface).Calls, f.Count(fake.ActionAssociateTrunkInterface).Calls
				_, err = m.Acquire(ctx, node, pod(1), eni.MustGroupSet(tut.PodSecurityGroupID))
				require.NoError(t, err)
				cold := totalCalls(f) - before
				require.Equal(t, 2, cold, "cold start: CreateNetworkInterface + AssociateTrunkInterface")
				require.Equal(t, creates+1, f.Count(fake.ActionCreateNetworkInterface).Calls)
				require.Equal(t, assocs+1, f.Count(fake.ActionAssociateTrunkInterface).Calls)

				m.Release(node, pod(1))
				time.Sleep(eni.DefaultCoolDown + time.Second)
				synctest.Wait()
				before = totalCalls(f)
				wc := 0
				if tt.wantCall != "" {
					wc = f.Count(tt.wantCall).Calls
				}
				_, err = m.Acquire(ctx, node, pod(2), tt.second(tut, extra))
				require.NoError(t, err)
				second := totalCalls(f) - before
				require.Equal(t, tt.want, second)
				if tt.wantCall != "" {
					require.Equal(t, 1, f.Count(tt.wantCall).Calls-wc, tt.wantCall)
				}
				fmt.Printf("calls_per_pod strategy=%s cold=%d second=%d\n", tt.name, cold, second)
			})
		})
	}
}
