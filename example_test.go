package podsg_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/podsg/podsg/api/podeni"
	"github.com/podsg/podsg/api/v1beta1"
	"github.com/podsg/podsg/enforce"
	"github.com/podsg/podsg/eni"
	"github.com/podsg/podsg/selector"
)

// policy is the SecurityGroupPolicy of the EKS tutorial "Security groups for
// pods", with a real group ID in place of its placeholder.
const policy = `
apiVersion: vpcresources.k8s.aws/v1beta1
kind: SecurityGroupPolicy
metadata:
  name: my-security-group-policy
  namespace: my-namespace
spec:
  podSelector:
    matchLabels:
      role: my-role
  securityGroups:
    groupIds:
      - sg-05b1d815d1e7a3c90
`

// backend stands in for package trunk, which creates branch ENIs on EC2: it
// hands out the ENI EC2 would create in the node's subnet.
type backend struct{}

func (backend) CreateBranch(_ context.Context, req eni.CreateRequest) (podeni.BranchENI, error) {
	return podeni.BranchENI{
		ID:         "eni-0a1b2c3d4e5f60718",
		MAC:        podeni.MAC{0x02, 0x42, 0xc0, 0xa8, 0x21, 0x07},
		PrivateIP:  netip.MustParseAddr("192.168.33.7"),
		VLANID:     req.VLAN,
		SubnetCIDR: netip.MustParsePrefix("192.168.32.0/19"),
	}, nil
}

func (backend) DeleteBranch(context.Context, eni.Branch) error { return nil }

func (backend) RetargetBranch(context.Context, eni.Branch, eni.GroupSet) error { return nil }

// One pod of the tutorial, from its SecurityGroupPolicy to the commands that
// wire it on its node. The controller side matches the pod to the policy,
// gives it a branch ENI from the node's pool and writes the
// vpc.amazonaws.com/pod-eni annotation; the node side reads the annotation
// and plans the pod's links, routes and rules in strict mode.
func Example() {
	ctx := context.Background()

	// Controller: which groups does the pod get?
	p, err := v1beta1.Decode([]byte(policy))
	if err != nil {
		panic(err)
	}
	idx := selector.NewIndex(selector.Options{})
	if err := idx.Upsert(p); err != nil {
		panic(err)
	}
	pod := selector.Pod{Namespace: "my-namespace", Name: "my-app-1", Labels: map[string]string{"app": "my-app", "role": "my-role"}}
	match := idx.Match(pod)
	fmt.Println("match:", match)

	// Controller: a branch ENI from the node's pool, written as the pod's
	// annotation.
	groups, err := eni.ParseGroupSet(match.Groups...)
	if err != nil {
		panic(err)
	}
	pool, err := eni.NewPool(backend{}, eni.Options{Node: "i-0123456789abcdef0", Limit: 9})
	if err != nil {
		panic(err)
	}
	branch, err := pool.Acquire(ctx, eni.PodRef{Namespace: pod.Namespace, Name: pod.Name, UID: "1"},
		eni.Key{Groups: groups, Subnet: "subnet-0123456789abcdef0"})
	if err != nil {
		panic(err)
	}
	annotation, err := podeni.Format(branch.ENI)
	if err != nil {
		panic(err)
	}
	fmt.Println(podeni.AnnotationKey+":", annotation)

	// Node: read the annotation and plan the pod's wiring.
	enis, err := podeni.Parse(annotation)
	if err != nil {
		panic(err)
	}
	b, err := enforce.NewBuilder(enforce.Options{
		Mode:             enforce.Strict,
		TrunkLink:        "eth1",
		PrimaryInterface: "eth0",
		PrimaryIP:        netip.MustParseAddr("192.168.40.12"),
		VPCCIDRs:         []netip.Prefix{netip.MustParsePrefix("192.168.0.0/16")},
	})
	if err != nil {
		panic(err)
	}
	plan, err := b.Setup(enforce.Pod{Namespace: pod.Namespace, Name: pod.Name, NetNS: "/var/run/netns/cni-1", IfName: "eth0", Branch: enis[0]})
	if err != nil {
		panic(err)
	}
	fmt.Print(plan.Script())
	// Output:
	// match: branch ENI [sg-05b1d815d1e7a3c90] from my-security-group-policy
	// vpc.amazonaws.com/pod-eni: [{"eniId":"eni-0a1b2c3d4e5f60718","ifAddress":"02:42:c0:a8:21:07","privateIp":"192.168.33.7","ipv6Addr":"","vlanId":1,"subnetCidr":"192.168.32.0/19","subnetV6Cidr":"","associationID":""}]
	// #!/bin/sh
	// # pod setup of my-namespace/my-app-1 (strict mode)
	// set -e
	// while ip rule del pref 10 lookup 101 2>/dev/null; do :; done
	// while ip rule del pref 10 iif vlan683f65e0f60 2>/dev/null; do :; done
	// ip route flush table 101 2>/dev/null || true
	// ip link del vlan.eth.1 2>/dev/null || true
	// ip link add link eth1 name vlan.eth.1 mtu 9001 address 02:42:c0:a8:21:07 type vlan id 1
	// ip link del vlan683f65e0f60 2>/dev/null || true
	// ip link add vlan683f65e0f60 mtu 9001 address 02:cd:6d:99:84:bc type veth peer name eth0 mtu 9001 netns /var/run/netns/cni-1
	// sysctl -q -w net.ipv6.conf.vlan/eth/1.accept_ra=0 2>/dev/null || true
	// sysctl -q -w net.ipv6.conf.vlan/eth/1.accept_redirects=1 2>/dev/null || true
	// sysctl -q -w net.ipv6.conf.vlan/eth/1.forwarding=0 2>/dev/null || true
	// sysctl -q -w net.ipv6.conf.vlan683f65e0f60.accept_ra=0 2>/dev/null || true
	// sysctl -q -w net.ipv6.conf.vlan683f65e0f60.accept_redirects=1 2>/dev/null || true
	// sysctl -q -w net.ipv6.conf.vlan683f65e0f60.forwarding=0 2>/dev/null || true
	// ip link set vlan.eth.1 up
	// ip link set vlan683f65e0f60 up
	// nsenter --net=/var/run/netns/cni-1 ip link set eth0 up
	// nsenter --net=/var/run/netns/cni-1 ip addr replace 192.168.33.7/32 dev eth0
	// nsenter --net=/var/run/netns/cni-1 ip neigh replace 169.254.1.1 lladdr 02:cd:6d:99:84:bc dev eth0 nud permanent
	// nsenter --net=/var/run/netns/cni-1 ip route replace 169.254.1.1/32 dev eth0 scope link table main
	// nsenter --net=/var/run/netns/cni-1 ip route replace default via 169.254.1.1 dev eth0 table main
	// ip route replace 192.168.32.1/32 dev vlan.eth.1 scope link table 101
	// ip route replace default via 192.168.32.1 dev vlan.eth.1 table 101
	// ip route replace 192.168.33.7/32 dev vlan683f65e0f60 scope link table 101
	// ip rule add pref 10 iif vlan.eth.1 lookup 101
	// ip rule add pref 10 iif vlan683f65e0f60 lookup 101
	// while ip rule del pref 512 to 192.168.33.7/32 2>/dev/null; do :; done
	// while ip rule del pref 1536 from 192.168.33.7/32 2>/dev/null; do :; done
	// ip route del 192.168.33.7/32 table main 2>/dev/null || true
	// ip link del eni683f65e0f60 2>/dev/null || true
}
