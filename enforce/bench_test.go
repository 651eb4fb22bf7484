package enforce_test

import (
	"testing"

	"github.com/podsg/podsg/enforce"
)

func BenchmarkSetupPlan(b *testing.B) {
	for _, mode := range []enforce.Mode{enforce.Strict, enforce.Standard} {
		b.Run(mode.String(), func(b *testing.B) {
			bl, err := enforce.NewBuilder(options(mode))
			if err != nil {
				b.Fatal(err)
			}
			pod := testPod()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bl.Setup(pod); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSetupPlanIPv6(b *testing.B) {
	bl, err := enforce.NewBuilder(enforce.Options{Family: enforce.IPv6, TrunkLink: "eth1", PrimaryInterface: "eth0"})
	if err != nil {
		b.Fatal(err)
	}
	pod := testPodV6()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := bl.Setup(pod); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTeardownPlan(b *testing.B) {
	bl, err := enforce.NewBuilder(options(enforce.Strict))
	if err != nil {
		b.Fatal(err)
	}
	pod := testPod()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := bl.Teardown(pod); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkScript(b *testing.B) {
	bl, err := enforce.NewBuilder(options(enforce.Strict))
	if err != nil {
		b.Fatal(err)
	}
	p, err := bl.Setup(testPod())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = p.Script()
	}
}
