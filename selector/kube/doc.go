// Package kube adapts Kubernetes objects to package selector: Pod turns a
// *corev1.Pod and its *corev1.ServiceAccount into a selector.Pod in one
// call, reading the pod's labels, host-network flag, node selector and
// Fargate profile label.
//
// It lives apart from selector so that callers that only have labels, such
// as a CNI plugin or a tool reading manifests, do not compile k8s.io/api.
//
//	result := index.Match(kube.Pod(pod, serviceAccount))
package kube
