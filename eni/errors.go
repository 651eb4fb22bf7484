package eni

import (
	"errors"
	"fmt"
	"time"
)

// ErrNoCapacity is matched (errors.Is) by the error Acquire returns when the
// node's branch-ENI limit is reached and nothing can be freed: every slot is
// in use by a pod, cooling down or being deleted. The pod must wait until a
// pod on the node ends and its ENI cools down, or run on another node.
var ErrNoCapacity = errors.New("no branch ENI capacity on the node")

// ErrInvalidOptions is matched (errors.Is) by the errors NewPool and
// Policy.Validate return for bad options. The message names the field, its
// value and what to do.
var ErrInvalidOptions = errors.New("eni: invalid options")

// invalidOption returns an error matching ErrInvalidOptions for field.
func invalidOption(field string, value any, format string, args ...any) error {
	return fmt.Errorf("%w: %s = %v: %s", ErrInvalidOptions, field, value, fmt.Sprintf(format, args...))
}

// ErrPoolClosed is returned by Acquire once Drain has started.
var ErrPoolClosed = errors.New("branch ENI pool is closed")

// ErrPodReleased is returned by Acquire when the pod was released while its
// ENI was being prepared; the ENI went to cool-down instead.
var ErrPodReleased = errors.New("pod released while its branch ENI was being prepared")

// CapacityError is the error Acquire returns when the node is full. It
// matches ErrNoCapacity.
type CapacityError struct {
	Node  string
	Stats Stats
	// NextCooled is when the next cooling ENI ends its cool-down, zero when
	// none is cooling.
	NextCooled time.Time
}

func (e *CapacityError) Error() string {
	s := e.Stats
	msg := fmt.Sprintf("eni: node %s has no free branch ENI: %d of %d taken (%d in use, %d being prepared, %d cooling, %d being deleted)",
		e.Node, s.Total(), s.Limit, s.InUse, s.Creating, s.Cooling, s.Deleting)
	if !e.NextCooled.IsZero() {
		msg += fmt.Sprintf("; the next ENI finishes its cool-down at %s", e.NextCooled.Format(time.RFC3339))
	}
	return msg + "; the pod can start when a pod on this node ends and its ENI cools down, or on another node"
}

// Is makes CapacityError match ErrNoCapacity.
func (e *CapacityError) Is(target error) bool { return target == ErrNoCapacity }
