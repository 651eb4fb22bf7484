package v1beta1_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/podsg/podsg/api/v1beta1"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return data
}

func TestDecodeTutorialPolicy(t *testing.T) {
	p, err := v1beta1.Decode(readTestdata(t, "my-security-group-policy.yaml"))
	require.NoError(t, err)
	want := &v1beta1.SecurityGroupPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "vpcresources.k8s.aws/v1beta1", Kind: "SecurityGroupPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: "my-security-group-policy", Namespace: "my-namespace"},
		Spec: v1beta1.SecurityGroupPolicySpec{
			PodSelector:    &metav1.LabelSelector{MatchLabels: map[string]string{"role": "my-role"}},
			SecurityGroups: v1beta1.GroupIDs{Groups: []string{"sg-05b1d815d1e7a3c90"}},
		},
	}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Fatalf("decoded policy (-want +got):\n%s", diff)
	}
	require.Empty(t, v1beta1.Validate(p, v1beta1.ValidateOptions{}))
}

func TestDecodeTutorialPolicyVerbatim(t *testing.T) {
	// The tutorial's own text decodes, but its placeholder group ID is
	// reported before any pod could get stuck on it.
	p, err := v1beta1.Decode(readTestdata(t, "tutorial-verbatim/my-security-group-policy.yaml"))
	require.NoError(t, err)
	errs := v1beta1.Validate(p, v1beta1.ValidateOptions{})
	require.Len(t, errs, 1)
	require.Equal(t, field.ErrorTypeInvalid, errs[0].Type)
	require.Equal(t, "spec.securityGroups.groupIds[0]", errs[0].Field)
	require.Equal(t, "my_pod_security_group_id", errs[0].BadValue)
}

func TestDecode(t *testing.T) {
	const head = "apiVersion: vpcresources.k8s.aws/v1beta1\nkind: SecurityGroupPolicy\nmetadata: {name: p, namespace: ns}\n"
	tests := []struct {
		name      string
		in        string
		wantErr   error
		errSubstr string
		want      v1beta1.SecurityGroupPolicySpec
	}{
		{
			name: "service account selector",
			in:   head + "spec:\n  serviceAccountSelector:\n    matchLabels: {team: a}\n  securityGroups:\n    groupIds: [sg-12345678, sg-87654321]\n",
			want: v1beta1.SecurityGroupPolicySpec{
				ServiceAccountSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}},
				SecurityGroups:         v1beta1.GroupIDs{Groups: []string{"sg-12345678", "sg-87654321"}},
			},
		},
		{
			name: "empty selector stays set",
			in:   head + "spec:\n  podSelector: {}\n  securityGroups: {groupIds: [sg-12345678]}\n",
			want: v1beta1.SecurityGroupPolicySpec{
				PodSelector:    &metav1.LabelSelector{},
				SecurityGroups: v1beta1.GroupIDs{Groups: []string{"sg-12345678"}},
			},
		},
		{
			name: "JSON",
			in:   `{"apiVersion":"vpcresources.k8s.aws/v1beta1","kind":"SecurityGroupPolicy","metadata":{"name":"p"},"spec":{"podSelector":{"matchExpressions":[{"key":"a","operator":"Exists"}]},"securityGroups":{"groupIds":["sg-12345678"]}}}`,
			want: v1beta1.SecurityGroupPolicySpec{
				PodSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
					{Key: "a", Operator: metav1.LabelSelectorOpExists},
				}},
				SecurityGroups: v1beta1.GroupIDs{Groups: []string{"sg-12345678"}},
			},
		},
		{
			name: "leading separator and comments",
			in:   "# comment\n---\n" + head + "spec: {podSelector: {}, securityGroups: {groupIds: [sg-12345678]}}\n---\n# trailing\n",
			want: v1beta1.SecurityGroupPolicySpec{
				PodSelector:    &metav1.LabelSelector{},
				SecurityGroups: v1beta1.GroupIDs{Groups: []string{"sg-12345678"}},
			},
		},
		{
			name:      "field names are case-sensitive",
			in:        head + "spec:\n  podSelector: {}\n  securityGroups:\n    groupIDs: [sg-12345678]\n",
			wantErr:   v1beta1.ErrInvalidManifest,
			errSubstr: `unknown field "spec.securityGroups.groupIDs"`,
		},
		{
			name:      "unknown field",
			in:        head + "spec:\n  podSelectr: {}\n",
			wantErr:   v1beta1.ErrInvalidManifest,
			errSubstr: `unknown field "spec.podSelectr"`,
		},
		{
			name:      "duplicate field",
			in:        head + "spec:\n  podSelector: {}\n  podSelector: {}\n",
			wantErr:   v1beta1.ErrInvalidManifest,
			errSubstr: "podSelector",
		},
		{
			name:      "wrong type",
			in:        head + "spec:\n  securityGroups: {groupIds: sg-12345678}\n",
			wantErr:   v1beta1.ErrInvalidManifest,
			errSubstr: "groupIds",
		},
		{
			name:      "other kind",
			in:        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n",
			wantErr:   v1beta1.ErrWrongKind,
			errSubstr: `got apiVersion "v1", kind "Pod"`,
		},
		{
			name:      "other version",
			in:        "apiVersion: vpcresources.k8s.aws/v1\nkind: SecurityGroupPolicy\n",
			wantErr:   v1beta1.ErrWrongKind,
			errSubstr: "vpcresources.k8s.aws/v1",
		},
		{
			name:      "two documents",
			in:        head + "---\n" + head,
			wantErr:   v1beta1.ErrInvalidManifest,
			errSubstr: "2 documents",
		},
		{
			name:      "empty",
			in:        "# nothing\n",
			wantErr:   v1beta1.ErrInvalidManifest,
			errSubstr: "no document",
		},
		{
			name:    "not YAML",
			in:      "spec: [\n",
			wantErr: v1beta1.ErrInvalidManifest,
		},
		{
			name:    "not an object",
			in:      "- a\n- b\n",
			wantErr: v1beta1.ErrInvalidManifest,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := v1beta1.Decode([]byte(tt.in))
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.Nil(t, p)
				require.ErrorContains(t, err, tt.errSubstr)
				if errors.Is(tt.wantErr, v1beta1.ErrWrongKind) {
					require.NotErrorIs(t, err, v1beta1.ErrInvalidManifest)
				}
				return
			}
			require.NoError(t, err)
			if diff := cmp.Diff(tt.want, p.Spec); diff != "" {
				t.Errorf("spec (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	p, err := v1beta1.Decode(readTestdata(t, "my-security-group-policy.yaml"))
	require.NoError(t, err)
	js, err := json.Marshal(p)
	require.NoError(t, err)
	// Upstream field names on the wire.
	require.JSONEq(t, `{"apiVersion":"vpcresources.k8s.aws/v1beta1","kind":"SecurityGroupPolicy",
		"metadata":{"name":"my-security-group-policy","namespace":"my-namespace"},
		"spec":{"podSelector":{"matchLabels":{"role":"my-role"}},"securityGroups":{"groupIds":["sg-05b1d815d1e7a3c90"]}}}`,
		string(js))
	again, err := v1beta1.Decode(js)
	require.NoError(t, err)
	require.Equal(t, p, again)
}

func TestScheme(t *testing.T) {
	s := runtime.NewScheme()
	require.NoError(t, v1beta1.AddToScheme(s))
	for obj, kind := range map[runtime.Object]string{
		&v1beta1.SecurityGroupPolicy{}:     "SecurityGroupPolicy",
		&v1beta1.SecurityGroupPolicyList{}: "SecurityGroupPolicyList",
	} {
		gvks, _, err := s.ObjectKinds(obj)
		require.NoError(t, err)
		require.Equal(t, v1beta1.GroupVersion.WithKind(kind), gvks[0])
	}
	require.Equal(t, "securitygrouppolicies.vpcresources.k8s.aws", v1beta1.GroupResource(v1beta1.Resource).String())
}

func TestDeepCopy(t *testing.T) {
	p, err := v1beta1.Decode(readTestdata(t, "my-security-group-policy.yaml"))
	require.NoError(t, err)
	p.Spec.ServiceAccountSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: "a", Operator: metav1.LabelSelectorOpIn, Values: []string{"x"}},
	}}
	list := &v1beta1.SecurityGroupPolicyList{Items: []v1beta1.SecurityGroupPolicy{*p}}
	cp := list.DeepCopyObject().(*v1beta1.SecurityGroupPolicyList)
	require.Equal(t, list, cp)
	cp.Items[0].Spec.PodSelector.MatchLabels["role"] = "changed"
	cp.Items[0].Spec.ServiceAccountSelector.MatchExpressions[0].Values[0] = "changed"
	cp.Items[0].Spec.SecurityGroups.Groups[0] = "sg-00000000"
	require.Equal(t, "my-role", p.Spec.PodSelector.MatchLabels["role"])
	require.Equal(t, "x", p.Spec.ServiceAccountSelector.MatchExpressions[0].Values[0])
	require.Equal(t, "sg-05b1d815d1e7a3c90", p.Spec.SecurityGroups.Groups[0])
}

func TestCRD(t *testing.T) {
	var crd struct {
		Kind string `json:"kind"`
		Spec struct {
			Group string `json:"group"`
			Scope string `json:"scope"`
			Names struct {
				Kind       string   `json:"kind"`
				ListKind   string   `json:"listKind"`
				Plural     string   `json:"plural"`
				ShortNames []string `json:"shortNames"`
			} `json:"names"`
			Versions []struct {
				Name    string `json:"name"`
				Served  bool   `json:"served"`
				Storage bool   `json:"storage"`
				Schema  struct {
					OpenAPIV3Schema struct {
						Properties struct {
							Spec struct {
								Properties map[string]json.RawMessage `json:"properties"`
							} `json:"spec"`
						} `json:"properties"`
					} `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	data := v1beta1.CRD()
	require.NoError(t, yaml.Unmarshal(data, &crd))
	require.Equal(t, "CustomResourceDefinition", crd.Kind)
	require.Equal(t, v1beta1.Group, crd.Spec.Group)
	require.Equal(t, "Namespaced", crd.Spec.Scope)
	require.Equal(t, v1beta1.Kind, crd.Spec.Names.Kind)
	require.Equal(t, v1beta1.ListKind, crd.Spec.Names.ListKind)
	require.Equal(t, v1beta1.Resource, crd.Spec.Names.Plural)
	require.Equal(t, []string{v1beta1.ShortName}, crd.Spec.Names.ShortNames)
	require.Len(t, crd.Spec.Versions, 1)
	v := crd.Spec.Versions[0]
	require.Equal(t, v1beta1.Version, v.Name)
	require.True(t, v.Served && v.Storage)
	props := v.Schema.OpenAPIV3Schema.Properties.Spec.Properties
	require.Contains(t, props, "podSelector")
	require.Contains(t, props, "serviceAccountSelector")
	require.Contains(t, props, "securityGroups")

	data[0] = 'X'
	require.NotEqual(t, data[0], v1beta1.CRD()[0], "CRD must return a copy")
}
