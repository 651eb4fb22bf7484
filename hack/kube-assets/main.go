// Command kube-assets builds the Kubernetes binaries the API-server tests of
// examples/controller run against — kube-apiserver, etcd and kubectl — from
// source, at the versions this module's go.mod pins, into one directory (the
// one KUBEBUILDER_ASSETS then names):
//
//	cd hack/kube-assets && go run . -o ../../.kube-assets
//
// `make kube-assets` runs it. The directory's .stamp file records a hash of
// go.mod, go.sum and this file: when it matches and the three binaries are
// there, nothing is built. Otherwise they are built into a temporary
// directory beside it and moved in place only once all three built, so an
// interrupted build never leaves a set that looks complete.
//
// The first build compiles most of Kubernetes (about 10 CPU-minutes); after a
// change of pins Go's build cache recompiles only what changed.
//
// k8s.io/kubernetes is not meant to be imported: its go.mod points every
// k8s.io staging module at ./staging/src/..., which exists only in its own
// repository. This module's go.mod replaces each with its published release
// of the same minor (the replace block of k8s.io/kubernetes's go.mod, minus
// sample-cli-plugin and sample-controller, which are not published at this
// version and not used by these commands). To move to another Kubernetes
// version, regenerate that list from the new version's go.mod, and pick the
// etcd that version's build/dependencies.yaml names.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Packages built, by binary name.
var packages = []struct{ bin, pkg string }{
	{"kube-apiserver", "k8s.io/kubernetes/cmd/kube-apiserver"},
	{"kubectl", "k8s.io/kubernetes/cmd/kubectl"},
	{"etcd", "go.etcd.io/etcd/server/v3"},
}

// stampInputs are the files whose contents decide whether a build is current.
var stampInputs = []string{"go.mod", "go.sum", "main.go"}

func main() {
	out := flag.String("o", "", "directory to build into (required)")
	flag.Parse()
	if *out == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: go run . -o DIR (from hack/kube-assets)")
		os.Exit(2)
	}
	if err := run(*out); err != nil {
		fmt.Fprintf(os.Stderr, "kube-assets: %v\n", err)
		os.Exit(1)
	}
}

func run(out string) error {
	out, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	stamp, err := stampOf(".")
	if err != nil {
		return err
	}
	if current(out, stamp) {
		fmt.Printf("kube-assets: up to date in %s\n", out)
		return nil
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("the go command is not on PATH: %w", err)
	}
	kube, err := moduleVersion(goTool, "k8s.io/kubernetes")
	if err != nil {
		return err
	}
	etcd, err := moduleVersion(goTool, "go.etcd.io/etcd/server/v3")
	if err != nil {
		return err
	}
	released, err := moduleTime(goTool, "k8s.io/kubernetes")
	if err != nil {
		return err
	}
	kubeFlags, err := versionLDFlags(kube, released)
	if err != nil {
		return err
	}

	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(out), filepath.Base(out)+".tmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	start := time.Now()
	fmt.Printf("kube-assets: building kube-apiserver and kubectl %s, etcd %s into %s\n", kube, etcd, out)
	fmt.Println("kube-assets: a first build compiles most of Kubernetes and takes several minutes")
	for _, p := range packages {
		ldflags := "-s -w"
		if strings.HasPrefix(p.pkg, "k8s.io/kubernetes/") {
			ldflags += " " + kubeFlags
		}
		cmd := exec.Command(goTool, "build", "-trimpath", "-ldflags", ldflags, "-o", filepath.Join(tmp, p.bin), p.pkg)
		// Static binaries, as Kubernetes and etcd release them.
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("building %s (%s): %w", p.bin, p.pkg, err)
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, ".stamp"), []byte(stamp+"\n"), 0o644); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil { // MkdirTemp made it 0700
		return err
	}
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	if err := os.Rename(tmp, out); err != nil {
		return err
	}
	fmt.Printf("kube-assets: built in %s\n", time.Since(start).Round(time.Second))
	for _, p := range packages {
		v, err := exec.Command(filepath.Join(out, p.bin), "--version").Output()
		if err != nil && p.bin == "kubectl" {
			// kubectl's flag is `version --client`.
			v, err = exec.Command(filepath.Join(out, p.bin), "version", "--client").Output()
		}
		if err != nil {
			return fmt.Errorf("%s --version: %w", p.bin, err)
		}
		first, _, _ := strings.Cut(string(v), "\n")
		fmt.Printf("kube-assets: %s: %s\n", p.bin, first)
	}
	return nil
}

// stampOf hashes the stamp inputs in dir.
func stampOf(dir string) (string, error) {
	h := sha256.New()
	for _, name := range stampInputs {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00", name)
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// current reports whether dir holds every binary, built for stamp.
func current(dir, stamp string) bool {
	got, err := os.ReadFile(filepath.Join(dir, ".stamp"))
	if err != nil || strings.TrimSpace(string(got)) != stamp {
		return false
	}
	for _, p := range packages {
		st, err := os.Stat(filepath.Join(dir, p.bin))
		if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// versionLDFlags returns the -X flags hack/lib/version.sh sets for a
// Kubernetes release build, so that the API server's /version and `kubectl
// version` report version instead of v0.0.0-master. buildDate is the
// release's time rather than now, so the same pins give the same binaries.
func versionLDFlags(version string, released time.Time) (string, error) {
	v, ok := strings.CutPrefix(version, "v")
	parts := strings.SplitN(v, ".", 3)
	if !ok || len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return "", fmt.Errorf("k8s.io/kubernetes version %q: want vMAJOR.MINOR.PATCH", version)
	}
	var b strings.Builder
	for _, pkg := range []string{"k8s.io/client-go/pkg/version", "k8s.io/component-base/version"} {
		for _, kv := range [][2]string{
			{"gitVersion", version},
			{"gitMajor", parts[0]},
			{"gitMinor", parts[1]},
			{"gitTreeState", "clean"},
			{"buildDate", released.UTC().Format(time.RFC3339)},
		} {
			fmt.Fprintf(&b, " -X %s.%s=%s", pkg, kv[0], kv[1])
		}
	}
	return strings.TrimSpace(b.String()), nil
}

func moduleVersion(goTool, module string) (string, error) {
	return goList(goTool, module, "{{.Version}}")
}

func moduleTime(goTool, module string) (time.Time, error) {
	s, err := goList(goTool, module, `{{.Time.UTC.Format "2006-01-02T15:04:05Z07:00"}}`)
	if err != nil {
		return time.Time{}, err
	}
	return time.Parse(time.RFC3339, s)
}

func goList(goTool, module, format string) (string, error) {
	var stderr bytes.Buffer
	cmd := exec.Command(goTool, "list", "-m", "-f", format, module)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go list -m %s: %w: %s", module, err, strings.TrimSpace(stderr.String()))
	}
	s := strings.TrimSpace(string(out))
	if s == "" {
		return "", errors.New("go list -m " + module + ": empty answer")
	}
	return s, nil
}
