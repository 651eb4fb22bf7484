package trunk_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/eni"
	"github.com/podsg/podsg/fake"
	"github.com/podsg/podsg/trunk"
)

func TestNewRefusesBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts trunk.Options
		want string // in the message: field and value
	}{
		{"no cluster", trunk.Options{}, "Options.ClusterName is empty"},
		{"long cluster", trunk.Options{ClusterName: strings.Repeat("c", 107)}, "at most 106"},
		{"negative workers", trunk.Options{ClusterName: "c", Workers: -1}, "Options.Workers is negative (-1)"},
		{"negative attempts", trunk.Options{ClusterName: "c", MaxAttempts: -2}, "Options.MaxAttempts is negative (-2)"},
		{"negative timeout", trunk.Options{ClusterName: "c", TrunkAttachTimeout: -time.Second}, "Options.TrunkAttachTimeout is negative"},
		{"bad policy", trunk.Options{ClusterName: "c", Policy: eni.Policy{MaxWarm: -2}}, "Policy.MaxWarm = -2"},
		{"bad budget", trunk.Options{ClusterName: "c", Budget: trunk.BudgetOptions{Headroom: 1.5}}, "BudgetOptions.Headroom is 1.5"},
		{"bad client rate", trunk.Options{ClusterName: "c", Budget: trunk.BudgetOptions{Client: trunk.Rate{Burst: 5}}}, "BudgetOptions.Client.PerSecond is 0"},
		{"dry rand", trunk.Options{ClusterName: "c", Rand: strings.NewReader("short")}, "Options.Rand: reading 8 bytes failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := trunk.New(fake.New(), tt.opts)
			require.ErrorIs(t, err, trunk.ErrInvalidOptions)
			require.ErrorContains(t, err, tt.want)
		})
	}
	_, err := trunk.New(nil, trunk.Options{ClusterName: "c"})
	require.ErrorIs(t, err, trunk.ErrInvalidOptions)
	m, err := trunk.New(fake.New(), trunk.Options{ClusterName: strings.Repeat("c", 106), GCInterval: -1})
	require.NoError(t, err, "the longest cluster name, and GC turned off")
	m.Close()
}
