package eni_test

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/eni"
)

func TestVLANs(t *testing.T) {
	v, err := eni.NewVLANs(3)
	require.NoError(t, err)
	for want := 1; want <= 3; want++ {
		id, err := v.Allocate()
		require.NoError(t, err)
		require.Equal(t, want, id)
	}
	_, err = v.Allocate()
	require.ErrorIs(t, err, eni.ErrVLANExhausted)
	require.NoError(t, v.Release(2))
	require.Error(t, v.Release(2), "double release")
	id, err := v.Allocate()
	require.NoError(t, err)
	require.Equal(t, 2, id, "lowest free first")
	require.ErrorContains(t, v.Reserve(1), "already held")
	require.ErrorContains(t, v.Reserve(0), "VLAN 0")
	require.ErrorContains(t, v.Reserve(121), "VLAN 121")
	require.NoError(t, v.Reserve(120), "reserve may exceed the limit")
	require.Equal(t, 4, v.Len())

	for _, bad := range []int{0, -1, 121} {
		_, err := eni.NewVLANs(bad)
		require.Error(t, err)
	}
}

// TestVLANsNeverTwice runs random operations against a model.
func TestVLANsNeverTwice(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	v, err := eni.NewVLANs(eni.MaxBranchVLAN)
	require.NoError(t, err)
	held := map[int]bool{}
	for range 20000 {
		if r.IntN(2) == 0 {
			id, err := v.Allocate()
			if len(held) == eni.MaxBranchVLAN {
				require.ErrorIs(t, err, eni.ErrVLANExhausted)
				continue
			}
			require.NoError(t, err)
			require.False(t, held[id], "VLAN %d given twice", id)
			require.True(t, id >= 1 && id <= eni.MaxBranchVLAN)
			held[id] = true
		} else {
			id := 1 + r.IntN(eni.MaxBranchVLAN)
			err := v.Release(id)
			require.Equal(t, held[id], err == nil)
			delete(held, id)
		}
		require.Equal(t, len(held), v.Len())
	}
}
