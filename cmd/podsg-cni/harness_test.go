//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"
	"github.com/podsg/podsg/api/podeni"
	"github.com/podsg/podsg/internal/cnitest"
	"github.com/podsg/podsg/internal/netnstest"
	"github.com/stretchr/testify/require"
)

// binDir holds the plugin built by TestMain: the tests run that binary,
// as a container runtime would.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "podsg-cni-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := cnitest.BuildPlugin(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// probePort is where test servers listen.
const probePort = 8080

// The tests' VPC, and the subnet of its nodes and pods.
var (
	vpcCIDR = netip.MustParsePrefix("10.0.0.0/16")
	subnet  = netip.MustParsePrefix("10.0.0.0/19")
)

// world is a VPC namespace, an API server and the libcni cache shared by
// a test's nodes.
type world struct {
	t          *testing.T
	vpc        *cnitest.VPC
	api        *apiServer
	kubeconfig string
	cacheDir   string
	logDir     string

	mu    sync.Mutex
	macs  int
	nodes int
}

func newWorld(t *testing.T) *world {
	t.Helper()
	netnstest.RequireRoot(t)
	w := &world{t: t, vpc: cnitest.NewVPC(t, vpcCIDR), cacheDir: t.TempDir(), logDir: t.TempDir()}
	w.api = newAPIServer(t, w.vpc)
	w.kubeconfig = w.api.kubeconfig(t)
	t.Cleanup(func() {
		if t.Failed() {
			w.dumpLogs()
		}
	})
	return w
}

func (w *world) dumpLogs() {
	files, _ := filepath.Glob(filepath.Join(w.logDir, "*.log"))
	for _, f := range files {
		data, _ := os.ReadFile(f)
		if len(data) > 8000 {
			data = data[len(data)-8000:]
		}
		w.t.Logf("%s (tail):\n%s", f, data)
	}
}

// testNode is a node with its plugin configuration.
type testNode struct {
	*cnitest.Node
	w    *world
	conf map[string]any
	cni  *libcni.CNIConfig
}

// node creates a node in the given mode; extra settings override the
// defaults (annotationTimeout 20s, a log file per node).
func (w *world) node(mode string, extra map[string]any) *testNode {
	w.t.Helper()
	w.mu.Lock()
	w.nodes++
	i := w.nodes
	w.mu.Unlock()
	n := w.vpc.NewNode(w.t, fmt.Sprintf("node-%d", i), netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(9 + i)}), subnet.Bits()))
	conf := n.PluginConf()
	conf["mode"] = mode
	conf["kubeconfig"] = w.kubeconfig
	conf["annotationTimeout"] = "20s"
	conf["logFile"] = filepath.Join(w.logDir, n.Name+".log")
	conf["logLevel"] = "debug"
	for k, v := range extra {
		if v == nil {
			delete(conf, k)
		} else {
			conf[k] = v
		}
	}
	return &testNode{Node: n, w: w, conf: conf, cni: n.CNI(binDir, w.cacheDir)}
}

// list returns the node's network configuration list: the plugin alone.
func (n *testNode) list() *libcni.NetworkConfigList {
	n.w.t.Helper()
	return confList(n.w.t, n.conf)
}

func confList(t *testing.T, plugins ...map[string]any) *libcni.NetworkConfigList {
	t.Helper()
	data, err := json.Marshal(map[string]any{"cniVersion": "1.1.0", "name": "podsg", "plugins": plugins})
	require.NoError(t, err)
	l, err := libcni.NetworkConfFromBytes(data)
	require.NoError(t, err)
	return l
}

// testPod is a pod the runtime is starting: its namespace and CNI_ARGS,
// and the branch ENI the controller gave it.
type testPod struct {
	Namespace, Name, UID string
	NS                   *netnstest.NetNS
	Branch               podeni.BranchENI
	rt                   *libcni.RuntimeConf
}

// pod creates a pod's namespace and stores the pod, annotated with a
// branch ENI on vlan with address ip, in the API server.
func (w *world) pod(name string, vlan int, ip netip.Addr) *testPod {
	w.t.Helper()
	p := w.unannotatedPod(name, vlan, ip)
	w.api.setPod(p.Namespace, p.Name, p.UID, true, mustFormat(w.t, p.Branch))
	return p
}

// unannotatedPod is like pod, but does not store the pod.
func (w *world) unannotatedPod(name string, vlan int, ip netip.Addr) *testPod {
	w.t.Helper()
	w.mu.Lock()
	w.macs++
	m := w.macs
	w.mu.Unlock()
	p := &testPod{
		Namespace: "default", Name: name, UID: fmt.Sprintf("uid-%s-%d", name, m), NS: netnstest.NewNetNS(w.t),
		Branch: podeni.BranchENI{
			ID: fmt.Sprintf("eni-%017x", m), MAC: podeni.MAC{0x02, 0xbb, 0, 0, byte(m >> 8), byte(m)},
			PrivateIP: ip, VLANID: vlan, SubnetCIDR: subnet, AssociationID: fmt.Sprintf("trunk-assoc-%017x", m),
		},
	}
	p.rt = &libcni.RuntimeConf{
		ContainerID: "c" + p.UID, NetNS: p.NS.Path, IfName: "eth0",
		Args: [][2]string{{"IgnoreUnknown", "1"}, {"K8S_POD_NAMESPACE", p.Namespace}, {"K8S_POD_NAME", p.Name}, {"K8S_POD_INFRA_CONTAINER_ID", "c" + p.UID}, {"K8S_POD_UID", p.UID}},
	}
	return p
}

func mustFormat(t *testing.T, b podeni.BranchENI) string {
	t.Helper()
	s, err := podeni.Format(b)
	require.NoError(t, err)
	return s
}

func (n *testNode) add(p *testPod) (*types100.Result, error) {
	r, err := n.cni.AddNetworkList(n.w.t.Context(), n.list(), p.rt)
	if err != nil {
		return nil, err
	}
	return types100.NewResultFromResult(r)
}

func (n *testNode) del(p *testPod) error {
	return n.cni.DelNetworkList(n.w.t.Context(), n.list(), p.rt)
}

func (n *testNode) check(p *testPod) error {
	return n.cni.CheckNetworkList(n.w.t.Context(), n.list(), p.rt)
}

// cniError returns the CNI error in err (what the plugin printed), failing
// the test when err is not one.
func cniError(t *testing.T, err error) *types.Error {
	t.Helper()
	require.Error(t, err)
	var ce *types.Error
	require.ErrorAs(t, err, &ce, "want a CNI error")
	return ce
}

func snapshot(t *testing.T, ns *netnstest.NetNS) string {
	t.Helper()
	s, err := ns.Snapshot()
	require.NoError(t, err)
	return s
}
