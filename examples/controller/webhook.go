package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/podsg/podsg/api/podeni"
	"github.com/podsg/podsg/selector"
	"github.com/podsg/podsg/selector/kube"
)

// PodMutator is the mutating webhook for pod creation. A pod that the
// SecurityGroupPolicies of its namespace select gets the extended resource
// vpc.amazonaws.com/pod-eni: "1" in the requests and limits of its first
// container, so that the scheduler places it only on a node with free
// branch-ENI capacity; a Fargate pod gets its groups in the
// fargate.amazonaws.com/pod-sg annotation instead. Other pods pass
// unchanged.
//
// The decision is made once, at creation: later policy changes do not affect
// a pod that exists. A PodMutator is safe for concurrent use.
type PodMutator struct {
	// Reader reads the pod's ServiceAccount (for serviceAccountSelector).
	Reader client.Reader
	// Index holds the SecurityGroupPolicies (fed by PolicyReconciler).
	Index   *selector.Index
	Decoder admission.Decoder
	// Loaded, when set, is closed once Index holds the policies (see
	// PolicyLoader); Handle waits for it, as long as the request allows.
	Loaded <-chan struct{}
}

// Handle implements admission.Handler.
func (m *PodMutator) Handle(ctx context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Create {
		return admission.Allowed("only pod creation is mutated")
	}
	if err := m.waitLoaded(ctx); err != nil {
		return admission.Errored(http.StatusServiceUnavailable, err)
	}
	pod := new(corev1.Pod)
	if err := m.Decoder.Decode(req, pod); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	if pod.Namespace == "" {
		pod.Namespace = req.Namespace
	}
	res := m.match(ctx, pod)
	switch res.Treatment {
	case selector.BranchENI:
		if len(pod.Spec.Containers) == 0 {
			return admission.Denied("the pod has no container to carry the vpc.amazonaws.com/pod-eni request")
		}
		one := resource.MustParse("1")
		c := &pod.Spec.Containers[0]
		if c.Resources.Requests == nil {
			c.Resources.Requests = corev1.ResourceList{}
		}
		if c.Resources.Limits == nil {
			c.Resources.Limits = corev1.ResourceList{}
		}
		c.Resources.Requests[podeni.ResourceName] = one
		c.Resources.Limits[podeni.ResourceName] = one
	case selector.Fargate:
		if pod.Annotations == nil {
			pod.Annotations = map[string]string{}
		}
		pod.Annotations[podeni.FargateAnnotationKey] = res.FargateAnnotation()
	default:
		return admission.Allowed(res.String())
	}
	raw, err := json.Marshal(pod)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	return admission.PatchResponseFromRaw(req.Object.Raw, raw)
}

func (m *PodMutator) waitLoaded(ctx context.Context) error {
	if m.Loaded == nil {
		return nil
	}
	select {
	case <-m.Loaded:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("the SecurityGroupPolicies are not loaded yet: %w", ctx.Err())
	}
}

// match decides the pod's treatment from the policies and its
// ServiceAccount's labels.
func (m *PodMutator) match(ctx context.Context, pod *corev1.Pod) selector.Result {
	var sa *corev1.ServiceAccount
	saObj := new(corev1.ServiceAccount)
	if err := m.Reader.Get(ctx, types.NamespacedName{Namespace: pod.Namespace, Name: kube.ServiceAccountName(pod)}, saObj); err == nil {
		sa = saObj
	}
	return m.Index.Match(kube.Pod(pod, sa))
}

// PodValidator is the validating webhook that stops anyone but the
// controller from setting or changing the annotations the controller owns:
// vpc.amazonaws.com/pod-eni (read by the CNI to wire the pod) and
// fargate.amazonaws.com/pod-sg. Without it, a user who can create pods could
// put a pod on another pod's branch ENI, and so into its security groups.
//
// At creation, validating webhooks see the pod after the mutating ones, so the
// Fargate annotation is accepted when it is exactly what Mutator decides for
// the pod. A PodValidator is safe for concurrent use.
type PodValidator struct {
	// Users are the usernames allowed to write the annotations: the
	// controller's service account ("system:serviceaccount:<ns>:<name>").
	Users []string
	// Mutator recomputes the Fargate annotation of a new pod.
	Mutator *PodMutator
	Decoder admission.Decoder
}

// Handle implements admission.Handler.
func (v *PodValidator) Handle(ctx context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return admission.Allowed("")
	}
	if slices.Contains(v.Users, req.UserInfo.Username) {
		return admission.Allowed("the controller owns these annotations")
	}
	pod := new(corev1.Pod)
	if err := v.Decoder.DecodeRaw(req.Object, pod); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	if pod.Namespace == "" {
		pod.Namespace = req.Namespace
	}
	oldAnn := map[string]string{}
	if req.Operation == admissionv1.Update {
		old := new(corev1.Pod)
		if err := v.Decoder.DecodeRaw(req.OldObject, old); err != nil {
			return admission.Errored(http.StatusBadRequest, err)
		}
		oldAnn = old.Annotations
	} else if v.Mutator != nil {
		if err := v.Mutator.waitLoaded(ctx); err != nil {
			return admission.Errored(http.StatusServiceUnavailable, err)
		}
		if res := v.Mutator.match(ctx, pod); res.Treatment == selector.Fargate {
			oldAnn = map[string]string{podeni.FargateAnnotationKey: res.FargateAnnotation()}
		}
	}
	for _, key := range []string{podeni.AnnotationKey, podeni.FargateAnnotationKey} {
		oldV, hadOld := oldAnn[key]
		newV, hasNew := pod.Annotations[key]
		changed := hadOld != hasNew || oldV != newV
		if req.Operation == admissionv1.Create {
			// A missing annotation at creation is the mutating webhook's
			// business (it may have been skipped), not a forgery.
			changed = hasNew && (!hadOld || oldV != newV)
		}
		if changed {
			return admission.Denied(fmt.Sprintf("annotation %s is set by the security-groups-for-pods controller only; "+
				"user %q may not set, change or remove it (remove it from the manifest)", key, req.UserInfo.Username))
		}
	}
	return admission.Allowed("")
}
