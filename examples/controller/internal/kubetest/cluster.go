package kubetest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// AssetsEnv names the directory holding kube-apiserver, etcd and kubectl,
// as controller-runtime's envtest and setup-envtest use it.
const AssetsEnv = "KUBEBUILDER_ASSETS"

// Binaries are the files Assets requires in $KUBEBUILDER_ASSETS.
var Binaries = []string{"kube-apiserver", "etcd", "kubectl"}

// Assets returns $KUBEBUILDER_ASSETS after checking that it holds every
// binary. Unset, it skips the test, saying how to get the binaries; set but
// incomplete, it fails the test: `make test` sets it, so a missing binary
// there is a broken build, not a reason to skip.
func Assets(t testing.TB) string {
	t.Helper()
	dir := os.Getenv(AssetsEnv)
	if dir == "" {
		t.Skipf("%s is not set: these tests run a real kube-apiserver and etcd; "+
			"run `make kube-assets` at the repository root and set %s=<repository>/.kube-assets "+
			"(`make test` does both)", AssetsEnv, AssetsEnv)
	}
	for _, b := range Binaries {
		path := filepath.Join(dir, b)
		st, err := os.Stat(path)
		if err != nil {
			t.Fatalf("%s=%s: %v; run `make kube-assets` to build it", AssetsEnv, dir, err)
		}
		if st.IsDir() || st.Mode()&0o111 == 0 {
			t.Fatalf("%s=%s: %s is not an executable file; run `make kube-assets` to rebuild it", AssetsEnv, dir, path)
		}
	}
	return dir
}

// Options configure Start.
type Options struct {
	// CRDs are files or directories of CustomResourceDefinitions to install
	// before Start returns (it waits until they are served).
	CRDs []string
	// Webhooks are files or directories holding
	// MutatingWebhookConfigurations and ValidatingWebhookConfigurations (other
	// documents are ignored). Each webhook's service clientConfig is replaced
	// by the URL https://<Cluster.WebhookAddr>/<path> and caBundle by the CA
	// that signed the certificate in Cluster.WebhookCertDir.
	Webhooks []string
	// Scheme is the admin client's scheme (client-go's when nil).
	Scheme *runtime.Scheme
}

// Cluster is a running control plane. Its fields are read-only. It is safe
// for concurrent use.
type Cluster struct {
	// Config is the admin's configuration (group system:masters).
	Config *rest.Config
	// Client and Clientset are uncached admin clients.
	Client    client.Client
	Clientset kubernetes.Interface
	// Kubeconfig is the path of the admin's kubeconfig file.
	Kubeconfig string
	// StartTime is the time Start took, from launching etcd to an API
	// server that serves the default namespace, the CRDs and the webhook
	// configurations.
	StartTime time.Duration
	// Version is the server's version (its /version gitVersion).
	Version string
	// WebhookAddr is the host:port the registered webhooks call, and
	// WebhookCertDir the directory of the tls.crt and tls.key a server there
	// must present.
	WebhookAddr    string
	WebhookCertDir string

	env      *envtest.Environment
	dir      string
	auditLog string
	kubectl  string
}

const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
`

// Start starts etcd and kube-apiserver from Assets, installs o.CRDs and
// o.Webhooks, and stops everything when the test ends. The API server writes
// an audit record (level Metadata) of every request (see Audit); its output
// is shown if the test fails.
func Start(t *testing.T, o Options) *Cluster {
	t.Helper()
	assets := Assets(t)
	dir := t.TempDir()
	c := &Cluster{dir: dir, auditLog: filepath.Join(dir, "audit.log"), kubectl: filepath.Join(assets, "kubectl")}
	policy := filepath.Join(dir, "audit-policy.yaml")
	if err := os.WriteFile(policy, []byte(auditPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	apiLog, err := os.Create(filepath.Join(dir, "kube-apiserver.log"))
	if err != nil {
		t.Fatal(err)
	}
	etcdLog, err := os.Create(filepath.Join(dir, "etcd.log"))
	if err != nil {
		t.Fatal(err)
	}
	api := &envtest.APIServer{Out: apiLog, Err: apiLog}
	api.Configure().
		Set("audit-policy-file", policy).
		Set("audit-log-path", c.auditLog).
		Set("audit-log-maxsize", "0")
	scheme := o.Scheme
	if scheme == nil {
		scheme = clientgoscheme.Scheme
	}
	c.env = &envtest.Environment{
		ControlPlane: envtest.ControlPlane{
			APIServer: api,
			Etcd:      &envtest.Etcd{Out: etcdLog, Err: etcdLog},
		},
		Scheme:                scheme,
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     o.CRDs,
		ErrorIfCRDPathMissing: true,
		WebhookInstallOptions: envtest.WebhookInstallOptions{
			Paths:            o.Webhooks,
			LocalServingHost: "127.0.0.1",
		},
		// The machines running these tests may be small and shared: give
		// each process more than envtest's default 20 s.
		ControlPlaneStartTimeout: 2 * time.Minute,
		ControlPlaneStopTimeout:  time.Minute,
	}
	start := time.Now()
	cfg, err := c.env.Start()
	c.StartTime = time.Since(start)
	t.Cleanup(func() {
		if t.Failed() {
			for _, f := range []*os.File{apiLog, etcdLog} {
				t.Logf("%s (last lines):\n%s", filepath.Base(f.Name()), tail(f.Name(), 40))
			}
		}
		if err := c.env.Stop(); err != nil {
			t.Errorf("stopping the control plane: %v", err)
		}
		_ = apiLog.Close()
		_ = etcdLog.Close()
	})
	if err != nil {
		t.Fatalf("starting kube-apiserver and etcd from %s: %v\nkube-apiserver output:\n%s", assets, err, tail(apiLog.Name(), 40))
	}
	c.Config = cfg
	if c.Client, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.Clientset = cs
	v, err := cs.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	c.Version = v.GitVersion
	c.Kubeconfig = filepath.Join(dir, "admin.kubeconfig")
	if err := os.WriteFile(c.Kubeconfig, c.env.KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	wo := c.env.WebhookInstallOptions
	c.WebhookAddr = net.JoinHostPort(wo.LocalServingHost, strconv.Itoa(wo.LocalServingPort))
	c.WebhookCertDir = wo.LocalServingCertDir
	return c
}

// Kubectl runs the real kubectl with the given kubeconfig and returns its
// standard output; a failure's error holds its standard error.
func (c *Cluster) Kubectl(ctx context.Context, kubeconfig string, args ...string) (string, error) {
	stdout, _, err := c.KubectlOutput(ctx, kubeconfig, args...)
	return stdout, err
}

// KubectlOutput is Kubectl that also returns the standard error (where
// kubectl prints the warnings of admission webhooks).
func (c *Cluster) KubectlOutput(ctx context.Context, kubeconfig string, args ...string) (stdout, stderr string, err error) {
	full := append([]string{"--kubeconfig", kubeconfig, "--cache-dir", filepath.Join(c.dir, "kubectl-cache")}, args...)
	cmd := exec.CommandContext(ctx, c.kubectl, full...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), errOut.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errOut.String()))
	}
	return out.String(), errOut.String(), nil
}

// Identity is a user of the cluster: a configuration for clients and a
// kubeconfig file for kubectl and commands.
type Identity struct {
	Name       string
	Config     *rest.Config
	Kubeconfig string
}

// User provisions a user authenticated by a client certificate, with the
// given name and groups and no permissions beyond what RBAC grants them.
func (c *Cluster) User(t testing.TB, name string, groups ...string) Identity {
	t.Helper()
	u, err := c.env.AddUser(envtest.User{Name: name, Groups: groups}, &rest.Config{QPS: 1000, Burst: 2000})
	if err != nil {
		t.Fatalf("adding user %s: %v", name, err)
	}
	kc, err := u.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	return Identity{Name: name, Config: u.Config(), Kubeconfig: c.writeKubeconfig(t, name, kc)}
}

// ServiceAccount returns the identity of an existing service account, from
// a token the API server issues for it (TokenRequest, valid one hour), as a
// pod of that account gets.
func (c *Cluster) ServiceAccount(t testing.TB, namespace, name string) Identity {
	t.Helper()
	hour := int64(3600)
	tr, err := c.Clientset.CoreV1().ServiceAccounts(namespace).CreateToken(t.Context(), name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &hour}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("requesting a token for service account %s/%s: %v", namespace, name, err)
	}
	cfg := &rest.Config{
		Host:            c.Config.Host,
		TLSClientConfig: rest.TLSClientConfig{CAData: c.Config.CAData},
		BearerToken:     tr.Status.Token,
	}
	user := ServiceAccountUser(namespace, name)
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos[user] = &clientcmdapi.AuthInfo{Token: cfg.BearerToken}
	kc.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: user}
	kc.CurrentContext = "envtest"
	raw, err := clientcmd.Write(*kc)
	if err != nil {
		t.Fatal(err)
	}
	return Identity{Name: user, Config: cfg, Kubeconfig: c.writeKubeconfig(t, namespace+"-"+name, raw)}
}

func (c *Cluster) writeKubeconfig(t testing.TB, name string, raw []byte) string {
	t.Helper()
	path := filepath.Join(c.dir, strings.NewReplacer(":", "-", "/", "-").Replace(name)+".kubeconfig")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// ServiceAccountUser is the username of a service account.
func ServiceAccountUser(namespace, name string) string {
	return "system:serviceaccount:" + namespace + ":" + name
}

// Identities of the cluster components a test plays, with the RBAC the API
// server grants them at bootstrap.
const (
	// Scheduler binds pods to nodes (ClusterRole system:kube-scheduler).
	Scheduler = "system:kube-scheduler"
)

// As returns the admin's configuration impersonating user in groups (the
// API server adds system:authenticated).
func (c *Cluster) As(user string, groups ...string) *rest.Config {
	cfg := rest.CopyConfig(c.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: groups}
	return cfg
}

// AsServiceAccount impersonates a service account, with the groups its
// tokens carry.
func (c *Cluster) AsServiceAccount(namespace, name string) *rest.Config {
	return c.As(ServiceAccountUser(namespace, name), "system:serviceaccounts", "system:serviceaccounts:"+namespace)
}

// AuditEvent is one record of the API server's audit log (the fields tests
// use; see k8s.io/apiserver/pkg/apis/audit for the rest).
type AuditEvent struct {
	AuditID string `json:"auditID"`
	Stage   string `json:"stage"`
	Verb    string `json:"verb"`
	User    struct {
		Username string   `json:"username"`
		Groups   []string `json:"groups"`
	} `json:"user"`
	ImpersonatedUser *struct {
		Username string `json:"username"`
	} `json:"impersonatedUser"`
	UserAgent string `json:"userAgent"`
	ObjectRef *struct {
		Resource    string `json:"resource"`
		Namespace   string `json:"namespace"`
		Name        string `json:"name"`
		APIGroup    string `json:"apiGroup"`
		Subresource string `json:"subresource"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	RequestReceived time.Time `json:"requestReceivedTimestamp"`
}

// Code is the response's HTTP status (0 before the response).
func (e AuditEvent) Code() int {
	if e.ResponseStatus == nil {
		return 0
	}
	return e.ResponseStatus.Code
}

// Audit returns the audit log so far, one event per request (the last stage
// recorded for it), in the order the requests were received.
func (c *Cluster) Audit(t testing.TB) []AuditEvent {
	t.Helper()
	f, err := os.Open(c.auditLog)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var out []AuditEvent
	index := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for sc.Scan() {
		var e AuditEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			// The API server may be writing the last line.
			continue
		}
		if i, ok := index[e.AuditID]; ok {
			out[i] = e
			continue
		}
		index[e.AuditID] = len(out)
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
