package eni

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/api/podeni"
)

// oneByOne creates ENIs with made-up IDs and deletes them at once.
type oneByOne struct{ n int }

func (b *oneByOne) CreateBranch(_ context.Context, req CreateRequest) (podeni.BranchENI, error) {
	b.n++
	return podeni.BranchENI{ID: fmt.Sprintf("eni-%017x", b.n), VLANID: req.VLAN, MAC: podeni.MAC{2, 0, 0, 0, 0, byte(b.n)},
		PrivateIP: netip.MustParseAddr("10.0.0.10"), SubnetCIDR: netip.MustParsePrefix("10.0.0.0/24")}, nil
}
func (b *oneByOne) DeleteBranch(context.Context, Branch) error             { return nil }
func (b *oneByOne) RetargetBranch(context.Context, Branch, GroupSet) error { return nil }

// TestBrokenVLANBookkeepingPanics frees an ENI's VLAN behind the pool's back:
// when the ENI is deleted, the pool stops rather than carry on with counts
// that would give one VLAN to two ENIs.
func TestBrokenVLANBookkeepingPanics(t *testing.T) {
	p, err := NewPool(&oneByOne{}, Options{Node: "i-1", Limit: 2, Policy: Policy{MaxWarm: NoWarm}})
	require.NoError(t, err)
	pod := PodRef{Namespace: "default", Name: "a", UID: "1"}
	b, err := p.Acquire(t.Context(), pod, Key{Groups: MustGroupSet("sg-00000001"), Subnet: "subnet-1"})
	require.NoError(t, err)
	require.NoError(t, p.vlans.Release(b.ENI.VLANID))
	require.PanicsWithValue(t, "eni: pool of node i-1: branch ENI "+b.ENI.ID+" holds a slot but eni: VLAN 1 is not held",
		func() { _ = p.Drain(t.Context()) })
}
