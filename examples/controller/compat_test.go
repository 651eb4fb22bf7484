package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/podsg/podsg/api/podeni"
	"github.com/podsg/podsg/api/v1beta1"
	"github.com/podsg/podsg/selector"
)

// mutate sends pod through the mutating webhook and returns the response
// and the pod as the API server would store it.
func (e *env) mutate(m *PodMutator, pod *corev1.Pod) (admission.Response, *corev1.Pod) {
	e.t.Helper()
	resp := m.Handle(e.t.Context(), e.admission(admissionv1.Create, "alice", pod, nil))
	raw, err := json.Marshal(pod)
	require.NoError(e.t, err)
	if len(resp.Patches) > 0 {
		ops, err := json.Marshal(resp.Patches)
		require.NoError(e.t, err)
		patch, err := jsonpatch.DecodePatch(ops)
		require.NoError(e.t, err)
		raw, err = patch.Apply(raw)
		require.NoError(e.t, err)
	}
	out := new(corev1.Pod)
	require.NoError(e.t, json.Unmarshal(raw, out))
	return resp, out
}

// TestMutatorClassifiesAsUpstream passes pods through the mutating webhook:
// it classifies them as the VPC resource controller's pod webhook does
// (WhichPod and Handle in webhooks/core/pod_webhook.go of
// aws/amazon-vpc-resource-controller-k8s), refuses a Linux or Fargate pod
// whose ServiceAccount does not exist (GetMatchingSecurityGroupForPods in
// pkg/utils/helper.go), and writes the Fargate annotation in policy order,
// replacing or removing one the user wrote (HandleFargatePod).
func TestMutatorClassifiesAsUpstream(t *testing.T) {
	const sgA, sgB, sgC = "sg-0aaaaaaaaaaaaaaa1", "sg-0bbbbbbbbbbbbbbb2", "sg-0ccccccccccccccc3"
	e := newEnv(t)
	sel := map[string]string{"role": "my-role"}
	e.applyPolicy("b-second", sel, sgB, sgC)
	e.applyPolicy("a-first", sel, sgC, sgA)
	policyOrder := sgC + "," + sgA + "," + sgB

	type want int
	const (
		unchanged want = iota
		podENI
		fargateAnnotation
		stripped
		refused
	)
	windows := corev1.PodOS{Name: corev1.Windows}
	pod := func(mod func(*corev1.Pod)) *corev1.Pod {
		p := tutorialPod("p", map[string]string{"role": "my-role"})
		if mod != nil {
			mod(p)
		}
		return p
	}
	fargate := func(p *corev1.Pod) { p.Labels[selector.FargateProfileLabel] = "fp-default" }
	winSelector := func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{selector.OSLabel: "windows"} }
	noSA := func(p *corev1.Pod) { p.Spec.ServiceAccountName = "missing" }
	both := func(fs ...func(*corev1.Pod)) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			for _, f := range fs {
				f(p)
			}
		}
	}
	tests := []struct {
		name string
		pod  *corev1.Pod
		want want
	}{
		{"Linux pod", pod(nil), podENI},
		{"host network", pod(func(p *corev1.Pod) { p.Spec.HostNetwork = true }), unchanged},
		{"Fargate", pod(fargate), fargateAnnotation},
		{"Fargate before Windows", pod(both(fargate, winSelector)), fargateAnnotation},
		{"Windows node selector", pod(winSelector), unchanged},
		{"Windows beta node selector", pod(func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{selector.BetaOSLabel: "windows"} }), unchanged},
		{"spec.os.name windows is not read", pod(func(p *corev1.Pod) { p.Spec.OS = &windows }), podENI},
		{"node selector Windows (case) is Linux", pod(func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{selector.OSLabel: "Windows"} }), podENI},
		{"missing ServiceAccount", pod(noSA), refused},
		{"missing ServiceAccount on Fargate", pod(both(noSA, fargate)), refused},
		{"missing ServiceAccount, no policy selects the pod", func() *corev1.Pod {
			p := tutorialPod("q", map[string]string{"role": "other"})
			noSA(p)
			return p
		}(), refused},
		{"missing ServiceAccount, Windows", pod(both(noSA, winSelector)), unchanged},
		{"Fargate pod-sg annotation written by the user is replaced", pod(both(fargate, func(p *corev1.Pod) {
			p.Annotations = map[string]string{podeni.FargateAnnotationKey: "sg-0fedcba9876543210"}
		})), fargateAnnotation},
		{"Fargate pod-sg annotation on a pod no policy selects is removed", func() *corev1.Pod {
			p := tutorialPod("q", map[string]string{"role": "other"})
			fargate(p)
			p.Annotations = map[string]string{podeni.FargateAnnotationKey: "sg-0fedcba9876543210"}
			return p
		}(), stripped},
		{"missing ServiceAccount, host network", pod(both(noSA, func(p *corev1.Pod) { p.Spec.HostNetwork = true })), unchanged},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, got := e.mutate(e.c.Mutator, tt.pod)
			if tt.want == refused {
				require.False(t, resp.Allowed)
				require.Contains(t, resp.Result.Message, "ServiceAccount does not exist")
				require.Contains(t, resp.Result.Message, "create ServiceAccount my-namespace/missing first")
				return
			}
			require.True(t, resp.Allowed, "%v", resp.Result)
			_, hasENI := got.Spec.Containers[0].Resources.Requests[podeni.ResourceName]
			_, hasLimit := got.Spec.Containers[0].Resources.Limits[podeni.ResourceName]
			ann, hasAnn := got.Annotations[podeni.FargateAnnotationKey]
			switch tt.want {
			case unchanged:
				require.Empty(t, resp.Patches)
			case podENI:
				require.True(t, hasENI && hasLimit, "pod-eni request and limit")
				require.False(t, hasAnn)
			case fargateAnnotation:
				require.False(t, hasENI || hasLimit)
				require.Equal(t, policyOrder, ann, "the groups in policy order")
			case stripped:
				require.False(t, hasENI || hasLimit || hasAnn)
			}
			// What the mutator lets through, the annotation validator
			// accepts.
			v := e.c.Validate.Handle(t.Context(), e.admission(admissionv1.Create, "alice", got, nil))
			require.True(t, v.Allowed, "%v", v.Result)
		})
	}
}

// failingReader fails every read, as an API server that does not answer.
type failingReader struct{}

func (failingReader) Get(context.Context, client.ObjectKey, client.Object, ...client.GetOption) error {
	return errors.New("connection refused")
}

func (failingReader) List(context.Context, client.ObjectList, ...client.ListOption) error {
	return errors.New("connection refused")
}

// TestMutatorRefusesWhenServiceAccountUnreadable: like the VPC resource
// controller, a pod whose ServiceAccount cannot be read is refused; a pod
// that does not need it is not.
func TestMutatorRefusesWhenServiceAccountUnreadable(t *testing.T) {
	e := newEnv(t)
	e.applyPolicy("p", map[string]string{"role": "my-role"}, "sg-0aaaaaaaaaaaaaaa1")
	m := &PodMutator{Reader: failingReader{}, Index: e.c.Index, Decoder: e.decoder}
	resp, _ := e.mutate(m, tutorialPod("p", map[string]string{"role": "my-role"}))
	require.False(t, resp.Allowed)
	require.Contains(t, resp.Result.Message, "connection refused")
	host := tutorialPod("h", map[string]string{"role": "my-role"})
	host.Spec.HostNetwork = true
	resp, _ = e.mutate(m, host)
	require.True(t, resp.Allowed)
}

// TestPolicyWarnings: the SecurityGroupPolicy webhook admits every policy
// the CRD lets through and returns v1beta1.Validate's findings as warnings.
func TestPolicyWarnings(t *testing.T) {
	scheme := newScheme(t)
	hook := admission.WithValidator(scheme, &PolicyValidator{})
	request := func(op admissionv1.Operation, p, old *v1beta1.SecurityGroupPolicy) admission.Request {
		raw, err := json.Marshal(p)
		require.NoError(t, err)
		req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
			UID:       "req-1",
			Kind:      metav1.GroupVersionKind{Group: v1beta1.Group, Version: v1beta1.Version, Kind: v1beta1.Kind},
			Resource:  metav1.GroupVersionResource{Group: v1beta1.Group, Version: v1beta1.Version, Resource: v1beta1.Resource},
			Namespace: p.Namespace, Name: p.Name, Operation: op,
			Object: runtime.RawExtension{Raw: raw},
		}}
		if old != nil {
			raw, err := json.Marshal(old)
			require.NoError(t, err)
			req.OldObject = runtime.RawExtension{Raw: raw}
		}
		return req
	}
	policy := func(sel *metav1.LabelSelector, groups ...string) *v1beta1.SecurityGroupPolicy {
		return &v1beta1.SecurityGroupPolicy{
			TypeMeta:   metav1.TypeMeta{APIVersion: v1beta1.GroupVersion.String(), Kind: v1beta1.Kind},
			ObjectMeta: metav1.ObjectMeta{Namespace: "my-namespace", Name: "p"},
			Spec:       v1beta1.SecurityGroupPolicySpec{PodSelector: sel, SecurityGroups: v1beta1.GroupIDs{Groups: groups}},
		}
	}
	role := &metav1.LabelSelector{MatchLabels: map[string]string{"role": "my-role"}}
	seventeen := make([]string, 17)
	for i := range seventeen {
		seventeen[i] = fmt.Sprintf("sg-%08x", i+1)
	}
	tests := []struct {
		name   string
		policy *v1beta1.SecurityGroupPolicy
		want   []string // substrings, one per warning, in order
	}{
		{"valid", policy(role, "sg-05b1d815d1e7a3c90"), nil},
		{"the tutorial's placeholder", policy(role, "my_pod_security_group_id"),
			[]string{`SecurityGroupPolicy my-namespace/p: spec.securityGroups.groupIds[0]: Invalid value: "my_pod_security_group_id": want sg- followed by 8 or 17 lowercase hex digits`}},
		{"no selector", policy(nil, "sg-05b1d815d1e7a3c90"),
			[]string{"spec.podSelector: Required value: set podSelector, serviceAccountSelector or both"}},
		{"more than 16 groups", policy(role, seventeen...),
			[]string{"spec.securityGroups.groupIds: Too many: 17: must have at most 5 items"}},
		{"a repeated group", policy(role, "sg-05b1d815d1e7a3c90", "sg-05b1d815d1e7a3c90"),
			[]string{`spec.securityGroups.groupIds[1]: Duplicate value: "sg-05b1d815d1e7a3c90"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, op := range []admissionv1.Operation{admissionv1.Create, admissionv1.Update} {
				var old *v1beta1.SecurityGroupPolicy
				if op == admissionv1.Update {
					old = policy(role, "sg-05b1d815d1e7a3c90")
				}
				resp := hook.Handle(t.Context(), request(op, tt.policy, old))
				require.True(t, resp.Allowed, "%s: a policy the CRD accepts is never refused: %v", op, resp.Result)
				require.Len(t, resp.Warnings, len(tt.want), "%s: %q", op, resp.Warnings)
				for i, w := range tt.want {
					require.Contains(t, resp.Warnings[i], w, op)
				}
			}
		})
	}
	resp := hook.Handle(t.Context(), func() admission.Request {
		r := request(admissionv1.Delete, policy(nil, "bad"), nil)
		r.OldObject, r.Object = r.Object, runtime.RawExtension{}
		return r
	}())
	require.True(t, resp.Allowed)
	require.Empty(t, resp.Warnings)
}
