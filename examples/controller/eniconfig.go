package main

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/podsg/podsg/trunk"
)

// Custom networking. The VPC CNI plugin gives a node's pods addresses from
// another subnet than the node's when AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG is
// true: the subnet (and security groups) of the node's ENIConfig, a
// cluster-scoped object of the CNI's CRD crd.k8s.amazonaws.com/v1alpha1.
// The VPC resource controller then creates the node's trunk ENI in that
// subnet with those groups, and its branch ENIs in that subnet. This
// controller does the same when run with -custom-networking, through
// ENIConfigs and trunk.Options.CustomNetworking.
//
// The ENIConfig CRD is the VPC CNI plugin's, installed with it; this
// controller only reads ENIConfigs, with its own Go types below.

// ENIConfigGroupVersion is the API group and version of the VPC CNI
// plugin's ENIConfig.
var ENIConfigGroupVersion = schema.GroupVersion{Group: "crd.k8s.amazonaws.com", Version: "v1alpha1"}

// ENIConfigSpec is what an ENIConfig says: the subnet of the node's pods and
// the security groups of the interfaces the CNI (and the trunk) gets there.
// The JSON names are the CNI's (aws/amazon-vpc-cni-k8s,
// pkg/apis/crd/v1alpha1/eniconfig_types.go).
type ENIConfigSpec struct {
	SecurityGroups []string `json:"securityGroups"`
	Subnet         string   `json:"subnet"`
}

// ENIConfig is the VPC CNI plugin's ENIConfig, as this controller reads it.
type ENIConfig struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec ENIConfigSpec `json:"spec,omitempty"`
}

// ENIConfigList is a list of ENIConfigs.
type ENIConfigList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ENIConfig `json:"items"`
}

// DeepCopyInto copies c into out.
func (c *ENIConfig) DeepCopyInto(out *ENIConfig) {
	*out = *c
	out.TypeMeta = c.TypeMeta
	c.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	out.Spec.SecurityGroups = slices.Clone(c.Spec.SecurityGroups)
}

// DeepCopy returns a copy of c.
func (c *ENIConfig) DeepCopy() *ENIConfig {
	if c == nil {
		return nil
	}
	out := new(ENIConfig)
	c.DeepCopyInto(out)
	return out
}

// DeepCopyObject implements runtime.Object.
func (c *ENIConfig) DeepCopyObject() runtime.Object { return c.DeepCopy() }

// DeepCopyObject implements runtime.Object.
func (l *ENIConfigList) DeepCopyObject() runtime.Object {
	if l == nil {
		return nil
	}
	out := new(ENIConfigList)
	*out = *l
	l.ListMeta.DeepCopyInto(&out.ListMeta)
	if l.Items != nil {
		out.Items = make([]ENIConfig, len(l.Items))
		for i := range l.Items {
			l.Items[i].DeepCopyInto(&out.Items[i])
		}
	}
	return out
}

// AddENIConfigToScheme registers ENIConfig and ENIConfigList with s.
func AddENIConfigToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(ENIConfigGroupVersion, &ENIConfig{}, &ENIConfigList{})
	metav1.AddToGroupVersion(s, ENIConfigGroupVersion)
	return nil
}

// Where a node's ENIConfig name comes from.
const (
	// ResourceControllerENIConfigLabel is the node label the VPC resource
	// controller reads a node's ENIConfig name from (with the CNINode
	// feature CustomNetworking, which the VPC CNI plugin writes; see
	// ENIConfigs.Name).
	ResourceControllerENIConfigLabel = "vpc.amazonaws.com/eniConfig"
	// ExternalENIConfigLabel is the node label that names a node's
	// ENIConfig when it is managed out of band (kubelet flags and the
	// like); the VPC CNI plugin gives it precedence.
	ExternalENIConfigLabel = "vpc.amazonaws.com/externalEniConfig"
	// DefaultENIConfigKey is the annotation and label the VPC CNI plugin
	// reads a node's ENIConfig name from unless ENI_CONFIG_ANNOTATION_DEF or
	// ENI_CONFIG_LABEL_DEF name others.
	DefaultENIConfigKey = "k8s.amazonaws.com/eniConfig"
	// DefaultENIConfigName is the name the VPC CNI plugin falls back on.
	// It does not tell the VPC resource controller to use custom
	// networking for branch ENIs (the plugin only registers other names),
	// and it does not tell this controller either.
	DefaultENIConfigName = "default"
)

// nodeInstanceIDIndex is the field index of nodes by EC2 instance ID that
// ENIConfigs uses to find the node of an instance.
const nodeInstanceIDIndex = "podsg.instanceID"

// indexNodeInstanceID indexes a node by its instance ID.
func indexNodeInstanceID(o client.Object) []string {
	n, ok := o.(*corev1.Node)
	if !ok {
		return nil
	}
	id, err := InstanceID(n)
	if err != nil {
		return nil
	}
	return []string{id}
}

// ENIConfigs resolves a node's custom network from its ENIConfig, as the
// VPC CNI plugin and the VPC resource controller do together. Its
// CustomNetwork method is a trunk.Options.CustomNetworking. It is safe for
// concurrent use.
type ENIConfigs struct {
	// Reader reads nodes, indexed by instance ID (nodeInstanceIDIndex),
	// and ENIConfigs. Required.
	Reader client.Reader
	// LabelDef and AnnotationDef are the node label and annotation that
	// name a node's ENIConfig, the VPC CNI plugin's ENI_CONFIG_LABEL_DEF
	// and ENI_CONFIG_ANNOTATION_DEF (topology.kubernetes.io/zone, for
	// ENIConfigs named after zones). Empty means DefaultENIConfigKey.
	LabelDef, AnnotationDef string
}

// Name returns the name of the node's ENIConfig, or "" when the node has
// none. In order: the label the VPC resource controller reads
// (ResourceControllerENIConfigLabel); then, as the VPC CNI plugin chooses
// the name it registers for the resource controller
// (pkg/eniconfig/eniconfig.go, GetNodeSpecificENIConfigName), the
// ExternalENIConfigLabel label, the AnnotationDef annotation, the LabelDef
// label. DefaultENIConfigName, the plugin's fall-back, is none.
func (c *ENIConfigs) Name(node *corev1.Node) string {
	if v := node.Labels[ResourceControllerENIConfigLabel]; v != "" {
		return v
	}
	name, ok := node.Labels[ExternalENIConfigLabel]
	if !ok {
		name, ok = node.Annotations[orDefault(c.AnnotationDef)]
	}
	if !ok {
		name = node.Labels[orDefault(c.LabelDef)]
	}
	if name == DefaultENIConfigName {
		return ""
	}
	return name
}

func orDefault(key string) string {
	if key == "" {
		return DefaultENIConfigKey
	}
	return key
}

// ForNode returns the custom network of node: the subnet and security
// groups of its ENIConfig, or the zero CustomNetwork when it has none or
// its ENIConfig names no subnet (the VPC resource controller then uses the
// node's own subnet and primary ENI's groups). An ENIConfig that does not
// exist is an error, as it is for the resource controller.
func (c *ENIConfigs) ForNode(ctx context.Context, node *corev1.Node) (trunk.CustomNetwork, error) {
	name := c.Name(node)
	if name == "" {
		return trunk.CustomNetwork{}, nil
	}
	var ec ENIConfig
	if err := c.Reader.Get(ctx, types.NamespacedName{Name: name}, &ec); err != nil {
		if apierrors.IsNotFound(err) {
			return trunk.CustomNetwork{}, fmt.Errorf("node %s: its ENIConfig %q does not exist; create it, or correct the node's label", node.Name, name)
		}
		return trunk.CustomNetwork{}, fmt.Errorf("node %s: reading its ENIConfig %q: %w", node.Name, name, err)
	}
	if ec.Spec.Subnet == "" {
		return trunk.CustomNetwork{}, nil
	}
	return trunk.CustomNetwork{SubnetID: ec.Spec.Subnet, SecurityGroups: slices.Clone(ec.Spec.SecurityGroups)}, nil
}

// CustomNetwork returns the custom network of the node of an instance; it
// is a trunk.Options.CustomNetworking.
func (c *ENIConfigs) CustomNetwork(ctx context.Context, instanceID string) (trunk.CustomNetwork, error) {
	var nodes corev1.NodeList
	if err := c.Reader.List(ctx, &nodes, client.MatchingFields{nodeInstanceIDIndex: instanceID}); err != nil {
		return trunk.CustomNetwork{}, fmt.Errorf("finding the node of instance %s: %w", instanceID, err)
	}
	switch len(nodes.Items) {
	case 0:
		// Only nodes reach the trunk manager; one deleted meanwhile is
		// served as it was made.
		return trunk.CustomNetwork{}, fmt.Errorf("no node has instance %s (provider ID aws:///<zone>/%s)", instanceID, instanceID)
	case 1:
		return c.ForNode(ctx, &nodes.Items[0])
	default:
		return trunk.CustomNetwork{}, fmt.Errorf("%d nodes have instance %s", len(nodes.Items), instanceID)
	}
}

// nodesUsing returns the requests of the nodes whose ENIConfig is the one
// that changed, so that they take its new subnet and groups.
func (c *ENIConfigs) nodesUsing(ctx context.Context, o client.Object) []reconcile.Request {
	var nodes corev1.NodeList
	if err := c.Reader.List(ctx, &nodes); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range nodes.Items {
		if c.Name(&nodes.Items[i]) == o.GetName() {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Name: nodes.Items[i].Name}})
		}
	}
	return out
}

// selectionChanged passes node updates that may change the node's ENIConfig
// name: a change of any label or annotation Name reads.
func (c *ENIConfigs) selectionChanged() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return false },
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			old, ok1 := e.ObjectOld.(*corev1.Node)
			cur, ok2 := e.ObjectNew.(*corev1.Node)
			return ok1 && ok2 && c.Name(old) != c.Name(cur)
		},
	}
}

// setupCustomNetworking registers what -custom-networking needs with mgr:
// the index of nodes by instance ID, and a node controller that runs the
// node reconciler again (which asks the trunk manager for the node's
// network again, through EnsureNode) when a node's ENIConfig name changes
// or its ENIConfig does.
func setupCustomNetworking(ctx context.Context, mgr manager.Manager, c *ENIConfigs, nodes *NodeReconciler) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &corev1.Node{}, nodeInstanceIDIndex, indexNodeInstanceID); err != nil {
		return fmt.Errorf("indexing nodes by instance ID: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).Named("node-custom-networking").
		For(&corev1.Node{}, builder.WithPredicates(c.selectionChanged())).
		Watches(&ENIConfig{}, handler.EnqueueRequestsFromMapFunc(c.nodesUsing)).
		Complete(nodes)
}
