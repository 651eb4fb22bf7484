package selector_test

import (
	"fmt"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/podsg/podsg/api/v1beta1"
	"github.com/podsg/podsg/selector"
)

// corpus is a cluster's worth of policies: perNS policies in each of
// namespaces namespaces, with a mix of matchLabels, matchExpressions and
// service-account selectors.
type corpus struct {
	policies []*v1beta1.SecurityGroupPolicy
	byNS     map[string][]*v1beta1.SecurityGroupPolicy
}

func groupID(n int) string { return fmt.Sprintf("sg-%017x", n) }

func newCorpus(namespaces, perNS int) *corpus {
	c := &corpus{byNS: make(map[string][]*v1beta1.SecurityGroupPolicy, namespaces)}
	for i := range namespaces {
		ns := fmt.Sprintf("ns-%04d", i)
		for j := range perNS {
			var pod, sa *metav1.LabelSelector
			app := fmt.Sprintf("app-%d", j)
			switch {
			case j == perNS-1:
				// Selects every backend pod of the namespace.
				pod = exprSel(
					req("tier", metav1.LabelSelectorOpIn, "backend"),
					req("environment", metav1.LabelSelectorOpNotIn, "test"),
				)
			case j%4 == 0:
				pod = labelsSel("app", app)
			case j%4 == 1:
				pod = labelsSel("app", app, "tier", "backend")
			case j%4 == 2:
				pod = exprSel(req("app", metav1.LabelSelectorOpIn, app, app+"-canary"), req("tier", metav1.LabelSelectorOpExists))
			default:
				pod = labelsSel("app", app)
				sa = labelsSel("team", fmt.Sprintf("team-%d", j))
			}
			n := i*perNS + j
			p := sgp(ns, fmt.Sprintf("policy-%02d", j), pod, sa, groupID(n), groupID(1_000_000+n%7))
			c.policies = append(c.policies, p)
			c.byNS[ns] = append(c.byNS[ns], p)
		}
	}
	return c
}

func (c *corpus) index(tb testing.TB) *selector.Index {
	x := selector.NewIndex(selector.Options{})
	if err := x.ReplaceAll(c.policies); err != nil {
		tb.Fatal(err)
	}
	return x
}

// naiveMatch is what the VPC resource controller's webhook does for each
// pod: convert every selector of every policy of the namespace with
// metav1.LabelSelectorAsSelector, match, and de-duplicate the groups keeping
// the first occurrence (RemoveDuplicatedSg). policies must be in name order,
// the order a LIST from the API server returns.
func naiveMatch(policies []*v1beta1.SecurityGroupPolicy, pod *selector.Pod) []string {
	var groups []string
	for _, p := range policies {
		hasPod := p.Spec.PodSelector != nil
		hasSA := p.Spec.ServiceAccountSelector != nil
		if (!hasPod && !hasSA) || len(p.Spec.SecurityGroups.Groups) == 0 {
			continue
		}
		podMatched, saMatched := false, false
		if sel, err := metav1.LabelSelectorAsSelector(p.Spec.PodSelector); err == nil && sel.Matches(labels.Set(pod.Labels)) {
			podMatched = true
		}
		if sel, err := metav1.LabelSelectorAsSelector(p.Spec.ServiceAccountSelector); err == nil && sel.Matches(labels.Set(pod.ServiceAccountLabels)) {
			saMatched = true
		}
		if (hasPod && !podMatched) || (hasSA && !saMatched) {
			continue
		}
		for _, g := range p.Spec.SecurityGroups.Groups {
			if !slices.Contains(groups, g) {
				groups = append(groups, g)
			}
		}
	}
	return groups
}

// Pods of namespace ns-0500 of the corpus.
var (
	// twoMatches is selected by policy-04 (app=app-4) and policy-19
	// (every backend pod).
	twoMatches = selector.Pod{Namespace: "ns-0500", Name: "web-1",
		Labels:               lbls("app", "app-4", "tier", "backend", "pod-template-hash", "5df6f7687b", "version", "v1"),
		ServiceAccountLabels: lbls("team", "team-9")}
	// oneMatch is selected by policy-04 only.
	oneMatch = selector.Pod{Namespace: "ns-0500", Name: "web-2",
		Labels: lbls("app", "app-4", "tier", "frontend", "pod-template-hash", "5df6f7687b", "version", "v1")}
	// noMatch is selected by no policy.
	noMatch = selector.Pod{Namespace: "ns-0500", Name: "web-3",
		Labels: lbls("app", "unknown", "tier", "frontend", "pod-template-hash", "5df6f7687b", "version", "v1")}
)

func benchmarkMatch(b *testing.B, pod selector.Pod, wantGroups int) {
	c := newCorpus(1000, 20)
	x := c.index(b)
	policies := c.byNS[pod.Namespace]
	b.Run("indexed", func(b *testing.B) {
		if got := len(x.Match(pod).Groups); got != wantGroups {
			b.Fatalf("indexed match gives %d groups, want %d", got, wantGroups)
		}
		b.ReportAllocs()
		for b.Loop() {
			x.Match(pod)
		}
	})
	b.Run("naive", func(b *testing.B) {
		if got := len(naiveMatch(policies, &pod)); got != wantGroups {
			b.Fatalf("naive match gives %d groups, want %d", got, wantGroups)
		}
		b.ReportAllocs()
		for b.Loop() {
			naiveMatch(policies, &pod)
		}
	})
}

// BenchmarkMatch matches one pod selected by two policies against 1,000
// namespaces of 20 policies each.
func BenchmarkMatch(b *testing.B) { benchmarkMatch(b, twoMatches, 4) }

// BenchmarkMatchOne matches a pod selected by one policy.
func BenchmarkMatchOne(b *testing.B) { benchmarkMatch(b, oneMatch, 2) }

// BenchmarkMatchNone matches a pod that no policy selects.
func BenchmarkMatchNone(b *testing.B) { benchmarkMatch(b, noMatch, 0) }

// BenchmarkUpsert replaces one policy in an index of 20,000 (1,000
// namespaces of 20).
func BenchmarkUpsert(b *testing.B) {
	c := newCorpus(1000, 20)
	x := c.index(b)
	versions := [2]*v1beta1.SecurityGroupPolicy{
		sgp("ns-0500", "policy-07", labelsSel("app", "app-7"), nil, groupID(1)),
		sgp("ns-0500", "policy-07", labelsSel("app", "app-7", "tier", "backend"), nil, groupID(2), groupID(3)),
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := x.Upsert(versions[i&1]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	if x.Len() != 20000 {
		b.Fatalf("index holds %d policies, want 20000", x.Len())
	}
}

// BenchmarkReplaceAll rebuilds an index of 20,000 policies, as after a
// relist.
func BenchmarkReplaceAll(b *testing.B) {
	c := newCorpus(1000, 20)
	x := selector.NewIndex(selector.Options{})
	b.ReportAllocs()
	for b.Loop() {
		if err := x.ReplaceAll(c.policies); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMatchParallel matches from every CPU while one writer keeps
// replacing a policy of the same namespace: readers do not wait for it.
// Allocations are not reported, as they would include the writer's.
func BenchmarkMatchParallel(b *testing.B) {
	c := newCorpus(1000, 20)
	x := c.index(b)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		p := c.byNS["ns-0500"][4].DeepCopy()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			p.Spec.SecurityGroups.Groups = []string{groupID(i % 3)}
			if err := x.Upsert(p); err != nil {
				panic(err)
			}
		}
	}()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			x.Match(twoMatches)
		}
	})
	close(stop)
	<-done
}
