package selector_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/api/v1beta1"
	"github.com/podsg/podsg/selector"
)

// TestConcurrentUpdates runs upserts, deletes and replace-alls against
// concurrent matches (run it with -race). Readers check that they never see
// half of an update:
//   - namespace "gen": ReplaceAll writes generation g as two policies, both
//     with group g; a reader must see both policies with one group;
//   - namespace "pair": one writer replaces policy "p" with a version whose
//     two groups are always equal in suffix; a reader must see them paired.
func TestConcurrentUpdates(t *testing.T) {
	x := selector.NewIndex(selector.Options{})
	const rounds = 300
	genPolicies := func(g int) []*v1beta1.SecurityGroupPolicy {
		return []*v1beta1.SecurityGroupPolicy{
			sgp("gen", "p1", everything, nil, groupID(g)),
			sgp("gen", "p2", nil, everything, groupID(g)),
		}
	}
	require.NoError(t, x.ReplaceAll(genPolicies(0)))

	var writers, readers sync.WaitGroup
	stop := make(chan struct{})
	writers.Go(func() {
		for g := 1; g <= rounds; g++ {
			if err := x.ReplaceAll(genPolicies(g)); err != nil {
				t.Error(err)
				return
			}
		}
	})
	writers.Go(func() {
		for i := range rounds {
			p := sgp("pair", "p", everything, nil, fmt.Sprintf("sg-a%07x", i), fmt.Sprintf("sg-b%07x", i))
			if err := x.Upsert(p); err != nil {
				t.Error(err)
				return
			}
			if i%3 == 0 {
				x.Delete("pair", "p")
			}
		}
	})
	writers.Go(func() {
		for i := range rounds {
			name := fmt.Sprintf("churn-%d", i%5)
			if err := x.Upsert(sgp(fmt.Sprintf("churn-%d", i%2), name, everything, nil, groupID(i))); err != nil {
				t.Error(err)
				return
			}
			x.Delete(fmt.Sprintf("churn-%d", (i+1)%2), fmt.Sprintf("churn-%d", (i+3)%5))
		}
	})
	for range 2 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				r := x.Match(selector.Pod{Namespace: "gen"})
				if !slices.Equal(r.Policies, []string{"p1", "p2"}) || len(r.Groups) != 1 {
					t.Errorf("half-applied ReplaceAll seen: %v", r)
					return
				}
				r = x.Match(selector.Pod{Namespace: "pair"})
				if r.Treatment == selector.TreatBranchENI {
					if len(r.Groups) != 2 || r.Groups[0][4:] != r.Groups[1][4:] {
						t.Errorf("torn policy seen: %v", r)
						return
					}
				}
				e := x.Explain(selector.Pod{Namespace: "churn-1"})
				if len(e.Result.Policies) != len(e.Policies) {
					t.Errorf("Explain result and policies disagree: %v", e)
					return
				}
				_ = x.Len()
				_, _ = x.Get("gen", "p1")
			}
		})
	}
	writers.Wait()
	close(stop)
	readers.Wait()
	require.Equal(t, []string{groupID(rounds)}, x.Match(selector.Pod{Namespace: "gen"}).Groups)
}

// TestResultUnaffectedByLaterUpdates: a policy change applies to pods
// matched afterwards; results already returned stay as they were.
func TestResultUnaffectedByLaterUpdates(t *testing.T) {
	x := selector.NewIndex(selector.Options{})
	require.NoError(t, x.Upsert(sgp("ns", "a", everything, nil, sgA)))
	require.NoError(t, x.Upsert(sgp("ns", "b", everything, nil, sgB)))
	pod := selector.Pod{Namespace: "ns"}
	before := x.Match(pod)
	one := selector.NewIndex(selector.Options{})
	require.NoError(t, one.Upsert(sgp("ns", "a", everything, nil, sgA)))
	beforeOne := one.Match(pod)

	require.NoError(t, x.Upsert(sgp("ns", "a", everything, nil, sgC)))
	require.True(t, x.Delete("ns", "b"))
	require.NoError(t, one.Upsert(sgp("ns", "a", everything, nil, sgD)))

	require.Equal(t, []string{sgA, sgB}, before.Groups)
	require.Equal(t, []string{"a", "b"}, before.Policies)
	require.Equal(t, []string{sgA}, beforeOne.Groups)
	require.Equal(t, []string{sgC}, x.Match(pod).Groups)
	require.Equal(t, []string{sgD}, one.Match(pod).Groups)
}
