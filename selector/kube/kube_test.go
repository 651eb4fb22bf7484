package kube_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/podsg/podsg/api/v1beta1"
	"github.com/podsg/podsg/selector"
	"github.com/podsg/podsg/selector/kube"
)

// The tutorial's manifests are kept with the API package.
const testdata = "../../api/v1beta1/testdata"

func readDocs(t *testing.T, name string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testdata, name))
	require.NoError(t, err)
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs
		}
		require.NoError(t, err)
		docs = append(docs, doc)
	}
}

// podsOf creates the pods a Deployment's ReplicaSet would create.
func podsOf(d *appsv1.Deployment, hash string) []*corev1.Pod {
	suffixes := []string{"4fbjm", "j9fl4", "rjxcz", "zmb42"}
	var pods []*corev1.Pod
	for i := range int(*d.Spec.Replicas) {
		pod := &corev1.Pod{
			ObjectMeta: *d.Spec.Template.ObjectMeta.DeepCopy(),
			Spec:       *d.Spec.Template.Spec.DeepCopy(),
		}
		pod.Namespace = d.Namespace
		pod.Name = fmt.Sprintf("%s-%s-%s", d.Name, hash, suffixes[i%len(suffixes)])
		pod.Labels["pod-template-hash"] = hash
		pods = append(pods, pod)
	}
	return pods
}

// TestTutorial replays the EKS tutorial: the policy selects role: my-role in
// my-namespace, and the four pods of the sample application get its group
// on a branch ENI.
func TestTutorial(t *testing.T) {
	policyDocs := readDocs(t, "my-security-group-policy.yaml")
	require.Len(t, policyDocs, 1)
	policy, err := v1beta1.Decode(policyDocs[0])
	require.NoError(t, err)
	idx := selector.NewIndex(selector.Options{})
	require.NoError(t, idx.Upsert(policy))

	appDocs := readDocs(t, "sample-application.yaml")
	require.Len(t, appDocs, 2, "a Deployment and a Service")
	var deploy appsv1.Deployment
	require.NoError(t, yaml.UnmarshalStrict(appDocs[0], &deploy))
	require.Equal(t, "my-deployment", deploy.Name)
	require.Equal(t, int32(4), *deploy.Spec.Replicas)
	_, err = v1beta1.Decode(appDocs[1])
	require.ErrorIs(t, err, v1beta1.ErrWrongKind, "the Service is not a policy")

	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "my-namespace", Name: "default"}}
	pods := podsOf(&deploy, "5df6f7687b")
	require.Len(t, pods, 4)
	for _, pod := range pods {
		require.Equal(t, "default", kube.ServiceAccountName(pod))
		r := idx.Match(kube.Pod(pod, sa))
		want := selector.Result{
			Treatment: selector.TreatBranchENI,
			Groups:    []string{"sg-05b1d815d1e7a3c90"},
			Policies:  []string{"my-security-group-policy"},
		}
		if diff := cmp.Diff(want, r); diff != "" {
			t.Errorf("pod %s (-want +got):\n%s", pod.Name, diff)
		}
	}

	// A pod of the namespace without the role label keeps the node's groups.
	other := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "my-namespace", Name: "client", Labels: map[string]string{"app": "my-app"}}}
	require.Equal(t, selector.ReasonNoPolicy, idx.Match(kube.Pod(other, sa)).Reason)
	// The same labels in another namespace are not selected.
	elsewhere := pods[0].DeepCopy()
	elsewhere.Namespace = "default"
	require.Equal(t, selector.ReasonNoPolicy, idx.Match(kube.Pod(elsewhere, nil)).Reason)
}

// TestTutorialVerbatim: the tutorial's text, placeholder included, is
// reported up front; matching still behaves as the VPC resource controller
// does, which would hand the placeholder to EC2.
func TestTutorialVerbatim(t *testing.T) {
	docs := readDocs(t, "tutorial-verbatim/my-security-group-policy.yaml")
	require.Len(t, docs, 1)
	policy, err := v1beta1.Decode(docs[0])
	require.NoError(t, err)
	idx := selector.NewIndex(selector.Options{})
	err = idx.Upsert(policy)
	require.ErrorIs(t, err, selector.ErrInvalidPolicy)
	require.ErrorContains(t, err, `spec.securityGroups.groupIds[0]: Invalid value: "my_pod_security_group_id"`)

	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "my-namespace", Name: "p", Labels: map[string]string{"role": "my-role"}}}
	e := idx.Explain(kube.Pod(pod, nil))
	require.Equal(t, []string{"my_pod_security_group_id"}, e.Result.Groups)
	require.Contains(t, e.String(), `invalid: spec.securityGroups.groupIds[0]`)
}

func TestPod(t *testing.T) {
	windows := corev1.PodOS{Name: corev1.Windows}
	tests := []struct {
		name string
		pod  *corev1.Pod
		sa   *corev1.ServiceAccount
		want selector.Pod
	}{
		{
			name: "plain",
			pod: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", Labels: map[string]string{"a": "b"}},
				Spec: corev1.PodSpec{ServiceAccountName: "sa"}},
			sa:   &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "sa", Labels: map[string]string{"team": "x"}}},
			want: selector.Pod{Namespace: "ns", Name: "p", Labels: map[string]string{"a": "b"}, ServiceAccountLabels: map[string]string{"team": "x"}},
		},
		{
			name: "generate name, no service account, host network",
			pod:  &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", GenerateName: "web-"}, Spec: corev1.PodSpec{HostNetwork: true}},
			want: selector.Pod{Namespace: "ns", Name: "web-", HostNetwork: true},
		},
		{
			name: "spec.os is not read",
			pod:  &corev1.Pod{Spec: corev1.PodSpec{OS: &windows}},
			want: selector.Pod{},
		},
		{
			name: "node selector",
			pod:  &corev1.Pod{Spec: corev1.PodSpec{NodeSelector: map[string]string{selector.OSLabel: "windows", "zone": "a"}}},
			want: selector.Pod{NodeSelector: map[string]string{selector.OSLabel: "windows", "zone": "a"}},
		},
		{
			name: "Fargate",
			pod:  &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{selector.FargateProfileLabel: "fp"}}},
			want: selector.Pod{Labels: map[string]string{selector.FargateProfileLabel: "fp"}, FargateProfile: "fp"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, kube.Pod(tt.pod, tt.sa)); diff != "" {
				t.Errorf("Pod (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPodTreatments classifies Kubernetes pods end to end (kube.Pod, then
// Match) as the VPC resource controller's pod webhook does: WhichPod in
// webhooks/core/pod_webhook.go of aws/amazon-vpc-resource-controller-k8s,
// then GetMatchingSecurityGroupForPods in pkg/utils/helper.go. The four
// cases marked "differed" are where podsg used to decide otherwise.
func TestPodTreatments(t *testing.T) {
	idx := selector.NewIndex(selector.Options{})
	require.NoError(t, idx.Upsert(&v1beta1.SecurityGroupPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "all"},
		Spec: v1beta1.SecurityGroupPolicySpec{
			ServiceAccountSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"sg": "yes"}},
			SecurityGroups:         v1beta1.GroupIDs{Groups: []string{"sg-87654321", "sg-12345678"}},
		},
	}))
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "default", Labels: map[string]string{"sg": "yes"}}}
	windowsOS := corev1.PodOS{Name: corev1.Windows}
	onNode := func(nodeSelector map[string]string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns"}, Spec: corev1.PodSpec{NodeSelector: nodeSelector}}
	}
	fargate := func(nodeSelector map[string]string) *corev1.Pod {
		p := onNode(nodeSelector)
		p.Labels = map[string]string{selector.FargateProfileLabel: "fp"}
		return p
	}
	branch := selector.Result{Treatment: selector.TreatBranchENI, Groups: []string{"sg-87654321", "sg-12345678"}, Policies: []string{"all"}}
	onFargate := selector.Result{Treatment: selector.TreatFargate, Groups: []string{"sg-87654321", "sg-12345678"}, Policies: []string{"all"}}
	notWindows := selector.Result{Reason: selector.ReasonWindows}
	refused := selector.Result{Treatment: selector.TreatRefused, Reason: selector.ReasonNoServiceAccount}
	for _, tt := range []struct {
		name      string
		pod       *corev1.Pod
		sa        *corev1.ServiceAccount
		saMissing bool
		want      selector.Result
	}{
		{"linux", onNode(nil), sa, false, branch},
		{"host network", &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns"}, Spec: corev1.PodSpec{HostNetwork: true}}, sa, false,
			selector.Result{Reason: selector.ReasonHostNetwork}},
		{"fargate", fargate(nil), sa, false, onFargate},
		{"windows node selector", onNode(map[string]string{selector.OSLabel: "windows"}), sa, false, notWindows},
		{"windows beta node selector", onNode(map[string]string{selector.BetaOSLabel: "windows"}), sa, false, notWindows},
		{"differed: spec.os.name windows is Linux", &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns"}, Spec: corev1.PodSpec{OS: &windowsOS}}, sa, false, branch},
		{"differed: node selector Windows (case) is Linux", onNode(map[string]string{selector.OSLabel: "Windows"}), sa, false, branch},
		{"differed: Fargate before Windows", fargate(map[string]string{selector.OSLabel: "windows"}), sa, false, onFargate},
		{"differed: missing service account refused", onNode(nil), nil, true, refused},
		{"unknown service account labels match as none", onNode(nil), nil, false, selector.Result{Reason: selector.ReasonNoPolicy}},
		{"missing service account, Windows", onNode(map[string]string{selector.OSLabel: "windows"}), nil, true, notWindows},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := kube.Pod(tt.pod, tt.sa)
			p.ServiceAccountMissing = tt.saMissing
			if diff := cmp.Diff(tt.want, idx.Match(p), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Match (-want +got):\n%s", diff)
			}
		})
	}
}
