package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/podsg/podsg/api/podeni"
	"github.com/podsg/podsg/eni"
	"github.com/podsg/podsg/examples/controller/internal/kubetest"
	"github.com/podsg/podsg/fake"
	"github.com/podsg/podsg/trunk"
)

func TestMain(m *testing.M) { os.Exit(kubetest.Main(m)) }

// Paths of what the API-server tests install, relative to this package.
const (
	crdDir       = "../../api/v1beta1/crd"
	vpcCNICRDDir = "testdata/vpc-cni" // a stand-in for the VPC CNI plugin's ENIConfig CRD
	webhookYAML  = "config/webhook.yaml"
	rbacYAML     = "config/rbac.yaml"
	manifestsDir = "../tutorial/manifests"
	tutorialNS   = "my-namespace"
)

// world is a real API server with the SecurityGroupPolicy CRD (and the VPC
// CNI plugin's ENIConfig CRD, as on EKS), the
// controller's webhook configurations (config/webhook.yaml) and RBAC
// (config/rbac.yaml, applied with kubectl); the fake EC2 seeded with the EKS
// tutorial and served over HTTP; a Node object for each of its instances;
// and the tutorial's namespace (applyTutorialPolicy adds its policy). The
// controller runs as a process with a kubeconfig of its service account
// (startController).
type world struct {
	t     *testing.T
	c     *kubetest.Cluster
	ec2   *fake.EC2
	srv   *fake.Server
	tut   fake.Tutorial
	nodes []testNode
	// ctrl is the controller's service account, bound by config/rbac.yaml.
	ctrl kubetest.Identity
	// rs and sched act as the ReplicaSet controller and the scheduler, with
	// the identities and RBAC those components have.
	rs, sched kubernetes.Interface
	bin       string
	pods      *podWatch
	// ec2URL serves the fake EC2 over HTTP; calls records the requests as
	// they arrive.
	ec2URL string
	calls  *arrivals
}

type testNode struct {
	Name       string
	InstanceID string
}

// worldOptions shape a world.
type worldOptions struct {
	// ExtraNodes adds m5.large instances (and nodes) to the tutorial's five.
	ExtraNodes int
}

func newWorld(t *testing.T, o worldOptions) *world {
	t.Helper()
	c := kubetest.Start(t, kubetest.Options{CRDs: []string{crdDir, vpcCNICRDDir}, Webhooks: []string{webhookYAML}, Scheme: newScheme(t)})
	t.Logf("apiserver start_ms=%d version=%s", c.StartTime.Milliseconds(), c.Version)
	w := &world{t: t, c: c}
	ctx := t.Context()
	w.kubectl(c.Kubeconfig, "apply", "-f", rbacYAML)
	w.kubectl(c.Kubeconfig, "create", "namespace", tutorialNS)
	// There is no controller manager to create the namespace's default
	// service account.
	w.create(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: tutorialNS, Name: "default"}})

	w.ec2 = fake.New()
	tut, err := fake.SeedTutorial(ctx, w.ec2)
	require.NoError(t, err)
	w.tut = tut
	insts := slices.Clone(tut.Nodes)
	for i := range o.ExtraNodes {
		n := w.ec2.AddNode(tut.InstanceType, tut.SubnetIDs[i%len(tut.SubnetIDs)], tut.ClusterSecurityGroupID, tut.NodeSecurityGroupID)
		insts = append(insts, fake.TutorialNode{InstanceID: n.InstanceID, SubnetID: n.SubnetID, PrimaryENI: n.PrimaryENI, PrivateIP: n.PrivateIP})
	}
	w.srv, err = fake.NewServer(w.ec2)
	require.NoError(t, err)
	w.calls = &arrivals{}
	hs := httptest.NewServer(w.calls.wrap(w.srv.Handler()))
	t.Cleanup(hs.Close)
	w.ec2URL = hs.URL
	for _, in := range insts {
		w.nodes = append(w.nodes, w.addNode(in.InstanceID, in.PrivateIP))
	}

	w.ctrl = c.ServiceAccount(t, "kube-system", "podsg-controller")
	w.rs, err = kubernetes.NewForConfig(c.AsServiceAccount("kube-system", "replicaset-controller"))
	require.NoError(t, err)
	w.sched, err = kubernetes.NewForConfig(c.As(kubetest.Scheduler))
	require.NoError(t, err)
	w.bin = kubetest.BuildController(t)
	w.pods = watchPods(t, c.Clientset, tutorialNS)
	t.Cleanup(func() { w.checkNoForbidden() })
	return w
}

// with returns the world for a subtest: its helpers report to t.
func (w *world) with(t *testing.T) *world {
	c := *w
	c.t = t
	return &c
}

// kubectl runs kubectl with the kubeconfig and returns its output.
func (w *world) kubectl(kubeconfig string, args ...string) string {
	w.t.Helper()
	out, err := w.c.Kubectl(w.t.Context(), kubeconfig, args...)
	require.NoError(w.t, err)
	return out
}

func (w *world) create(obj client.Object) {
	w.t.Helper()
	require.NoError(w.t, w.c.Client.Create(w.t.Context(), obj))
}

// addNode registers the node of an EC2 instance, as its kubelet would.
func (w *world) addNode(instanceID, ip string) testNode {
	w.t.Helper()
	name := "ip-" + strings.ReplaceAll(ip, ".", "-") + "." + w.srv.Region() + ".compute.internal"
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("2"),
		corev1.ResourceMemory: resource.MustParse("7910Mi"),
		corev1.ResourcePods:   resource.MustParse("29"),
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			"kubernetes.io/hostname":           name,
			"kubernetes.io/os":                 "linux",
			"node.kubernetes.io/instance-type": w.tut.InstanceType,
		}},
		Spec: corev1.NodeSpec{ProviderID: "aws:///" + w.srv.Region() + "a/" + instanceID},
	}
	w.create(node)
	node.Status = corev1.NodeStatus{
		Capacity: capacity, Allocatable: capacity,
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue,
			LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now(), Reason: "KubeletReady"}},
		Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}},
	}
	require.NoError(w.t, w.c.Client.Status().Update(w.t.Context(), node))
	return testNode{Name: name, InstanceID: instanceID}
}

// applyTutorialPolicy applies the tutorial's SecurityGroupPolicy with
// kubectl, after the tutorial's sed.
func (w *world) applyTutorialPolicy() {
	w.t.Helper()
	dir := tutorialManifests(w.t, w.tut.PodSecurityGroupID)
	w.kubectl(w.c.Kubeconfig, "apply", "-f", dir+"/my-security-group-policy.yaml")
}

// controller is the controller running as a process.
type controllerProc struct {
	*kubetest.Process
	probe, metrics, webhook string
}

// startController starts the controller with the service account's
// kubeconfig, serving webhooks on the registered address unless args say
// otherwise, and waits until it is ready. Later args override earlier ones.
func (w *world) startController(name string, args ...string) *controllerProc {
	w.t.Helper()
	c := &controllerProc{probe: kubetest.FreeAddr(w.t), metrics: kubetest.FreeAddr(w.t), webhook: w.c.WebhookAddr}
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "-webhook-port="); ok {
			c.webhook = net.JoinHostPort("127.0.0.1", v)
		}
	}
	_, port, err := net.SplitHostPort(w.c.WebhookAddr)
	require.NoError(w.t, err)
	base := []string{
		"-kubeconfig=" + w.ctrl.Kubeconfig,
		"-cluster-name=" + w.tut.ClusterName,
		"-ec2-endpoint=" + w.ec2URL,
		"-region=" + w.srv.Region(),
		"-cert-dir=" + w.c.WebhookCertDir,
		"-webhook-host=127.0.0.1",
		"-webhook-port=" + port,
		"-health-probe-bind-address=" + c.probe,
		"-metrics-bind-address=" + c.metrics,
		"-cooldown=" + eni.MinCoolDown.String(),
	}
	env := []string{
		"AWS_ACCESS_KEY_ID=" + fake.ClientAccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + fake.ClientSecretAccessKey,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"KUBECONFIG=",
	}
	c.Process = kubetest.StartProcess(w.t, name, w.bin, append(base, args...), env)
	ctx, cancel := context.WithTimeout(w.t.Context(), time.Minute)
	defer cancel()
	require.NoError(w.t, c.WaitHTTP(ctx, "http://"+c.probe+"/readyz"))
	return c
}

// metric returns the value of the controller's metric with the given name
// and labels (name{k="v",...} as printed), or -1 when it is absent.
func (c *controllerProc) metric(t *testing.T, series string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + c.metrics + "/metrics")
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			require.NoError(t, err, line)
			return f
		}
	}
	require.NoError(t, sc.Err())
	return -1
}

// count returns the value of a metric that counts things (a whole number).
func (c *controllerProc) count(t *testing.T, series string) int {
	t.Helper()
	v := c.metric(t, series)
	n := int(v)
	require.Zero(t, v-float64(n), "metric %s = %v is not a count", series, v)
	return n
}

// waitMetric waits until the controller's metric satisfies ok.
func (c *controllerProc) waitMetric(t *testing.T, series string, timeout time.Duration, ok func(float64) bool) float64 {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		v := c.metric(t, series)
		if ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: metric %s = %v after %v", c.Name, series, v, timeout)
		}
		select {
		case <-c.Done():
			t.Fatalf("%s exited: %v", c.Name, c.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// tutorialDeployment returns the tutorial's Deployment as kubectl applied it.
func (w *world) tutorialDeployment() *appsv1.Deployment {
	w.t.Helper()
	dep := new(appsv1.Deployment)
	err := w.c.Client.Get(w.t.Context(), types.NamespacedName{Namespace: tutorialNS, Name: "my-deployment"}, dep)
	if err != nil {
		dir := tutorialManifests(w.t, w.tut.PodSecurityGroupID)
		w.kubectl(w.c.Kubeconfig, "apply", "-f", dir+"/sample-application.yaml")
		require.NoError(w.t, w.c.Client.Get(w.t.Context(), types.NamespacedName{Namespace: tutorialNS, Name: "my-deployment"}, dep))
	}
	return dep
}

// newPod returns a pod of the deployment's template, named as the
// ReplicaSet controller names them.
func newPod(dep *appsv1.Deployment, name string) *corev1.Pod {
	labels := maps.Clone(dep.Spec.Template.Labels)
	labels["pod-template-hash"] = "5df6f7687b"
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: dep.Namespace, Name: name, Labels: labels},
		Spec:       *dep.Spec.Template.Spec.DeepCopy(),
	}
}

// createPod creates pod as the ReplicaSet controller does, through the
// webhooks, and returns it as stored.
func (w *world) createPod(pod *corev1.Pod) *corev1.Pod {
	w.t.Helper()
	got, err := w.rs.CoreV1().Pods(pod.Namespace).Create(w.t.Context(), pod, metav1.CreateOptions{})
	require.NoError(w.t, err, "creating pod %s", pod.Name)
	return got
}

// bind binds the pod to the node through the binding subresource, as the
// scheduler does, and returns when the binding was accepted.
func (w *world) bind(pod *corev1.Pod, node string) time.Time {
	w.t.Helper()
	err := w.sched.CoreV1().Pods(pod.Namespace).Bind(w.t.Context(), &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: node},
	}, metav1.CreateOptions{})
	require.NoError(w.t, err, "binding pod %s to %s", pod.Name, node)
	return time.Now()
}

// startPod creates a pod of the deployment and binds it to node.
func (w *world) startPod(dep *appsv1.Deployment, name, node string) *corev1.Pod {
	w.t.Helper()
	p := w.createPod(newPod(dep, name))
	w.bind(p, node)
	p.Spec.NodeName = node
	return p
}

// deletePod deletes the pod as `kubectl delete` and then its kubelet do:
// graceful deletion, then the final deletion once the containers stopped.
func (w *world) deletePod(pod *corev1.Pod) {
	w.t.Helper()
	ctx := w.t.Context()
	pods := w.c.Clientset.CoreV1().Pods(pod.Namespace)
	require.NoError(w.t, pods.Delete(ctx, pod.Name, metav1.DeleteOptions{}))
	zero := int64(0)
	err := pods.Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero,
		Preconditions: &metav1.Preconditions{UID: &pod.UID}})
	if err != nil && !strings.Contains(err.Error(), "not found") {
		require.NoError(w.t, err)
	}
}

// annotation waits for the pod (of this UID) to be annotated and returns
// the branch ENI it names.
func (w *world) annotation(pod *corev1.Pod, timeout time.Duration) podeniBranch {
	w.t.Helper()
	seen := w.pods.waitAnnotated(w.t, pod.UID, timeout)
	b, err := podeni.Parse(seen.value)
	require.NoError(w.t, err, "pod %s", pod.Name)
	require.Len(w.t, b, 1)
	return podeniBranch{ID: b[0].ID, VLAN: b[0].VLANID, IP: b[0].PrivateIP.String()}
}

// podeniBranch is what a pod's annotation says.
type podeniBranch struct {
	ID   string
	VLAN int
	IP   string
}

// branchENIs returns the branch ENIs EC2 has, by ID.
func (w *world) branchENIs() map[string]ec2types.NetworkInterface {
	w.t.Helper()
	out := map[string]ec2types.NetworkInterface{}
	pages := ec2.NewDescribeNetworkInterfacesPaginator(w.ec2, &ec2.DescribeNetworkInterfacesInput{
		Filters: []ec2types.Filter{{Name: aws.String("description"), Values: []string{trunk.BranchDescription}}},
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(w.t.Context())
		require.NoError(w.t, err)
		for _, ni := range page.NetworkInterfaces {
			out[aws.ToString(ni.NetworkInterfaceId)] = ni
		}
	}
	return out
}

// deletedENIs returns the ENIs EC2 deleted (DeleteNetworkInterface calls
// that succeeded, or whose response was lost).
func (w *world) deletedENIs() map[string]bool {
	out := map[string]bool{}
	for _, c := range w.ec2.CallsOf(fake.ActionDeleteNetworkInterface) {
		if c.Outcome != fake.OutcomeOK && c.Outcome != fake.OutcomeLost {
			continue
		}
		for _, f := range strings.Fields(c.Params) {
			if id, ok := strings.CutPrefix(f, "NetworkInterfaceId="); ok {
				out[id] = true
			}
		}
	}
	return out
}

// answered returns how many calls of action EC2 answered successfully with
// a parameter (Name=value, as the call log summarises requests).
func (w *world) answered(action fake.Action, param string) int {
	n := 0
	for _, c := range w.ec2.CallsOf(action) {
		if c.Outcome == fake.OutcomeOK && slices.Contains(strings.Fields(c.Params), param) {
			n++
		}
	}
	return n
}

// groupsOf returns the sorted security groups of an ENI.
func groupsOf(ni ec2types.NetworkInterface) []string {
	var out []string
	for _, g := range ni.Groups {
		out = append(out, aws.ToString(g.GroupId))
	}
	slices.Sort(out)
	return out
}

// checkNoForbidden fails the test if the API server refused any request of
// the controller for lack of permission: config/rbac.yaml must grant
// everything the controller does.
func (w *world) checkNoForbidden() {
	for _, e := range w.c.Audit(w.t) {
		if isController(e, w.ctrl) && e.Code() == http.StatusForbidden {
			w.t.Errorf("the API server refused the controller %s %s: config/rbac.yaml lacks it", e.Verb, describeRef(e))
		}
	}
}

// isController reports whether the controller process (not the test with
// the controller's credentials) made the request: its User-Agent starts with
// the name it was started as (see startController).
func isController(e kubetest.AuditEvent, ctrl kubetest.Identity) bool {
	return e.User.Username == ctrl.Name && strings.HasPrefix(e.UserAgent, "podsg-controller")
}

func describeRef(e kubetest.AuditEvent) string {
	if e.ObjectRef == nil {
		return "(no object)"
	}
	r := e.ObjectRef.Resource
	if e.ObjectRef.Subresource != "" {
		r += "/" + e.ObjectRef.Subresource
	}
	if e.ObjectRef.APIGroup != "" {
		r = e.ObjectRef.APIGroup + "/" + r
	}
	if e.ObjectRef.Namespace != "" {
		r += " in " + e.ObjectRef.Namespace
	}
	return r
}

// arrivals records the EC2 requests reaching the fake as they arrive (the
// fake's call log has them once answered), and can hold one back before the
// fake sees it. It is safe for concurrent use.
type arrivals struct {
	mu    sync.Mutex
	calls []url.Values
	holds []hold
}

// hold delays the next request of action whose parameter name has value.
type hold struct {
	action, name, value string
	delay               time.Duration
}

func (a *arrivals) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		var delay time.Duration
		if form, err := url.ParseQuery(string(body)); err == nil {
			a.mu.Lock()
			a.calls = append(a.calls, form)
			for i, h := range a.holds {
				if form.Get("Action") == h.action && form.Get(h.name) == h.value {
					delay = h.delay
					a.holds = slices.Delete(a.holds, i, i+1)
					break
				}
			}
			a.mu.Unlock()
		}
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return // the client is gone: EC2 never sees the request
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(rw, r)
	})
}

// holdNext delays the next request of action with parameter name=value.
func (a *arrivals) holdNext(action fake.Action, name, value string, delay time.Duration) {
	a.mu.Lock()
	a.holds = append(a.holds, hold{string(action), name, value, delay})
	a.mu.Unlock()
}

// find returns the requests of action that arrived with the given
// parameter values (pairs of name and value), in arrival order.
func (a *arrivals) find(action string, params ...string) []url.Values {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []url.Values
next:
	for _, c := range a.calls {
		if c.Get("Action") != action {
			continue
		}
		for i := 0; i+1 < len(params); i += 2 {
			if c.Get(params[i]) != params[i+1] {
				continue next
			}
		}
		out = append(out, c)
	}
	return out
}

// trunkOf returns the trunk ENI of an instance.
func (w *world) trunkOf(instanceID string) string {
	w.t.Helper()
	out, err := w.ec2.DescribeNetworkInterfaces(w.t.Context(), &ec2.DescribeNetworkInterfacesInput{
		Filters: []ec2types.Filter{
			{Name: aws.String("attachment.instance-id"), Values: []string{instanceID}},
			{Name: aws.String("interface-type"), Values: []string{"trunk"}},
		},
	})
	require.NoError(w.t, err)
	require.Len(w.t, out.NetworkInterfaces, 1, "instance %s has one trunk", instanceID)
	return aws.ToString(out.NetworkInterfaces[0].NetworkInterfaceId)
}

// startSlowPod starts a pod on node while its ENI's association with the
// node's trunk is held back for delay before EC2 sees it, and returns once
// the association request arrived — the controller is then between reading
// the pod and writing its annotation — with the ID of the ENI being
// associated.
func (w *world) startSlowPod(dep *appsv1.Deployment, name string, node testNode, delay time.Duration) (*corev1.Pod, string) {
	w.t.Helper()
	trunkID := w.trunkOf(node.InstanceID)
	before := len(w.calls.find(string(fake.ActionAssociateTrunkInterface), "TrunkInterfaceId", trunkID))
	w.calls.holdNext(fake.ActionAssociateTrunkInterface, "TrunkInterfaceId", trunkID, delay)
	p := w.startPod(dep, name, node.Name)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if calls := w.calls.find(string(fake.ActionAssociateTrunkInterface), "TrunkInterfaceId", trunkID); len(calls) > before {
			return p, calls[before].Get("BranchInterfaceId")
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("pod %s: no AssociateTrunkInterface for trunk %s within 30 s", name, trunkID)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// podWatch follows the pods of a namespace through an informer and records,
// per pod UID, when the controller's annotation was first seen.
type podWatch struct {
	mu        sync.Mutex
	annotated map[types.UID]seenAnnotation
	labels    map[types.UID]map[string]time.Time // "key=value" → first seen
}

type seenAnnotation struct {
	at    time.Time
	value string
}

func watchPods(t *testing.T, cs kubernetes.Interface, namespace string) *podWatch {
	pw := &podWatch{annotated: map[types.UID]seenAnnotation{}, labels: map[types.UID]map[string]time.Time{}}
	f := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(namespace))
	inf := f.Core().V1().Pods().Informer()
	record := func(obj any) {
		pod, ok := obj.(*corev1.Pod)
		if !ok {
			return
		}
		now := time.Now()
		pw.mu.Lock()
		defer pw.mu.Unlock()
		seen := pw.labels[pod.UID]
		if seen == nil {
			seen = map[string]time.Time{}
			pw.labels[pod.UID] = seen
		}
		for k, v := range pod.Labels {
			if _, ok := seen[k+"="+v]; !ok {
				seen[k+"="+v] = now
			}
		}
		v := pod.Annotations[podeni.AnnotationKey]
		if _, ok := pw.annotated[pod.UID]; !ok && v != "" {
			pw.annotated[pod.UID] = seenAnnotation{at: now, value: v}
		}
	}
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    record,
		UpdateFunc: func(_, obj any) { record(obj) },
	})
	require.NoError(t, err)
	f.Start(t.Context().Done())
	t.Cleanup(f.Shutdown)
	if !cache.WaitForCacheSync(t.Context().Done(), inf.HasSynced) {
		t.Fatal("pod informer did not sync")
	}
	return pw
}

// seen returns the annotation seen on the pod, if any.
func (pw *podWatch) seen(uid types.UID) (seenAnnotation, bool) {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	s, ok := pw.annotated[uid]
	return s, ok
}

// waitAnnotated waits for the pod's annotation.
func (pw *podWatch) waitAnnotated(t *testing.T, uid types.UID, timeout time.Duration) seenAnnotation {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if s, ok := pw.seen(uid); ok {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s: no %s annotation within %v", uid, podeni.AnnotationKey, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitLabel waits until the pod was seen with the label and returns when it
// was first seen.
func (pw *podWatch) waitLabel(t *testing.T, uid types.UID, key, value string, timeout time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		pw.mu.Lock()
		at, ok := pw.labels[uid][key+"="+value]
		pw.mu.Unlock()
		if ok {
			return at
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s: label %s=%s not seen within %v", uid, key, value, timeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// tutorialManifests copies the tutorial's manifests into a new directory and
// runs the tutorial's sed on the policy with groupID.
func tutorialManifests(t *testing.T, groupID string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"my-security-group-policy.yaml", "sample-application.yaml"} {
		b, err := os.ReadFile(manifestsDir + "/" + name)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(dir+"/"+name, b, 0o600))
	}
	if groupID != "" {
		sed(t, fmt.Sprintf("s/my_pod_security_group_id/%s/", groupID), dir+"/my-security-group-policy.yaml")
	}
	return dir
}
