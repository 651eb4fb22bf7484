package podeni

import (
	"errors"
	"fmt"
)

// ErrInvalid is matched (errors.Is) by every error that Parse, Format and
// BranchENI.Validate return for bad content.
var ErrInvalid = errors.New("invalid pod-eni annotation")

// Error says which field of a pod-eni annotation is wrong and why. It
// matches ErrInvalid.
type Error struct {
	// Field is the JSON path of the field, for example "[0].vlanId";
	// "(value)" for the annotation as a whole.
	Field string
	// Value is the offending value as it appeared, quoted for strings.
	Value string
	// Reason says what is wrong and what was expected.
	Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("pod-eni annotation: %s %s: %s", e.Field, e.Value, e.Reason)
}

// Is makes Error match ErrInvalid.
func (e *Error) Is(target error) bool { return target == ErrInvalid }
