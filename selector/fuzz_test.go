package selector_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/podsg/podsg/selector"
)

// parseLabels reads "k=v;k2=v2" leniently; a part without "=" is a key
// with an empty value.
func parseLabels(s string) map[string]string {
	if s == "" {
		return nil
	}
	m := make(map[string]string)
	for part := range strings.SplitSeq(s, ";") {
		k, v, _ := strings.Cut(part, "=")
		m[k] = v
	}
	return m
}

var fuzzOps = []metav1.LabelSelectorOperator{
	metav1.LabelSelectorOpIn, metav1.LabelSelectorOpNotIn,
	metav1.LabelSelectorOpExists, metav1.LabelSelectorOpDoesNotExist, "Gt", "",
}

// FuzzMatch builds a selector and labels from arbitrary strings and checks
// the compiled matcher against k8s.io/apimachinery's labels.Selector, as
// pod selector and as service-account selector; Explain must agree with
// Match. Nothing may panic.
func FuzzMatch(f *testing.F) {
	f.Add("role=my-role", "role", uint8(0), "my-role", "role=my-role;app=my-app", "", uint8(0))
	f.Add("", "tier", uint8(1), "web,api", "tier=web", "team=a", uint8(1))
	f.Add("a=", "canary", uint8(3), "", "canary=", "canary=x", uint8(2))
	f.Add("-bad=x", "k", uint8(4), "1", "k=2", "", uint8(0))
	f.Add("", "", uint8(5), "", "", "", uint8(3))
	f.Fuzz(func(t *testing.T, matchLabels, key string, op uint8, values, podLabels, saLabels string, where uint8) {
		sel := &metav1.LabelSelector{MatchLabels: parseLabels(matchLabels)}
		if key != "" || op%uint8(len(fuzzOps)) != 0 {
			r := metav1.LabelSelectorRequirement{Key: key, Operator: fuzzOps[int(op)%len(fuzzOps)]}
			if values != "" {
				r.Values = strings.Split(values, ",")
			}
			sel.MatchExpressions = []metav1.LabelSelectorRequirement{r}
		}
		pod := selector.Pod{Namespace: "ns", Name: "p", Labels: parseLabels(podLabels), ServiceAccountLabels: parseLabels(saLabels)}

		var podSel, saSel *metav1.LabelSelector
		var target map[string]string
		switch where % 4 {
		case 0:
			podSel, target = sel, pod.Labels
		case 1:
			saSel, target = sel, pod.ServiceAccountLabels
		case 2:
			// Both: the other side is {} and matches anything.
			podSel, saSel, target = sel, everything, pod.Labels
		default:
			podSel, saSel, target = everything, sel, pod.ServiceAccountLabels
		}
		want := false
		if ls, err := metav1.LabelSelectorAsSelector(sel); err == nil {
			want = ls.Matches(labels.Set(target))
		}

		x := selector.NewIndex(selector.Options{})
		_ = x.Upsert(sgp("ns", "p", podSel, saSel, sgA))
		got := x.Match(pod)
		require.Equal(t, want, got.Treatment == selector.TreatBranchENI, "selector %+v, labels %v", sel, target)

		e := x.Explain(pod)
		require.Equal(t, got, e.Result)
		require.Len(t, e.Policies, 1)
		require.Equal(t, want, e.Policies[0].Matched)
		_ = e.String()
		sx := e.Policies[0].PodSelector
		if where%2 == 1 {
			sx = e.Policies[0].ServiceAccountSelector
		}
		require.Equal(t, want, sx.Matched)
		if sx.Error == "" {
			require.Equal(t, want, len(sx.Failed) == 0, "failed requirements %v", sx.Failed)
		}
	})
}
