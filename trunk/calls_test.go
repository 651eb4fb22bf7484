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

// TestCallsPerPodStart counts the EC2 requests one pod start costs on a
// node whose trunk exists: cold (create + associate), warm (reuse: none) and
// retargeted (one ModifyNetworkInterfaceAttribute), and under OnDemandPolicy
// (a new ENI every time), against an eventually consistent EC2
// (fake.EventualConsistency).
//
// What it counts: requests, each distinct call the Manager decides to make
// (for instance one AssociateTrunkInterface), not the attempts that carry
// it. EC2 does not know a new ENI for a moment: podsg lists it
// (DescribeNetworkInterfaces, shared by all the new ENIs waiting at the
// time) until EC2 knows it before associating it, and those listings are
// counted apart (listings); an association still answered NotFound is asked
// again after a second or two (Metrics.NotFoundRetries, the only way of
// OnDemandOptions, which associates at once), and those repeats are
// counted apart too (not_found_retries), as are the attempts repeated after
// throttling or server errors (Metrics.Retries, none here). calls is every
// attempt EC2 answered: requests plus listings and repeats.
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
				f.SetConsistency(fake.EventualConsistency())
				extra := f.AddSecurityGroup(tut.VPCID, "extra")
				opts := tt.opts
				opts.ClusterName = tut.ClusterName
				m, err := trunk.New(f, opts)
				require.NoError(t, err)
				defer run(t, m)()
				node := tut.Nodes[0].InstanceID
				_, err = m.EnsureNode(ctx, node)
				require.NoError(t, err)

				// measure returns the requests, listings and repeats of one
				// Acquire.
				measure := func(p eni.PodRef, groups eni.GroupSet) (calls, requests, listings, notFound int) {
					calls0, mt0 := totalCalls(f), m.Metrics()
					lists0 := f.Count(fake.ActionDescribeNetworkInterfaces).Calls
					_, err := m.Acquire(ctx, node, p, groups)
					require.NoError(t, err)
					mt := m.Metrics()
					calls = totalCalls(f) - calls0
					listings = f.Count(fake.ActionDescribeNetworkInterfaces).Calls - lists0
					notFound = int(mt.NotFoundRetries - mt0.NotFoundRetries)
					requests = calls - listings - notFound - int(mt.Retries-mt0.Retries)
					require.Equal(t, mt.TotalCalls()-mt0.TotalCalls(), uint64(calls), "the Manager counts every attempt EC2 answered")
					return calls, requests, listings, notFound
				}

				creates, assocs := f.Count(fake.ActionCreateNetworkInterface).OK, f.Count(fake.ActionAssociateTrunkInterface).OK
				coldCalls, cold, coldListings, coldNotFound := measure(pod(1), eni.MustGroupSet(tut.PodSecurityGroupID))
				require.Equal(t, 2, cold, "cold start: CreateNetworkInterface + AssociateTrunkInterface")
				require.Equal(t, creates+1, f.Count(fake.ActionCreateNetworkInterface).OK)
				require.Equal(t, assocs+1, f.Count(fake.ActionAssociateTrunkInterface).OK)
				require.Equal(t, coldNotFound, f.Count(fake.ActionAssociateTrunkInterface).Errors, "every repeat is an association EC2 answered NotFound")

				m.Release(node, pod(1))
				time.Sleep(eni.DefaultCoolDown + 10*time.Second)
				synctest.Wait()
				wc := 0
				if tt.wantCall != "" {
					wc = f.Count(tt.wantCall).OK
				}
				secondCalls, second, secondListings, secondNotFound := measure(pod(2), tt.second(tut, extra))
				require.Equal(t, tt.want, second)
				if tt.wantCall != "" {
					require.Equal(t, 1, f.Count(tt.wantCall).OK-wc, tt.wantCall)
				}
				if tt.name == "ondemand" {
					require.Zero(t, coldListings+secondListings, "OnDemandOptions associates at once")
				}
				fmt.Printf("calls_per_pod strategy=%s cold=%d second=%d cold_listings=%d second_listings=%d cold_not_found_retries=%d second_not_found_retries=%d cold_calls=%d second_calls=%d\n",
					tt.name, cold, second, coldListings, secondListings, coldNotFound, secondNotFound, coldCalls, secondCalls)
			})
		})
	}
}
