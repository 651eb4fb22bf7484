package main

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/podsg/podsg/eni"
)

// Where the VPC resource controller takes the branch ENI cool-down from
// (VpcCniConfigMapName, KubeSystemNamespace and BranchENICooldownPeriodKey in
// pkg/config/type.go of aws/amazon-vpc-resource-controller-k8s): a number of
// seconds under this key of this ConfigMap, the VPC CNI plugin's.
const (
	CoolDownConfigMapNamespace = "kube-system"
	CoolDownConfigMapName      = "amazon-vpc-cni"
	CoolDownKey                = "branch-eni-cooldown"
)

// coolDowner is the part of trunk.Manager that CoolDownReconciler drives.
type coolDowner interface {
	SetCoolDown(time.Duration) time.Duration
	CoolDown() time.Duration
}

// ParseCoolDown reads the branch-eni-cooldown value of the amazon-vpc-cni
// ConfigMap as the VPC resource controller does
// (GetVpcCniConfigMapCoolDownPeriodOrDefault and GetCoolDownPeriod in
// pkg/provider/branch/cooldown/cooldown.go): a whole number of seconds in
// strconv.Atoi's syntax ("45", "+45", "-5"; not "45s" nor " 45"), and
// anything under 30 s, 0 and negative values included, gives 30 s. It
// returns an error naming the value for anything else, which the controller
// ignores. (Upstream also ignores numbers Atoi cannot hold; one that fits
// an int but not a time.Duration, beyond about 292 years, overflows there
// and is refused here.)
func ParseCoolDown(value string) (time.Duration, error) {
	n, err := strconv.Atoi(value)
	if err != nil {
		return 0, fmt.Errorf("%s %q: want a whole number of seconds, such as \"60\"", CoolDownKey, value)
	}
	switch {
	case n > int(math.MaxInt64/int64(time.Second)):
		return 0, fmt.Errorf("%s %q: more seconds than a cool-down can hold", CoolDownKey, value)
	case n < int(eni.MinCoolDown/time.Second):
		return eni.MinCoolDown, nil
	}
	return time.Duration(n) * time.Second, nil
}

// CoolDownReconciler sets the trunk manager's cool-down from the
// branch-eni-cooldown key of the amazon-vpc-cni ConfigMap in kube-system,
// when the ConfigMap is first seen (at start) and whenever it changes, as the
// VPC resource controller's ConfigMapReconciler does
// (controllers/core/configmap_controller.go): a valid value replaces the
// cool-down (raised to 30 s when lower); a missing ConfigMap or key, or a
// value that does not parse, leaves the current cool-down as it is (at start,
// the default of 60 s). It is safe for concurrent use.
type CoolDownReconciler struct {
	// Reader reads the ConfigMap (setup gives it a cache of that one
	// object).
	Reader client.Reader
	Trunk  coolDowner
	Events eventer
	Logger *slog.Logger
}

// Reconcile implements reconcile.Reconciler.
func (r *CoolDownReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	if req.Namespace != CoolDownConfigMapNamespace || req.Name != CoolDownConfigMapName {
		return reconcile.Result{}, nil
	}
	log := r.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	current := r.Trunk.CoolDown()
	cm := new(corev1.ConfigMap)
	if err := r.Reader.Get(ctx, req.NamespacedName, cm); apierrors.IsNotFound(err) {
		log.Info("ConfigMap not found: the branch ENI cool-down stays", "configMap", req.NamespacedName, "coolDown", current)
		return reconcile.Result{}, nil
	} else if err != nil {
		return reconcile.Result{}, fmt.Errorf("reading ConfigMap %s: %w", req.NamespacedName, err)
	}
	value, ok := cm.Data[CoolDownKey]
	if !ok {
		log.Info("no "+CoolDownKey+" key: the branch ENI cool-down stays", "configMap", req.NamespacedName, "coolDown", current)
		return reconcile.Result{}, nil
	}
	d, err := ParseCoolDown(value)
	if err != nil {
		log.Warn("the branch ENI cool-down stays", "configMap", req.NamespacedName, "coolDown", current, "error", err)
		if r.Events != nil {
			r.Events.Eventf(cm, nil, corev1.EventTypeWarning, "InvalidBranchENICoolDown", "SetCoolDown",
				"%v; the branch ENI cool-down stays %v", err, current)
		}
		return reconcile.Result{}, nil
	}
	if d == current {
		return reconcile.Result{}, nil
	}
	d = r.Trunk.SetCoolDown(d)
	log.Info("branch ENI cool-down updated", "configMap", req.NamespacedName, "value", value, "coolDown", d, "was", current)
	if r.Events != nil {
		r.Events.Eventf(cm, nil, corev1.EventTypeNormal, "BranchENICoolDownUpdated", "SetCoolDown",
			"branch ENI cool-down is now %v (%s: %q; was %v)", d, CoolDownKey, value, current)
	}
	return reconcile.Result{}, nil
}

// coolDownCache returns a cache that holds the amazon-vpc-cni ConfigMap of
// kube-system and nothing else: it lists and watches with a metadata.name
// field selector in that namespace, which RBAC can grant by resourceNames
// (config/rbac.yaml), as upstream's cache restricts its ConfigMap watch
// (main.go of aws/amazon-vpc-resource-controller-k8s).
func coolDownCache(mgr manager.Manager) (cache.Cache, error) {
	// The cache holds ConfigMaps only: a fixed mapping spares it the API
	// server's discovery.
	mapper := meta.NewDefaultRESTMapper([]schema.GroupVersion{corev1.SchemeGroupVersion})
	mapper.Add(corev1.SchemeGroupVersion.WithKind("ConfigMap"), meta.RESTScopeNamespace)
	return cache.New(mgr.GetConfig(), cache.Options{
		HTTPClient:        mgr.GetHTTPClient(),
		Scheme:            mgr.GetScheme(),
		Mapper:            mapper,
		DefaultNamespaces: map[string]cache.Config{CoolDownConfigMapNamespace: {}},
		ByObject: map[client.Object]cache.ByObject{
			&corev1.ConfigMap{}: {Field: fields.OneTermEqualSelector("metadata.name", CoolDownConfigMapName)},
		},
	})
}
