package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestVersionLDFlags(t *testing.T) {
	released := time.Date(2026, 10, 28, 7, 53, 31, 0, time.UTC)
	got, err := versionLDFlags("v1.37.2", released)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"-X k8s.io/component-base/version.gitVersion=v1.37.2",
		"-X k8s.io/component-base/version.gitMajor=1",
		"-X k8s.io/component-base/version.gitMinor=37",
		"-X k8s.io/client-go/pkg/version.gitVersion=v1.37.2",
		"-X k8s.io/component-base/version.buildDate=2026-10-28T07:53:31Z",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("versionLDFlags: %q lacks %q", got, want)
		}
	}
	for _, bad := range []string{"1.37.2", "v1.37", "v.37.2", ""} {
		if _, err := versionLDFlags(bad, released); err == nil {
			t.Errorf("versionLDFlags(%q): no error", bad)
		}
	}
}

// TestCurrent checks when a built directory is reused: every binary present
// and executable, and the stamp of the same inputs.
func TestCurrent(t *testing.T) {
	stamp, err := stampOf(".")
	if err != nil {
		t.Fatal(err)
	}
	fill := func(t *testing.T, stamp string, skip string, mode os.FileMode) string {
		dir := t.TempDir()
		for _, p := range packages {
			if p.bin == skip {
				continue
			}
			if err := os.WriteFile(filepath.Join(dir, p.bin), []byte("#!/bin/true\n"), mode); err != nil {
				t.Fatal(err)
			}
		}
		if stamp != "" {
			if err := os.WriteFile(filepath.Join(dir, ".stamp"), []byte(stamp+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	tests := []struct {
		name string
		dir  func(t *testing.T) string
		want bool
	}{
		{"complete", func(t *testing.T) string { return fill(t, stamp, "", 0o755) }, true},
		{"no stamp", func(t *testing.T) string { return fill(t, "", "", 0o755) }, false},
		{"other pins", func(t *testing.T) string { return fill(t, strings.Repeat("0", 64), "", 0o755) }, false},
		{"etcd missing", func(t *testing.T) string { return fill(t, stamp, "etcd", 0o755) }, false},
		{"not executable", func(t *testing.T) string { return fill(t, stamp, "", 0o644) }, false},
		{"no directory", func(t *testing.T) string { return filepath.Join(t.TempDir(), "absent") }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := current(tt.dir(t), stamp); got != tt.want {
				t.Errorf("current = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestStampCoversPins checks that the stamp changes with go.mod, so a new
// pin rebuilds.
func TestStampCoversPins(t *testing.T) {
	dir := t.TempDir()
	for _, name := range stampInputs {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	before, err := stampOf(dir)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "go.mod"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("\nreplace k8s.io/api => k8s.io/api v0.37.3\n")
	f.Close()
	after, err := stampOf(dir)
	if err != nil {
		t.Fatal(err)
	}
	if before == after {
		t.Error("the stamp does not change when go.mod does")
	}
}

// TestReuse runs the builder on the directory `make test` built
// (KUBEBUILDER_ASSETS): with the pins unchanged it must reuse it, within a
// second or two, without building anything.
func TestReuse(t *testing.T) {
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		t.Skip("KUBEBUILDER_ASSETS is not set: run `make kube-assets` and point it at .kube-assets (`make test` does both)")
	}
	const bound = 5 * time.Second
	stamp, err := stampOf(".")
	if err != nil {
		t.Fatal(err)
	}
	if !current(dir, stamp) {
		t.Fatalf("%s was not built from this module's pins: run `make kube-assets`", dir)
	}
	before, err := os.Stat(filepath.Join(dir, "kube-apiserver"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := run(dir); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	after, err := os.Stat(filepath.Join(dir, "kube-apiserver"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kube-assets warm_ms=%d bound_ms=%d", took.Milliseconds(), bound.Milliseconds())
	if !after.ModTime().Equal(before.ModTime()) {
		t.Error("the binaries were rebuilt although the pins did not change")
	}
	if took > bound {
		t.Errorf("reusing the binaries took %v, want at most %v", took, bound)
	}
}
