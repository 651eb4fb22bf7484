package eni_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/eni"
)

// TestCoolDownRaised: a cool-down under 30 s is raised to 30 s, not
// refused, as the VPC resource controller raises its branch-eni-cooldown
// (GetCoolDownPeriod in pkg/provider/branch/cooldown/cooldown.go of
// aws/amazon-vpc-resource-controller-k8s); 0 means the default.
func TestCoolDownRaised(t *testing.T) {
	for in, want := range map[time.Duration]time.Duration{
		0:                   eni.DefaultCoolDown,
		time.Nanosecond:     eni.MinCoolDown,
		10 * time.Second:    eni.MinCoolDown,
		-5 * time.Second:    eni.MinCoolDown,
		29 * time.Second:    eni.MinCoolDown,
		30 * time.Second:    30 * time.Second,
		45 * time.Second:    45 * time.Second,
		10 * time.Minute:    10 * time.Minute,
		eni.DefaultCoolDown: eni.DefaultCoolDown,
	} {
		require.Equal(t, want, eni.EffectiveCoolDown(in), "%v", in)
		require.NoError(t, eni.Policy{CoolDown: in}.Validate(), "%v", in)
		p, _ := newPool(t, 2, eni.Policy{CoolDown: in})
		require.Equal(t, want, p.Policy().CoolDown, "%v", in)
	}
}

// TestShortCoolDownWaitsThirtySeconds: a pool given a 10 s cool-down keeps a
// released ENI cooling for 30 s.
func TestShortCoolDownWaitsThirtySeconds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		p, _ := newPool(t, 2, eni.Policy{CoolDown: 10 * time.Second})
		_, err := p.Acquire(ctx, pod(1), web)
		require.NoError(t, err)
		p.Release(pod(1))
		next, err := p.Maintain(ctx)
		require.NoError(t, err)
		require.Equal(t, time.Now().Add(eni.MinCoolDown), next)
		time.Sleep(eni.MinCoolDown - time.Second)
		_, err = p.Maintain(ctx)
		require.NoError(t, err)
		require.Equal(t, counts{Cooling: 1}, stateCounts(p))
		time.Sleep(time.Second)
		_, err = p.Maintain(ctx)
		require.NoError(t, err)
		require.Equal(t, counts{Warm: 1}, stateCounts(p))
	})
}

// TestSetCoolDown: a changed cool-down applies to ENIs released later and
// re-times those cooling now (release time plus the new value), as the VPC
// resource controller's delete queue compares each ENI's release time with
// the current setting (DeleteCooledDownENIs in
// pkg/provider/branch/trunk/trunk.go).
func TestSetCoolDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		p, _ := newPool(t, 3, eni.Policy{})
		for i := range 3 {
			_, err := p.Acquire(ctx, pod(i), web)
			require.NoError(t, err)
		}
		p.Release(pod(0))
		time.Sleep(40 * time.Second)
		p.Release(pod(1))

		// Longer: the ENI released 40 s ago now cools until 120 s.
		require.Equal(t, 2*time.Minute, p.SetCoolDown(2*time.Minute))
		require.Equal(t, 2*time.Minute, p.Policy().CoolDown)
		next, err := p.Maintain(ctx)
		require.NoError(t, err)
		require.Equal(t, time.Now().Add(80*time.Second), next)

		// Shorter than the time both have cooled: both are warm at once.
		time.Sleep(35 * time.Second)
		require.Equal(t, eni.MinCoolDown, p.SetCoolDown(5*time.Second), "raised to 30 s")
		_, err = p.Maintain(ctx)
		require.NoError(t, err)
		require.Equal(t, counts{InUse: 1, Warm: 2}, stateCounts(p))

		// Released after the change: 30 s.
		p.Release(pod(2))
		next, err = p.Maintain(ctx)
		require.NoError(t, err)
		require.Equal(t, time.Now().Add(eni.MinCoolDown), next)

		// 0 restores the default.
		require.Equal(t, eni.DefaultCoolDown, p.SetCoolDown(0))
		next, err = p.Maintain(ctx)
		require.NoError(t, err)
		require.Equal(t, time.Now().Add(eni.DefaultCoolDown), next)
	})
}

// TestSetCoolDownWakesRun: Run, waiting for the next cool-down to end,
// wakes when a shorter cool-down makes an ENI due sooner.
func TestSetCoolDownWakesRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		p, be := newPool(t, 2, eni.OnDemandPolicy())
		ran := make(chan error, 1)
		go func() { ran <- p.Run(ctx) }()
		_, err := p.Acquire(ctx, pod(1), web)
		require.NoError(t, err)
		p.SetCoolDown(10 * time.Minute)
		p.Release(pod(1))
		time.Sleep(time.Minute)
		synctest.Wait()
		require.Equal(t, 0, be.count("delete"))
		p.SetCoolDown(eni.MinCoolDown)
		synctest.Wait()
		require.Equal(t, 1, be.count("delete"), "deleted as soon as the shorter cool-down made it due")
		cancel()
		require.ErrorIs(t, <-ran, context.Canceled)
	})
}
