//go:build linux

package main

// Error codes. The CNI specification reserves 0 to 99; the plugin uses
// these of them:
//
//	4   CNI_ARGS lacks K8S_POD_NAMESPACE or K8S_POD_NAME
//	5   the state directory or log file cannot be written
//	6   the network configuration or an attachment record does not decode
//	7   the network configuration is invalid (the message names the key),
//	    or the plugin is not first in a plugin list
//	11  try again later: the controller has not annotated the pod within
//	    annotationTimeout, or the API server could not be reached in that time
//	50  STATUS: the node cannot wire branch-ENI pods (no trunk link, no
//	    iptables, an unusable kubeconfig)
//
// and its own:
const (
	// codeKubeAPI: the API server refused to give the pod (unauthorized,
	// forbidden, not found) or answered with something that is not a pod.
	codeKubeAPI uint = 100
	// codeNotBranchPod: the pod neither requests vpc.amazonaws.com/pod-eni
	// nor carries the annotation, so no branch ENI will come.
	codeNotBranchPod uint = 101
	// codeInvalidAnnotation: the pod's vpc.amazonaws.com/pod-eni annotation
	// does not parse or lacks what the node needs.
	codeInvalidAnnotation uint = 102
	// codeUIDMismatch: the pod of that name in the API server is another
	// pod than the runtime's (deleted and created again).
	codeUIDMismatch uint = 103
	// codeSetup: wiring the pod failed; what the call added is removed.
	codeSetup uint = 104
	// codeTeardown: removing an attachment failed; its record is kept so
	// that DEL or GC can try again.
	codeTeardown uint = 105
	// codeCheck: CHECK found the attachment different from its setup.
	codeCheck uint = 106
)
