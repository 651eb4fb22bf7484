package selector_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/podsg/podsg/api/v1beta1"
	"github.com/podsg/podsg/selector"
)

// randomSelector draws a selector over a small alphabet of keys and values,
// so that policies and pods overlap often. It returns nil sometimes.
func randomSelector(r *rand.Rand, keys int) *metav1.LabelSelector {
	if r.IntN(4) == 0 {
		return nil
	}
	sel := &metav1.LabelSelector{}
	for range r.IntN(3) {
		if sel.MatchLabels == nil {
			sel.MatchLabels = map[string]string{}
		}
		sel.MatchLabels[fmt.Sprintf("k%d", r.IntN(keys))] = fmt.Sprintf("v%d", r.IntN(3))
	}
	ops := []metav1.LabelSelectorOperator{metav1.LabelSelectorOpIn, metav1.LabelSelectorOpNotIn,
		metav1.LabelSelectorOpExists, metav1.LabelSelectorOpDoesNotExist}
	for range r.IntN(3) {
		e := metav1.LabelSelectorRequirement{Key: fmt.Sprintf("k%d", r.IntN(keys)), Operator: ops[r.IntN(len(ops))]}
		if e.Operator == metav1.LabelSelectorOpIn || e.Operator == metav1.LabelSelectorOpNotIn {
			for range 1 + r.IntN(3) {
				e.Values = append(e.Values, fmt.Sprintf("v%d", r.IntN(3)))
			}
		}
		sel.MatchExpressions = append(sel.MatchExpressions, e)
	}
	return sel
}

func randomLabels(r *rand.Rand, keys int) map[string]string {
	m := map[string]string{}
	for range r.IntN(keys + 1) {
		m[fmt.Sprintf("k%d", r.IntN(keys))] = fmt.Sprintf("v%d", r.IntN(3))
	}
	return m
}

// TestRandomAgainstNaive compares the indexed matcher with the webhook's
// algorithm on random namespaces: small and large, few and many label keys
// (many keys exercise the fallback scan), and pods that many policies
// select (the heap path beyond the stack buffer).
func TestRandomAgainstNaive(t *testing.T) {
	for _, tc := range []struct{ policies, keys, pods int }{
		{5, 3, 200},
		{60, 4, 120},
		{200, 40, 80},
		{300, 2, 50},
	} {
		t.Run(fmt.Sprintf("%dpolicies-%dkeys", tc.policies, tc.keys), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(tc.policies), uint64(tc.keys)))
			var ps []*v1beta1.SecurityGroupPolicy
			for i := range tc.policies {
				var groups []string
				for range r.IntN(3) {
					groups = append(groups, groupID(r.IntN(50)))
				}
				ps = append(ps, sgp("ns", fmt.Sprintf("p%03d", i), randomSelector(r, tc.keys), randomSelector(r, tc.keys), groups...))
			}
			x := selector.NewIndex(selector.Options{})
			_ = x.ReplaceAll(ps)
			most := 0
			for range tc.pods {
				pod := selector.Pod{Namespace: "ns", Labels: randomLabels(r, tc.keys), ServiceAccountLabels: randomLabels(r, tc.keys)}
				got := x.Match(pod)
				if diff := cmp.Diff(naiveMatch(ps, &pod), got.Groups, cmpopts.EquateEmpty()); diff != "" {
					t.Fatalf("pod %v: groups (-naive +indexed):\n%s", pod, diff)
				}
				var want []string
				for _, p := range x.Policies("ns") {
					if p.Matches(&pod) {
						want = append(want, p.Name())
					}
				}
				if diff := cmp.Diff(want, got.Policies, cmpopts.EquateEmpty()); diff != "" {
					t.Fatalf("pod %v: policies (-scan +indexed):\n%s", pod, diff)
				}
				if !slices.IsSorted(got.Policies) {
					t.Fatalf("policies not sorted by name: %v", got)
				}
				most = max(most, len(got.Policies))
			}
			t.Logf("at most %d policies matched one pod", most)
		})
	}
}

// TestManyMatches: beyond the stack buffer the result is still complete.
func TestManyMatches(t *testing.T) {
	x := selector.NewIndex(selector.Options{})
	var want []string
	for i := range 100 {
		name := fmt.Sprintf("p%03d", i)
		if err := x.Upsert(sgp("ns", name, labelsSel("app", "web"), nil, groupID(i%10))); err != nil {
			t.Fatal(err)
		}
		want = append(want, name)
	}
	r := x.Match(selector.Pod{Namespace: "ns", Labels: lbls("app", "web")})
	if diff := cmp.Diff(want, r.Policies); diff != "" {
		t.Fatalf("policies (-want +got):\n%s", diff)
	}
	if len(r.Groups) != 10 {
		t.Fatalf("got %d groups, want 10", len(r.Groups))
	}
}
