package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SecurityGroupPolicy gives EC2 security groups to the pods of its namespace
// that its selectors select. It is namespaced and applies only to pods of its
// own namespace.
//
// A pod is selected when every selector that is set matches: the pod selector
// against the pod's labels, the service-account selector against the labels
// of the pod's ServiceAccount object. An empty selector ({}) matches
// everything; an unset selector places no constraint, but a policy with
// neither selector set selects nothing. A pod selected by several policies
// gets the union of their groups.
//
// Policies take effect when a pod is created: a running pod keeps the groups
// it started with.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Namespaced,shortName=sgp
// +kubebuilder:printcolumn:name="Security-Group-Ids",type=string,JSONPath=`.spec.securityGroups.groupIds`,description="Security groups given to the branch ENI of the selected pods"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type SecurityGroupPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec SecurityGroupPolicySpec `json:"spec,omitempty"`
}

// SecurityGroupPolicySpec selects pods and names the groups they get.
type SecurityGroupPolicySpec struct {
	// PodSelector selects pods by their labels. Nil places no constraint;
	// an empty selector matches every pod of the namespace.
	// +optional
	PodSelector *metav1.LabelSelector `json:"podSelector,omitempty"`

	// ServiceAccountSelector selects pods by the labels of their
	// ServiceAccount. Nil places no constraint; an empty selector matches
	// every service account. When both selectors are set, a pod must
	// match both.
	// +optional
	ServiceAccountSelector *metav1.LabelSelector `json:"serviceAccountSelector,omitempty"`

	// SecurityGroups lists the groups of the selected pods.
	SecurityGroups GroupIDs `json:"securityGroups,omitempty"`
}

// GroupIDs is the securityGroups field of a SecurityGroupPolicySpec.
type GroupIDs struct {
	// Groups are EC2 security group IDs (sg- followed by 8 or 17 lowercase
	// hex digits), applied together to the branch ENI of each selected
	// pod, in this order. The number a pod may get is bounded by the EC2
	// quota "security groups per network interface": 5 by default, at most
	// 16.
	// +kubebuilder:validation:MinItems=1
	Groups []string `json:"groupIds,omitempty"`
}

// SecurityGroupPolicyList is a list of SecurityGroupPolicy objects, as
// returned by the API server's list calls.
//
// +kubebuilder:object:root=true
type SecurityGroupPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SecurityGroupPolicy `json:"items"`
}
