package kubetest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// recorder is a testing.TB that records how a helper ended the test.
type recorder struct {
	testing.TB
	mu      sync.Mutex
	skipped string
	fatal   string
}

func (r *recorder) Helper() {}

func (r *recorder) Skipf(format string, args ...any) {
	r.mu.Lock()
	r.skipped = fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.fatal = fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}

// run calls fn with a recorder in a goroutine of its own (Skipf and Fatalf
// end it) and returns the recorder and fn's result, if it returned.
func run(t *testing.T, fn func(tb testing.TB) string) (*recorder, string) {
	r := &recorder{TB: t}
	var got string
	done := make(chan struct{})
	go func() {
		defer close(done)
		got = fn(r)
	}()
	<-done
	return r, got
}

func TestAssets(t *testing.T) {
	complete := t.TempDir()
	for _, b := range Binaries {
		require.NoError(t, os.WriteFile(filepath.Join(complete, b), []byte("#!/bin/true\n"), 0o755))
	}
	partial := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(partial, "kube-apiserver"), []byte("#!/bin/true\n"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(partial, "etcd"), []byte("not executable"), 0o644))

	tests := []struct {
		name, env           string
		wantSkip, wantFatal string
		wantDir             string
	}{
		{name: "unset: skip, saying how to get them", env: "", wantSkip: "run `make kube-assets`"},
		{name: "complete", env: complete, wantDir: complete},
		{name: "missing binary: fail", env: filepath.Join(t.TempDir(), "absent"), wantFatal: "run `make kube-assets` to build it"},
		{name: "not executable: fail", env: partial, wantFatal: "etcd is not an executable file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(AssetsEnv, tt.env)
			r, dir := run(t, func(tb testing.TB) string { return Assets(tb) })
			require.Contains(t, r.skipped, tt.wantSkip)
			if tt.wantSkip == "" {
				require.Empty(t, r.skipped)
			}
			require.Contains(t, r.fatal, tt.wantFatal)
			if tt.wantFatal == "" {
				require.Empty(t, r.fatal)
			}
			require.Equal(t, tt.wantDir, dir)
		})
	}
}

// echoServer answers each line it reads with prefix + the line.
func echoServer(t *testing.T, prefix string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer func() { _ = c.Close() }()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					fmt.Fprintf(c, "%s%s\n", prefix, sc.Text())
				}
			})
		}
	})
	return ln.Addr().String()
}

func ask(t *testing.T, addr, line string) string {
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer func() { _ = c.Close() }()
	fmt.Fprintln(c, line)
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return ""
	}
	return strings.TrimSpace(got)
}

// TestFront spreads connections over the backends that accept them, as a
// Service over its live endpoints.
func TestFront(t *testing.T) {
	a, b := echoServer(t, "a:"), echoServer(t, "b:")
	dead := FreeAddr(t)
	f := NewFront(t, FreeAddr(t))
	addr := f.ln.Addr().String()

	require.Empty(t, ask(t, addr, "x"), "no backend: the connection is closed")
	f.SetBackends(dead, a)
	for range 3 {
		require.Equal(t, "a:x", ask(t, addr, "x"), "the dead backend is skipped")
	}
	f.SetBackends(a, b)
	seen := map[string]bool{}
	for range 4 {
		seen[ask(t, addr, "y")] = true
	}
	require.Equal(t, map[string]bool{"a:y": true, "b:y": true}, seen, "both backends serve")
}

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// TestBuild builds the example controller once and runs it: a command
// without -cluster-name refuses to start, saying so.
func TestBuild(t *testing.T) {
	path := BuildController(t)
	require.Equal(t, path, BuildController(t), "built once")
	p := StartProcess(t, "podsg-controller", path, nil, nil)
	<-p.Done()
	require.Error(t, p.Err())
	require.Contains(t, p.Log(), "-cluster-name is required")
}
