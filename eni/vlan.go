package eni

import (
	"errors"
	"fmt"
	"math/bits"

	"github.com/podsg/podsg/api/podeni"
)

// MaxBranchVLAN is the highest VLAN ID given to a branch ENI on a trunk, as
// the VPC resource controller does: VLANs 1..120, of which at most the
// node's branch-ENI limit are in use at a time. The annotation itself may
// carry any VLAN up to podeni.MaxVLAN.
const MaxBranchVLAN = 120

// ErrVLANExhausted is returned by VLANs.Allocate when the trunk already uses
// as many VLANs as its node may hold branch ENIs.
var ErrVLANExhausted = errors.New("no free VLAN on the trunk")

// VLANs allocates the VLAN IDs of one trunk ENI: IDs 1..MaxBranchVLAN, at
// most Limit of them in use at a time, none ever held twice.
//
// The zero VLANs has a limit of zero and allocates nothing; use NewVLANs.
// A VLANs is not safe for concurrent use; Pool guards its own.
type VLANs struct {
	used  [2]uint64 // bit i set: VLAN i is held (bit 0 unused)
	n     int
	limit int
}

// NewVLANs returns an allocator for a trunk whose node can hold limit branch
// ENIs (1..MaxBranchVLAN).
func NewVLANs(limit int) (*VLANs, error) {
	if limit < 1 || limit > MaxBranchVLAN {
		return nil, fmt.Errorf("eni: branch-ENI limit %d: want 1 to %d", limit, MaxBranchVLAN)
	}
	return &VLANs{limit: limit}, nil
}

// Limit returns how many VLANs may be held at once.
func (v *VLANs) Limit() int { return v.limit }

// Len returns how many VLANs are held.
func (v *VLANs) Len() int { return v.n }

// Held reports whether id is held.
func (v *VLANs) Held(id int) bool {
	return id >= podeni.MinVLAN && id <= MaxBranchVLAN && v.used[id/64]&(1<<(id%64)) != 0
}

// Allocate holds and returns the lowest free VLAN ID. When Limit IDs are
// already held it returns an error matching ErrVLANExhausted.
func (v *VLANs) Allocate() (int, error) {
	if v.n >= v.limit {
		return 0, fmt.Errorf("%w: %d of %d in use", ErrVLANExhausted, v.n, v.limit)
	}
	for w := range v.used {
		free := ^v.used[w]
		if w == 0 {
			free &^= 1 // VLAN 0 is reserved
		}
		if free == 0 {
			continue
		}
		id := w*64 + bits.TrailingZeros64(free)
		if id > MaxBranchVLAN {
			break
		}
		v.used[w] |= 1 << (id % 64)
		v.n++
		return id, nil
	}
	return 0, fmt.Errorf("%w: every ID from 1 to %d is in use", ErrVLANExhausted, MaxBranchVLAN)
}

// Reserve holds a given id, as found on an existing branch ENI when state is
// rebuilt. It fails when id is outside 1..MaxBranchVLAN or already held.
// Reserve may take the count above Limit (a node whose limit shrank keeps its
// ENIs); Allocate then refuses until enough are released.
func (v *VLANs) Reserve(id int) error {
	if id < podeni.MinVLAN || id > MaxBranchVLAN {
		return fmt.Errorf("eni: VLAN %d: want 1 to %d", id, MaxBranchVLAN)
	}
	if v.Held(id) {
		return fmt.Errorf("eni: VLAN %d is already held by another branch ENI on this trunk", id)
	}
	v.used[id/64] |= 1 << (id % 64)
	v.n++
	return nil
}

// Release frees id. Releasing an ID that is not held is an error, so that a
// double release shows up instead of corrupting the count.
func (v *VLANs) Release(id int) error {
	if !v.Held(id) {
		return fmt.Errorf("eni: VLAN %d is not held", id)
	}
	v.used[id/64] &^= 1 << (id % 64)
	v.n--
	return nil
}
