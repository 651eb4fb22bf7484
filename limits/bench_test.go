package limits_test

import (
	"testing"

	"github.com/podsg/podsg/limits"
)

func BenchmarkLookup(b *testing.B) {
	table := limits.Default()
	b.ReportAllocs()
	for b.Loop() {
		l, err := table.Lookup("m5.large")
		if err != nil || l.MaxBranchENIs != 9 {
			b.Fatal(l, err)
		}
	}
}

func BenchmarkLookupOverridden(b *testing.B) {
	table, err := limits.WithOverrides(limits.Limits{
		InstanceType: "m9.large", MaxENIs: 3, IPv4PerENI: 10, TrunkingCompatible: true, MaxBranchENIs: 9,
		NetworkCards: []limits.NetworkCard{{Index: 0, MaxENIs: 3}}, Hypervisor: limits.HypervisorNitro,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := table.Lookup("m9.large"); err != nil {
			b.Fatal(err)
		}
	}
}
