package kubetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// ControllerPackage is the import path of the example controller.
const ControllerPackage = "github.com/podsg/podsg/examples/controller"

var builds struct {
	mu   sync.Mutex
	dir  string
	bins map[string]*built
}

type built struct {
	once sync.Once
	path string
	err  error
}

// Main runs the tests of m and removes what Build built. Call it from
// TestMain: os.Exit(kubetest.Main(m)). It silences controller-runtime's
// logger in the test process.
func Main(m *testing.M) int {
	// envtest logs through controller-runtime's logger; nothing of it is
	// wanted in test output (the control plane's own output is, on failure).
	ctrllog.SetLogger(logr.Discard())
	code := m.Run()
	builds.mu.Lock()
	if builds.dir != "" {
		_ = os.RemoveAll(builds.dir)
	}
	builds.mu.Unlock()
	return code
}

// BuildController builds the example controller's command; see Build.
func BuildController(t testing.TB) string { return Build(t, ControllerPackage) }

// Build builds the command of a main package (an import path this module
// resolves, such as ControllerPackage or github.com/podsg/podsg/cmd/...)
// once per test process and returns the binary's path. It is built with the
// race detector when the test binary is, so that the command's races fail
// the tests too (and the packages the test build compiled are reused from
// Go's cache). The test process must have been started through Main.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	builds.mu.Lock()
	if builds.bins == nil {
		builds.bins = map[string]*built{}
	}
	b := builds.bins[pkg]
	if b == nil {
		b = new(built)
		builds.bins[pkg] = b
	}
	builds.mu.Unlock()
	b.once.Do(func() { b.path, b.err = goBuild(pkg) })
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

func goBuild(pkg string) (string, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("building %s needs the go command on PATH: %w", pkg, err)
	}
	builds.mu.Lock()
	if builds.dir == "" {
		builds.dir, err = os.MkdirTemp("", "podsg-kubetest-")
	}
	dir := builds.dir
	builds.mu.Unlock()
	if err != nil {
		return "", err
	}
	out, err := os.MkdirTemp(dir, "")
	if err != nil {
		return "", err
	}
	path := filepath.Join(out, filepath.Base(pkg))
	args := []string{"build", "-o", path}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command(goTool, append(args, pkg)...)
	if log, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go %v: %w\n%s", cmd.Args[1:], err, log)
	}
	return path, nil
}

// Process is a command started for a test. Its output goes to a file, shown
// (the last lines) when the test fails. It is safe for concurrent use.
type Process struct {
	Name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error // valid once done is closed
}

// StartProcess starts path with args; argv0 is the name the process sees
// as os.Args[0] (client-go puts it in the User-Agent of its requests, so
// the API server's audit log tells processes apart). env is added to the
// test's environment. The process is stopped when the test ends.
func StartProcess(t testing.TB, argv0, path string, args, env []string) *Process {
	t.Helper()
	log, err := os.CreateTemp(t.TempDir(), argv0+"-*.log")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, args...)
	cmd.Args[0] = argv0
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		_ = log.Close()
		t.Fatalf("starting %s: %v", argv0, err)
	}
	p := &Process{Name: argv0, cmd: cmd, log: log.Name(), done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = log.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Stop(t)
		if t.Failed() {
			t.Logf("%s (last lines):\n%s", argv0, tail(p.log, 60))
		}
	})
	return p
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err returns how the process ended; call it after Done.
func (p *Process) Err() error { return p.err }

// Log returns the process's output so far.
func (p *Process) Log() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// Stop sends SIGTERM and waits for the process to exit (SIGKILL after 30 s).
// Stopping an exited process does nothing.
func (p *Process) Stop(t testing.TB) {
	t.Helper()
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Errorf("%s did not stop within 30 s of SIGTERM; killing it", p.Name)
		p.Kill(t)
	}
}

// Kill sends SIGKILL, as a crash or an evicted node would end it, and waits
// for the process to exit.
func (p *Process) Kill(t testing.TB) {
	t.Helper()
	_ = p.cmd.Process.Kill()
	<-p.done
}

// WaitHTTP waits until GET url answers 200 OK, the process exits, or ctx
// is done.
func (p *Process) WaitHTTP(ctx context.Context, url string) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := http.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before %s answered: %w", p.Name, url, cmp.Or(p.err, errExitedOK))
		case <-ctx.Done():
			return fmt.Errorf("%s: %s did not answer 200 OK: %w", p.Name, url, errors.Join(ctx.Err(), err))
		case <-tick.C:
		}
	}
}

// errExitedOK stands for the exit status of a process that exited with 0.
var errExitedOK = errors.New("exit status 0")

// FreeAddr returns a loopback address ("127.0.0.1:port") whose port was
// free when asked.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// Front accepts TCP connections on one address and forwards each to the
// first of its backends that accepts it, as a Service sends connections to
// its live endpoints: webhook configurations name one address, the
// replicas behind it come and go. It is safe for concurrent use.
type Front struct {
	ln       net.Listener
	mu       sync.Mutex
	backends []string
	next     int
	conns    map[net.Conn]bool
	wg       sync.WaitGroup
}

// NewFront listens on addr; it closes when the test ends.
func NewFront(t testing.TB, addr string) *Front {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("front on %s: %v", addr, err)
	}
	f := &Front{ln: ln, conns: map[net.Conn]bool{}}
	f.wg.Go(f.serve)
	t.Cleanup(func() {
		_ = ln.Close()
		f.mu.Lock()
		for c := range f.conns {
			_ = c.Close()
		}
		f.mu.Unlock()
		f.wg.Wait()
	})
	return f
}

// SetBackends replaces the backends. Connections are spread over them in
// turn, skipping those that refuse.
func (f *Front) SetBackends(addrs ...string) {
	f.mu.Lock()
	f.backends = append([]string(nil), addrs...)
	f.mu.Unlock()
}

func (f *Front) serve() {
	for {
		conn, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.wg.Go(func() { f.forward(conn) })
	}
}

// track adds c to the connections closed with the front, or removes it.
func (f *Front) track(c net.Conn, add bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if add {
		f.conns[c] = true
	} else {
		delete(f.conns, c)
	}
}

func (f *Front) forward(conn net.Conn) {
	f.track(conn, true)
	defer func() {
		f.track(conn, false)
		_ = conn.Close()
	}()
	f.mu.Lock()
	backends := append([]string(nil), f.backends...)
	start := f.next
	f.next++
	f.mu.Unlock()
	var up net.Conn
	for i := range backends {
		c, err := net.DialTimeout("tcp", backends[(start+i)%len(backends)], time.Second)
		if err == nil {
			up = c
			break
		}
	}
	if up == nil {
		return
	}
	f.track(up, true)
	defer func() {
		f.track(up, false)
		_ = up.Close()
	}()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(up, conn)
	go pipe(conn, up)
	<-done
	<-done
}
