package selector_test

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/podsg/podsg/api/podeni"
	"github.com/podsg/podsg/api/v1beta1"
	"github.com/podsg/podsg/selector"
)

const (
	sgA = "sg-0aaaaaaaaaaaaaaa1"
	sgB = "sg-0bbbbbbbbbbbbbbb2"
	sgC = "sg-0ccccccccccccccc3"
	sgD = "sg-12345678"
)

func TestMatch(t *testing.T) {
	const ns = "shop"
	tests := []struct {
		name     string
		policies []*v1beta1.SecurityGroupPolicy
		pod      selector.Pod
		want     selector.Result
	}{
		{
			name:     "no policy in the namespace",
			policies: []*v1beta1.SecurityGroupPolicy{sgp("other", "p", everything, nil, sgA)},
			pod:      selector.Pod{Namespace: ns, Labels: lbls("app", "web")},
			want:     selector.Result{Reason: selector.ReasonNoPolicy},
		},
		{
			name:     "pod selector matches",
			policies: []*v1beta1.SecurityGroupPolicy{sgp(ns, "p", labelsSel("app", "web"), nil, sgB, sgA)},
			pod:      selector.Pod{Namespace: ns, Labels: lbls("app", "web", "x", "y")},
			want:     selector.Result{Treatment: selector.TreatBranchENI, Groups: []string{sgB, sgA}, Policies: []string{"p"}},
		},
		{
			name:     "pod selector does not match",
			policies: []*v1beta1.SecurityGroupPolicy{sgp(ns, "p", labelsSel("app", "web"), nil, sgA)},
			pod:      selector.Pod{Namespace: ns, Labels: lbls("app", "db")},
			want:     selector.Result{Reason: selector.ReasonNoPolicy},
		},
		{
			name:     "empty pod selector selects every pod, even without labels",
			policies: []*v1beta1.SecurityGroupPolicy{sgp(ns, "p", everything, nil, sgA)},
			pod:      selector.Pod{Namespace: ns},
			want:     selector.Result{Treatment: selector.TreatBranchENI, Groups: []string{sgA}, Policies: []string{"p"}},
		},
		{
			name:     "no selector set selects nothing",
			policies: []*v1beta1.SecurityGroupPolicy{sgp(ns, "p", nil, nil, sgA)},
			pod:      selector.Pod{Namespace: ns, Labels: lbls("app", "web")},
			want:     selector.Result{Reason: selector.ReasonNoPolicy},
		},
		{
			name:     "no group IDs is ignored",
			policies: []*v1beta1.SecurityGroupPolicy{sgp(ns, "p", everything, nil)},
			pod:      selector.Pod{Namespace: ns},
			want:     selector.Result{Reason: selector.ReasonNoPolicy},
		},
		{
			name:     "service-account selector matches the service account's labels",
			policies: []*v1beta1.SecurityGroupPolicy{sgp(ns, "p", nil, labelsSel("team", "pay"), sgA)},
			pod:      selector.Pod{Namespace: ns, Labels: lbls("team", "other"), ServiceAccountLabels: lbls("team", "pay")},
			want:     selector.Result{Treatment: selector.TreatBranchENI, Groups: []string{sgA}, Policies: []string{"p"}},
		},
		{
			name:     "service-account selector ignores pod labels",
			policies: []*v1beta1.SecurityGroupPolicy{sgp(ns, "p", nil, labelsSel("team", "pay"), sgA)},
			pod:      selector.Pod{Namespace: ns, Labels: lbls("team", "pay")},
			want:     selector.Result{Reason: selector.ReasonNoPolicy},
		},
		{
			name:     "empty service-account selector matches a service account without labels",
			policies: []*v1beta1.SecurityGroupPolicy{sgp(ns, "p", nil, everything, sgA)},
			pod:      selector.Pod{Namespace: ns},
			want:     selector.Result{Treatment: selector.TreatBranchENI, Groups: []string{sgA}, Policies: []string{"p"}},
		},
		{
			name:     "both selectors: AND, both match",
			policies: []*v1beta1.SecurityGroupPolicy{sgp(ns, "p", labelsSel("app", "web"), labelsSel("team", "pay"), sgA)},
			pod:      selector.Pod{Namespace: ns, Labels: lbls("app", "web"), ServiceAccountLabels: lbls("team", "pay")},
			want:     selector.Result{Treatment: selector.TreatBranchENI, Groups: []string{sgA}, Policies: []string{"p"}},
		},
		{
			name:     "both selectors: AND, pod side fails",
			policies: []*v1beta1.SecurityGroupPolicy{sgp(ns, "p", labelsSel("app", "web"), labelsSel("team", "pay"), sgA)},
			pod:      selector.Pod{Namespace: ns, Labels: lbls("app", "db"), ServiceAccountLabels: lbls("team", "pay")},
			want:     selector.Result{Reason: selector.ReasonNoPolicy},
		},
		{
			name:     "both selectors: AND, service-account side fails",
			policies: []*v1beta1.SecurityGroupPolicy{sgp(ns, "p", labelsSel("app", "web"), labelsSel("team", "pay"), sgA)},
			pod:      selector.Pod{Namespace: ns, Labels: lbls("app", "web"), ServiceAccountLabels: lbls("team", "ops")},
			want:     selector.Result{Reason: selector.ReasonNoPolicy},
		},
		{
			name: "expressions",
			policies: []*v1beta1.SecurityGroupPolicy{sgp(ns, "p", exprSel(
				req("app", metav1.LabelSelectorOpIn, "web", "api"),
				req("tier", metav1.LabelSelectorOpNotIn, "test"),
				req("canary", metav1.LabelSelectorOpDoesNotExist),
				req("owner", metav1.LabelSelectorOpExists),
			), nil, sgA)},
			pod:  selector.Pod{Namespace: ns, Labels: lbls("app", "api", "owner", "")},
			want: selector.Result{Treatment: selector.TreatBranchENI, Groups: []string{sgA}, Policies: []string{"p"}},
		},
		{
			name: "selector that does not convert matches nothing",
			policies: []*v1beta1.SecurityGroupPolicy{
				sgp(ns, "bad-op", exprSel(req("app", "Equals", "web")), nil, sgA),
				sgp(ns, "bad-key", labelsSel("-app", "web"), nil, sgB),
			},
			pod:  selector.Pod{Namespace: ns, Labels: lbls("app", "web", "-app", "web")},
			want: selector.Result{Reason: selector.ReasonNoPolicy},
		},
		{
			name: "invalid group IDs are still used, as production does",
			policies: []*v1beta1.SecurityGroupPolicy{
				sgp(ns, "p", everything, nil, "my_pod_security_group_id"),
			},
			pod:  selector.Pod{Namespace: ns},
			want: selector.Result{Treatment: selector.TreatBranchENI, Groups: []string{"my_pod_security_group_id"}, Policies: []string{"p"}},
		},
		{
			name: "union in policy order: policies by name, groups in list order, first occurrence kept",
			policies: []*v1beta1.SecurityGroupPolicy{
				sgp(ns, "zeta", labelsSel("app", "web"), nil, sgC, sgA, sgC),
				sgp(ns, "alpha", everything, nil, sgB, sgA),
				sgp(ns, "mid", nil, everything, sgD),
				sgp(ns, "nope", labelsSel("app", "db"), nil, "sg-99999999"),
			},
			pod: selector.Pod{Namespace: ns, Labels: lbls("app", "web")},
			want: selector.Result{
				Treatment: selector.TreatBranchENI,
				Groups:    []string{sgB, sgA, sgD, sgC},
				Policies:  []string{"alpha", "mid", "zeta"},
			},
		},
		{
			name:     "host network is not eligible",
			policies: []*v1beta1.SecurityGroupPolicy{sgp(ns, "p", everything, nil, sgA)},
			pod:      selector.Pod{Namespace: ns, HostNetwork: true},
			want:     selector.Result{Reason: selector.ReasonHostNetwork},
		},
		{
			name:     "Windows node selector is not eligible",
			policies: []*v1beta1.SecurityGroupPolicy{sgp(ns, "p", everything, nil, sgA)},
			pod:      selector.Pod{Namespace: ns, NodeSelector: lbls(selector.OSLabel, "windows")},
			want:     selector.Result{Reason: selector.ReasonWindows},
		},
		{
			name:     "Linux node selector is eligible",
			policies: []*v1beta1.SecurityGroupPolicy{sgp(ns, "p", everything, nil, sgA)},
			pod:      selector.Pod{Namespace: ns, NodeSelector: lbls(selector.OSLabel, "linux")},
			want:     selector.Result{Treatment: selector.TreatBranchENI, Groups: []string{sgA}, Policies: []string{"p"}},
		},
		{
			name:     "Fargate profile",
			policies: []*v1beta1.SecurityGroupPolicy{sgp(ns, "p", everything, nil, sgB, sgA)},
			pod:      selector.Pod{Namespace: ns, FargateProfile: "fp-default"},
			want:     selector.Result{Treatment: selector.TreatFargate, Groups: []string{sgB, sgA}, Policies: []string{"p"}},
		},
		{
			name:     "Fargate label",
			policies: []*v1beta1.SecurityGroupPolicy{sgp(ns, "p", everything, nil, sgA)},
			pod:      selector.Pod{Namespace: ns, Labels: lbls(selector.FargateProfileLabel, "fp-default")},
			want:     selector.Result{Treatment: selector.TreatFargate, Groups: []string{sgA}, Policies: []string{"p"}},
		},
		{
			name:     "Fargate pod without policy",
			policies: []*v1beta1.SecurityGroupPolicy{sgp(ns, "p", labelsSel("app", "web"), nil, sgA)},
			pod:      selector.Pod{Namespace: ns, FargateProfile: "fp-default"},
			want:     selector.Result{Reason: selector.ReasonNoPolicy},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := selector.NewIndex(selector.Options{})
			for _, p := range tt.policies {
				_ = x.Upsert(p) // invalid policies are stored and reported
			}
			got := x.Match(tt.pod)
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Match (-want +got):\n%s", diff)
			}
			// ReplaceAll builds the same index.
			y := selector.NewIndex(selector.Options{})
			_ = y.ReplaceAll(tt.policies)
			if diff := cmp.Diff(got, y.Match(tt.pod), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Match after ReplaceAll differs from Match after Upsert (-upsert +replace):\n%s", diff)
			}
			// Explain agrees with Match.
			e := x.Explain(tt.pod)
			if diff := cmp.Diff(got, e.Result, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Explain.Result (-match +explain):\n%s", diff)
			}
		})
	}
}

// TestMatchPolicyOrder: the groups come in policy order (policies by name,
// each policy's groups in list order, the first occurrence of an ID kept),
// as the VPC resource controller's filterPodSecurityGroups and
// RemoveDuplicatedSg (pkg/utils/helper.go) collect them, whatever order the
// policies were stored in; the Fargate annotation keeps that order.
func TestMatchPolicyOrder(t *testing.T) {
	policies := []*v1beta1.SecurityGroupPolicy{
		sgp("ns", "b", everything, nil, sgA, sgC),
		sgp("ns", "a", everything, nil, sgC, sgB),
		sgp("ns", "c", everything, nil, sgD, sgA),
	}
	want := []string{sgC, sgB, sgA, sgD}
	forward, backward := selector.NewIndex(selector.Options{}), selector.NewIndex(selector.Options{})
	for i := range policies {
		require.NoError(t, forward.Upsert(policies[i]))
		require.NoError(t, backward.Upsert(policies[len(policies)-1-i]))
	}
	replaced := selector.NewIndex(selector.Options{})
	require.NoError(t, replaced.ReplaceAll(policies))
	for _, x := range []*selector.Index{forward, backward, replaced} {
		pod := selector.Pod{Namespace: "ns"}
		require.Equal(t, want, x.Match(pod).Groups)
		pod.FargateProfile = "fp"
		r := x.Match(pod)
		require.Equal(t, sgC+","+sgB+","+sgA+","+sgD, r.FargateAnnotation())
		require.Equal(t, []string{"a", "b", "c"}, r.Policies)
	}
	// One policy: its list order, duplicates dropped.
	one := selector.NewIndex(selector.Options{})
	_ = one.Upsert(sgp("ns", "p", everything, nil, sgD, sgB, sgD, sgA))
	require.Equal(t, []string{sgD, sgB, sgA}, one.Match(selector.Pod{Namespace: "ns"}).Groups)
}

// TestMatchPolicyOrderMany: past the linear de-duplication (many groups),
// the order and the de-duplication are the same.
func TestMatchPolicyOrderMany(t *testing.T) {
	x := selector.NewIndex(selector.Options{})
	var want []string
	for i := range 20 {
		// Each policy repeats the previous one's last two groups.
		groups := []string{groupID(3*i + 2), groupID(3*i + 1), groupID(3*i + 3), groupID(3*i + 2)}
		if i > 0 {
			groups = append(groups, groupID(3*i-1), groupID(3*i))
		}
		_ = x.Upsert(sgp("ns", fmt.Sprintf("p%02d", i), everything, nil, groups...))
		want = append(want, groupID(3*i+2), groupID(3*i+1), groupID(3*i+3))
	}
	got := x.Match(selector.Pod{Namespace: "ns"}).Groups
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("groups (-want +got):\n%s", diff)
	}
}

func TestResultSlicesAreSafeToAppend(t *testing.T) {
	x := selector.NewIndex(selector.Options{})
	require.NoError(t, x.Upsert(sgp("ns", "p", everything, nil, sgA)))
	require.NoError(t, x.Upsert(sgp("ns", "q", labelsSel("a", "b"), nil, sgB)))
	for _, l := range []map[string]string{nil, lbls("a", "b")} {
		r := x.Match(selector.Pod{Namespace: "ns", Labels: l})
		_ = append(r.Groups, "sg-ffffffff")
		_ = append(r.Policies, "zzz")
	}
	r := x.Match(selector.Pod{Namespace: "ns"})
	require.Equal(t, []string{sgA}, r.Groups)
	require.Equal(t, []string{"p"}, r.Policies)
	r = x.Match(selector.Pod{Namespace: "ns", Labels: lbls("a", "b")})
	require.Equal(t, []string{sgA, sgB}, r.Groups)
	require.Equal(t, []string{"p", "q"}, r.Policies)
}

func TestResultStrings(t *testing.T) {
	r := selector.Result{Treatment: selector.TreatFargate, Groups: []string{sgA, sgB}, Policies: []string{"p", "q"}}
	require.Equal(t, sgA+","+sgB, r.FargateAnnotation())
	require.Equal(t, "fargate.amazonaws.com/pod-sg", podeni.FargateAnnotationKey)
	require.Equal(t, "Fargate ["+sgA+" "+sgB+"] from p, q", r.String())
	r.Treatment = selector.TreatBranchENI
	require.Empty(t, r.FargateAnnotation())
	require.Equal(t, "not eligible: host network", selector.Result{Reason: selector.ReasonHostNetwork}.String())
	require.Equal(t, "not eligible: Windows pod", selector.Result{Reason: selector.ReasonWindows}.String())
	require.Equal(t, "not eligible: no policy selects the pod", selector.Result{Reason: selector.ReasonNoPolicy}.String())
	require.Equal(t, "refused: the pod's ServiceAccount does not exist",
		selector.Result{Treatment: selector.TreatRefused, Reason: selector.ReasonNoServiceAccount}.String())
	require.Equal(t, "Treatment(9)", selector.Treatment(9).String())
	require.Equal(t, "Class(9)", selector.Class(9).String())
	require.Equal(t, "Reason(9)", selector.Reason(9).String())
}

func TestIndexUpdates(t *testing.T) {
	x := selector.NewIndex(selector.Options{})
	web := selector.Pod{Namespace: "ns", Labels: lbls("app", "web")}

	require.NoError(t, x.Upsert(sgp("ns", "p", labelsSel("app", "web"), nil, sgA)))
	require.Equal(t, []string{sgA}, x.Match(web).Groups)
	require.Equal(t, 1, x.Len())

	// Replace: same name, new groups and selector.
	require.NoError(t, x.Upsert(sgp("ns", "p", labelsSel("app", "web"), nil, sgB)))
	require.Equal(t, []string{sgB}, x.Match(web).Groups)
	require.Equal(t, 1, x.Len())
	require.NoError(t, x.Upsert(sgp("ns", "p", labelsSel("app", "db"), nil, sgB)))
	require.Equal(t, selector.ReasonNoPolicy, x.Match(web).Reason)

	require.NoError(t, x.Upsert(sgp("ns", "q", everything, nil, sgC)))
	require.NoError(t, x.Upsert(sgp("other", "q", everything, nil, sgD)))
	require.Equal(t, 3, x.Len())
	p, ok := x.Get("ns", "q")
	require.True(t, ok)
	require.Equal(t, "ns", p.Namespace())
	require.Equal(t, "q", p.Name())
	require.Equal(t, []string{sgC}, p.Groups())
	_, ok = x.Get("ns", "missing")
	require.False(t, ok)
	_, ok = x.Get("missing", "q")
	require.False(t, ok)
	names := func(ps []*selector.Policy) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Name())
		}
		return out
	}
	require.Equal(t, []string{"p", "q"}, names(x.Policies("ns")))
	require.Nil(t, x.Policies("missing"))

	require.True(t, x.Delete("ns", "q"))
	require.False(t, x.Delete("ns", "q"))
	require.False(t, x.Delete("missing", "q"))
	require.Equal(t, 2, x.Len())
	require.Equal(t, selector.ReasonNoPolicy, x.Match(selector.Pod{Namespace: "ns"}).Reason)

	// Deleting the last policy of a namespace, then adding one again.
	require.True(t, x.Delete("other", "q"))
	require.Nil(t, x.Policies("other"))
	require.NoError(t, x.Upsert(sgp("other", "r", everything, nil, sgA)))
	require.Equal(t, []string{"r"}, x.Match(selector.Pod{Namespace: "other"}).Policies)

	// ReplaceAll drops everything else; the later duplicate wins.
	require.NoError(t, x.ReplaceAll([]*v1beta1.SecurityGroupPolicy{
		sgp("new", "a", everything, nil, sgA),
		sgp("new", "a", everything, nil, sgB),
	}))
	require.Equal(t, 1, x.Len())
	require.Equal(t, []string{sgB}, x.Match(selector.Pod{Namespace: "new"}).Groups)
	require.Equal(t, selector.ReasonNoPolicy, x.Match(selector.Pod{Namespace: "other"}).Reason)
	require.NoError(t, x.ReplaceAll(nil))
	require.Equal(t, 0, x.Len())
}

func TestZeroIndex(t *testing.T) {
	var x selector.Index
	require.Equal(t, selector.ReasonNoPolicy, x.Match(selector.Pod{Namespace: "ns"}).Reason)
	require.False(t, x.Delete("ns", "p"))
	require.Equal(t, 0, x.Len())
	require.NoError(t, x.Upsert(sgp("ns", "p", everything, nil, sgA)))
	require.Equal(t, []string{sgA}, x.Match(selector.Pod{Namespace: "ns"}).Groups)
}

func TestUpsertErrors(t *testing.T) {
	x := selector.NewIndex(selector.Options{})

	for _, p := range []*v1beta1.SecurityGroupPolicy{nil, sgp("", "p", everything, nil, sgA), sgp("ns", "", everything, nil, sgA)} {
		err := x.Upsert(p)
		require.ErrorIs(t, err, selector.ErrInvalidPolicy)
	}
	require.Equal(t, 0, x.Len(), "policies without a key are not stored")

	// An invalid policy is stored and reported with every problem.
	err := x.Upsert(sgp("ns", "p", everything, nil, "my_pod_security_group_id", sgA, sgA))
	require.ErrorIs(t, err, selector.ErrInvalidPolicy)
	var pe *selector.PolicyError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "ns", pe.Namespace)
	require.Equal(t, "p", pe.Name)
	require.Len(t, pe.Errs, 2)
	require.Equal(t, "spec.securityGroups.groupIds[0]", pe.Errs[0].Field)
	require.Equal(t, "spec.securityGroups.groupIds[2]", pe.Errs[1].Field)
	require.ErrorContains(t, err, "SecurityGroupPolicy ns/p")
	require.Equal(t, 1, x.Len())
	p, ok := x.Get("ns", "p")
	require.True(t, ok)
	require.Equal(t, err, p.Err())

	// The quota comes from the options.
	six := []string{"sg-00000001", "sg-00000002", "sg-00000003", "sg-00000004", "sg-00000005", "sg-00000006"}
	require.ErrorIs(t, x.Upsert(sgp("ns", "six", everything, nil, six...)), selector.ErrInvalidPolicy)
	raised := selector.NewIndex(selector.Options{Validate: v1beta1.ValidateOptions{MaxGroups: 16}})
	require.NoError(t, raised.Upsert(sgp("ns", "six", everything, nil, six...)))

	// ReplaceAll reports every problem and stores the keyed policies.
	err = x.ReplaceAll([]*v1beta1.SecurityGroupPolicy{
		sgp("ns", "a", nil, nil, sgA),
		sgp("ns", "b", everything, nil, "sg-bad"),
		sgp("ns", "", everything, nil, sgA),
		sgp("ns", "ok", everything, nil, sgA),
	})
	require.ErrorIs(t, err, selector.ErrInvalidPolicy)
	require.ErrorContains(t, err, "ns/a")
	require.ErrorContains(t, err, "ns/b")
	require.ErrorContains(t, err, `metadata.name ""`)
	require.Equal(t, 3, x.Len())
}

func TestPolicyIgnored(t *testing.T) {
	for _, tt := range []struct {
		p    *v1beta1.SecurityGroupPolicy
		want string
	}{
		{sgp("ns", "p", everything, nil, sgA), ""},
		{sgp("ns", "p", nil, nil, sgA), "neither podSelector nor serviceAccountSelector is set"},
		{sgp("ns", "p", everything, nil), "spec.securityGroups.groupIds is empty"},
		{sgp("ns", "p", exprSel(req("a", "Gt", "1")), nil, sgA), `podSelector does not convert: "Gt" is not a valid label selector operator`},
		{sgp("ns", "p", nil, labelsSel("a", "b c"), sgA), "serviceAccountSelector does not convert: "},
	} {
		got := selector.Compile(tt.p, v1beta1.ValidateOptions{}).Ignored()
		if tt.want == "" {
			require.Empty(t, got)
			continue
		}
		require.Contains(t, got, tt.want)
	}
}
