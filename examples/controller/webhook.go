package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/podsg/podsg/api/podeni"
	"github.com/podsg/podsg/api/v1beta1"
	"github.com/podsg/podsg/selector"
	"github.com/podsg/podsg/selector/kube"
)

// PodMutator is the mutating webhook for pod creation. A pod that the
// SecurityGroupPolicies of its namespace select gets the extended resource
// vpc.amazonaws.com/pod-eni: "1" in the requests and limits of its first
// container, so that the scheduler places it only on a node with free
// branch-ENI capacity; a Fargate pod gets its groups in the
// fargate.amazonaws.com/pod-sg annotation instead. Pods are classified as
// the VPC resource controller's pod webhook classifies them (host network,
// then Fargate, then a Windows node selector; see selector.Pod.Class). A
// Linux or Fargate pod whose ServiceAccount does not exist is refused, as
// that controller refuses it. A Fargate pod's fargate.amazonaws.com/pod-sg
// annotation is the webhook's to write: replaced by the matching groups, or
// removed when no policy selects the pod. Other pods pass unchanged.
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
	res, err := m.match(ctx, pod)
	if err != nil {
		// The VPC resource controller refuses the pod when it cannot
		// read what matching needs (HandleLinuxPod and HandleFargatePod
		// in webhooks/core/pod_webhook.go).
		return admission.Denied(fmt.Sprintf("cannot decide the pod's security groups, refusing it: %v", err))
	}
	switch res.Treatment {
	case selector.TreatBranchENI:
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
	case selector.TreatFargate:
		if pod.Annotations == nil {
			pod.Annotations = map[string]string{}
		}
		pod.Annotations[podeni.FargateAnnotationKey] = res.FargateAnnotation()
	case selector.TreatRefused:
		return admission.Denied(fmt.Sprintf("%s: create ServiceAccount %s/%s first, or name an existing one in spec.serviceAccountName",
			res, pod.Namespace, kube.ServiceAccountName(pod)))
	default:
		_, forged := pod.Annotations[podeni.FargateAnnotationKey]
		if !forged || kube.Pod(pod, nil).Class() != selector.ClassFargate {
			return admission.Allowed(res.String())
		}
		// A Fargate pod that no policy selects loses a pod-sg annotation
		// it was created with, as HandleFargatePod strips it upstream.
		delete(pod.Annotations, podeni.FargateAnnotationKey)
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
// ServiceAccount's labels, as the VPC resource controller's pod webhook does:
// the pod's class first (selector.Pod.Class), and the ServiceAccount is read
// only for the classes that need it. A ServiceAccount that does not exist
// makes the result selector.TreatRefused; any other failure to read it is
// returned.
func (m *PodMutator) match(ctx context.Context, pod *corev1.Pod) (selector.Result, error) {
	p := kube.Pod(pod, nil)
	if p.Class().NeedsServiceAccount() {
		name := kube.ServiceAccountName(pod)
		sa := new(corev1.ServiceAccount)
		switch err := m.Reader.Get(ctx, types.NamespacedName{Namespace: pod.Namespace, Name: name}, sa); {
		case apierrors.IsNotFound(err):
			p.ServiceAccountMissing = true
		case err != nil:
			return selector.Result{}, fmt.Errorf("reading ServiceAccount %s/%s: %w", pod.Namespace, name, err)
		default:
			p.ServiceAccountLabels = sa.Labels
		}
	}
	return m.Index.Match(p), nil
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
		res, err := v.Mutator.match(ctx, pod)
		if err != nil {
			return admission.Errored(http.StatusInternalServerError, err)
		}
		if res.Treatment == selector.TreatFargate {
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

// PolicyValidator is the validating webhook for SecurityGroupPolicy objects.
// It never refuses one: what the API server stores is decided by the CRD,
// whose schema is the one EKS installs (api/v1beta1), so that every policy
// EKS accepts stays accepted and updatable. Instead it returns every problem
// v1beta1.Validate finds (no selector, a malformed or repeated group ID,
// more groups than an ENI takes, a selector that does not convert) as an
// admission warning, which kubectl prints as "Warning: ..." when the policy
// is applied; PolicyReconciler reports the same problems as an event on the
// policy. A PolicyValidator is safe for concurrent use.
type PolicyValidator struct {
	// Validate is passed to v1beta1.Validate; set MaxGroups to the
	// account's quota of security groups per network interface.
	Validate v1beta1.ValidateOptions
}

var _ admission.Validator[*v1beta1.SecurityGroupPolicy] = (*PolicyValidator)(nil)

// ValidateCreate warns about the problems of a new policy.
func (v *PolicyValidator) ValidateCreate(_ context.Context, p *v1beta1.SecurityGroupPolicy) (admission.Warnings, error) {
	return v.warnings(p), nil
}

// ValidateUpdate warns about the problems of the updated policy.
func (v *PolicyValidator) ValidateUpdate(_ context.Context, _, p *v1beta1.SecurityGroupPolicy) (admission.Warnings, error) {
	return v.warnings(p), nil
}

// ValidateDelete allows every deletion.
func (v *PolicyValidator) ValidateDelete(context.Context, *v1beta1.SecurityGroupPolicy) (admission.Warnings, error) {
	return nil, nil
}

// warnings returns one warning per problem Validate finds, each naming the
// field, the value and what to do.
func (v *PolicyValidator) warnings(p *v1beta1.SecurityGroupPolicy) admission.Warnings {
	errs := v1beta1.Validate(p, v.Validate)
	if len(errs) == 0 {
		return nil
	}
	w := make(admission.Warnings, len(errs))
	for i, e := range errs {
		w[i] = fmt.Sprintf("SecurityGroupPolicy %s/%s: %s", p.Namespace, p.Name, e.Error())
	}
	return w
}
