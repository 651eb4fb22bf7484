package main

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/podsg/podsg/api/podeni"
	"github.com/podsg/podsg/api/v1beta1"
	"github.com/podsg/podsg/eni"
	"github.com/podsg/podsg/selector"
	"github.com/podsg/podsg/selector/kube"
	"github.com/podsg/podsg/trunk"
)

// TrunkAttachedLabel is the node label the VPC CNI plugin and the VPC
// resource controller use for nodes with a trunk ENI.
const TrunkAttachedLabel = "vpc.amazonaws.com/has-trunk-attached"

// eventer records Kubernetes events (events.k8s.io). The manager's
// GetEventRecorder and client-go's events.FakeRecorder satisfy it.
type eventer interface {
	Eventf(regarding runtime.Object, related runtime.Object, eventtype, reason, action, note string, args ...any)
}

// Shard selects the nodes one controller replica serves. In a large cluster,
// run Count replicas, each with its own Index and its own leader-election ID
// (so one leader per shard): each serves the nodes whose name hashes to its
// Index, and their pods, with its own EC2 budget. The webhooks and the policy
// watch run on every replica. The zero Shard serves every node. A Shard is a
// plain value, safe for concurrent use.
type Shard struct {
	Index, Count int
}

// Owns reports whether the shard serves the node.
func (s Shard) Owns(nodeName string) bool {
	if s.Count <= 1 {
		return true
	}
	h := fnv.New32a()
	h.Write([]byte(nodeName))
	return int(h.Sum32()%uint32(s.Count)) == s.Index
}

// PolicyReconciler keeps the selector index in step with the
// SecurityGroupPolicy objects of the cluster. Invalid policies are stored
// (they match as the VPC resource controller would match them) and reported
// as a warning event on the policy. It is safe for concurrent use (the index
// serialises its writers).
type PolicyReconciler struct {
	Client client.Client
	Index  *selector.Index
	Events eventer
}

// Reconcile implements reconcile.Reconciler.
func (r *PolicyReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	p := new(v1beta1.SecurityGroupPolicy)
	if err := r.Client.Get(ctx, req.NamespacedName, p); apierrors.IsNotFound(err) {
		r.Index.Delete(req.Namespace, req.Name)
		return reconcile.Result{}, nil
	} else if err != nil {
		return reconcile.Result{}, err
	}
	if err := r.Index.Upsert(p); err != nil {
		var pe *selector.PolicyError
		if !errors.As(err, &pe) {
			return reconcile.Result{}, err
		}
		r.Events.Eventf(p, nil, corev1.EventTypeWarning, "InvalidPolicy", "Validate", "%s", pe.Errs.ToAggregate().Error())
	}
	return reconcile.Result{}, nil
}

// PolicyLoader fills an index with every SecurityGroupPolicy of the cache
// once the cache has synced, then closes Loaded. Until then the webhooks
// would decide on an empty index, and let pods the policies select start
// without their security groups: the controller reports itself not ready
// (Check), and PodMutator waits for Loaded. It runs on every replica, leader
// or not (the webhooks serve on all of them); PolicyReconciler keeps the
// index up to date afterwards.
type PolicyLoader struct {
	Cache interface {
		WaitForCacheSync(ctx context.Context) bool
		client.Reader
	}
	Index  *selector.Index
	Loaded chan struct{}
}

// Start implements manager.Runnable.
func (l *PolicyLoader) Start(ctx context.Context) error {
	if !l.Cache.WaitForCacheSync(ctx) {
		return ctx.Err()
	}
	var list v1beta1.SecurityGroupPolicyList
	if err := l.Cache.List(ctx, &list); err != nil {
		return fmt.Errorf("loading the SecurityGroupPolicies: %w", err)
	}
	for i := range list.Items {
		// Invalid policies are stored too; PolicyReconciler reports them.
		_ = l.Index.Upsert(&list.Items[i])
	}
	close(l.Loaded)
	return nil
}

// NeedLeaderElection implements manager.LeaderElectionRunnable: every
// replica loads.
func (l *PolicyLoader) NeedLeaderElection() bool { return false }

// Check is a readiness check: it fails until the policies are loaded.
func (l *PolicyLoader) Check(*http.Request) error {
	select {
	case <-l.Loaded:
		return nil
	default:
		return errors.New("the SecurityGroupPolicies are not loaded yet")
	}
}

// NodeReconciler gives every node of its shard a trunk ENI and advertises the
// node's branch-ENI capacity as the extended resource
// vpc.amazonaws.com/pod-eni, with the label vpc.amazonaws.com/has-trunk-attached.
// Nodes whose instance type cannot host a trunk are labelled "false" and
// advertise nothing, so pods with security groups are never scheduled there.
// A deleted node's branch ENIs are deleted at once. It is safe for concurrent
// use.
type NodeReconciler struct {
	Client client.Client
	Trunk  *trunk.Manager
	Events eventer
	Shard  Shard
	// Ready is closed once the controller has rebuilt its state (Rebuild).
	Ready <-chan struct{}

	mu sync.Mutex
	// instances maps node names to instance IDs, to remove a node from the
	// trunk manager once its object is gone.
	instances map[string]string
}

// Reconcile implements reconcile.Reconciler.
func (r *NodeReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	if !r.Shard.Owns(req.Name) {
		return reconcile.Result{}, nil
	}
	if err := waitReady(ctx, r.Ready); err != nil {
		return reconcile.Result{}, err
	}
	node := new(corev1.Node)
	if err := r.Client.Get(ctx, req.NamespacedName, node); apierrors.IsNotFound(err) {
		// The node is gone: its branch ENIs are deleted at once, without
		// cool-down (its pods are gone with it).
		r.mu.Lock()
		id, ok := r.instances[req.Name]
		delete(r.instances, req.Name)
		r.mu.Unlock()
		if ok {
			return reconcile.Result{}, r.Trunk.RemoveNode(ctx, id)
		}
		return reconcile.Result{}, nil
	} else if err != nil {
		return reconcile.Result{}, err
	}
	id, err := InstanceID(node)
	if err != nil {
		return reconcile.Result{}, nil // not an EC2 node (Fargate, on-premises)
	}
	r.mu.Lock()
	if r.instances == nil {
		r.instances = map[string]string{}
	}
	r.instances[node.Name] = id
	r.mu.Unlock()
	info, err := r.Trunk.EnsureNode(ctx, id)
	switch {
	case errors.Is(err, trunk.ErrTrunkingUnsupported):
		if node.Labels[TrunkAttachedLabel] != "false" {
			r.Events.Eventf(node, nil, corev1.EventTypeNormal, "TrunkingUnsupported", "EnsureTrunk",
				"%v; pods with security groups are not scheduled here", err)
		}
		return reconcile.Result{}, r.advertise(ctx, node, "false", 0)
	case err != nil:
		r.Events.Eventf(node, nil, corev1.EventTypeWarning, "TrunkFailed", "EnsureTrunk", "%v", err)
		return reconcile.Result{}, err
	}
	return reconcile.Result{}, r.advertise(ctx, node, "true", info.BranchLimit)
}

// advertise sets the node's label and pod-eni capacity.
func (r *NodeReconciler) advertise(ctx context.Context, node *corev1.Node, label string, capacity int) error {
	if node.Labels[TrunkAttachedLabel] != label {
		patch := client.MergeFrom(node.DeepCopy())
		if node.Labels == nil {
			node.Labels = map[string]string{}
		}
		node.Labels[TrunkAttachedLabel] = label
		if err := r.Client.Patch(ctx, node, patch); err != nil {
			return fmt.Errorf("labelling node %s: %w", node.Name, err)
		}
	}
	want := resource.NewQuantity(int64(capacity), resource.DecimalSI)
	if got, ok := node.Status.Capacity[podeni.ResourceName]; ok && got.Cmp(*want) == 0 || !ok && capacity == 0 {
		return nil
	}
	patch := client.MergeFrom(node.DeepCopy())
	if node.Status.Capacity == nil {
		node.Status.Capacity = corev1.ResourceList{}
	}
	if node.Status.Allocatable == nil {
		node.Status.Allocatable = corev1.ResourceList{}
	}
	node.Status.Capacity[podeni.ResourceName] = *want
	node.Status.Allocatable[podeni.ResourceName] = *want
	if err := r.Client.Status().Patch(ctx, node, patch); err != nil {
		return fmt.Errorf("advertising %s on node %s: %w", podeni.ResourceName, node.Name, err)
	}
	return nil
}

// InstanceID returns the EC2 instance ID of a node, from its provider ID
// ("aws:///us-west-2a/i-0123456789abcdef0").
func InstanceID(node *corev1.Node) (string, error) {
	id := node.Spec.ProviderID
	if !strings.HasPrefix(id, "aws://") {
		return "", fmt.Errorf("node %s: provider ID %q is not an EC2 instance", node.Name, id)
	}
	id = id[strings.LastIndexByte(id, '/')+1:]
	if !strings.HasPrefix(id, "i-") {
		return "", fmt.Errorf("node %s: provider ID %q names no instance", node.Name, node.Spec.ProviderID)
	}
	return id, nil
}

// PodReconciler gives each scheduled pod that requests
// vpc.amazonaws.com/pod-eni a branch ENI with the groups its policies name,
// and writes the vpc.amazonaws.com/pod-eni annotation the CNI reads. When the
// pod ends — its object is gone, it reached Succeeded or Failed, or its node
// was deleted — its ENI goes back to the node's pool, where it cools down
// before reuse or deletion, as the VPC resource controller does. A pod that
// is only being deleted (deletionTimestamp set) keeps its ENI: its
// containers may run for its whole grace period, longer than the cool-down.
// It is safe for concurrent use, so the controller may run several workers.
type PodReconciler struct {
	Client client.Client
	// APIReader reads past the cache: a pod whose update conflicted, a node
	// the cache does not know.
	APIReader client.Reader
	Trunk     *trunk.Manager
	Index     *selector.Index
	Events    eventer
	Shard     Shard
	Ready     <-chan struct{}

	mu sync.Mutex
	// holders maps each pod given an ENI to its node's instance ID and its
	// reference, to release the ENI once the pod object is gone.
	holders map[types.NamespacedName]holder
}

type holder struct {
	instanceID string
	pod        eni.PodRef
}

// errReplaced reports that a pod was deleted and created again under the
// same name while its ENI was being prepared.
var errReplaced = errors.New("the pod was replaced by another of the same name")

// Reconcile implements reconcile.Reconciler.
func (r *PodReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	if err := waitReady(ctx, r.Ready); err != nil {
		return reconcile.Result{}, err
	}
	pod := new(corev1.Pod)
	if err := r.Client.Get(ctx, req.NamespacedName, pod); apierrors.IsNotFound(err) {
		r.release(req.NamespacedName, "")
		return reconcile.Result{}, nil
	} else if err != nil {
		return reconcile.Result{}, err
	}
	if !RequestsPodENI(pod) || pod.Spec.NodeName == "" || !r.Shard.Owns(pod.Spec.NodeName) {
		return reconcile.Result{}, nil
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		r.release(req.NamespacedName, pod.UID)
		return reconcile.Result{}, nil
	}
	node, err := r.node(ctx, pod.Spec.NodeName)
	if apierrors.IsNotFound(err) {
		// The node is gone, and its branch ENIs with it (NodeReconciler):
		// the pod cannot run; the pod garbage collector deletes it.
		r.release(req.NamespacedName, pod.UID)
		if pod.Annotations[podeni.AnnotationKey] == "" && pod.DeletionTimestamp.IsZero() {
			r.Events.Eventf(pod, nil, corev1.EventTypeWarning, "NodeGone", "AcquireBranchENI",
				"node %s no longer exists; no branch ENI is given to the pod", pod.Spec.NodeName)
		}
		return reconcile.Result{}, nil
	} else if err != nil {
		return reconcile.Result{}, fmt.Errorf("pod %s: reading node %s: %w", req, pod.Spec.NodeName, err)
	}
	instanceID, err := InstanceID(node)
	if err != nil {
		return reconcile.Result{}, err
	}
	ref := eni.PodRef{Namespace: pod.Namespace, Name: pod.Name, UID: string(pod.UID)}
	if pod.Annotations[podeni.AnnotationKey] != "" {
		r.hold(req.NamespacedName, holder{instanceID, ref})
		return reconcile.Result{}, nil
	}
	if !pod.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, nil // being deleted before it got an ENI
	}
	var sa *corev1.ServiceAccount
	saObj := new(corev1.ServiceAccount)
	if err := r.Client.Get(ctx, types.NamespacedName{Namespace: pod.Namespace, Name: kube.ServiceAccountName(pod)}, saObj); err == nil {
		sa = saObj
	}
	res := r.Index.Match(kube.Pod(pod, sa))
	if res.Treatment != selector.TreatBranchENI {
		r.Events.Eventf(pod, nil, corev1.EventTypeWarning, "NoSecurityGroups", "AcquireBranchENI",
			"the pod requests %s but no SecurityGroupPolicy selects it now (%s); recreate it once a policy does", podeni.ResourceName, res)
		return reconcile.Result{}, nil
	}
	groups, err := eni.ParseGroupSet(res.Groups...)
	if err != nil {
		r.Events.Eventf(pod, nil, corev1.EventTypeWarning, "InvalidSecurityGroups", "AcquireBranchENI", "%v", err)
		return reconcile.Result{}, nil
	}
	got, err := r.Trunk.Acquire(ctx, instanceID, ref, groups)
	var capErr *eni.CapacityError
	switch {
	case errors.As(err, &capErr):
		r.Events.Eventf(pod, nil, corev1.EventTypeWarning, "NoBranchENICapacity", "AcquireBranchENI", "%v", err)
		wait := time.Until(capErr.NextCooled)
		if wait <= 0 {
			wait = time.Second
		}
		return reconcile.Result{RequeueAfter: wait}, nil
	case err != nil:
		r.Events.Eventf(pod, nil, corev1.EventTypeWarning, "BranchENIFailed", "AcquireBranchENI", "%v", err)
		return reconcile.Result{}, err
	}
	r.hold(req.NamespacedName, holder{instanceID, ref})
	switch err := r.annotate(ctx, pod, got.Annotation); {
	case apierrors.IsNotFound(err):
		// Deleted while its ENI was being prepared.
		r.release(req.NamespacedName, pod.UID)
		return reconcile.Result{}, nil
	case errors.Is(err, errReplaced):
		// Its successor is reconciled on its own events.
		r.release(req.NamespacedName, pod.UID)
		return reconcile.Result{RequeueAfter: time.Second}, nil
	case err != nil:
		// The ENI stays the pod's: the next attempt's Acquire returns it.
		return reconcile.Result{}, fmt.Errorf("pod %s: writing the %s annotation: %w", req, podeni.AnnotationKey, err)
	}
	r.Events.Eventf(pod, nil, corev1.EventTypeNormal, "BranchENIAssigned", "AcquireBranchENI",
		"branch ENI %s (VLAN %d, %s) with groups %s", got.Branch.ENI.ID, got.Branch.ENI.VLANID, got.Branch.ENI.PrivateIP, groups)
	return reconcile.Result{}, nil
}

// node returns a node from the cache or, when the cache does not know it
// (yet), from the API server.
func (r *PodReconciler) node(ctx context.Context, name string) (*corev1.Node, error) {
	node := new(corev1.Node)
	err := r.Client.Get(ctx, types.NamespacedName{Name: name}, node)
	if apierrors.IsNotFound(err) && r.APIReader != nil {
		err = r.APIReader.Get(ctx, types.NamespacedName{Name: name}, node)
	}
	return node, err
}

// annotate writes value as the pod's vpc.amazonaws.com/pod-eni annotation,
// with the pod's resourceVersion as a precondition: the write lands only on
// the version of the pod the ENI was prepared for, never on a stale copy's
// successor. On a conflict it reads the pod again from the API server and
// retries while it is the same pod (same UID) and has no annotation yet. It
// returns a NotFound error when the pod is gone, and errReplaced when another
// pod has taken its name.
func (r *PodReconciler) annotate(ctx context.Context, pod *corev1.Pod, value string) error {
	key := client.ObjectKeyFromObject(pod)
	cur := pod
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if cur == nil {
			fresh := new(corev1.Pod)
			if err := r.APIReader.Get(ctx, key, fresh); err != nil {
				return err
			}
			cur = fresh
		}
		if cur.UID != pod.UID {
			return errReplaced
		}
		switch v := cur.Annotations[podeni.AnnotationKey]; v {
		case value:
			return nil
		case "":
		default:
			return fmt.Errorf("the pod already names another branch ENI (%s)", v)
		}
		cur = cur.DeepCopy()
		patch := client.MergeFromWithOptions(cur.DeepCopy(), client.MergeFromWithOptimisticLock{})
		if cur.Annotations == nil {
			cur.Annotations = map[string]string{}
		}
		cur.Annotations[podeni.AnnotationKey] = value
		err := r.Client.Patch(ctx, cur, patch)
		if apierrors.IsConflict(err) {
			cur = nil
		}
		return err
	})
}

// hold records that the pod key holds an ENI. A holder of the same name but
// another UID — a pod deleted and created again while the controller missed
// the deletion — gives its ENI back.
func (r *PodReconciler) hold(key types.NamespacedName, h holder) {
	r.mu.Lock()
	if r.holders == nil {
		r.holders = map[types.NamespacedName]holder{}
	}
	old, had := r.holders[key]
	r.holders[key] = h
	r.mu.Unlock()
	if had && old.pod.UID != h.pod.UID {
		r.Trunk.Release(old.instanceID, old.pod)
	}
}

// release returns the ENI of the pod key (of the given UID, when set) to its
// node's pool.
func (r *PodReconciler) release(key types.NamespacedName, uid types.UID) {
	r.mu.Lock()
	h, ok := r.holders[key]
	if ok && (uid == "" || h.pod.UID == string(uid)) {
		delete(r.holders, key)
	} else {
		ok = false
	}
	r.mu.Unlock()
	if ok {
		r.Trunk.Release(h.instanceID, h.pod)
	}
}

// RequestsPodENI reports whether a container of pod requests the
// vpc.amazonaws.com/pod-eni resource the mutating webhook adds.
func RequestsPodENI(pod *corev1.Pod) bool {
	for _, c := range pod.Spec.Containers {
		if _, ok := c.Resources.Requests[podeni.ResourceName]; ok {
			return true
		}
		if _, ok := c.Resources.Limits[podeni.ResourceName]; ok {
			return true
		}
	}
	return false
}

// podENIRequested passes events of pods that request a branch ENI: the pod
// reconciler ignores every other pod, so a large cluster's churn of ordinary
// pods costs it nothing.
var podENIRequested = predicate.NewPredicateFuncs(func(o client.Object) bool {
	pod, ok := o.(*corev1.Pod)
	return ok && RequestsPodENI(pod)
})

// nodeChanged passes node creations and deletions, and only those updates
// that matter to the node reconciler (provider ID, trunk label, pod-eni
// capacity), not the kubelet's status heartbeats.
var nodeChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		old, ok1 := e.ObjectOld.(*corev1.Node)
		cur, ok2 := e.ObjectNew.(*corev1.Node)
		if !ok1 || !ok2 {
			return true
		}
		oldCap, cur1 := old.Status.Capacity[podeni.ResourceName]
		newCap, cur2 := cur.Status.Capacity[podeni.ResourceName]
		return old.Spec.ProviderID != cur.Spec.ProviderID ||
			old.Labels[TrunkAttachedLabel] != cur.Labels[TrunkAttachedLabel] ||
			cur1 != cur2 || oldCap.Cmp(newCap) != 0 ||
			!cur.DeletionTimestamp.IsZero()
	},
}

func waitReady(ctx context.Context, ready <-chan struct{}) error {
	if ready == nil {
		return nil
	}
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Rebuild restores the controller's state after a start or a leader change:
// for every node of the shard, the branch ENIs EC2 reports are matched with
// the live pods that name them in their annotation; ENIs of pods that ended
// while no controller ran go to cool-down. The pod list is complete (read
// from the API server), so nothing is held back. Each node is rebuilt on its
// own: a node that fails (its instance is gone, its type cannot trunk, an
// EC2 error) gets an event and is left to the node reconciler, and ready is
// closed with the healthy nodes served. Rebuild fails only when it cannot
// list the cluster's nodes and pods, or ctx ends.
func Rebuild(ctx context.Context, c client.Reader, m *trunk.Manager, pods *PodReconciler, events eventer, shard Shard, ready chan<- struct{}) error {
	var nodes corev1.NodeList
	if err := c.List(ctx, &nodes); err != nil {
		return fmt.Errorf("rebuild: listing nodes: %w", err)
	}
	var podList corev1.PodList
	if err := c.List(ctx, &podList); err != nil {
		return fmt.Errorf("rebuild: listing pods: %w", err)
	}
	byNode := map[string]*NodePods{}
	var order []string
	for i := range nodes.Items {
		n := &nodes.Items[i]
		id, err := InstanceID(n)
		if err != nil || !shard.Owns(n.Name) {
			continue
		}
		byNode[n.Name] = &NodePods{InstanceID: id, node: n}
		order = append(order, n.Name)
	}
	for i := range podList.Items {
		p := &podList.Items[i]
		np := byNode[p.Spec.NodeName]
		if np == nil || !RequestsPodENI(p) || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		ref := eni.PodRef{Namespace: p.Namespace, Name: p.Name, UID: string(p.UID)}
		live := eni.LivePod{Pod: ref}
		if v := p.Annotations[podeni.AnnotationKey]; v != "" {
			if b, err := podeni.Parse(v); err == nil {
				live.ENIID = b[0].ID
				pods.hold(types.NamespacedName{Namespace: p.Namespace, Name: p.Name}, holder{np.InstanceID, ref})
			}
		}
		np.Pods = append(np.Pods, live)
	}
	in := make([]trunk.NodePods, 0, len(order))
	for _, name := range order {
		np := byNode[name]
		in = append(in, trunk.NodePods{InstanceID: np.InstanceID, Pods: np.Pods, Complete: true})
	}
	if len(in) > 0 {
		results, err := m.ReconcileAll(ctx, in)
		if err != nil {
			return fmt.Errorf("rebuild: %w", err)
		}
		for _, name := range order {
			np := byNode[name]
			switch err := results[np.InstanceID].Err; {
			case err == nil:
			case errors.Is(err, trunk.ErrTrunkingUnsupported):
				events.Eventf(np.node, nil, corev1.EventTypeNormal, "TrunkingUnsupported", "Rebuild",
					"%v; pods with security groups are not scheduled here", err)
			default:
				events.Eventf(np.node, nil, corev1.EventTypeWarning, "RebuildFailed", "Rebuild",
					"%v; the node reconciler sets it up again, and its branch ENIs are kept until the next rebuild", err)
			}
		}
	}
	close(ready)
	return nil
}

// NodePods gathers one node's live pods during Rebuild.
type NodePods struct {
	InstanceID string
	Pods       []eni.LivePod
	node       *corev1.Node
}
