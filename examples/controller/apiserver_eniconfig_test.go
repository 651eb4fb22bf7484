package main

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/podsg/podsg/api/podeni"
)

// TestAPIServerCustomNetworking runs the controller with custom networking
// as EKS's guide sets it up: a pod subnet per zone, an ENIConfig per zone
// (named after it, applied with kubectl) naming the subnet and a group for
// the trunks, nodes labelled with their zone and the controller choosing
// ENIConfigs by that label (ENI_CONFIG_LABEL_DEF=topology.kubernetes.io/zone).
// Each node's trunk is made in its zone's subnet with the ENIConfig's group,
// and its pods get addresses from that subnet. Then the zone's ENIConfig
// names another subnet: the controller's watch passes it on, and the next
// pods of the zone get addresses from the new subnet.
func TestAPIServerCustomNetworking(t *testing.T) {
	w := newWorld(t, worldOptions{})
	ctx := t.Context()
	w.applyTutorialPolicy()
	const zoneLabel = "topology.kubernetes.io/zone"

	trunkSG := w.ec2.AddSecurityGroup(w.tut.VPCID, "custom-networking-trunks")
	subnets := map[string]string{}
	cidrOf := map[string]netip.Prefix{}
	var manifest strings.Builder
	for i, z := range []string{"a", "b", "c"} {
		zone := w.srv.Region() + z
		cidr := fmt.Sprintf("192.168.%d.0/19", 128+32*i)
		subnets[zone] = w.ec2.AddSubnet(w.tut.VPCID, cidr, zone)
		cidrOf[subnets[zone]] = netip.MustParsePrefix(cidr)
		fmt.Fprintf(&manifest, "---\napiVersion: crd.k8s.amazonaws.com/v1alpha1\nkind: ENIConfig\nmetadata:\n  name: %s\nspec:\n  subnet: %s\n  securityGroups: [%s]\n",
			zone, subnets[zone], trunkSG)
	}
	w.kubectl(w.c.Kubeconfig, "apply", "-f", writeTemp(t, manifest.String()))

	// The nodes' zones, as their kubelets label them.
	zones, err := w.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: w.tut.SubnetIDs})
	require.NoError(t, err)
	zoneOfSubnet := map[string]string{}
	for _, s := range zones.Subnets {
		zoneOfSubnet[aws.ToString(s.SubnetId)] = aws.ToString(s.AvailabilityZone)
	}
	zoneOf := map[string]string{} // node name → zone
	for i, n := range w.tut.Nodes {
		zone := zoneOfSubnet[n.SubnetID]
		zoneOf[w.nodes[i].Name] = zone
		_, err := w.c.Clientset.CoreV1().Nodes().Patch(ctx, w.nodes[i].Name, types.MergePatchType,
			fmt.Appendf(nil, `{"metadata":{"labels":{%q:%q}}}`, zoneLabel, zone), metav1.PatchOptions{})
		require.NoError(t, err)
	}

	w.startController("podsg-controller", "-custom-networking", "-eni-config-label-def="+zoneLabel)
	for i, n := range w.nodes {
		waitFor(t, 30*time.Second, "node "+n.Name+" has a trunk", func() bool {
			node := new(corev1.Node)
			require.NoError(t, w.c.Client.Get(ctx, types.NamespacedName{Name: n.Name}, node))
			return node.Labels[TrunkAttachedLabel] == "true"
		})
		tr := w.describe(w.trunkOf(w.tut.Nodes[i].InstanceID))
		require.Equal(t, subnets[zoneOf[n.Name]], aws.ToString(tr.SubnetId), "node %s: the trunk is in its ENIConfig's subnet", n.Name)
		require.Equal(t, []string{trunkSG}, groupsOf(tr), "node %s: the trunk has its ENIConfig's group", n.Name)
	}

	dep := w.tutorialDeployment()
	for i, n := range w.nodes[:3] {
		p := w.startPod(dep, fmt.Sprintf("my-deployment-5df6f7687b-cn%d", i), n.Name)
		b := w.annotation(p, time.Minute)
		sub := subnets[zoneOf[n.Name]]
		require.True(t, cidrOf[sub].Contains(netip.MustParseAddr(b.IP)), "pod on %s: %s is not from its ENIConfig's subnet %s", n.Name, b.IP, cidrOf[sub])
		require.Equal(t, sub, aws.ToString(w.describe(b.ID).SubnetId))
		require.Equal(t, cidrOf[sub], w.subnetCIDR(p), "the annotation names the ENIConfig subnet's CIDR")
	}

	// The first node's zone moves to another subnet.
	node := w.nodes[0]
	zone := zoneOf[node.Name]
	moved := w.ec2.AddSubnet(w.tut.VPCID, "192.168.224.0/19", zone)
	w.kubectl(w.c.Kubeconfig, "patch", "eniconfig", zone, "--type=merge", "-p", fmt.Sprintf(`{"spec":{"subnet":%q}}`, moved))
	movedCIDR := netip.MustParsePrefix("192.168.224.0/19")
	tries := 0
	waitFor(t, 30*time.Second, "a new pod of "+zone+" gets an address from the moved subnet", func() bool {
		tries++
		p := w.startPod(dep, fmt.Sprintf("my-deployment-5df6f7687b-mv%d", tries), node.Name)
		b := w.annotation(p, time.Minute)
		if movedCIDR.Contains(netip.MustParseAddr(b.IP)) {
			require.Equal(t, moved, aws.ToString(w.describe(b.ID).SubnetId))
			return true
		}
		w.deletePod(p)
		return false
	})
}

// describe returns EC2's description of a network interface.
func (w *world) describe(id string) ec2types.NetworkInterface {
	w.t.Helper()
	out, err := w.ec2.DescribeNetworkInterfaces(w.t.Context(), &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{id}})
	require.NoError(w.t, err)
	return out.NetworkInterfaces[0]
}

// subnetCIDR returns the subnetCidr of the pod's annotation.
func (w *world) subnetCIDR(pod *corev1.Pod) netip.Prefix {
	w.t.Helper()
	b, err := podeni.Parse(w.pods.waitAnnotated(w.t, pod.UID, 0).value)
	require.NoError(w.t, err)
	return b[0].SubnetCIDR
}
