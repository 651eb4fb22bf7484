package enforce_test

import (
	"fmt"
	"net/netip"

	"github.com/podsg/podsg/api/podeni"
	"github.com/podsg/podsg/enforce"
)

func ExampleBuilder_Setup() {
	b, err := enforce.NewBuilder(enforce.Options{
		Mode:             enforce.Strict,
		TrunkLink:        "eth1",
		PrimaryInterface: "eth0",
		PrimaryIP:        netip.MustParseAddr("10.0.0.10"),
		VPCCIDRs:         []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16")},
	})
	if err != nil {
		panic(err)
	}
	enis, err := podeni.Parse(`[{"eniId":"eni-0123456789abcdef0","ifAddress":"02:aa:bb:cc:dd:03","privateIp":"10.0.0.7","vlanId":3,"subnetCidr":"10.0.0.0/19"}]`)
	if err != nil {
		panic(err)
	}
	plan, err := b.Setup(enforce.Pod{
		Namespace: "default",
		Name:      "web-1",
		NetNS:     "/var/run/netns/cni-1234",
		IfName:    "eth0",
		Branch:    enis[0],
	})
	if err != nil {
		panic(err)
	}
	fmt.Print(plan.Script())
	// Output:
	// #!/bin/sh
	// # pod setup of default/web-1 (strict mode)
	// set -e
	// while ip rule del pref 10 lookup 103 2>/dev/null; do :; done
	// while ip rule del pref 10 iif vlan0761ccbeace 2>/dev/null; do :; done
	// ip route flush table 103 2>/dev/null || true
	// ip link del vlan.eth.3 2>/dev/null || true
	// ip link add link eth1 name vlan.eth.3 mtu 9001 address 02:aa:bb:cc:dd:03 type vlan id 3
	// ip link del vlan0761ccbeace 2>/dev/null || true
	// ip link add vlan0761ccbeace mtu 9001 address 02:e1:a4:3b:26:07 type veth peer name eth0 mtu 9001 netns /var/run/netns/cni-1234
	// sysctl -q -w net.ipv6.conf.vlan/eth/3.accept_ra=0 2>/dev/null || true
	// sysctl -q -w net.ipv6.conf.vlan/eth/3.accept_redirects=1 2>/dev/null || true
	// sysctl -q -w net.ipv6.conf.vlan/eth/3.forwarding=0 2>/dev/null || true
	// sysctl -q -w net.ipv6.conf.vlan0761ccbeace.accept_ra=0 2>/dev/null || true
	// sysctl -q -w net.ipv6.conf.vlan0761ccbeace.accept_redirects=1 2>/dev/null || true
	// sysctl -q -w net.ipv6.conf.vlan0761ccbeace.forwarding=0 2>/dev/null || true
	// ip link set vlan.eth.3 up
	// ip link set vlan0761ccbeace up
	// nsenter --net=/var/run/netns/cni-1234 ip link set eth0 up
	// nsenter --net=/var/run/netns/cni-1234 ip addr replace 10.0.0.7/32 dev eth0
	// nsenter --net=/var/run/netns/cni-1234 ip neigh replace 169.254.1.1 lladdr 02:e1:a4:3b:26:07 dev eth0 nud permanent
	// nsenter --net=/var/run/netns/cni-1234 ip route replace 169.254.1.1/32 dev eth0 scope link table main
	// nsenter --net=/var/run/netns/cni-1234 ip route replace default via 169.254.1.1 dev eth0 table main
	// ip route replace 10.0.0.1/32 dev vlan.eth.3 scope link table 103
	// ip route replace default via 10.0.0.1 dev vlan.eth.3 table 103
	// ip route replace 10.0.0.7/32 dev vlan0761ccbeace scope link table 103
	// ip rule add pref 10 iif vlan.eth.3 lookup 103
	// ip rule add pref 10 iif vlan0761ccbeace lookup 103
	// while ip rule del pref 512 to 10.0.0.7/32 2>/dev/null; do :; done
	// while ip rule del pref 1536 from 10.0.0.7/32 2>/dev/null; do :; done
	// ip route del 10.0.0.7/32 table main 2>/dev/null || true
	// ip link del eni0761ccbeace 2>/dev/null || true
}

// An IPv6 node (the VPC CNI plugin's ENABLE_IPv6): the pod gets the branch
// ENI's IPv6 address and routes through fe80::1, the branch table routes
// through the VPC's router fe80:ec2::1, and the rules are IPv6 rules.
func ExampleBuilder_Setup_iPv6() {
	b, err := enforce.NewBuilder(enforce.Options{
		Mode:             enforce.Standard,
		Family:           enforce.IPv6,
		TrunkLink:        "eth1",
		PrimaryInterface: "eth0",
	})
	if err != nil {
		panic(err)
	}
	enis, err := podeni.Parse(`[{"eniId":"eni-0123456789abcdef0","ifAddress":"02:aa:bb:cc:dd:03","privateIp":"",` +
		`"ipv6Addr":"2600:1f14:abc:de00::7","vlanId":3,"subnetCidr":"10.0.0.0/19","subnetV6Cidr":"2600:1f14:abc:de00::/64"}]`)
	if err != nil {
		panic(err)
	}
	plan, err := b.Setup(enforce.Pod{Namespace: "default", Name: "web-1", NetNS: "/var/run/netns/cni-1234", IfName: "eth0", Branch: enis[0]})
	if err != nil {
		panic(err)
	}
	fmt.Print(plan.Script())
	// Output:
	// #!/bin/sh
	// # pod setup of default/web-1 (standard mode)
	// set -e
	// while ip -6 rule del pref 512 to 2600:1f14:abc:de00::7/128 2>/dev/null; do :; done
	// while ip -6 rule del pref 1536 from 2600:1f14:abc:de00::7/128 2>/dev/null; do :; done
	// ip -6 route flush table 103 2>/dev/null || true
	// ip -6 route del 2600:1f14:abc:de00::7/128 table main 2>/dev/null || true
	// ip link del vlan.eth.3 2>/dev/null || true
	// ip link add link eth1 name vlan.eth.3 mtu 9001 address 02:aa:bb:cc:dd:03 type vlan id 3
	// ip link del eni0761ccbeace 2>/dev/null || true
	// ip link add eni0761ccbeace mtu 9001 address 02:e1:a4:3b:26:07 type veth peer name eth0 mtu 9001 netns /var/run/netns/cni-1234
	// sysctl -q -w net.ipv6.conf.vlan/eth/3.accept_ra=0
	// sysctl -q -w net.ipv6.conf.vlan/eth/3.accept_redirects=1
	// sysctl -q -w net.ipv6.conf.vlan/eth/3.forwarding=0
	// sysctl -q -w net.ipv6.conf.eni0761ccbeace.accept_ra=0
	// sysctl -q -w net.ipv6.conf.eni0761ccbeace.accept_redirects=1
	// sysctl -q -w net.ipv6.conf.eni0761ccbeace.forwarding=0
	// nsenter --net=/var/run/netns/cni-1234 sysctl -q -w net.ipv6.conf.eth0.disable_ipv6=0
	// nsenter --net=/var/run/netns/cni-1234 sysctl -q -w net.ipv6.conf.lo.disable_ipv6=0
	// ip link set vlan.eth.3 up
	// ip link set eni0761ccbeace up
	// nsenter --net=/var/run/netns/cni-1234 ip link set eth0 up
	// nsenter --net=/var/run/netns/cni-1234 ip -6 addr replace 2600:1f14:abc:de00::7/128 dev eth0 nodad
	// nsenter --net=/var/run/netns/cni-1234 ip -6 neigh replace fe80::1 lladdr 02:e1:a4:3b:26:07 dev eth0 nud permanent
	// nsenter --net=/var/run/netns/cni-1234 ip -6 route replace fe80::1/128 dev eth0 table main
	// nsenter --net=/var/run/netns/cni-1234 ip -6 route replace default via fe80::1 dev eth0 table main
	// ip -6 route replace fe80:ec2::1/128 dev vlan.eth.3 table 103
	// ip -6 route replace default via fe80:ec2::1 dev vlan.eth.3 table 103
	// ip -6 route replace 2600:1f14:abc:de00::7/128 dev eni0761ccbeace table main
	// ip -6 rule add pref 512 to 2600:1f14:abc:de00::7/128 lookup main
	// ip -6 rule add pref 1536 from 2600:1f14:abc:de00::7/128 lookup 103
	// while ip -6 rule del pref 10 lookup 103 2>/dev/null; do :; done
	// while ip -6 rule del pref 10 iif eni0761ccbeace 2>/dev/null; do :; done
	// ip link del vlan0761ccbeace 2>/dev/null || true
}
