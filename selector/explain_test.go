package selector_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/podsg/podsg/api/v1beta1"
	"github.com/podsg/podsg/selector"
)

func TestExplain(t *testing.T) {
	x := selector.NewIndex(selector.Options{})
	for _, p := range []*v1beta1.SecurityGroupPolicy{
		sgp("shop", "db-clients", labelsSel("app", "web"), labelsSel("db-access", "true"), sgA),
		sgp("shop", "everyone", everything, nil, sgB),
		sgp("shop", "no-selector", nil, nil, sgC),
		sgp("shop", "payments", exprSel(
			req("role", metav1.LabelSelectorOpIn, "payments"),
			req("canary", metav1.LabelSelectorOpDoesNotExist),
			req("tier", metav1.LabelSelectorOpExists),
		), nil, sgC),
		sgp("shop", "placeholder", labelsSel("app", "web"), nil, "my_pod_security_group_id"),
		sgp("other", "elsewhere", everything, nil, sgD),
	} {
		_ = x.Upsert(p)
	}
	pod := selector.Pod{Namespace: "shop", Name: "web-1", Labels: lbls("app", "web", "role", "web", "canary", "yes")}
	got := x.Explain(pod)

	want := selector.Explanation{
		Namespace: "shop",
		Pod:       "web-1",
		Result: selector.Result{
			Treatment: selector.TreatBranchENI,
			Groups:    []string{sgB, "my_pod_security_group_id"},
			Policies:  []string{"everyone", "placeholder"},
		},
		Policies: []selector.PolicyExplanation{
			{
				Name:        "db-clients",
				Groups:      []string{sgA},
				PodSelector: selector.LabelMatch{Set: true, Selector: "app=web", Matched: true},
				ServiceAccountSelector: selector.LabelMatch{Set: true, Selector: "db-access=true", Failed: []selector.FailedRequirement{
					{Requirement: "db-access=true", Key: "db-access"},
				}},
			},
			{
				Name:                   "everyone",
				Groups:                 []string{sgB},
				Matched:                true,
				PodSelector:            selector.LabelMatch{Set: true, Matched: true},
				ServiceAccountSelector: selector.LabelMatch{Matched: true},
			},
			{
				Name:                   "no-selector",
				Groups:                 []string{sgC},
				Ignored:                "neither podSelector nor serviceAccountSelector is set",
				Invalid:                "spec.podSelector: Required value: set podSelector, serviceAccountSelector or both: a policy without selectors selects no pod",
				PodSelector:            selector.LabelMatch{Matched: true},
				ServiceAccountSelector: selector.LabelMatch{Matched: true},
			},
			{
				Name:   "payments",
				Groups: []string{sgC},
				PodSelector: selector.LabelMatch{Set: true, Selector: "!canary,role in (payments),tier", Failed: []selector.FailedRequirement{
					{Requirement: "!canary", Key: "canary", Value: "yes", Present: true},
					{Requirement: "role in (payments)", Key: "role", Value: "web", Present: true},
					{Requirement: "tier", Key: "tier"},
				}},
				ServiceAccountSelector: selector.LabelMatch{Matched: true},
			},
			{
				Name:                   "placeholder",
				Groups:                 []string{"my_pod_security_group_id"},
				Matched:                true,
				Invalid:                `spec.securityGroups.groupIds[0]: Invalid value: "my_pod_security_group_id": want sg- followed by 8 or 17 lowercase hex digits, like sg-0123456789abcdef0: use the ID of an existing security group`,
				PodSelector:            selector.LabelMatch{Set: true, Selector: "app=web", Matched: true},
				ServiceAccountSelector: selector.LabelMatch{Matched: true},
			},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Explain (-want +got):\n%s", diff)
	}

	wantText := `pod shop/web-1: branch ENI [sg-0bbbbbbbbbbbbbbb2 my_pod_security_group_id] from everyone, placeholder
  policy db-clients: does not select the pod
    podSelector app=web: matches
    serviceAccountSelector db-access=true: fails db-access=true (service account has no label db-access)
  policy everyone: selects the pod, groups [sg-0bbbbbbbbbbbbbbb2]
    podSelector {}: matches everything
    serviceAccountSelector: not set
  policy no-selector: ignored: neither podSelector nor serviceAccountSelector is set
    invalid: spec.podSelector: Required value: set podSelector, serviceAccountSelector or both: a policy without selectors selects no pod
    podSelector: not set
    serviceAccountSelector: not set
  policy payments: does not select the pod
    podSelector !canary,role in (payments),tier: fails !canary (pod label canary is "yes"); fails role in (payments) (pod label role is "web"); fails tier (pod has no label tier)
    serviceAccountSelector: not set
  policy placeholder: selects the pod, groups [my_pod_security_group_id]
    invalid: spec.securityGroups.groupIds[0]: Invalid value: "my_pod_security_group_id": want sg- followed by 8 or 17 lowercase hex digits, like sg-0123456789abcdef0: use the ID of an existing security group
    podSelector app=web: matches
    serviceAccountSelector: not set
`
	if diff := cmp.Diff(wantText, got.String()); diff != "" {
		t.Errorf("Explanation.String (-want +got):\n%s", diff)
	}
}

func TestExplainIneligibleAndEmpty(t *testing.T) {
	x := selector.NewIndex(selector.Options{})
	require.NoError(t, x.Upsert(sgp("ns", "all", everything, nil, sgA)))
	require.ErrorIs(t, x.Upsert(sgp("ns", "bad", exprSel(req("a", "Equals", "b")), nil, sgA)), selector.ErrInvalidPolicy)

	e := x.Explain(selector.Pod{Namespace: "ns", Name: "h", HostNetwork: true})
	require.Equal(t, selector.ReasonHostNetwork, e.Result.Reason)
	require.Len(t, e.Policies, 2)
	require.True(t, e.Policies[0].Matched, "Explain still says which policies select the pod")
	require.Contains(t, e.Policies[1].PodSelector.Error, `"Equals" is not a valid label selector operator`)
	require.Contains(t, e.String(), `podSelector {"matchExpressions":[{"key":"a","operator":"Equals","values":["b"]}]}: does not convert`)

	e = x.Explain(selector.Pod{Namespace: "empty", Name: "p"})
	require.Equal(t, "pod empty/p: not eligible: no policy selects the pod\n  namespace empty has no SecurityGroupPolicy\n", e.String())
}
