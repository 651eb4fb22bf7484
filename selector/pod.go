package selector

import (
	"strconv"
	"strings"
)

const (
	// FargateProfileLabel is the pod label that EKS sets on pods that run
	// on Fargate, with the profile's name as value.
	FargateProfileLabel = "eks.amazonaws.com/fargate-profile"
	// OSLabel is the node-selector key that pins a pod to an operating
	// system.
	OSLabel = "kubernetes.io/os"
	// BetaOSLabel is the deprecated form of OSLabel, still honoured.
	BetaOSLabel = "beta.kubernetes.io/os"
	// OSWindows is the value of OSLabel or BetaOSLabel that makes a pod a
	// Windows pod. It is compared exactly: "Windows" is not Windows.
	OSWindows = "windows"
)

// Pod is what matching needs to know about a pod. The zero value is a Linux
// pod without labels in the namespace "", whose ServiceAccount exists.
// Package selector/kube fills a Pod from *corev1.Pod and
// *corev1.ServiceAccount. Match and Explain only read a Pod and its maps, so
// one Pod may be matched from many goroutines.
type Pod struct {
	// Namespace is the pod's namespace; only policies of this namespace
	// apply.
	Namespace string
	// Name is the pod's name, used in explanations only.
	Name string
	// Labels are the pod's labels. Nil means none.
	Labels map[string]string
	// ServiceAccountLabels are the labels of the pod's ServiceAccount
	// object. Nil means none: an empty serviceAccountSelector still
	// matches, any requirement on a label does not.
	ServiceAccountLabels map[string]string
	// ServiceAccountMissing reports that the pod's ServiceAccount does not
	// exist (the API server answered NotFound). The VPC resource
	// controller refuses such a pod unless it uses the host network or is
	// a Windows pod (see Class): Match returns TreatRefused.
	ServiceAccountMissing bool
	// HostNetwork is spec.hostNetwork: such pods get no branch ENI.
	HostNetwork bool
	// NodeSelector is spec.nodeSelector. A pod whose OSLabel or BetaOSLabel
	// node selector is exactly OSWindows is a Windows pod; spec.os.name is
	// not consulted, as the VPC resource controller does not consult it.
	NodeSelector map[string]string
	// FargateProfile is the Fargate profile the pod runs on. When empty,
	// the pod is still a Fargate pod if Labels has FargateProfileLabel
	// (with any value, even "").
	FargateProfile string
}

// Class is the kind of pod the VPC resource controller's pod webhook sees,
// decided before any policy is read.
type Class uint8

const (
	// ClassLinux is a pod on an EC2 Linux node; it may get a branch ENI.
	ClassLinux Class = iota
	// ClassHostNetwork is a pod that uses the node's network namespace.
	ClassHostNetwork
	// ClassFargate is a pod that runs on Fargate (FargateProfileLabel).
	ClassFargate
	// ClassWindows is a pod whose node selector pins it to Windows.
	ClassWindows
)

func (c Class) String() string {
	switch c {
	case ClassLinux:
		return "Linux"
	case ClassHostNetwork:
		return "host network"
	case ClassFargate:
		return "Fargate"
	case ClassWindows:
		return "Windows"
	}
	return "Class(" + strconv.Itoa(int(c)) + ")"
}

// NeedsServiceAccount reports whether the VPC resource controller reads the
// pod's ServiceAccount for a pod of this class (Linux and Fargate pods), and
// so refuses the pod when it does not exist. A webhook can skip the lookup
// for the other classes.
func (c Class) NeedsServiceAccount() bool { return c == ClassLinux || c == ClassFargate }

// Class classifies the pod as the VPC resource controller's pod webhook does
// (WhichPod in webhooks/core/pod_webhook.go of
// aws/amazon-vpc-resource-controller-k8s), in this order:
//
//  1. spec.hostNetwork: ClassHostNetwork, whatever else is set;
//  2. the FargateProfileLabel label (or FargateProfile): ClassFargate, even
//     with a Windows node selector;
//  3. a node selector kubernetes.io/os or beta.kubernetes.io/os equal to
//     exactly "windows": ClassWindows ("Windows" and spec.os.name do not
//     count);
//  4. otherwise ClassLinux.
func (p Pod) Class() Class {
	switch {
	case p.HostNetwork:
		return ClassHostNetwork
	case p.fargate():
		return ClassFargate
	case p.NodeSelector[OSLabel] == OSWindows || p.NodeSelector[BetaOSLabel] == OSWindows:
		return ClassWindows
	}
	return ClassLinux
}

func (p Pod) fargate() bool {
	if p.FargateProfile != "" {
		return true
	}
	_, ok := p.Labels[FargateProfileLabel]
	return ok
}

// Treatment is what a pod gets. The names start with Treat so that none
// reads like a type of another package (podeni.BranchENI is the annotation's
// element, eni.Branch a pool's ENI).
type Treatment uint8

const (
	// TreatNotEligible means no security groups of its own; Result.Reason
	// says why. The pod is admitted unchanged.
	TreatNotEligible Treatment = iota
	// TreatBranchENI means a branch ENI with Result.Groups, requested
	// through the vpc.amazonaws.com/pod-eni extended resource.
	TreatBranchENI
	// TreatFargate means no branch ENI; Result.Groups go into the
	// fargate.amazonaws.com/pod-sg annotation (Result.FargateAnnotation).
	TreatFargate
	// TreatRefused means the pod must not be admitted; Result.Reason says
	// why (its ServiceAccount does not exist).
	TreatRefused
)

func (t Treatment) String() string {
	switch t {
	case TreatNotEligible:
		return "not eligible"
	case TreatBranchENI:
		return "branch ENI"
	case TreatFargate:
		return "Fargate"
	case TreatRefused:
		return "refused"
	}
	return "Treatment(" + strconv.Itoa(int(t)) + ")"
}

// Reason says why a pod is TreatNotEligible or TreatRefused.
type Reason uint8

const (
	// ReasonNone means the pod is eligible.
	ReasonNone Reason = iota
	// ReasonNoPolicy means no policy of the pod's namespace selects it.
	ReasonNoPolicy
	// ReasonHostNetwork means the pod uses the node's network namespace.
	ReasonHostNetwork
	// ReasonWindows means the pod runs Windows, which security groups for
	// pods do not support.
	ReasonWindows
	// ReasonNoServiceAccount means the pod's ServiceAccount does not exist
	// (TreatRefused).
	ReasonNoServiceAccount
)

func (r Reason) String() string {
	switch r {
	case ReasonNone:
		return "eligible"
	case ReasonNoPolicy:
		return "no policy selects the pod"
	case ReasonHostNetwork:
		return "host network"
	case ReasonWindows:
		return "Windows pod"
	case ReasonNoServiceAccount:
		return "the pod's ServiceAccount does not exist"
	}
	return "Reason(" + strconv.Itoa(int(r)) + ")"
}

// Result is the decision for one pod. Its slices may be shared with the
// index and with other results: do not modify them (appending is safe).
// Being read-only, a Result may be used from many goroutines.
type Result struct {
	Treatment Treatment
	// Reason says why the pod is TreatNotEligible or TreatRefused;
	// ReasonNone otherwise.
	Reason Reason
	// Groups are the security-group IDs of the pod, in policy order: the
	// groups of the first matching policy (by name) in the order it lists
	// them, then those of the next, each ID kept at its first occurrence.
	// Empty when the pod gets no groups.
	Groups []string
	// Policies are the names of the matching policies, sorted. Empty when
	// the pod gets no groups.
	Policies []string
}

// FargateAnnotation returns the value of the fargate.amazonaws.com/pod-sg
// annotation (api/podeni.FargateAnnotationKey) for a Fargate pod: the groups,
// comma-separated, in the order of Groups. It returns "" for other
// treatments.
func (r Result) FargateAnnotation() string {
	if r.Treatment != TreatFargate {
		return ""
	}
	return strings.Join(r.Groups, ",")
}

func (r Result) String() string {
	switch r.Treatment {
	case TreatNotEligible, TreatRefused:
		return r.Treatment.String() + ": " + r.Reason.String()
	}
	return r.Treatment.String() + " [" + strings.Join(r.Groups, " ") + "] from " + strings.Join(r.Policies, ", ")
}
