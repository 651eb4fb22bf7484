package fake_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/fake"
)

// panicValue runs fn and returns what it panicked with (nil when it did not).
func panicValue(fn func()) (v any) {
	defer func() { v = recover() }()
	fn()
	return nil
}

func TestNewOptions(t *testing.T) {
	tests := []struct {
		name      string
		opts      []fake.Options
		wantField string // empty: New must not panic
	}{
		{name: "none"},
		{name: "zero", opts: []fake.Options{{}}},
		{name: "raised group quota", opts: []fake.Options{{MaxGroupsPerENI: 16}}},
		{name: "group quota above EC2's maximum", opts: []fake.Options{{MaxGroupsPerENI: 17}}, wantField: "Options.MaxGroupsPerENI"},
		{name: "negative group quota", opts: []fake.Options{{MaxGroupsPerENI: -1}}, wantField: "Options.MaxGroupsPerENI"},
		{name: "negative rule quota", opts: []fake.Options{{RulesPerGroup: -5}}, wantField: "Options.RulesPerGroup"},
		{name: "empty bucket", opts: []fake.Options{{Buckets: map[fake.Category]fake.Bucket{fake.CategoryMutating: {}}}}, wantField: `Options.Buckets["mutating"]`},
		{name: "unknown category", opts: []fake.Options{{Buckets: map[fake.Category]fake.Bucket{"writes": {Size: 1}}}}, wantField: `Options.Buckets["writes"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := panicValue(func() { fake.New(tt.opts...) })
			if tt.wantField == "" {
				require.Nil(t, v)
				return
			}
			err, ok := v.(error)
			require.True(t, ok, "New must panic with an error, got %v", v)
			require.ErrorIs(t, err, fake.ErrInvalidOptions)
			require.ErrorContains(t, err, tt.wantField)
		})
	}
}

func TestNewTakesOneOptions(t *testing.T) {
	v := panicValue(func() { fake.New(fake.Options{}, fake.Options{Seed: 2}) })
	require.Contains(t, fmt.Sprint(v), "at most one")
	v = panicValue(func() { _, _ = fake.NewServer(fake.New(), fake.ServerOptions{}, fake.ServerOptions{}) })
	require.Contains(t, fmt.Sprint(v), "at most one")
}

func TestNewServerOptions(t *testing.T) {
	srv, err := fake.NewServer(fake.New(fake.Options{Region: "eu-west-1"}))
	require.NoError(t, err)
	require.Equal(t, "eu-west-1", srv.Region(), "the API's region by default")
	srv, err = fake.NewServer(fake.New(), fake.ServerOptions{Region: "ap-south-1"})
	require.NoError(t, err)
	require.Equal(t, "ap-south-1", srv.Region())
	_, err = fake.NewServer(nil)
	require.Error(t, err)
	require.NotErrorIs(t, err, fake.ErrInvalidOptions, "a nil API is not an options error")
}
