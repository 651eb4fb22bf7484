package selector_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/selector"
)

func TestMatchAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector; run without -race")
	}
	x := newCorpus(20, 20).index(t)
	for _, tt := range []struct {
		name string
		pod  selector.Pod
		want int // AllocsPerRun reports whole allocations per run
	}{
		{"no match", selector.Pod{Namespace: "ns-0010", Labels: noMatch.Labels}, 0},
		{"no policy in namespace", selector.Pod{Namespace: "elsewhere", Labels: noMatch.Labels}, 0},
		{"one match", selector.Pod{Namespace: "ns-0010", Labels: oneMatch.Labels}, 0},
		{"two matches", selector.Pod{Namespace: "ns-0010", Labels: twoMatches.Labels, ServiceAccountLabels: twoMatches.ServiceAccountLabels}, 1},
		{"host network", selector.Pod{Namespace: "ns-0010", HostNetwork: true}, 0},
	} {
		got := testing.AllocsPerRun(100, func() { x.Match(tt.pod) })
		require.Equal(t, tt.want, int(got), "%s: allocations per Match", tt.name)
	}
}

// TestNaiveAgrees checks the index against the webhook's algorithm (the
// benchmark's naive matcher) over the whole corpus and many pods.
func TestNaiveAgrees(t *testing.T) {
	c := newCorpus(30, 20)
	x := c.index(t)
	var pods []selector.Pod
	for _, ns := range []string{"ns-0000", "ns-0017", "ns-0029", "ns-9999"} {
		for _, app := range []string{"app-0", "app-1", "app-2", "app-2-canary", "app-3", "app-7", "app-19", "none"} {
			for _, tier := range []string{"", "backend", "frontend"} {
				for _, team := range []string{"", "team-3", "team-7"} {
					l := lbls("app", app)
					if tier != "" {
						l["tier"] = tier
					}
					var sa map[string]string
					if team != "" {
						sa = lbls("team", team)
					}
					pods = append(pods, selector.Pod{Namespace: ns, Labels: l, ServiceAccountLabels: sa})
				}
			}
		}
	}
	matched := 0
	for _, pod := range pods {
		want := naiveMatch(c.byNS[pod.Namespace], &pod)
		got := x.Match(pod)
		if diff := cmp.Diff(want, got.Groups, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("pod %v: groups (-naive +indexed):\n%s", pod, diff)
		}
		if len(got.Groups) > 0 {
			matched++
		}
	}
	require.Greater(t, matched, len(pods)/4, "the corpus should select a good share of the pods")
}
