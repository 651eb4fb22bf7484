package trunk_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/eni"
	"github.com/podsg/podsg/fake"
	"github.com/podsg/podsg/trunk"
)

// TestSeededRandReplays runs the same pod starts twice, each time against a
// new fake with the same seed, with throttling and lost responses to retry
// after jittered back-offs, and a Manager reading a source seeded the same
// (Options.Rand): EC2 sees the same requests (ClientTokens included) at the
// same virtual times. Another seed gives other ClientTokens.
func TestSeededRandReplays(t *testing.T) {
	run := func(seed byte) []string {
		var calls []string
		synctest.Test(t, func(t *testing.T) {
			f, tut := seedTutorial(t)
			f.SetConsistency(fake.EventualConsistency())
			f.InjectFault(fake.Fault{Action: fake.ActionCreateNetworkInterface, Code: "RequestLimitExceeded", Probability: 0.3})
			f.InjectFault(fake.Fault{Action: fake.ActionAssociateTrunkInterface, Lost: true, Probability: 0.2})
			m, err := trunk.New(f, trunk.Options{ClusterName: tut.ClusterName, GCInterval: -1, Policy: noPrewarm,
				Rand: rand.NewChaCha8([32]byte{seed})})
			require.NoError(t, err)
			node := tut.Nodes[0].InstanceID
			_, err = m.EnsureNode(t.Context(), node)
			require.NoError(t, err)
			start := time.Now()
			for i := range 6 {
				_, err := m.Acquire(t.Context(), node, pod(i), eni.MustGroupSet(tut.PodSecurityGroupID))
				require.NoError(t, err)
			}
			for _, c := range f.Calls() {
				calls = append(calls, fmt.Sprintf("%v %s %s %s", c.Time.Sub(start), c.Action, c.Params, c.Outcome))
			}
			m.Close()
		})
		return calls
	}
	first, again, other := run(1), run(1), run(2)
	require.NotEmpty(t, first)
	if diff := cmp.Diff(first, again); diff != "" {
		t.Errorf("the same seed made other calls (-first +again):\n%s", diff)
	}
	require.NotEqual(t, first, other, "another seed, other ClientTokens")
}
