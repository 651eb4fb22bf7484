package v1beta1_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/podsg/podsg/api/v1beta1"
)

// violation is the part of a field.Error that tests compare.
type violation struct {
	Type  field.ErrorType
	Field string
	Value any
}

func violations(errs field.ErrorList) []violation {
	var out []violation
	for _, e := range errs {
		v := violation{Type: e.Type, Field: e.Field}
		if e.Type == field.ErrorTypeInvalid || e.Type == field.ErrorTypeDuplicate || e.Type == field.ErrorTypeTooMany {
			v.Value = e.BadValue
		}
		out = append(out, v)
	}
	return out
}

func policy(spec v1beta1.SecurityGroupPolicySpec) *v1beta1.SecurityGroupPolicy {
	return &v1beta1.SecurityGroupPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "vpcresources.k8s.aws/v1beta1", Kind: "SecurityGroupPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"},
		Spec:       spec,
	}
}

func groups(ids ...string) v1beta1.GroupIDs { return v1beta1.GroupIDs{Groups: ids} }

func TestValidate(t *testing.T) {
	const (
		sg1 = "sg-0123456789abcdef0"
		sg2 = "sg-12345678"
		sg3 = "sg-0aaaaaaaaaaaaaaa3"
	)
	everything := &metav1.LabelSelector{}
	role := &metav1.LabelSelector{MatchLabels: map[string]string{"role": "db"}}
	gPath := "spec.securityGroups.groupIds"

	tests := []struct {
		name string
		spec v1beta1.SecurityGroupPolicySpec
		opts v1beta1.ValidateOptions
		want []violation
	}{
		{
			name: "pod selector",
			spec: v1beta1.SecurityGroupPolicySpec{PodSelector: role, SecurityGroups: groups(sg1, sg2)},
		},
		{
			name: "service account selector, empty",
			spec: v1beta1.SecurityGroupPolicySpec{ServiceAccountSelector: everything, SecurityGroups: groups(sg1)},
		},
		{
			name: "both selectors, all operators",
			spec: v1beta1.SecurityGroupPolicySpec{
				PodSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
					{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"a", "b"}},
					{Key: "example.com/tier", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"web"}},
					{Key: "canary", Operator: metav1.LabelSelectorOpDoesNotExist},
				}},
				ServiceAccountSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
					{Key: "team", Operator: metav1.LabelSelectorOpExists},
				}},
				SecurityGroups: groups(sg1),
			},
		},
		{
			name: "no selector",
			spec: v1beta1.SecurityGroupPolicySpec{SecurityGroups: groups(sg1)},
			want: []violation{{Type: field.ErrorTypeRequired, Field: "spec.podSelector"}},
		},
		{
			name: "no groups",
			spec: v1beta1.SecurityGroupPolicySpec{PodSelector: role},
			want: []violation{{Type: field.ErrorTypeRequired, Field: gPath}},
		},
		{
			name: "empty group list",
			spec: v1beta1.SecurityGroupPolicySpec{PodSelector: role, SecurityGroups: groups()},
			want: []violation{{Type: field.ErrorTypeRequired, Field: gPath}},
		},
		{
			name: "every group problem, each with its index",
			spec: v1beta1.SecurityGroupPolicySpec{PodSelector: role, SecurityGroups: groups(
				sg1, "my_pod_security_group_id", sg1, "SG-12345678", "sg-0123456789ABCDEF0", "sg-123456789", "sg-")},
			want: []violation{
				{Type: field.ErrorTypeTooMany, Field: gPath, Value: 7},
				{Type: field.ErrorTypeInvalid, Field: gPath + "[1]", Value: "my_pod_security_group_id"},
				{Type: field.ErrorTypeDuplicate, Field: gPath + "[2]", Value: sg1},
				{Type: field.ErrorTypeInvalid, Field: gPath + "[3]", Value: "SG-12345678"},
				{Type: field.ErrorTypeInvalid, Field: gPath + "[4]", Value: "sg-0123456789ABCDEF0"},
				{Type: field.ErrorTypeInvalid, Field: gPath + "[5]", Value: "sg-123456789"},
				{Type: field.ErrorTypeInvalid, Field: gPath + "[6]", Value: "sg-"},
			},
		},
		{
			name: "five groups fit the default quota",
			spec: v1beta1.SecurityGroupPolicySpec{PodSelector: role, SecurityGroups: groups(
				"sg-00000001", "sg-00000002", "sg-00000003", "sg-00000004", "sg-00000005")},
		},
		{
			name: "six groups exceed the default quota",
			spec: v1beta1.SecurityGroupPolicySpec{PodSelector: role, SecurityGroups: groups(
				"sg-00000001", "sg-00000002", "sg-00000003", "sg-00000004", "sg-00000005", "sg-00000006")},
			want: []violation{{Type: field.ErrorTypeTooMany, Field: gPath, Value: 6}},
		},
		{
			name: "six groups fit a raised quota",
			opts: v1beta1.ValidateOptions{MaxGroups: 16},
			spec: v1beta1.SecurityGroupPolicySpec{PodSelector: role, SecurityGroups: groups(
				"sg-00000001", "sg-00000002", "sg-00000003", "sg-00000004", "sg-00000005", "sg-00000006")},
		},
		{
			name: "quota above the ceiling",
			opts: v1beta1.ValidateOptions{MaxGroups: 17},
			spec: v1beta1.SecurityGroupPolicySpec{PodSelector: role, SecurityGroups: groups(sg1)},
			want: []violation{{Type: field.ErrorTypeInternal, Field: gPath}},
		},
		{
			name: "negative quota",
			opts: v1beta1.ValidateOptions{MaxGroups: -1},
			spec: v1beta1.SecurityGroupPolicySpec{PodSelector: role, SecurityGroups: groups(sg1)},
			want: []violation{{Type: field.ErrorTypeInternal, Field: gPath}},
		},
		{
			name: "bad selectors, every problem with its path",
			spec: v1beta1.SecurityGroupPolicySpec{
				PodSelector: &metav1.LabelSelector{
					MatchLabels: map[string]string{"zz/bad/key": "v", "ok": "bad value", "a": "fine"},
					MatchExpressions: []metav1.LabelSelectorRequirement{
						{Key: "app", Operator: "Equals", Values: []string{"x"}},
						{Key: "app", Operator: metav1.LabelSelectorOpIn},
						{Key: "app", Operator: metav1.LabelSelectorOpExists, Values: []string{"x"}},
						{Key: "-bad", Operator: metav1.LabelSelectorOpExists},
						{Key: "app", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"ok", "not ok"}},
					},
				},
				ServiceAccountSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
					{Key: "", Operator: metav1.LabelSelectorOpExists},
				}},
				SecurityGroups: groups(sg1, sg3),
			},
			want: []violation{
				{Type: field.ErrorTypeInvalid, Field: "spec.podSelector.matchLabels[ok]", Value: "bad value"},
				{Type: field.ErrorTypeInvalid, Field: "spec.podSelector.matchLabels[zz/bad/key]", Value: "zz/bad/key"},
				{Type: field.ErrorTypeInvalid, Field: "spec.podSelector.matchExpressions[0].operator", Value: metav1.LabelSelectorOperator("Equals")},
				{Type: field.ErrorTypeRequired, Field: "spec.podSelector.matchExpressions[1].values"},
				{Type: field.ErrorTypeForbidden, Field: "spec.podSelector.matchExpressions[2].values"},
				{Type: field.ErrorTypeInvalid, Field: "spec.podSelector.matchExpressions[3].key", Value: "-bad"},
				{Type: field.ErrorTypeInvalid, Field: "spec.podSelector.matchExpressions[4].values[1]", Value: "not ok"},
				// An empty key breaks two rules: non-empty, and the name pattern.
				{Type: field.ErrorTypeInvalid, Field: "spec.serviceAccountSelector.matchExpressions[0].key", Value: ""},
				{Type: field.ErrorTypeInvalid, Field: "spec.serviceAccountSelector.matchExpressions[0].key", Value: ""},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := policy(tt.spec)
			before := p.DeepCopy()
			errs := v1beta1.Validate(p, tt.opts)
			if diff := cmp.Diff(tt.want, violations(errs)); diff != "" {
				t.Errorf("Validate violations (-want +got):\n%s\nerrors: %v", diff, errs)
			}
			require.Equal(t, before, p, "Validate modified the policy")
			// A second run reports the same, in the same order.
			require.Equal(t, errs, v1beta1.Validate(p, tt.opts))
		})
	}
}

func TestValidateMessages(t *testing.T) {
	p := policy(v1beta1.SecurityGroupPolicySpec{
		PodSelector: &metav1.LabelSelector{},
		SecurityGroups: groups("my_pod_security_group_id",
			"sg-00000001", "sg-00000002", "sg-00000003", "sg-00000004", "sg-00000005"),
	})
	msg := v1beta1.Validate(p, v1beta1.ValidateOptions{}).ToAggregate().Error()
	for _, want := range []string{
		`spec.securityGroups.groupIds[0]: Invalid value: "my_pod_security_group_id"`,
		"existing security group",
		"spec.securityGroups.groupIds: Too many: 6: must have at most 5 items",
		"raisable to 16",
	} {
		require.Contains(t, msg, want)
	}
}

func TestValidateNil(t *testing.T) {
	errs := v1beta1.Validate(nil, v1beta1.ValidateOptions{})
	require.Len(t, errs, 1)
	require.Equal(t, field.ErrorTypeRequired, errs[0].Type)
}

func TestValidGroupID(t *testing.T) {
	for id, want := range map[string]bool{
		"sg-12345678":            true,
		"sg-abcdef01":            true,
		"sg-0123456789abcdef0":   true,
		"sg-1234567":             false,
		"sg-123456789":           false,
		"sg-0123456789abcdef":    false,
		"sg-0123456789abcdef01":  false,
		"sg-0123456789abcdeg0":   false,
		"sg-0123456789ABCDEF0":   false,
		"sg_0123456789abcdef0":   false,
		"eni-0123456789abcdef":   false,
		"":                       false,
		"sg-05b1d815d1EXAMPLE":   false,
		" sg-0123456789abcdef0":  false,
		"sg-0123456789abcdef0\n": false,
	} {
		require.Equal(t, want, v1beta1.ValidGroupID(id), "ValidGroupID(%q)", id)
	}
}

func TestValidateSelectorConverts(t *testing.T) {
	// Whatever ValidateSelector accepts, LabelSelectorAsSelector converts.
	sels := []*metav1.LabelSelector{
		nil,
		{},
		{MatchLabels: map[string]string{"a": ""}},
		{MatchLabels: map[string]string{strings.Repeat("k", 63): strings.Repeat("v", 63)}},
		{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: metav1.LabelSelectorOpIn, Values: []string{""}}}},
	}
	for _, sel := range sels {
		require.Empty(t, v1beta1.ValidateSelector(sel, field.NewPath("s")))
		_, err := metav1.LabelSelectorAsSelector(sel)
		require.NoError(t, err)
	}
}
