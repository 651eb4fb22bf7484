package eni_test

import (
	"testing"

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
		{in: []string{"sg-00000002", "sg-00000001", "sg-00000002"}, want: []string{"sg-00000001", "sg-00000002"}},
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
		require.Equal(t, len(tt.want), s.Len())
	}
	a := eni.MustGroupSet("sg-00000002", "sg-00000001")
	b := eni.MustGroupSet("sg-00000001", "sg-00000002", "sg-00000001")
	require.True(t, a == b, "sets with the same members are equal") //nolint:testifylint // the point is that == compares GroupSets
	require.Equal(t, "sg-00000001,sg-00000002", a.String())
	require.True(t, a.Contains("sg-00000002"))
	require.False(t, a.Contains("sg-00000003"))
	require.True(t, eni.GroupSet{}.IsEmpty())
	require.Panics(t, func() { eni.MustGroupSet("bad") })
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
		require.Equal(t, s, r)
		require.True(t, s.Contains(a) && s.Contains(b))
		require.True(t, s.ContainsAll(eni.MustGroupSet(a)))
		again, err := eni.ParseGroupSet(s.IDs()...)
		require.NoError(t, err)
		require.Equal(t, s, again)
	})
}
