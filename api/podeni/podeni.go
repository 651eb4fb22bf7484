package podeni

import (
	"encoding/json"
	"fmt"
)

const (
	// AnnotationKey is the pod annotation that carries the branch ENI a pod
	// was given, read by the VPC CNI plugin on the node.
	AnnotationKey = "vpc.amazonaws.com/pod-eni"
	// ResourceName is the extended resource a matching pod requests ("1")
	// and a node advertises (its branch-ENI limit).
	ResourceName = "vpc.amazonaws.com/pod-eni"
	// FargateAnnotationKey is the pod annotation that lists, comma-separated,
	// the security groups of a Fargate pod.
	FargateAnnotationKey = "fargate.amazonaws.com/pod-sg"

	// MinVLAN and MaxVLAN bound the VLAN IDs that an annotation may carry
	// (802.1Q; 0 is reserved). The controller's allocator (package eni)
	// hands out only 1..eni.MaxBranchVLAN.
	MinVLAN = 1
	// MaxVLAN is the highest VLAN ID an annotation may carry; see MinVLAN.
	MaxVLAN = 4094
)

// Parse parses and validates the value of the pod-eni annotation: a JSON
// array with at least one element. The CNI plugin uses element 0. Errors are
// *Error, match ErrInvalid and name the bad field, e.g. "[0].vlanId".
func Parse(value string) ([]BranchENI, error) {
	var ws []wireENI
	if err := json.Unmarshal([]byte(value), &ws); err != nil {
		return nil, &Error{Field: "(value)", Value: truncate(value), Reason: "not a JSON array of branch ENIs: " + err.Error()}
	}
	if len(ws) == 0 {
		return nil, &Error{Field: "(value)", Value: truncate(value), Reason: "the array is empty; want at least one branch ENI"}
	}
	out := make([]BranchENI, len(ws))
	for i, w := range ws {
		path := fmt.Sprintf("[%d].", i)
		b, err := fromWire(w, path)
		if err != nil {
			return nil, err
		}
		if err := b.validate(path); err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

// Format validates the branch ENIs and encodes them as the value of the
// pod-eni annotation. Errors are *Error and match ErrInvalid.
func Format(enis ...BranchENI) (string, error) {
	if len(enis) == 0 {
		return "", &Error{Field: "(value)", Value: "[]", Reason: "want at least one branch ENI"}
	}
	ws := make([]wireENI, len(enis))
	for i, b := range enis {
		if err := b.validate(fmt.Sprintf("[%d].", i)); err != nil {
			return "", err
		}
		ws[i] = b.wire()
	}
	out, err := json.Marshal(ws)
	return string(out), err
}

func truncate(s string) string {
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return fmt.Sprintf("%q", s)
}
