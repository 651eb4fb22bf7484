//go:build linux

package main

import (
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/podsg/podsg/api/podeni"
	"github.com/podsg/podsg/internal/cnitest"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// apiServer serves pods the way the Kubernetes API server answers
// GET /api/v1/namespaces/NS/pods/NAME: the v1 Pod as JSON, or a Status
// object with the HTTP error. It requires the bearer token of its
// kubeconfig, over TLS with its own certificate.
type apiServer struct {
	srv   *httptest.Server
	token string
	gets  atomic.Int64

	mu   sync.Mutex
	pods map[string]*corev1.Pod
	// answer, when set for "ns/name", is the HTTP status returned instead
	// of the pod.
	answer map[string]int
}

// newAPIServer starts the server on the VPC's API endpoint
// (cnitest.APIServerIP), where the nodes' plugins reach it.
func newAPIServer(t *testing.T, vpc *cnitest.VPC) *apiServer {
	t.Helper()
	a := &apiServer{token: "node-token-0123", pods: map[string]*corev1.Pod{}, answer: map[string]int{}}
	a.srv = httptest.NewUnstartedServer(http.HandlerFunc(a.serve))
	require.NoError(t, a.srv.Listener.Close())
	a.srv.Listener = vpc.Listen(t, 0)
	a.srv.StartTLS()
	t.Cleanup(a.srv.Close)
	return a
}

func (a *apiServer) serve(w http.ResponseWriter, r *http.Request) {
	a.gets.Add(1)
	status := func(code int, reason, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(metav1.Status{
			TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
			Status:   metav1.StatusFailure, Message: msg, Reason: metav1.StatusReason(reason), Code: int32(code),
		})
	}
	if r.Header.Get("Authorization") != "Bearer "+a.token {
		status(http.StatusUnauthorized, "Unauthorized", "Unauthorized")
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if r.Method != http.MethodGet || len(parts) != 6 || parts[0] != "api" || parts[1] != "v1" || parts[2] != "namespaces" || parts[4] != "pods" {
		status(http.StatusNotFound, "NotFound", "the server could not find the requested resource")
		return
	}
	key := parts[3] + "/" + parts[5]
	a.mu.Lock()
	code := a.answer[key]
	var body []byte
	if p, ok := a.pods[key]; ok {
		body, _ = json.Marshal(p)
	}
	a.mu.Unlock()
	switch {
	case code != 0:
		status(code, http.StatusText(code), "pods \""+parts[5]+"\" is forbidden: User \"system:node:x\" cannot get resource \"pods\"")
	case body == nil:
		status(http.StatusNotFound, "NotFound", "pods \""+parts[5]+"\" not found")
	default:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}
}

// setPod stores a pod: requests says whether its first container requests
// vpc.amazonaws.com/pod-eni; annotation, when not empty, is its pod-eni
// annotation.
func (a *apiServer) setPod(namespace, name, uid string, requests bool, annotation string) {
	p := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, UID: types.UID(uid), Labels: map[string]string{"app": "my-app"}},
		Spec: corev1.PodSpec{
			NodeName:   "node-1",
			Containers: []corev1.Container{{Name: "app", Image: "public.ecr.aws/nginx/nginx:1.25"}},
		},
	}
	if requests {
		one := resource.MustParse("1")
		p.Spec.Containers[0].Resources = corev1.ResourceRequirements{
			Requests: corev1.ResourceList{podeni.ResourceName: one},
			Limits:   corev1.ResourceList{podeni.ResourceName: one},
		}
	}
	if annotation != "" {
		p.Annotations = map[string]string{podeni.AnnotationKey: annotation}
	}
	a.mu.Lock()
	a.pods[namespace+"/"+name] = p
	a.mu.Unlock()
}

// annotate sets the pod-eni annotation of a stored pod.
func (a *apiServer) annotate(namespace, name, annotation string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.pods[namespace+"/"+name]
	if p.Annotations == nil {
		p.Annotations = map[string]string{}
	}
	p.Annotations[podeni.AnnotationKey] = annotation
}

func (a *apiServer) setAnswer(namespace, name string, code int) {
	a.mu.Lock()
	a.answer[namespace+"/"+name] = code
	a.mu.Unlock()
}

// kubeconfig writes a kubeconfig for the server (its CA certificate in a
// file next to it, as kubelet's kubeconfig does) and returns its path.
func (a *apiServer) kubeconfig(t *testing.T) string {
	t.Helper()
	return writeKubeconfig(t, a.srv.URL, a.srv.Certificate().Raw, a.token)
}

// writeKubeconfig writes a kubeconfig for server. httptest's certificate
// names 127.0.0.1 and example.com, so the client checks it against
// example.com (tls-server-name) wherever the server listens.
func writeKubeconfig(t *testing.T, server string, caDER []byte, token string) string {
	t.Helper()
	return writeKubeconfigFor(t, server, caDER, token, "example.com")
}

func writeKubeconfigFor(t *testing.T, server string, caDER []byte, token, serverName string) string {
	t.Helper()
	dir := t.TempDir()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ca.crt"), ca, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "token"), []byte(token+"\n"), 0o600))
	kc := `apiVersion: v1
kind: Config
current-context: podsg
clusters:
- name: test
  cluster:
    server: ` + server + `
    certificate-authority: ca.crt
    tls-server-name: ` + serverName + `
contexts:
- name: podsg
  context:
    cluster: test
    user: podsg-cni
users:
- name: podsg-cni
  user:
    tokenFile: token
`
	path := filepath.Join(dir, "kubeconfig")
	require.NoError(t, os.WriteFile(path, []byte(kc), 0o600))
	return path
}
