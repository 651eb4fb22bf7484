package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	clientfake "sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/podsg/podsg/api/podeni"
	"github.com/podsg/podsg/api/v1beta1"
	"github.com/podsg/podsg/eni"
	"github.com/podsg/podsg/fake"
	"github.com/podsg/podsg/selector"
	"github.com/podsg/podsg/trunk"
)

const controllerUser = "system:serviceaccount:kube-system:podsg-controller"

// env is a cluster (controller-runtime's fake client) and EC2 (podsg's
// fake) seeded with the EKS tutorial, and the controller's parts.
type env struct {
	t       *testing.T
	ec2     *fake.EC2
	tut     fake.Tutorial
	client  client.WithWatch
	tm      *trunk.Manager
	rec     *events.FakeRecorder
	c       *controllers
	decoder admission.Decoder
	nodes   []string
}

func newScheme(t *testing.T) *runtime.Scheme {
	s := runtime.NewScheme()
	require.NoError(t, clientgoscheme.AddToScheme(s))
	require.NoError(t, v1beta1.AddToScheme(s))
	return s
}

func newEnv(t *testing.T) *env { return newEnvWith(t, interceptor.Funcs{}) }

// newEnvWith builds an env whose client calls go through funcs first.
func newEnvWith(t *testing.T, funcs interceptor.Funcs) *env {
	t.Helper()
	f := fake.New()
	tut, err := fake.SeedTutorial(t.Context(), f)
	require.NoError(t, err)
	e := &env{t: t, ec2: f, tut: tut, rec: events.NewFakeRecorder(1000)}
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "my-namespace"}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "my-namespace", Name: "default"}},
	}
	for _, n := range tut.Nodes {
		name := "ip-" + strings.ReplaceAll(n.PrivateIP, ".", "-") + ".us-west-2.compute.internal"
		e.nodes = append(e.nodes, name)
		objs = append(objs, &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       corev1.NodeSpec{ProviderID: "aws:///us-west-2a/" + n.InstanceID},
		})
	}
	scheme := newScheme(t)
	e.client = clientfake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).WithStatusSubresource(&corev1.Node{}).
		WithInterceptorFuncs(funcs).WithGlobalResourceVersionCounter().Build()
	e.decoder = admission.NewDecoder(scheme)
	e.tm = e.newManager()
	e.c = e.newControllers(e.tm)
	return e
}

func (e *env) newManager() *trunk.Manager {
	tm, err := trunk.New(e.ec2, trunk.Options{ClusterName: e.tut.ClusterName, Policy: eni.Policy{MaxWarm: eni.NoWarm}})
	require.NoError(e.t, err)
	return tm
}

// newControllers builds the controller's parts as setup does, over the fake
// client, and rebuilds their state.
func (e *env) newControllers(tm *trunk.Manager) *controllers {
	index := selector.NewIndex(selector.Options{})
	ready := make(chan struct{})
	c := &controllers{
		Index:    index,
		Policies: &PolicyReconciler{Client: e.client, Index: index, Events: e.rec},
		Nodes:    &NodeReconciler{Client: e.client, Trunk: tm, Events: e.rec, Ready: ready},
		Pods:     &PodReconciler{Client: e.client, APIReader: e.client, Trunk: tm, Index: index, Events: e.rec, Ready: ready},
		Mutator:  &PodMutator{Reader: e.client, Index: index, Decoder: e.decoder},
	}
	c.Validate = &PodValidator{Users: []string{controllerUser}, Mutator: c.Mutator, Decoder: e.decoder}
	require.NoError(e.t, Rebuild(e.t.Context(), e.client, tm, c.Pods, e.rec, Shard{}, ready))
	var policies v1beta1.SecurityGroupPolicyList
	require.NoError(e.t, e.client.List(e.t.Context(), &policies))
	for _, p := range policies.Items {
		e.reconcile(c.Policies, p.Namespace, p.Name)
	}
	return c
}

func (e *env) reconcile(r reconcile.Reconciler, namespace, name string) reconcile.Result {
	e.t.Helper()
	res, err := r.Reconcile(e.t.Context(), reconcile.Request{NamespacedName: types.NamespacedName{Namespace: namespace, Name: name}})
	require.NoError(e.t, err)
	return res
}

// applyPolicy creates the tutorial's policy, as kubectl apply does, and lets
// the policy watch see it.
func (e *env) applyPolicy(name string, labels map[string]string, groups ...string) {
	p := &v1beta1.SecurityGroupPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "my-namespace", Name: name},
		Spec: v1beta1.SecurityGroupPolicySpec{
			PodSelector:    &metav1.LabelSelector{MatchLabels: labels},
			SecurityGroups: v1beta1.GroupIDs{Groups: groups},
		},
	}
	require.NoError(e.t, e.client.Create(e.t.Context(), p))
	e.reconcile(e.c.Policies, p.Namespace, p.Name)
}

func (e *env) admission(op admissionv1.Operation, user string, obj, old *corev1.Pod) admission.Request {
	raw, err := json.Marshal(obj)
	require.NoError(e.t, err)
	req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID:       "req-1",
		Kind:      metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
		Resource:  metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
		Namespace: obj.Namespace, Name: obj.Name, Operation: op,
		UserInfo: authnv1.UserInfo{Username: user},
		Object:   runtime.RawExtension{Raw: raw},
	}}
	if old != nil {
		raw, err := json.Marshal(old)
		require.NoError(e.t, err)
		req.OldObject = runtime.RawExtension{Raw: raw}
	}
	return req
}

// createPod sends a pod through both webhooks, as the API server does, then
// stores it scheduled on node.
func (e *env) createPod(pod *corev1.Pod, user, node string) *corev1.Pod {
	e.t.Helper()
	resp := e.c.Mutator.Handle(e.t.Context(), e.admission(admissionv1.Create, user, pod, nil))
	require.True(e.t, resp.Allowed, resp.Result)
	raw, err := json.Marshal(pod)
	require.NoError(e.t, err)
	if len(resp.Patches) > 0 {
		ops, err := json.Marshal(resp.Patches)
		require.NoError(e.t, err)
		patch, err := jsonpatch.DecodePatch(ops)
		require.NoError(e.t, err)
		raw, err = patch.Apply(raw)
		require.NoError(e.t, err)
	}
	mutated := new(corev1.Pod)
	require.NoError(e.t, json.Unmarshal(raw, mutated))
	v := e.c.Validate.Handle(e.t.Context(), e.admission(admissionv1.Create, user, mutated, nil))
	require.True(e.t, v.Allowed, v.Result)
	mutated.Spec.NodeName = node
	require.NoError(e.t, e.client.Create(e.t.Context(), mutated))
	return mutated
}

func tutorialPod(name string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "my-namespace", Name: name, Labels: labels, UID: types.UID("uid-" + name)},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "public.ecr.aws/nginx/nginx:1.23"}}},
	}
}

func (e *env) branchENIs() []ec2types.NetworkInterface {
	e.ec2.SetThrottling(false)
	defer e.ec2.SetThrottling(true)
	out, err := e.ec2.DescribeNetworkInterfaces(e.t.Context(), &ec2.DescribeNetworkInterfacesInput{
		Filters: []ec2types.Filter{{Name: aws.String("description"), Values: []string{trunk.BranchDescription}}},
	})
	require.NoError(e.t, err)
	return out.NetworkInterfaces
}

// TestTutorialFlow passes the EKS tutorial through the controller: nodes get
// trunks and advertise capacity, the policy is watched, four pods are
// mutated, scheduled and given branch ENIs, and a deleted pod's ENI goes to
// cool-down.
func TestTutorialFlow(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()

	for _, n := range e.nodes {
		e.reconcile(e.c.Nodes, "", n)
		node := new(corev1.Node)
		require.NoError(t, e.client.Get(ctx, types.NamespacedName{Name: n}, node))
		require.Equal(t, "true", node.Labels[TrunkAttachedLabel])
		capacity := node.Status.Capacity[podeni.ResourceName]
		require.Equal(t, int64(9), capacity.Value(), "m5.large carries 9 branch ENIs")
	}
	require.Equal(t, 5, e.ec2.Count(fake.ActionAttachNetworkInterface).OK, "one trunk per node")

	e.applyPolicy("my-security-group-policy", map[string]string{"role": "my-role"}, e.tut.PodSecurityGroupID)

	labels := map[string]string{"app": "my-app", "role": "my-role"}
	var pods []*corev1.Pod
	for i, suffix := range []string{"4fbjm", "j9fl4", "rjxcz", "zmb42"} {
		p := e.createPod(tutorialPod("my-deployment-5df6f7687b-"+suffix, labels), "system:serviceaccount:kube-system:replicaset-controller", e.nodes[i%len(e.nodes)])
		require.True(t, RequestsPodENI(p), "the mutating webhook adds %s", podeni.ResourceName)
		q := p.Spec.Containers[0].Resources.Limits[podeni.ResourceName]
		require.Equal(t, int64(1), q.Value())
		pods = append(pods, p)
	}
	// A pod no policy selects passes unchanged.
	plain := e.createPod(tutorialPod("other", map[string]string{"app": "other"}), "alice", e.nodes[0])
	require.False(t, RequestsPodENI(plain))

	ips := map[string]bool{}
	for _, p := range append(pods, plain) {
		e.reconcile(e.c.Pods, p.Namespace, p.Name)
	}
	for _, p := range pods {
		got := new(corev1.Pod)
		require.NoError(t, e.client.Get(ctx, client.ObjectKeyFromObject(p), got))
		b, err := podeni.Parse(got.Annotations[podeni.AnnotationKey])
		require.NoError(t, err, "pod %s", p.Name)
		ips[b[0].PrivateIP.String()] = true
	}
	require.Len(t, ips, 4)
	enis := e.branchENIs()
	require.Len(t, enis, 4)
	for _, ni := range enis {
		require.Equal(t, e.tut.PodSecurityGroupID, aws.ToString(ni.Groups[0].GroupId))
	}

	// Reconciling again changes nothing: the annotation is the pod's.
	before := e.ec2.AllCounts()
	e.reconcile(e.c.Pods, pods[0].Namespace, pods[0].Name)
	require.Equal(t, before, e.ec2.AllCounts())

	// The pod goes: its ENI cools down, then is deleted.
	require.NoError(t, e.client.Delete(ctx, pods[0]))
	e.reconcile(e.c.Pods, pods[0].Namespace, pods[0].Name)
	require.Equal(t, 1, e.tm.Metrics().Pools.Cooling)
	require.Equal(t, 3, e.tm.Metrics().Pools.InUse)

	// A node goes: its branch ENIs are deleted at once.
	gone := pods[1].Spec.NodeName
	require.NoError(t, e.client.Delete(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: gone}}))
	e.reconcile(e.c.Nodes, "", gone)
	require.Len(t, e.branchENIs(), 3, "the node's one branch ENI is deleted")
	require.Equal(t, 4, e.tm.Metrics().Nodes)
}

// TestRebuild restarts the controller: a new manager adopts the ENIs of live
// pods and sends the ENI of a pod deleted while it was down to cool-down.
func TestRebuild(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	for _, n := range e.nodes {
		e.reconcile(e.c.Nodes, "", n)
	}
	e.applyPolicy("my-security-group-policy", map[string]string{"role": "my-role"}, e.tut.PodSecurityGroupID)
	var pods []*corev1.Pod
	for i := range 3 {
		p := e.createPod(tutorialPod(fmt.Sprintf("web-%d", i), map[string]string{"role": "my-role"}), "alice", e.nodes[0])
		e.reconcile(e.c.Pods, p.Namespace, p.Name)
		pods = append(pods, p)
	}
	// The controller stops; a pod is deleted meanwhile.
	e.tm.Close()
	require.NoError(t, e.client.Delete(ctx, pods[2]))

	e.tm = e.newManager()
	e.c = e.newControllers(e.tm)
	st := e.tm.Metrics().Pools
	require.Equal(t, 2, st.InUse, "the live pods keep their ENIs")
	require.Equal(t, 1, st.Cooling, "the deleted pod's ENI cools down")
	// The live pods are known again: deleting one releases its ENI.
	require.NoError(t, e.client.Delete(ctx, pods[0]))
	e.reconcile(e.c.Pods, pods[0].Namespace, pods[0].Name)
	require.Equal(t, 2, e.tm.Metrics().Pools.Cooling)
}

func TestTrunkingUnsupported(t *testing.T) {
	e := newEnv(t)
	n := e.ec2.AddNode("t3.large", e.tut.SubnetIDs[0], e.tut.ClusterSecurityGroupID)
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "t3-node"}, Spec: corev1.NodeSpec{ProviderID: "aws:///us-west-2a/" + n.InstanceID}}
	require.NoError(t, e.client.Create(t.Context(), node))
	e.reconcile(e.c.Nodes, "", node.Name)
	require.NoError(t, e.client.Get(t.Context(), client.ObjectKeyFromObject(node), node))
	require.Equal(t, "false", node.Labels[TrunkAttachedLabel])
	_, advertised := node.Status.Capacity[podeni.ResourceName]
	require.False(t, advertised)
	require.Contains(t, <-e.rec.Events, "TrunkingUnsupported")
}

func TestMissingGroupEvent(t *testing.T) {
	e := newEnv(t)
	e.reconcile(e.c.Nodes, "", e.nodes[0])
	e.applyPolicy("typo", map[string]string{"role": "typo"}, "sg-05b1d815d1e7a3c90")
	p := e.createPod(tutorialPod("typo", map[string]string{"role": "typo"}), "alice", e.nodes[0])
	_, err := e.c.Pods.Reconcile(t.Context(), reconcile.Request{NamespacedName: client.ObjectKeyFromObject(p)})
	require.ErrorContains(t, err, "InvalidSecurityGroupID.NotFound")
	ev := <-e.rec.Events
	require.Contains(t, ev, "Warning BranchENIFailed")
	require.Contains(t, ev, "The securityGroup ID 'sg-05b1d815d1e7a3c90' does not exist")
	require.Empty(t, e.branchENIs())
}

func TestValidator(t *testing.T) {
	e := newEnv(t)
	e.applyPolicy("fargate", map[string]string{"role": "fg"}, "sg-0123456789abcdef0")
	withAnn := func(p *corev1.Pod, k, v string) *corev1.Pod {
		p = p.DeepCopy()
		p.Annotations = map[string]string{k: v}
		return p
	}
	annotation := `[{"eniId":"eni-0a1b2c3d4e5f60718","ifAddress":"02:42:c0:a8:21:07","privateIp":"192.168.33.7","vlanId":3,"subnetCidr":"192.168.32.0/19"}]`
	plain := tutorialPod("web", map[string]string{"role": "web"})
	fg := tutorialPod("fg", map[string]string{"role": "fg", selector.FargateProfileLabel: "fp"})
	tests := []struct {
		name      string
		op        admissionv1.Operation
		user      string
		obj, old  *corev1.Pod
		wantAllow bool
	}{
		{"plain create", admissionv1.Create, "alice", plain, nil, true},
		{"forged pod-eni at create", admissionv1.Create, "alice", withAnn(plain, podeni.AnnotationKey, annotation), nil, false},
		{"controller writes pod-eni", admissionv1.Update, controllerUser, withAnn(plain, podeni.AnnotationKey, annotation), plain, true},
		{"user writes pod-eni", admissionv1.Update, "alice", withAnn(plain, podeni.AnnotationKey, annotation), plain, false},
		{"user removes pod-eni", admissionv1.Update, "alice", plain, withAnn(plain, podeni.AnnotationKey, annotation), false},
		{"user relabels, annotation kept", admissionv1.Update, "alice", withAnn(plain, podeni.AnnotationKey, annotation), withAnn(plain, podeni.AnnotationKey, annotation), true},
		{"fargate annotation from the mutator", admissionv1.Create, "alice", withAnn(fg, podeni.FargateAnnotationKey, "sg-0123456789abcdef0"), nil, true},
		{"forged fargate annotation", admissionv1.Create, "alice", withAnn(fg, podeni.FargateAnnotationKey, "sg-0fedcba9876543210"), nil, false},
		{"fargate annotation on a pod no policy selects", admissionv1.Create, "alice", withAnn(plain, podeni.FargateAnnotationKey, "sg-0123456789abcdef0"), nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := e.c.Validate.Handle(t.Context(), e.admission(tt.op, tt.user, tt.obj, tt.old))
			require.Equal(t, tt.wantAllow, resp.Allowed, "%v", resp.Result)
			if !tt.wantAllow {
				require.Contains(t, resp.Result.Message, "is set by the security-groups-for-pods controller only")
			}
		})
	}

	// The mutator gives the Fargate pod its annotation, and no resource.
	resp := e.c.Mutator.Handle(t.Context(), e.admission(admissionv1.Create, "alice", fg, nil))
	require.True(t, resp.Allowed)
	ops, err := json.Marshal(resp.Patches)
	require.NoError(t, err)
	require.Contains(t, string(ops), `"sg-0123456789abcdef0"`)
	require.NotContains(t, string(ops), podeni.ResourceName)
}

func TestShard(t *testing.T) {
	const shards = 3
	owners := map[int]int{}
	for i := range 300 {
		name := fmt.Sprintf("ip-10-0-%d-%d.ec2.internal", i/250, i%250)
		n := 0
		for s := range shards {
			if (Shard{Index: s, Count: shards}).Owns(name) {
				n++
				owners[s]++
			}
		}
		require.Equal(t, 1, n, "node %s has one owner", name)
	}
	for s := range shards {
		require.Greater(t, owners[s], 50, "shard %d serves a fair share", s)
	}
	require.True(t, Shard{}.Owns("any"))
}

func TestInstanceID(t *testing.T) {
	tests := []struct {
		providerID, want string
		ok               bool
	}{
		{"aws:///us-west-2a/i-0123456789abcdef0", "i-0123456789abcdef0", true},
		{"aws:///us-west-2a/fargate-ip-192-168-1-1.us-west-2.compute.internal", "", false},
		{"kind://docker/kind/kind-control-plane", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, err := InstanceID(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}, Spec: corev1.NodeSpec{ProviderID: tt.providerID}})
		require.Equal(t, tt.ok, err == nil, tt.providerID)
		require.Equal(t, tt.want, got)
	}
}

func TestPredicates(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n", Labels: map[string]string{TrunkAttachedLabel: "true"}},
		Spec: corev1.NodeSpec{ProviderID: "aws:///us-west-2a/i-0123456789abcdef0"}}
	heartbeat := node.DeepCopy()
	heartbeat.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
	relabelled := node.DeepCopy()
	relabelled.Labels[TrunkAttachedLabel] = "false"
	withCapacity := node.DeepCopy()
	withCapacity.Status.Capacity = corev1.ResourceList{podeni.ResourceName: resource.MustParse("9")}
	require.False(t, nodeChanged.Update(event.UpdateEvent{ObjectOld: node, ObjectNew: heartbeat}), "heartbeat")
	require.True(t, nodeChanged.Update(event.UpdateEvent{ObjectOld: node, ObjectNew: relabelled}), "label")
	require.True(t, nodeChanged.Update(event.UpdateEvent{ObjectOld: withCapacity, ObjectNew: node}), "capacity dropped")
	require.True(t, nodeChanged.Create(event.CreateEvent{Object: node}))

	plain := tutorialPod("plain", nil)
	requesting := plain.DeepCopy()
	requesting.Spec.Containers[0].Resources.Limits = corev1.ResourceList{podeni.ResourceName: resource.MustParse("1")}
	require.False(t, podENIRequested.Create(event.CreateEvent{Object: plain}))
	require.True(t, podENIRequested.Create(event.CreateEvent{Object: requesting}))
	require.True(t, podENIRequested.Delete(event.DeleteEvent{Object: requesting}))
}

// TestTerminatingPodKeepsENI deletes a pod that its kubelet still runs (a
// finalizer stands in for the grace period): it keeps its ENI until its
// object is gone, as its containers still use it.
func TestTerminatingPodKeepsENI(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.reconcile(e.c.Nodes, "", e.nodes[0])
	e.applyPolicy("my-security-group-policy", map[string]string{"role": "my-role"}, e.tut.PodSecurityGroupID)
	p := tutorialPod("web", map[string]string{"role": "my-role"})
	p.Finalizers = []string{"example.com/still-running"}
	p = e.createPod(p, "alice", e.nodes[0])
	e.reconcile(e.c.Pods, p.Namespace, p.Name)
	require.Equal(t, 1, e.tm.Metrics().Pools.InUse)

	require.NoError(t, e.client.Delete(ctx, p))
	require.NoError(t, e.client.Get(ctx, client.ObjectKeyFromObject(p), p))
	require.False(t, p.DeletionTimestamp.IsZero())
	e.reconcile(e.c.Pods, p.Namespace, p.Name)
	st := e.tm.Metrics().Pools
	require.Equal(t, 1, st.InUse, "terminating, still running")
	require.Equal(t, 0, st.Cooling)

	p.Finalizers = nil
	require.NoError(t, e.client.Update(ctx, p))
	e.reconcile(e.c.Pods, p.Namespace, p.Name)
	st = e.tm.Metrics().Pools
	require.Equal(t, 0, st.InUse)
	require.Equal(t, 1, st.Cooling, "gone: the ENI cools down")
}

// TestReplacedPod replaces a pod by another of the same name while the
// controller prepares the first one's ENI: the annotation is not written on
// the successor, the first ENI goes back, and the successor gets its own.
func TestReplacedPod(t *testing.T) {
	var e *env
	replaced := false
	e = newEnvWith(t, interceptor.Funcs{Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
		if pod, ok := obj.(*corev1.Pod); ok && !replaced {
			replaced = true
			old := new(corev1.Pod)
			require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(pod), old))
			require.NoError(t, c.Delete(ctx, old))
			successor := tutorialPod(pod.Name, pod.Labels)
			successor.UID = "uid-successor"
			successor.Spec = *old.Spec.DeepCopy()
			require.NoError(t, c.Create(ctx, successor))
		}
		return c.Patch(ctx, obj, patch, opts...)
	}})
	ctx := t.Context()
	e.reconcile(e.c.Nodes, "", e.nodes[0])
	e.applyPolicy("my-security-group-policy", map[string]string{"role": "my-role"}, e.tut.PodSecurityGroupID)
	p := e.createPod(tutorialPod("web", map[string]string{"role": "my-role"}), "alice", e.nodes[0])

	res := e.reconcile(e.c.Pods, p.Namespace, p.Name)
	require.True(t, replaced)
	require.Positive(t, res.RequeueAfter, "the successor is reconciled")
	got := new(corev1.Pod)
	require.NoError(t, e.client.Get(ctx, client.ObjectKeyFromObject(p), got))
	require.Equal(t, types.UID("uid-successor"), got.UID)
	require.Empty(t, got.Annotations[podeni.AnnotationKey], "the first pod's ENI is not written on its successor")
	st := e.tm.Metrics().Pools
	require.Equal(t, 0, st.InUse)
	require.Equal(t, 1, st.Cooling, "the first pod's ENI went back")

	e.reconcile(e.c.Pods, p.Namespace, p.Name)
	require.NoError(t, e.client.Get(ctx, client.ObjectKeyFromObject(p), got))
	require.NotEmpty(t, got.Annotations[podeni.AnnotationKey])
	require.Equal(t, 1, e.tm.Metrics().Pools.InUse)
	// Deleting the successor releases the ENI it names.
	require.NoError(t, e.client.Delete(ctx, got))
	e.reconcile(e.c.Pods, p.Namespace, p.Name)
	require.Equal(t, 0, e.tm.Metrics().Pools.InUse)
}

// TestPodOnDeletedNode reconciles a pod bound to a node that no longer
// exists: no ENI, a warning event, no error (no retry loop).
func TestPodOnDeletedNode(t *testing.T) {
	e := newEnv(t)
	e.applyPolicy("my-security-group-policy", map[string]string{"role": "my-role"}, e.tut.PodSecurityGroupID)
	p := e.createPod(tutorialPod("web", map[string]string{"role": "my-role"}), "alice", "ip-192-168-250-250.us-west-2.compute.internal")
	res := e.reconcile(e.c.Pods, p.Namespace, p.Name)
	require.Equal(t, reconcile.Result{}, res)
	require.Contains(t, <-e.rec.Events, "Warning NodeGone")
	require.Empty(t, e.branchENIs())
}

// TestRebuildWithBadNodes restarts the controller over a cluster with a t3
// node and a node whose instance EC2 no longer knows: the controller becomes
// ready and serves the healthy nodes, and reports the other two on their
// Node objects.
func TestRebuildWithBadNodes(t *testing.T) {
	e := newEnv(t)
	small := e.ec2.AddNode("t3.large", e.tut.SubnetIDs[0], e.tut.ClusterSecurityGroupID)
	for name, id := range map[string]string{"t3-node": small.InstanceID, "vanished-node": "i-0123456789abcdef0"} {
		require.NoError(t, e.client.Create(t.Context(), &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       corev1.NodeSpec{ProviderID: "aws:///us-west-2a/" + id},
		}))
	}
	e.tm.Close()
	e.tm = e.newManager()
	e.c = e.newControllers(e.tm) // fails the test if Rebuild fails
	require.Equal(t, len(e.nodes), e.tm.Metrics().Nodes, "every healthy node is served")
	var got []string
	for len(e.rec.Events) > 0 {
		got = append(got, <-e.rec.Events)
	}
	require.Len(t, got, 2, "%q", got)
	joined := strings.Join(got, "\n")
	require.Contains(t, joined, "Normal TrunkingUnsupported")
	require.Contains(t, joined, "t3.large")
	require.Contains(t, joined, "Warning RebuildFailed")
	require.Contains(t, joined, "i-0123456789abcdef0")

	e.reconcile(e.c.Nodes, "", e.nodes[0])
	e.applyPolicy("my-security-group-policy", map[string]string{"role": "my-role"}, e.tut.PodSecurityGroupID)
	p := e.createPod(tutorialPod("web", map[string]string{"role": "my-role"}), "alice", e.nodes[0])
	e.reconcile(e.c.Pods, p.Namespace, p.Name)
	require.Equal(t, 1, e.tm.Metrics().Pools.InUse, "a healthy node serves its pods")
}
