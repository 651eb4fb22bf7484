package kube

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/podsg/podsg/selector"
)

// Pod returns what selector needs to know about pod. sa is the pod's
// ServiceAccount (spec.serviceAccountName, "default" when empty), or nil
// when its labels are not known, which matches like a service account
// without labels. Neither argument is modified or retained beyond the label
// and node-selector maps, which the result shares: do not modify them while
// the result is in use.
//
// A webhook that looked the ServiceAccount up and got NotFound sets
// ServiceAccountMissing on the result: the VPC resource controller refuses
// such pods (selector.TreatRefused). selector.Pod.Class tells whether the
// lookup is needed at all.
//
// The result carries the pod's labels, hostNetwork flag, node selector
// (which makes it a Windows pod; spec.os is not read, as the VPC resource
// controller does not read it) and Fargate profile (the
// eks.amazonaws.com/fargate-profile label).
func Pod(pod *corev1.Pod, sa *corev1.ServiceAccount) selector.Pod {
	p := selector.Pod{
		Namespace:      pod.Namespace,
		Name:           pod.Name,
		Labels:         pod.Labels,
		HostNetwork:    pod.Spec.HostNetwork,
		NodeSelector:   pod.Spec.NodeSelector,
		FargateProfile: pod.Labels[selector.FargateProfileLabel],
	}
	if p.Name == "" {
		p.Name = pod.GenerateName
	}
	if sa != nil {
		p.ServiceAccountLabels = sa.Labels
	}
	return p
}

// ServiceAccountName returns the name of the ServiceAccount a pod runs as,
// the one to pass to Pod: spec.serviceAccountName, or "default" (which the
// API server's ServiceAccount admission plugin sets before webhooks run).
func ServiceAccountName(pod *corev1.Pod) string {
	if pod.Spec.ServiceAccountName != "" {
		return pod.Spec.ServiceAccountName
	}
	return "default"
}
