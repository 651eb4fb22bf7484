package selector

import (
	"strconv"
	"strings"
)

const (
	// FargateProfileLabel is the pod label that EKS sets on pods that run
	// on Fargate, with the profile's name as value.
	FargateProfileLabel = "eks.amazonaws.com/fargate-profile"
	// OSWindows is the operating-system name of Windows pods, as in
	// spec.os.name and the kubernetes.io/os label.
	OSWindows = "windows"
)

// Pod is what matching needs to know about a pod. The zero value is a Linux
// pod without labels in the namespace "". Package selector/kube fills a Pod
// from *corev1.Pod and *corev1.ServiceAccount. Match and Explain only read
// a Pod and its maps, so one Pod may be matched from many goroutines.
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
	// HostNetwork is spec.hostNetwork: such pods get no branch ENI.
	HostNetwork bool
	// OS is the pod's operating system ("linux", "windows"); "" means
	// Linux. Windows pods (compared without regard to case) get no
	// branch ENI.
	OS string
	// FargateProfile is the Fargate profile the pod runs on. When empty,
	// the pod is still a Fargate pod if Labels has FargateProfileLabel.
	FargateProfile string
}

func (p *Pod) fargate() bool {
	if p.FargateProfile != "" {
		return true
	}
	_, ok := p.Labels[FargateProfileLabel]
	return ok
}

func (p *Pod) windows() bool { return strings.EqualFold(p.OS, OSWindows) }

// Treatment is what a pod gets.
type Treatment uint8

const (
	// NotEligible: no security groups of its own; Result.Reason says why.
	NotEligible Treatment = iota
	// BranchENI: a branch ENI with Result.Groups, requested through the
	// vpc.amazonaws.com/pod-eni extended resource.
	BranchENI
	// Fargate: no branch ENI; Result.Groups go into the
	// fargate.amazonaws.com/pod-sg annotation (Result.FargateAnnotation).
	Fargate
)

func (t Treatment) String() string {
	switch t {
	case NotEligible:
		return "not eligible"
	case BranchENI:
		return "branch ENI"
	case Fargate:
		return "Fargate"
	}
	return "Treatment(" + strconv.Itoa(int(t)) + ")"
}

// Reason says why a pod is NotEligible.
type Reason uint8

const (
	// ReasonNone: the pod is eligible.
	ReasonNone Reason = iota
	// ReasonNoPolicy: no policy of the pod's namespace selects it.
	ReasonNoPolicy
	// ReasonHostNetwork: the pod uses the node's network namespace.
	ReasonHostNetwork
	// ReasonWindows: security groups for pods do not support Windows.
	ReasonWindows
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
	}
	return "Reason(" + strconv.Itoa(int(r)) + ")"
}

// Result is the decision for one pod. Its slices may be shared with the
// index and with other results: do not modify them (appending is safe).
// Being read-only, a Result may be used from many goroutines.
type Result struct {
	Treatment Treatment
	// Reason says why the pod is NotEligible; ReasonNone otherwise.
	Reason Reason
	// Groups are the security-group IDs of the pod: the union of the
	// groups of every matching policy, de-duplicated and sorted. Empty
	// when the pod is NotEligible.
	Groups []string
	// Policies are the names of the matching policies, sorted. Empty when
	// the pod is NotEligible.
	Policies []string
}

// FargateAnnotation returns the value of the fargate.amazonaws.com/pod-sg
// annotation (api/podeni.FargateAnnotationKey) for a Fargate pod: the groups,
// comma-separated. It returns "" for other treatments.
func (r Result) FargateAnnotation() string {
	if r.Treatment != Fargate {
		return ""
	}
	return strings.Join(r.Groups, ",")
}

func (r Result) String() string {
	if r.Treatment == NotEligible {
		return "not eligible: " + r.Reason.String()
	}
	return r.Treatment.String() + " [" + strings.Join(r.Groups, " ") + "] from " + strings.Join(r.Policies, ", ")
}
