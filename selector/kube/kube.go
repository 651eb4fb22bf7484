package kube

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/podsg/podsg/selector"
)

const (
	// OSLabel is the node-selector key that pins a pod to an operating
	// system.
	OSLabel = "kubernetes.io/os"
	// BetaOSLabel is the deprecated form of OSLabel, still honoured.
	BetaOSLabel = "beta.kubernetes.io/os"
)

// Pod returns what selector needs to know about pod. sa is the pod's
// ServiceAccount (spec.serviceAccountName, "default" when empty); pass nil
// when it does not exist or is not known, which matches like a service
// account without labels. Neither argument is modified or retained beyond
// the label maps, which the result shares: do not modify them while the
// result is in use.
//
// The pod's operating system is spec.os.name when set, else the value of
// the kubernetes.io/os (or beta.kubernetes.io/os) node selector; its Fargate
// profile is the eks.amazonaws.com/fargate-profile label.
func Pod(pod *corev1.Pod, sa *corev1.ServiceAccount) selector.Pod {
	p := selector.Pod{
		Namespace:      pod.Namespace,
		Name:           pod.Name,
		Labels:         pod.Labels,
		HostNetwork:    pod.Spec.HostNetwork,
		OS:             podOS(pod),
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
// the one to pass to Pod: spec.serviceAccountName, or "default".
func ServiceAccountName(pod *corev1.Pod) string {
	if pod.Spec.ServiceAccountName != "" {
		return pod.Spec.ServiceAccountName
	}
	return "default"
}

func podOS(pod *corev1.Pod) string {
	if pod.Spec.OS != nil && pod.Spec.OS.Name != "" {
		return string(pod.Spec.OS.Name)
	}
	if os, ok := pod.Spec.NodeSelector[OSLabel]; ok {
		return os
	}
	return pod.Spec.NodeSelector[BetaOSLabel]
}
