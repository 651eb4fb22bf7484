package trunk_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/eni"
	"github.com/podsg/podsg/trunk"
)

// TestSetCoolDown: a cool-down set at run time, as the VPC resource
// controller takes it from the amazon-vpc-cni ConfigMap, applies to the
// nodes served now and later; under 30 s it is raised to 30 s.
func TestSetCoolDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		f, tut := seedTutorial(t)
		m, err := trunk.New(f, trunk.Options{ClusterName: tut.ClusterName, Policy: eni.OnDemandPolicy()})
		require.NoError(t, err)
		defer run(t, m)()
		groups := eni.MustGroupSet(tut.PodSecurityGroupID)
		require.Equal(t, eni.DefaultCoolDown, m.CoolDown())

		first := tut.Nodes[0].InstanceID
		_, err = m.Acquire(ctx, first, pod(1), groups)
		require.NoError(t, err)
		require.Equal(t, eni.MinCoolDown, m.SetCoolDown(10*time.Second), "raised to 30 s")
		require.Equal(t, eni.MinCoolDown, m.CoolDown())
		p, ok := m.Pool(first)
		require.True(t, ok)
		require.Equal(t, eni.MinCoolDown, p.Policy().CoolDown, "a node served before")

		second := tut.Nodes[1].InstanceID
		_, err = m.Acquire(ctx, second, pod(2), groups)
		require.NoError(t, err)
		p, ok = m.Pool(second)
		require.True(t, ok)
		require.Equal(t, eni.MinCoolDown, p.Policy().CoolDown, "a node served after")

		// Released, the ENI is deleted 30 s later, not 60.
		require.True(t, m.Release(first, pod(1)))
		time.Sleep(eni.MinCoolDown - time.Second)
		synctest.Wait()
		require.Len(t, branchENIs(t, f), 2)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		require.Len(t, branchENIs(t, f), 1)

		require.Equal(t, 2*time.Minute, m.SetCoolDown(2*time.Minute))
		require.True(t, m.Release(second, pod(2)))
		time.Sleep(time.Minute)
		synctest.Wait()
		require.Len(t, branchENIs(t, f), 1, "still cooling under the longer cool-down")
		time.Sleep(time.Minute + time.Second)
		synctest.Wait()
		require.Empty(t, branchENIs(t, f))
	})
}
