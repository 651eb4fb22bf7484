package eni_test

import (
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/eni"
)

func TestParseGroupSet(t *testing.T) {
	tests := []struct {
		in      []string
		want    []string
		wantErr string
	}{
		{in: nil, want: nil},
		{in: []string{"sg-00000002", "sg-00000001", "sg-00000002"}, want: []string{"sg-00000002", "sg-00000001"}},
		{in: []string{"sg-00000001", "sg-00000002", "sg-00000001"}, want: []string{"sg-00000001", "sg-00000002"}},
		{in: []string{"sg-0123456789abcdef0"}, want: []string{"sg-0123456789abcdef0"}},
		{in: []string{"sg-00000001", "sg-1"}, wantErr: `security group [1] "sg-1"`},
		{in: []string{"SG-00000001"}, wantErr: `[0] "SG-00000001"`},
		{in: []string{"sg-0000000G"}, wantErr: `"sg-0000000G"`},
	}
	for _, tt := range tests {
		s, err := eni.ParseGroupSet(tt.in...)
		if tt.wantErr != "" {
			require.ErrorContains(t, err, tt.wantErr)
			continue
		}
		require.NoError(t, err)
		require.Empty(t, cmp.Diff(tt.want, s.IDs()))
		require.Empty(t, cmp.Diff(tt.want, slices.Collect(s.All())))
		require.Equal(t, len(tt.want), s.Len())
	}
	require.True(t, eni.GroupSet{}.IsEmpty())
	require.Empty(t, slices.Collect(eni.GroupSet{}.All()))
	require.False(t, eni.GroupSet{}.Contains(""))
	require.Panics(t, func() { eni.MustGroupSet("bad") })
}

// TestGroupSetOrder: a set keeps the order it was given in (what EC2
// receives), while Canonical and Equal ignore it.
func TestGroupSetOrder(t *testing.T) {
	ba := eni.MustGroupSet("sg-00000002", "sg-00000001")
	ab := eni.MustGroupSet("sg-00000001", "sg-00000002", "sg-00000001")
	require.Equal(t, "sg-00000002,sg-00000001", ba.String())
	require.Equal(t, "sg-00000001,sg-00000002", ab.String())
	require.False(t, ba == ab, "== compares the order too") //nolint:testifylint // the point is what == does with GroupSets
	require.True(t, ba.Equal(ab) && ab.Equal(ba))
	require.True(t, ba.Canonical() == ab.Canonical())                                    //nolint:testifylint // the point is what == does with GroupSets
	require.True(t, ab.Canonical() == ab, "a set given in ascending order is canonical") //nolint:testifylint // the point is what == does with GroupSets
	require.Equal(t, "sg-00000001,sg-00000002", ba.Canonical().String())
	require.True(t, ba.Contains("sg-00000001") && ba.Contains("sg-00000002"))
	require.False(t, ba.Contains("sg-00000003"))
	require.True(t, ba.ContainsAll(ab) && ab.ContainsAll(ba))
	require.False(t, ba.Equal(eni.MustGroupSet("sg-00000001")))

	k := eni.Key{Groups: ba, Subnet: "subnet-0a"}
	require.Equal(t, "subnet-0a/sg-00000002,sg-00000001", k.String())
	require.Equal(t, eni.Key{Groups: ab, Subnet: "subnet-0a"}, k.Canonical())
	require.Equal(t, k, eni.Branch{Groups: ba, Subnet: "subnet-0a"}.Key(), "a branch's key keeps its order")
}

func TestGroupSetContainsAll(t *testing.T) {
	s := func(ids ...string) eni.GroupSet { return eni.MustGroupSet(ids...) }
	tests := []struct {
		a, b eni.GroupSet
		want bool
	}{
		{s(), s(), true},
		{s("sg-00000001"), s(), true},
		{s(), s("sg-00000001"), false},
		{s("sg-00000001", "sg-00000002", "sg-00000003"), s("sg-00000001", "sg-00000003"), true},
		{s("sg-00000001", "sg-00000003"), s("sg-00000002"), false},
		{s("sg-00000001", "sg-00000003"), s("sg-00000003", "sg-00000004"), false},
		{s("sg-00000002"), s("sg-00000001"), false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, tt.a.ContainsAll(tt.b), "%v ⊇ %v", tt.a, tt.b)
	}
}

func FuzzParseGroupSet(f *testing.F) {
	f.Add("sg-00000001", "sg-00000002")
	f.Add("sg-0123456789abcdef0", "sg-0123456789abcdef0")
	f.Fuzz(func(t *testing.T, a, b string) {
		s, err := eni.ParseGroupSet(a, b)
		if err != nil {
			return
		}
		r, err := eni.ParseGroupSet(b, a)
		require.NoError(t, err)
		require.True(t, s.Equal(r))
		require.Equal(t, s.Canonical(), r.Canonical())
		require.Equal(t, a, s.IDs()[0], "the first ID given comes first")
		require.True(t, s.Contains(a) && s.Contains(b))
		require.True(t, s.ContainsAll(eni.MustGroupSet(a)))
		again, err := eni.ParseGroupSet(s.IDs()...)
		require.NoError(t, err)
		require.Equal(t, s, again)
	})
}

// TestPoolGroupOrder: the backend (EC2) receives a pod's groups in the order
// it asked for them, and the pool files ENIs by their canonical key, so a
// warm ENI serves a pod that wants the same groups in another order without
// any backend call; it keeps the order it was created with.
func TestPoolGroupOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		p, be := newPool(t, 2, eni.Policy{})
		webDB := eni.Key{Groups: eni.MustGroupSet(sgWeb, sgDB), Subnet: "subnet-0a"}
		dbWeb := eni.Key{Groups: eni.MustGroupSet(sgDB, sgWeb), Subnet: "subnet-0a"}
		require.False(t, webDB == dbWeb) //nolint:testifylint // the point is that == tells the two orders apart

		b1, err := p.Acquire(ctx, pod(1), webDB)
		require.NoError(t, err)
		require.Equal(t, []string{sgWeb, sgDB}, be.enis[b1.ENI.ID].Groups.IDs(), "the order given reaches the backend")
		require.Equal(t, webDB, b1.Key())

		p.Release(pod(1))
		time.Sleep(eni.DefaultCoolDown)
		b2, err := p.Acquire(ctx, pod(2), dbWeb)
		require.NoError(t, err)
		require.Equal(t, b1.ENI.ID, b2.ENI.ID, "the warm ENI serves the same groups in another order")
		require.Equal(t, webDB, b2.Key(), "and keeps the order it was created with")
		require.Equal(t, 1, be.count("create"))
		require.Zero(t, be.count("retarget"))
		require.Equal(t, uint64(1), p.Stats().WarmHits)

		b3, err := p.Acquire(ctx, pod(3), dbWeb)
		require.NoError(t, err)
		require.Equal(t, []string{sgDB, sgWeb}, be.enis[b3.ENI.ID].Groups.IDs())
	})
}

// TestPrewarmGroupOrder: an ENI pre-warmed for a key is created with the
// groups in the order the newest pod of the key asked for them.
func TestPrewarmGroupOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		p, be := newPool(t, 2, eni.Policy{})
		dbWeb := eni.Key{Groups: eni.MustGroupSet(sgDB, sgWeb), Subnet: "subnet-0a"}
		webDB := eni.Key{Groups: eni.MustGroupSet(sgWeb, sgDB), Subnet: "subnet-0a"}
		b1, err := p.Acquire(ctx, pod(1), dbWeb)
		require.NoError(t, err)
		maintainAll(t, p)
		require.Equal(t, counts{InUse: 1, Warm: 1}, stateCounts(p))
		b2, err := p.Acquire(ctx, pod(2), webDB)
		require.NoError(t, err)
		require.Equal(t, 2, be.count("create"), "the second pod took the pre-warmed ENI")
		require.NotEqual(t, b1.ENI.ID, b2.ENI.ID)
		require.Equal(t, []string{sgDB, sgWeb}, be.enis[b2.ENI.ID].Groups.IDs())
	})
}
