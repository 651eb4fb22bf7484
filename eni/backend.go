package eni

import (
	"context"
	"fmt"

	"github.com/podsg/podsg/api/podeni"
)

// Branch is a branch ENI as a pool holds it: its annotation value and the key
// it serves.
type Branch struct {
	// ENI is the annotation value; ENI.VLANID is its VLAN on the trunk.
	ENI podeni.BranchENI
	// Groups are the ENI's security groups, in the order they were given
	// to EC2 when it was created or last retargeted (for an ENI found in
	// EC2, the order EC2 lists them in).
	Groups GroupSet
	// Subnet is the ENI's subnet ID.
	Subnet string
}

// Key returns the key b serves: its groups, in their order, and its subnet.
// b serves every pod whose key has the same Canonical form.
func (b Branch) Key() Key { return Key{Groups: b.Groups, Subnet: b.Subnet} }

// id is the key the pool files b under: its Canonical key.
func (b Branch) id() Key { return Key{Groups: b.Groups.Canonical(), Subnet: b.Subnet} }

// CreateRequest asks a Backend for a branch ENI on the pool's trunk.
type CreateRequest struct {
	// Pod is the pod the ENI is for; zero for an ENI created for a warm
	// target.
	Pod PodRef
	// Key is the security groups and subnet of the ENI; Key.Groups.IDs()
	// is the order to give EC2 (the pod's policy order).
	Key Key
	// VLAN is the VLAN ID the pool allocated for it, 1..MaxBranchVLAN.
	VLAN int
}

// Backend creates, deletes and retargets the branch ENIs of one node's trunk.
// Package trunk implements it on EC2. Methods are called without the pool's
// lock held and may run concurrently; they must honour ctx.
type Backend interface {
	// CreateBranch creates a branch ENI for req and associates it with the
	// trunk on req.VLAN. On failure nothing may remain associated on
	// req.VLAN, unless the error matches *InDoubtError (errors.As), in which
	// case the pool keeps the VLAN and deletes the named ENI later.
	CreateBranch(ctx context.Context, req CreateRequest) (podeni.BranchENI, error)
	// DeleteBranch disassociates b from the trunk and deletes it. An ENI
	// that no longer exists counts as deleted (nil error). A b whose
	// ENI.VLANID is 0 is not associated (a Replacer took it off its
	// trunk): it only needs deleting.
	DeleteBranch(ctx context.Context, b Branch) error
	// RetargetBranch replaces b's security groups with groups. On failure
	// the pool deletes b, since its groups are then unknown.
	RetargetBranch(ctx context.Context, b Branch, groups GroupSet) error
}

// A Replacer is a Backend that can give the slot of a warm ENI to a new ENI
// faster than deleting the warm one and then creating the new one: it takes
// the warm ENI off the trunk while it creates the new one, and associates
// the new one on the VLAN the warm one held. A pool that must evict a warm
// ENI of another key to make room for a pod (a full node) uses it when its
// Backend implements it, so that the pod waits about as long as for an ENI
// created in a free slot; the evicted ENI is deleted in the background.
type Replacer interface {
	Backend
	// ReplaceBranch disassociates old from the trunk and creates a branch
	// ENI for req, associated on req.VLAN (old's VLAN) once old is off
	// it. It does not delete old: on success the pool deletes it later
	// with DeleteBranch, with ENI.VLANID 0.
	//
	// On failure nothing new may remain associated on req.VLAN, unless the
	// error matches *InDoubtError naming the new ENI, as for CreateBranch;
	// old may or may not be off the trunk, and the pool deletes it with
	// DeleteBranch (old's VLAN held until then).
	ReplaceBranch(ctx context.Context, old Branch, req CreateRequest) (podeni.BranchENI, error)
}

// InDoubtError is returned by a Backend's CreateBranch when it could not
// establish whether the ENI it created is still associated with the trunk
// (for instance its clean-up was interrupted). The pool then keeps the VLAN
// held and deletes the ENI in the background.
type InDoubtError struct {
	// ENI is the branch ENI in doubt; ENI.ID must be set.
	ENI podeni.BranchENI
	// Err is the failure that left it in doubt.
	Err error
}

func (e *InDoubtError) Error() string {
	return fmt.Sprintf("branch ENI %s on VLAN %d left in doubt: %v", e.ENI.ID, e.ENI.VLANID, e.Err)
}

func (e *InDoubtError) Unwrap() error { return e.Err }
