package main

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	clientfake "sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/podsg/podsg/api/podeni"
	"github.com/podsg/podsg/api/v1beta1"
	"github.com/podsg/podsg/eni"
	"github.com/podsg/podsg/fake"
	"github.com/podsg/podsg/selector"
	"github.com/podsg/podsg/trunk"
)

const zoneLabel = "topology.kubernetes.io/zone"

func TestENIConfigName(t *testing.T) {
	tests := []struct {
		name        string
		labels      map[string]string
		annotations map[string]string
		defs        ENIConfigs
		want        string
	}{
		{"none", nil, nil, ENIConfigs{}, ""},
		{"default label", map[string]string{DefaultENIConfigKey: "az-a"}, nil, ENIConfigs{}, "az-a"},
		{"default annotation", nil, map[string]string{DefaultENIConfigKey: "az-a"}, ENIConfigs{}, "az-a"},
		{"annotation before label", map[string]string{DefaultENIConfigKey: "label"}, map[string]string{DefaultENIConfigKey: "annotation"}, ENIConfigs{}, "annotation"},
		{"external label first", map[string]string{ExternalENIConfigLabel: "external", DefaultENIConfigKey: "label"}, map[string]string{DefaultENIConfigKey: "annotation"}, ENIConfigs{}, "external"},
		{"the resource controller's label first of all", map[string]string{ResourceControllerENIConfigLabel: "rc", ExternalENIConfigLabel: "external"}, nil, ENIConfigs{}, "rc"},
		{"label def: the zone", map[string]string{zoneLabel: "us-west-2b", DefaultENIConfigKey: "ignored"}, nil, ENIConfigs{LabelDef: zoneLabel}, "us-west-2b"},
		{"annotation def", nil, map[string]string{"example.com/eni": "custom", DefaultENIConfigKey: "ignored"}, ENIConfigs{AnnotationDef: "example.com/eni"}, "custom"},
		{"the CNI's fall-back is none", map[string]string{DefaultENIConfigKey: DefaultENIConfigName}, nil, ENIConfigs{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n", Labels: tt.labels, Annotations: tt.annotations}}
			require.Equal(t, tt.want, tt.defs.Name(n))
		})
	}
}

// cnEnv is the tutorial's world with custom networking: a subnet per zone
// for pods, an ENIConfig per zone naming it and a trunk group, and nodes
// labelled with their zone, the controller choosing ENIConfigs by that label
// (ENI_CONFIG_LABEL_DEF=topology.kubernetes.io/zone).
type cnEnv struct {
	t        *testing.T
	ec2      *fake.EC2
	tut      fake.Tutorial
	client   client.WithWatch
	rec      *events.FakeRecorder
	cfgs     *ENIConfigs
	tm       *trunk.Manager
	nodes    *NodeReconciler
	pods     *PodReconciler
	index    *selector.Index
	names    []string          // node names, in the tutorial's order
	subnets  map[string]string // zone → pod subnet
	trunkSG  string
	podGroup string
	ipv6     bool
}

// newCNEnv builds the world, the IPv6 tutorial's for ipv6; start runs the
// controller on it, for an IPv6 cluster with ipv6.
func newCNEnv(t *testing.T, ipv6 bool) *cnEnv {
	t.Helper()
	f := fake.New()
	seed := fake.SeedTutorial
	if ipv6 {
		seed = fake.SeedTutorialIPv6
	}
	tut, err := seed(t.Context(), f)
	require.NoError(t, err)
	e := &cnEnv{t: t, ec2: f, tut: tut, rec: events.NewFakeRecorder(1000), subnets: map[string]string{}, podGroup: tut.PodSecurityGroupID, ipv6: ipv6}
	e.trunkSG = f.AddSecurityGroup(tut.VPCID, "eniconfig-trunks")
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "my-namespace"}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "my-namespace", Name: "default"}},
		&v1beta1.SecurityGroupPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: "my-namespace", Name: "my-security-group-policy"},
			Spec: v1beta1.SecurityGroupPolicySpec{
				PodSelector:    &metav1.LabelSelector{MatchLabels: map[string]string{"role": "my-role"}},
				SecurityGroups: v1beta1.GroupIDs{Groups: []string{tut.PodSecurityGroupID}},
			},
		},
	}
	for i, z := range []string{"a", "b", "c"} {
		zone := f.Region() + z
		e.subnets[zone] = f.AddSubnet(tut.VPCID, fmt.Sprintf("192.168.%d.0/19", 128+32*i), zone)
		objs = append(objs, &ENIConfig{ObjectMeta: metav1.ObjectMeta{Name: zone},
			Spec: ENIConfigSpec{Subnet: e.subnets[zone], SecurityGroups: []string{e.trunkSG}}})
	}
	for i, n := range tut.Nodes {
		zone := f.Region() + []string{"a", "b", "c"}[i%3]
		name := "ip-" + strings.ReplaceAll(n.PrivateIP, ".", "-") + ".us-west-2.compute.internal"
		e.names = append(e.names, name)
		objs = append(objs, &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{zoneLabel: zone}},
			Spec:       corev1.NodeSpec{ProviderID: "aws:///" + zone + "/" + n.InstanceID},
		})
	}
	scheme := runtime.NewScheme()
	require.NoError(t, cnScheme(scheme))
	e.client = clientfake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).WithStatusSubresource(&corev1.Node{}).
		WithIndex(&corev1.Node{}, nodeInstanceIDIndex, indexNodeInstanceID).Build()
	e.cfgs = &ENIConfigs{Reader: e.client, LabelDef: zoneLabel}
	return e
}

// cnScheme registers the types the test cluster holds.
func cnScheme(s *runtime.Scheme) error {
	if err := corev1.AddToScheme(s); err != nil {
		return err
	}
	if err := v1beta1.AddToScheme(s); err != nil {
		return err
	}
	return AddENIConfigToScheme(s)
}

// start runs a new trunk manager and controllers, rebuilt from EC2 and the
// cluster, as the controller does on start.
func (e *cnEnv) start() {
	tm, err := trunk.New(e.ec2, trunk.Options{ClusterName: e.tut.ClusterName, CustomNetworking: e.cfgs.CustomNetwork,
		Policy: eni.Policy{MaxWarm: eni.NoWarm}, IPv6: e.ipv6})
	require.NoError(e.t, err)
	e.tm = tm
	e.index = selector.NewIndex(selector.Options{})
	ready := make(chan struct{})
	e.nodes = &NodeReconciler{Client: e.client, Trunk: tm, Events: e.rec, Ready: ready}
	e.pods = &PodReconciler{Client: e.client, APIReader: e.client, Trunk: tm, Index: e.index, Events: e.rec, Ready: ready}
	require.NoError(e.t, Rebuild(e.t.Context(), e.client, tm, e.pods, e.rec, Shard{}, ready))
	policies := &PolicyReconciler{Client: e.client, Index: e.index, Events: e.rec}
	_, err = policies.Reconcile(e.t.Context(), reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "my-namespace", Name: "my-security-group-policy"}})
	require.NoError(e.t, err)
}

func (e *cnEnv) reconcile(r reconcile.Reconciler, namespace, name string) error {
	_, err := r.Reconcile(e.t.Context(), reconcile.Request{NamespacedName: types.NamespacedName{Namespace: namespace, Name: name}})
	return err
}

// runPod creates a pod requesting a branch ENI on node, reconciles it and
// returns its annotation's branch ENI.
func (e *cnEnv) runPod(name, node string) podeni.BranchENI {
	e.t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "my-namespace", Name: name, Labels: map[string]string{"role": "my-role"}, UID: types.UID("uid-" + name)},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "nginx", Image: "nginx",
			Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{podeni.ResourceName: resource.MustParse("1")}}}}},
	}
	require.NoError(e.t, e.client.Create(e.t.Context(), p))
	require.NoError(e.t, e.reconcile(e.pods, p.Namespace, p.Name))
	require.NoError(e.t, e.client.Get(e.t.Context(), client.ObjectKeyFromObject(p), p))
	b, err := podeni.Parse(p.Annotations[podeni.AnnotationKey])
	require.NoError(e.t, err, "pod %s", name)
	return b[0]
}

func (e *cnEnv) describe(id string) ec2types.NetworkInterface {
	e.t.Helper()
	out, err := e.ec2.DescribeNetworkInterfaces(e.t.Context(), &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{id}})
	require.NoError(e.t, err)
	return out.NetworkInterfaces[0]
}

func (e *cnEnv) cidr(subnet string) netip.Prefix {
	e.t.Helper()
	out, err := e.ec2.DescribeSubnets(e.t.Context(), &ec2.DescribeSubnetsInput{SubnetIds: []string{subnet}})
	require.NoError(e.t, err)
	return netip.MustParsePrefix(aws.ToString(out.Subnets[0].CidrBlock))
}

func (e *cnEnv) node(name string) *corev1.Node {
	e.t.Helper()
	n := new(corev1.Node)
	require.NoError(e.t, e.client.Get(e.t.Context(), types.NamespacedName{Name: name}, n))
	return n
}

// TestCustomNetworking runs the controller with custom networking: each
// node's trunk ENI is created in its ENIConfig's subnet with its groups, and
// its pods get addresses from that subnet, as with the VPC resource
// controller; a node whose ENIConfig name is "default" keeps its own subnet.
func TestCustomNetworking(t *testing.T) {
	e := newCNEnv(t, false)
	ctx := t.Context()
	// The last node falls back on the CNI's "default": no custom network.
	plain := e.node(e.names[4])
	plain.Labels[zoneLabel] = DefaultENIConfigName
	require.NoError(t, e.client.Update(ctx, plain))
	e.start()

	for i, name := range e.names {
		require.NoError(t, e.reconcile(e.nodes, "", name))
		info := e.tm.Nodes()
		var trunkID, subnet string
		for _, in := range info {
			if in.InstanceID == e.tut.Nodes[i].InstanceID {
				trunkID, subnet = in.TrunkENIID, in.SubnetID
			}
		}
		tr := e.describe(trunkID)
		b := e.runPod(fmt.Sprintf("web-%d", i), name)
		ni := e.describe(b.ID)
		if i == 4 {
			require.Equal(t, e.tut.Nodes[i].SubnetID, subnet)
			require.Equal(t, e.tut.Nodes[i].SubnetID, aws.ToString(tr.SubnetId))
			require.Equal(t, e.tut.Nodes[i].SubnetID, aws.ToString(ni.SubnetId))
			continue
		}
		zone := e.node(name).Labels[zoneLabel]
		want := e.subnets[zone]
		require.Equal(t, want, subnet, "node %s serves its ENIConfig's subnet", name)
		require.Equal(t, want, aws.ToString(tr.SubnetId), "the trunk goes to the ENIConfig's subnet")
		require.Equal(t, e.trunkSG, aws.ToString(tr.Groups[0].GroupId), "the trunk gets the ENIConfig's group")
		require.Len(t, tr.Groups, 1)
		require.Equal(t, want, aws.ToString(ni.SubnetId), "the branch ENI goes to the ENIConfig's subnet")
		require.Equal(t, e.podGroup, aws.ToString(ni.Groups[0].GroupId), "the branch ENI has the pod's group")
		require.True(t, e.cidr(want).Contains(b.PrivateIP), "pod address %s not from %s", b.PrivateIP, e.cidr(want))
		require.Equal(t, e.cidr(want), b.SubnetCIDR, "the annotation names the ENIConfig subnet's CIDR")
	}

	// A restart: the new manager serves the nodes in their ENIConfigs'
	// subnets, and the pods keep their ENIs.
	e.tm.Close()
	e.start()
	st := e.tm.Metrics().Pools
	require.Equal(t, 5, st.InUse)
	served := map[string]string{}
	for _, in := range e.tm.Nodes() {
		served[in.InstanceID] = in.SubnetID
	}
	for i, n := range e.tut.Nodes {
		want := e.subnets[e.node(e.names[i]).Labels[zoneLabel]]
		if i == 4 {
			want = n.SubnetID
		}
		require.Equal(t, want, served[n.InstanceID], "node %d after the restart", i)
	}
	b := e.runPod("after-restart", e.names[0])
	require.Equal(t, e.subnets[e.zoneA()], aws.ToString(e.describe(b.ID).SubnetId))
}

func (e *cnEnv) zoneA() string { return e.ec2.Region() + "a" }

// TestCustomNetworkingChanges changes a node's ENIConfig, and an ENIConfig's
// subnet: the watches pass the change to the node reconciler, and the
// node's new pods get addresses from the new subnet.
func TestCustomNetworkingChanges(t *testing.T) {
	e := newCNEnv(t, false)
	e.start()
	ctx := t.Context()
	name := e.names[0] // zone a, as names[3]
	require.NoError(t, e.reconcile(e.nodes, "", name))
	first := e.runPod("first", name)
	require.True(t, e.cidr(e.subnets[e.zoneA()]).Contains(first.PrivateIP))

	// The ENIConfig gets another subnet of the zone.
	moved := e.ec2.AddSubnet(e.tut.VPCID, "192.168.224.0/19", e.zoneA())
	ec := new(ENIConfig)
	require.NoError(t, e.client.Get(ctx, types.NamespacedName{Name: e.zoneA()}, ec))
	ec.Spec.Subnet = moved
	require.NoError(t, e.client.Update(ctx, ec))
	reqs := e.cfgs.nodesUsing(ctx, ec)
	require.ElementsMatch(t, []reconcile.Request{{NamespacedName: types.NamespacedName{Name: name}}, {NamespacedName: types.NamespacedName{Name: e.names[3]}}},
		reqs, "the nodes of zone a")
	require.NoError(t, e.reconcile(e.nodes, "", name))
	second := e.runPod("second", name)
	require.True(t, e.cidr(moved).Contains(second.PrivateIP), "%s not from %s", second.PrivateIP, e.cidr(moved))

	// The node is labelled with another ENIConfig name (one with no
	// subnet): the predicate passes the change, and the node's own
	// subnet serves it again.
	require.NoError(t, e.client.Create(ctx, &ENIConfig{ObjectMeta: metav1.ObjectMeta{Name: "no-subnet"}}))
	old := e.node(name)
	cur := old.DeepCopy()
	cur.Labels[ResourceControllerENIConfigLabel] = "no-subnet"
	require.True(t, e.cfgs.selectionChanged().Update(event.UpdateEvent{ObjectOld: old, ObjectNew: cur}))
	require.False(t, e.cfgs.selectionChanged().Update(event.UpdateEvent{ObjectOld: old, ObjectNew: old.DeepCopy()}))
	require.NoError(t, e.client.Update(ctx, cur))
	require.NoError(t, e.reconcile(e.nodes, "", name))
	third := e.runPod("third", name)
	require.Equal(t, e.tut.Nodes[0].SubnetID, aws.ToString(e.describe(third.ID).SubnetId))
}

// TestCustomNetworkingMissingENIConfig labels a node with an ENIConfig
// that does not exist: the node is not served, with warning events, as the
// VPC resource controller fails such a node; the other nodes are served.
func TestCustomNetworkingMissingENIConfig(t *testing.T) {
	e := newCNEnv(t, false)
	n := e.node(e.names[0])
	n.Labels[zoneLabel] = "typo"
	require.NoError(t, e.client.Update(t.Context(), n))
	e.start()
	err := e.reconcile(e.nodes, "", n.Name)
	require.ErrorContains(t, err, `its ENIConfig "typo" does not exist`)
	var reasons []string
	for len(e.rec.Events) > 0 {
		ev := <-e.rec.Events
		if strings.Contains(ev, `"typo" does not exist`) {
			reasons = append(reasons, strings.Fields(ev)[1])
		}
	}
	require.Equal(t, []string{"RebuildFailed", "TrunkFailed"}, reasons)
	require.Len(t, e.tm.Nodes(), 4, "the other nodes are served")
	for _, in := range e.tm.Nodes() {
		require.NotEqual(t, e.tut.Nodes[0].InstanceID, in.InstanceID)
	}
	out, err := e.ec2.DescribeNetworkInterfaces(t.Context(), &ec2.DescribeNetworkInterfacesInput{Filters: []ec2types.Filter{
		{Name: aws.String("attachment.instance-id"), Values: []string{e.tut.Nodes[0].InstanceID}},
		{Name: aws.String("interface-type"), Values: []string{"trunk"}},
	}})
	require.NoError(t, err)
	require.Empty(t, out.NetworkInterfaces, "no trunk is made for the node")
}

// TestIPv6Cluster runs the controller for an IPv6 cluster (-ipv6) without
// custom networking: a pod's annotation carries its branch ENI's IPv6
// address and the subnet's IPv6 CIDR, which the CNI plugin of an IPv6 node
// gives the pod.
func TestIPv6Cluster(t *testing.T) {
	e := newCNEnv(t, true)
	e.cfgs.LabelDef = "example.com/no-such-label" // no node has an ENIConfig
	e.start()
	require.NoError(t, e.reconcile(e.nodes, "", e.names[0]))
	b := e.runPod("web", e.names[0])
	v6 := netip.MustParsePrefix(e.tut.SubnetIPv6CIDRs[0])
	require.Equal(t, v6, b.SubnetV6CIDR)
	require.True(t, v6.Contains(b.IPv6), "ipv6Addr %s outside %s", b.IPv6, v6)
	require.Equal(t, b.IPv6.String(), aws.ToString(e.describe(b.ID).Ipv6Address))
}
