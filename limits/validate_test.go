package limits_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/podsg/podsg/limits"
)

// good returns a valid single-card Nitro row; tests break one thing at a time.
func good() limits.Limits {
	return limits.Limits{
		InstanceType: "m9.large", MaxENIs: 3, IPv4PerENI: 10,
		TrunkingCompatible: true, MaxBranchENIs: 9,
		DefaultNetworkCard: 0, NetworkCards: []limits.NetworkCard{{Index: 0, MaxENIs: 3}},
		Hypervisor: limits.HypervisorNitro,
	}
}

// violation is the part of a *FieldError a test pins down.
type violation struct {
	Field string
	Value any
}

func violations(t *testing.T, err error) []violation {
	t.Helper()
	if err == nil {
		return nil
	}
	require.ErrorIs(t, err, limits.ErrInvalidLimits)
	var fes limits.FieldErrors
	require.ErrorAs(t, err, &fes)
	require.NotEmpty(t, fes)
	var out []violation
	for _, fe := range fes {
		require.NotEmpty(t, fe.Reason)
		out = append(out, violation{fe.Field, fe.Value})
	}
	return out
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*limits.Limits)
		want   []violation
	}{
		{"valid", func(*limits.Limits) {}, nil},
		{"valid multi-card, default card 1", func(l *limits.Limits) {
			l.MaxENIs = 16
			l.DefaultNetworkCard = 1
			l.NetworkCards = []limits.NetworkCard{{Index: 1, MaxENIs: 8}, {Index: 0, MaxENIs: 8}}
		}, nil},
		{"valid not trunking", func(l *limits.Limits) { l.TrunkingCompatible, l.MaxBranchENIs = false, 0 }, nil},
		{"valid xen", func(l *limits.Limits) {
			l.TrunkingCompatible, l.MaxBranchENIs, l.Hypervisor = false, 0, limits.HypervisorXen
		}, nil},
		{"valid bare metal", func(l *limits.Limits) { l.BareMetal, l.Hypervisor = true, "" }, nil},
		{"valid hyphenated type", func(l *limits.Limits) { l.InstanceType = "u-6tb1.metal" }, nil},
		{"valid empty extra card", func(l *limits.Limits) {
			l.NetworkCards = append(l.NetworkCards, limits.NetworkCard{Index: 1, MaxENIs: 0})
		}, nil},
		{"valid 120 branch ENIs", func(l *limits.Limits) { l.MaxBranchENIs = 120 }, nil},

		{"empty type", func(l *limits.Limits) { l.InstanceType = "" }, []violation{{"instanceType", ""}}},
		{"upper-case type", func(l *limits.Limits) { l.InstanceType = "M9.Large" }, []violation{{"instanceType", "M9.Large"}}},
		{"type without size", func(l *limits.Limits) { l.InstanceType = "m9large" }, []violation{{"instanceType", "m9large"}}},
		{"type with space", func(l *limits.Limits) { l.InstanceType = "m9. large" }, []violation{{"instanceType", "m9. large"}}},
		{"type with two dots", func(l *limits.Limits) { l.InstanceType = "m9.large.x" }, []violation{{"instanceType", "m9.large.x"}}},
		{"zero ENIs", func(l *limits.Limits) {
			l.MaxENIs = 0
			l.NetworkCards[0].MaxENIs = 0
		}, []violation{{"maxENIs", 0}, {"networkCards[0].maxENIs", 0}}},
		{"negative ENIs", func(l *limits.Limits) { l.MaxENIs = -3 }, []violation{{"maxENIs", -3}, {"networkCards", nil}}},
		{"zero addresses", func(l *limits.Limits) { l.IPv4PerENI = 0 }, []violation{{"ipv4PerENI", 0}}},
		{"negative addresses", func(l *limits.Limits) { l.IPv4PerENI = -1 }, []violation{{"ipv4PerENI", -1}}},
		{"negative branch ENIs", func(l *limits.Limits) { l.MaxBranchENIs = -9 }, []violation{{"maxBranchENIs", -9}}},
		{"more branch ENIs than VLANs", func(l *limits.Limits) { l.MaxBranchENIs = 121 }, []violation{{"maxBranchENIs", 121}}},
		{"trunking with zero branch ENIs", func(l *limits.Limits) { l.MaxBranchENIs = 0 }, []violation{{"maxBranchENIs", 0}}},
		{"branch ENIs without trunking", func(l *limits.Limits) { l.TrunkingCompatible = false }, []violation{{"maxBranchENIs", 9}}},
		{"trunking on xen", func(l *limits.Limits) { l.Hypervisor = limits.HypervisorXen }, []violation{{"trunkingCompatible", true}}},
		{"trunking with one ENI on the default card", func(l *limits.Limits) {
			l.MaxENIs = 1
			l.NetworkCards[0].MaxENIs = 1
		}, []violation{{"networkCards[0].maxENIs", 1}}},
		{"no cards", func(l *limits.Limits) { l.NetworkCards = nil }, []violation{{"networkCards", nil}}},
		{"cards do not add up", func(l *limits.Limits) {
			l.NetworkCards = []limits.NetworkCard{{Index: 0, MaxENIs: 3}, {Index: 1, MaxENIs: 2}}
		}, []violation{{"networkCards", nil}}},
		{"duplicate card index", func(l *limits.Limits) {
			l.MaxENIs = 6
			l.NetworkCards = []limits.NetworkCard{{Index: 0, MaxENIs: 3}, {Index: 0, MaxENIs: 3}}
		}, []violation{{"networkCards[1].index", 0}}},
		{"negative card index", func(l *limits.Limits) {
			l.MaxENIs = 6
			l.NetworkCards = append(l.NetworkCards, limits.NetworkCard{Index: -1, MaxENIs: 3})
		}, []violation{{"networkCards[1].index", -1}}},
		{"negative card ENIs", func(l *limits.Limits) {
			l.NetworkCards = append(l.NetworkCards, limits.NetworkCard{Index: 1, MaxENIs: -1})
			l.MaxENIs = 2
		}, []violation{{"networkCards[1].maxENIs", -1}}},
		{"default card missing", func(l *limits.Limits) { l.DefaultNetworkCard = 2 }, []violation{{"defaultNetworkCard", 2}}},
		{"negative default card", func(l *limits.Limits) { l.DefaultNetworkCard = -1 }, []violation{{"defaultNetworkCard", -1}}},
		{"default card without ENIs", func(l *limits.Limits) {
			l.TrunkingCompatible, l.MaxBranchENIs = false, 0
			l.DefaultNetworkCard = 1
			l.NetworkCards = append(l.NetworkCards, limits.NetworkCard{Index: 1, MaxENIs: 0})
		}, []violation{{"networkCards[1].maxENIs", 0}}},
		{"bare metal with hypervisor", func(l *limits.Limits) { l.BareMetal = true }, []violation{{"hypervisor", "nitro"}}},
		{"no hypervisor, not bare metal", func(l *limits.Limits) { l.Hypervisor = "" }, []violation{{"hypervisor", ""}}},
		{"unknown hypervisor", func(l *limits.Limits) { l.Hypervisor = "kvm" }, []violation{{"hypervisor", "kvm"}}},
		{"everything at once", func(l *limits.Limits) {
			*l = limits.Limits{
				MaxENIs: -1, IPv4PerENI: -1, MaxBranchENIs: 3, DefaultNetworkCard: 4,
				NetworkCards: []limits.NetworkCard{{Index: 1, MaxENIs: 1}, {Index: 1, MaxENIs: 1}},
				Hypervisor:   "xen", BareMetal: true,
			}
		}, []violation{
			{"instanceType", ""}, {"maxENIs", -1}, {"ipv4PerENI", -1}, {"maxBranchENIs", 3},
			{"networkCards[1].index", 1}, {"networkCards", nil}, {"defaultNetworkCard", 4}, {"hypervisor", "xen"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := good()
			tt.change(&l)
			if diff := cmp.Diff(tt.want, violations(t, l.Validate())); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFieldErrorMessages(t *testing.T) {
	l := good()
	l.MaxBranchENIs = 0
	l.Hypervisor = "kvm"
	err := l.Validate()
	require.Error(t, err)
	require.Equal(t, `limits: 2 problems:
	(m9.large): maxBranchENIs = 0: a trunking-compatible type needs at least 1 branch ENI; give the type's branch-ENI limit, or set trunkingCompatible to false
	(m9.large): hypervisor = "kvm": must be "nitro" or "xen" (or "" with bareMetal true)`, err.Error())

	var fe *limits.FieldError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "maxBranchENIs", fe.Field)

	one := &limits.FieldError{Where: "overrides[3]", Field: "networkCards", Reason: "required"}
	require.Equal(t, "limits: overrides[3] (no instance type): networkCards: required", one.Error())
	require.Equal(t, one.Error(), limits.FieldErrors{one}.Error())
	require.ErrorIs(t, one, limits.ErrInvalidLimits)
}

func TestWithOverrides(t *testing.T) {
	m9 := good()
	m5 := good()
	m5.InstanceType = "m5.large"
	m5.MaxBranchENIs = 5 // say an operator wants to cap pods with security groups

	table, err := limits.WithOverrides(m9, m5)
	require.NoError(t, err)
	require.Equal(t, limits.Default().Len()+1, table.Len())

	got, err := table.Lookup("m9.large")
	require.NoError(t, err)
	require.Empty(t, cmp.Diff(m9, got))
	got, err = table.Lookup("m5.large")
	require.NoError(t, err)
	require.Equal(t, 5, got.MaxBranchENIs, "override replaces the built-in row")

	// The built-in table is untouched.
	_, err = limits.Lookup("m9.large")
	require.ErrorIs(t, err, limits.ErrUnknownInstanceType)
	builtin, err := limits.Lookup("m5.large")
	require.NoError(t, err)
	require.Equal(t, 9, builtin.MaxBranchENIs)

	// The new table keeps no reference to the caller's values.
	m9.NetworkCards[0].MaxENIs = 42
	got, err = table.Lookup("m9.large")
	require.NoError(t, err)
	require.Equal(t, 3, got.NetworkCards[0].MaxENIs)

	// Still sorted, every row still valid.
	all := table.All()
	for i := range all {
		require.NoError(t, all[i].Validate())
		if i > 0 {
			require.Less(t, all[i-1].InstanceType, all[i].InstanceType)
		}
	}

	// Unknown types in a derived table say where they looked.
	_, err = table.Lookup("m99.huge")
	require.ErrorContains(t, err, "built-in table with 2 overrides")
	more, err := table.WithOverrides(limits.Limits{
		InstanceType: "x9.large", MaxENIs: 2, IPv4PerENI: 4,
		NetworkCards: []limits.NetworkCard{{Index: 0, MaxENIs: 2}}, Hypervisor: "nitro",
	})
	require.NoError(t, err)
	_, err = more.Lookup("m99.huge")
	require.ErrorContains(t, err, "built-in table with 3 overrides")

	same, err := table.WithOverrides()
	require.NoError(t, err)
	require.Same(t, table, same)

	var zero limits.Table
	small, err := zero.WithOverrides(good())
	require.NoError(t, err)
	require.Equal(t, 1, small.Len())
	_, err = small.Lookup("m5.large")
	require.ErrorContains(t, err, "empty table with 1 override;")
}

func TestWithOverridesReportsEverything(t *testing.T) {
	a := good()
	b := good() // duplicate of a
	c := good()
	c.InstanceType = "c9.large"
	c.NetworkCards = []limits.NetworkCard{{Index: 0, MaxENIs: 2}, {Index: 0, MaxENIs: 2}}
	d := good()
	d.InstanceType = ""
	d.MaxBranchENIs = 0

	table, err := limits.WithOverrides(a, b, c, d)
	require.Nil(t, table)
	var fes limits.FieldErrors
	require.ErrorAs(t, err, &fes)
	type loc struct{ Where, InstanceType, Field string }
	var got []loc
	for _, fe := range fes {
		got = append(got, loc{fe.Where, fe.InstanceType, fe.Field})
	}
	want := []loc{
		{"overrides[1]", "m9.large", "instanceType"},
		{"overrides[2]", "c9.large", "networkCards[1].index"},
		{"overrides[2]", "c9.large", "networkCards"},
		{"overrides[3]", "", "instanceType"},
		{"overrides[3]", "", "maxBranchENIs"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	require.True(t, strings.HasPrefix(err.Error(), "limits: 5 problems:\n\toverrides[1] (m9.large): instanceType = \"m9.large\": also given as overrides[0]"), err.Error())
}
