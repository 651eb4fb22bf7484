package limits_test

import (
	"bytes"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/limits"
	"github.com/podsg/podsg/limits/internal/tsv"
)

// dataRows parses the embedded data file, the source of the generated table.
func dataRows(t *testing.T) []tsv.Row {
	t.Helper()
	data, err := os.ReadFile("data/instance-limits.tsv")
	require.NoError(t, err)
	rows, err := tsv.Parse(bytes.NewReader(data))
	require.NoError(t, err)
	return rows
}

func TestGeneratedTableIsCurrent(t *testing.T) {
	want, err := tsv.Render(dataRows(t))
	require.NoError(t, err)
	got, err := os.ReadFile("zz_generated_table.go")
	require.NoError(t, err)
	if !bytes.Equal(got, want) {
		t.Fatalf("zz_generated_table.go is stale against data/instance-limits.tsv; run `go generate ./limits`\n%s",
			cmp.Diff(strings.Split(string(want), "\n"), strings.Split(string(got), "\n")))
	}
}

func TestEveryRowRoundTrips(t *testing.T) {
	rows := dataRows(t)
	require.Len(t, rows, 1164, "rows in data/instance-limits.tsv")
	require.Equal(t, len(rows), limits.Default().Len())

	for _, r := range rows {
		want := limits.Limits{
			InstanceType:       r.InstanceType,
			MaxENIs:            r.MaxENIs,
			IPv4PerENI:         r.IPv4PerENI,
			TrunkingCompatible: r.TrunkingCompatible,
			MaxBranchENIs:      r.MaxBranchENIs,
			DefaultNetworkCard: r.DefaultNetworkCard,
			Hypervisor:         r.Hypervisor,
			BareMetal:          r.BareMetal,
		}
		for _, c := range r.NetworkCards {
			want.NetworkCards = append(want.NetworkCards, limits.NetworkCard{Index: c.Index, MaxENIs: c.MaxENIs})
		}
		got, err := limits.Lookup(r.InstanceType)
		require.NoError(t, err)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Lookup(%q) mismatch (-data +table):\n%s", r.InstanceType, diff)
		}
	}
}

func TestAllIsSortedCopy(t *testing.T) {
	all := limits.Default().All()
	require.Len(t, all, limits.Default().Len())
	require.True(t, slices.IsSortedFunc(all, func(a, b limits.Limits) int {
		return strings.Compare(a.InstanceType, b.InstanceType)
	}), "All() is not sorted by instance type")

	// Reordering the copy does not reorder the table.
	first := all[0].InstanceType
	slices.Reverse(all)
	require.Equal(t, first, limits.Default().All()[0].InstanceType)
}

// TestInvariants checks the rules every row must meet directly, independent
// of Validate, and then that Validate agrees.
func TestInvariants(t *testing.T) {
	trunking := 0
	for _, l := range limits.Default().All() {
		sum, defaults := 0, 0
		for _, c := range l.NetworkCards {
			sum += c.MaxENIs
			if c.Index == l.DefaultNetworkCard {
				defaults++
			}
		}
		if sum != l.MaxENIs {
			t.Errorf("%s: network cards add up to %d ENIs, MaxENIs is %d", l.InstanceType, sum, l.MaxENIs)
		}
		if defaults != 1 {
			t.Errorf("%s: default card %d appears %d times in %v", l.InstanceType, l.DefaultNetworkCard, defaults, l.NetworkCards)
		}
		if l.TrunkingCompatible {
			trunking++
			if l.MaxBranchENIs <= 0 {
				t.Errorf("%s: trunking-compatible with %d branch ENIs", l.InstanceType, l.MaxBranchENIs)
			}
		} else if l.MaxBranchENIs != 0 {
			t.Errorf("%s: %d branch ENIs without trunking", l.InstanceType, l.MaxBranchENIs)
		}
		if l.BareMetal != (l.Hypervisor == "") {
			t.Errorf("%s: bare metal %t with hypervisor %q", l.InstanceType, l.BareMetal, l.Hypervisor)
		}
		if err := l.Validate(); err != nil {
			t.Errorf("%s: %v", l.InstanceType, err)
		}
	}
	require.Equal(t, 1060, trunking, "trunking-compatible rows")
}

func TestSeedFacts(t *testing.T) {
	m5, err := limits.Lookup("m5.large")
	require.NoError(t, err)
	require.Equal(t, 9, m5.MaxBranchENIs)
	require.Equal(t, 3, m5.MaxENIs)
	require.Equal(t, 10, m5.IPv4PerENI)
	require.True(t, m5.TrunkingCompatible)

	// Five m5.large nodes advertise 5 × 9 pod-eni: the 46th pod with
	// security groups has nowhere to go.
	capacity := 0
	for range 5 {
		l, err := limits.Lookup("m5.large")
		require.NoError(t, err)
		capacity += l.MaxBranchENIs
	}
	require.Equal(t, 45, capacity)

	// The t family (t1, t2, t3, t3a, t4g, ...) is burstable and never hosts a
	// trunk; trn1 is a different family.
	tFamily := regexp.MustCompile(`^t[0-9]+[a-z]*\.`)
	seen := 0
	for _, l := range limits.Default().All() {
		if !tFamily.MatchString(l.InstanceType) {
			continue
		}
		seen++
		if l.TrunkingCompatible || l.MaxBranchENIs != 0 {
			t.Errorf("%s is a t type but trunking-compatible (%d branch ENIs)", l.InstanceType, l.MaxBranchENIs)
		}
	}
	require.Equal(t, 29, seen, "t-family rows")
	trn, err := limits.Lookup("trn1.2xlarge")
	require.NoError(t, err)
	require.True(t, trn.TrunkingCompatible)
}

func TestMaxPods(t *testing.T) {
	tests := []struct {
		instanceType string
		want         int
	}{
		{"m5.large", 29},       // 3 × (10 − 1) + 2
		{"m5.xlarge", 58},      // 4 × (15 − 1) + 2
		{"t3.micro", 4},        // 2 × (2 − 1) + 2
		{"a1.medium", 8},       // 2 × (4 − 1) + 2
		{"c5.18xlarge", 737},   // 15 × (50 − 1) + 2
		{"m5.metal", 737},      // 15 × (50 − 1) + 2
		{"c6in.32xlarge", 394}, // 8 on card 0 of 16 × (50 − 1) + 2
		{"dl1.24xlarge", 737},  // 15 on card 0 of 60 × (50 − 1) + 2
	}
	for _, tt := range tests {
		l, err := limits.Lookup(tt.instanceType)
		require.NoError(t, err)
		require.Equal(t, tt.want, limits.MaxPods(l), tt.instanceType)
	}
}

func TestMaxPodsEdges(t *testing.T) {
	tests := []struct {
		name string
		l    limits.Limits
		want int
	}{
		{"default card other than 0", limits.Limits{
			MaxENIs: 6, IPv4PerENI: 10, DefaultNetworkCard: 1,
			NetworkCards: []limits.NetworkCard{{Index: 0, MaxENIs: 4}, {Index: 1, MaxENIs: 2}},
		}, 2*9 + 2},
		{"zero value", limits.Limits{}, 2},
		{"default card missing", limits.Limits{MaxENIs: 3, IPv4PerENI: 10, DefaultNetworkCard: 5,
			NetworkCards: []limits.NetworkCard{{Index: 0, MaxENIs: 3}}}, 2},
		{"negative addresses", limits.Limits{IPv4PerENI: -4, NetworkCards: []limits.NetworkCard{{Index: 0, MaxENIs: 3}}}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, limits.MaxPods(tt.l))
		})
	}
}

func TestLookupUnknown(t *testing.T) {
	_, err := limits.Lookup("m99.huge")
	require.ErrorIs(t, err, limits.ErrUnknownInstanceType)
	var ute *limits.UnknownTypeError
	require.ErrorAs(t, err, &ute)
	require.Equal(t, "m99.huge", ute.InstanceType)
	require.Equal(t, "built-in table", ute.Source)
	for _, want := range []string{`"m99.huge"`, "limits.WithOverrides", "limits.LoadOverrides", "limits/ec2limits"} {
		require.Contains(t, err.Error(), want)
	}

	var zero limits.Table
	require.Zero(t, zero.Len())
	require.Empty(t, zero.All())
	_, err = zero.Lookup("m5.large")
	require.ErrorIs(t, err, limits.ErrUnknownInstanceType)
	require.ErrorAs(t, err, &ute)
	require.Equal(t, "empty table", ute.Source)
}

func TestDefaultIsShared(t *testing.T) {
	first := limits.Default()
	require.Same(t, first, limits.Default())
}

func TestClone(t *testing.T) {
	l, err := limits.Lookup("c6in.32xlarge")
	require.NoError(t, err)
	c := l.Clone()
	c.NetworkCards[0].MaxENIs = 99
	again, err := limits.Lookup("c6in.32xlarge")
	require.NoError(t, err)
	require.Equal(t, 8, again.NetworkCards[0].MaxENIs, "Clone shares NetworkCards with the table")
}

func TestErrorsAreDistinct(t *testing.T) {
	require.NotErrorIs(t, limits.ErrUnknownInstanceType, limits.ErrInvalidLimits)
	_, err := limits.Lookup("x.y")
	require.NotErrorIs(t, err, limits.ErrInvalidLimits)
}
