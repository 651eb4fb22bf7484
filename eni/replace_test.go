package eni_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/api/podeni"
	"github.com/podsg/podsg/eni"
)

// replaceBackend is a memBackend that is also an eni.Replacer: ReplaceBranch
// takes the old ENI off its VLAN and creates the new one there.
type replaceBackend struct {
	*memBackend
	deleted []int // VLAN of each ENI DeleteBranch was given
}

var _ eni.Replacer = (*replaceBackend)(nil)

func (r *replaceBackend) ReplaceBranch(ctx context.Context, old eni.Branch, req eni.CreateRequest) (podeni.BranchENI, error) {
	r.mu.Lock()
	r.calls["replace"]++
	if err := r.fail("replace"); err != nil {
		r.mu.Unlock()
		return podeni.BranchENI{}, err
	}
	if req.VLAN != old.ENI.VLANID {
		r.mu.Unlock()
		return podeni.BranchENI{}, errors.New("replacement on another VLAN than the old ENI's")
	}
	cur := r.enis[old.ENI.ID]
	delete(r.vlans, cur.ENI.VLANID)
	cur.ENI.VLANID = 0
	r.enis[old.ENI.ID] = cur
	r.mu.Unlock()
	return r.CreateBranch(ctx, req)
}

func (r *replaceBackend) DeleteBranch(ctx context.Context, b eni.Branch) error {
	r.mu.Lock()
	r.deleted = append(r.deleted, b.ENI.VLANID)
	r.mu.Unlock()
	return r.memBackend.DeleteBranch(ctx, b)
}

// TestEvictWithReplacer fills a node, leaves a warm ENI of one key and asks
// for another key: with a Replacer backend the pool gives the warm ENI's
// slot and VLAN to the new ENI in one ReplaceBranch and deletes the old ENI
// afterwards, off the trunk (VLAN 0). When the replacement fails, the old
// ENI keeps its slot until it is deleted, and the pod gets the error.
func TestEvictWithReplacer(t *testing.T) {
	tests := []struct {
		name        string
		fail        bool
		wantDeleted []int // VLANs DeleteBranch was given
	}{
		{"replaced", false, []int{0}},
		{"replacement fails", true, []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := t.Context()
				be := &replaceBackend{memBackend: newMemBackend()}
				p, err := eni.NewPool(be, eni.Options{Node: "i-0123456789abcdef0", Limit: 2,
					Policy: eni.Policy{Prewarm: eni.PrewarmPolicy{Window: eni.NoPrewarm}}})
				require.NoError(t, err)
				warm := oneInUseOneWarm(t, p, web)
				if tt.fail {
					be.failOn["replace"] = errors.New("refused")
				}

				got, err := p.Acquire(ctx, pod(3), db)
				require.Equal(t, 1, be.count("replace"))
				require.Equal(t, 2+btoi(!tt.fail), be.count("create"), "no creation beside the replacement's")
				if tt.fail {
					require.ErrorContains(t, err, "refused")
					// The warm ENI keeps its VLAN until it is deleted.
					require.Equal(t, counts{InUse: 1, Deleting: 1}, stateCounts(p))
				} else {
					require.NoError(t, err)
					require.Equal(t, db, got.Key())
					require.Equal(t, warm.ENI.VLANID, got.ENI.VLANID, "the new ENI takes the warm ENI's VLAN")
					require.Equal(t, counts{InUse: 2}, stateCounts(p), "the old ENI holds no slot")
					var off []string
					for _, e := range p.Entries() {
						if e.Branch.ENI.VLANID == 0 {
							require.Equal(t, eni.StateDeleting, e.State)
							off = append(off, e.Branch.ENI.ID)
						}
					}
					require.Equal(t, []string{warm.ENI.ID}, off, "the old ENI waits for its deletion, off the trunk")
				}
				time.Sleep(2 * time.Second) // a failed eviction's deletion is retried after a back-off
				_, err = p.Maintain(ctx)
				require.NoError(t, err)
				require.Equal(t, tt.wantDeleted, be.deleted)
				require.Len(t, be.found(), 1+btoi(!tt.fail), "the old ENI is gone")
				for _, e := range p.Entries() {
					require.NotZero(t, e.Branch.ENI.VLANID, "nothing off the trunk is left")
				}
				if tt.fail {
					// The slot is free again: the pod gets a new ENI.
					got, err := p.Acquire(ctx, pod(3), db)
					require.NoError(t, err)
					require.Equal(t, db, got.Key())
				}
			})
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
