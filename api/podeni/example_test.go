package podeni_test

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/podsg/podsg/api/podeni"
)

func ExampleParse() {
	enis, err := podeni.Parse(`[{"eniId":"eni-0123456789abcdef0","ifAddress":"02:ab:cd:ef:01:23",` +
		`"privateIp":"10.0.1.7","vlanId":3,"subnetCidr":"10.0.0.0/19","associationID":"trunk-assoc-1"}]`)
	if err != nil {
		fmt.Println(err)
		return
	}
	b := enis[0]
	fmt.Println(b.ID, b.MAC, b.PrivateIP, "vlan", b.VLANID, "gateway", b.Gateway())

	_, err = podeni.Parse(`[{"eniId":"eni-0123456789abcdef0","ifAddress":"02:ab:cd:ef:01:23",` +
		`"privateIp":"10.0.1.7","vlanId":0,"subnetCidr":"10.0.0.0/19"}]`)
	var pe *podeni.Error
	if errors.As(err, &pe) {
		fmt.Println("field", pe.Field+":", err)
	}
	// Output:
	// eni-0123456789abcdef0 02:ab:cd:ef:01:23 10.0.1.7 vlan 3 gateway 10.0.0.1
	// field [0].vlanId: pod-eni annotation: [0].vlanId 0: want a VLAN ID from 1 to 4094 (0 is reserved)
}

func ExampleFormat() {
	value, err := podeni.Format(podeni.BranchENI{
		ID:         "eni-0123456789abcdef0",
		MAC:        podeni.MAC{0x02, 0xab, 0xcd, 0xef, 0x01, 0x23},
		PrivateIP:  netip.MustParseAddr("10.0.1.7"),
		VLANID:     3,
		SubnetCIDR: netip.MustParsePrefix("10.0.0.0/19"),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(podeni.AnnotationKey + ": " + value)
	// Output:
	// vpc.amazonaws.com/pod-eni: [{"eniId":"eni-0123456789abcdef0","ifAddress":"02:ab:cd:ef:01:23","privateIp":"10.0.1.7","ipv6Addr":"","vlanId":3,"subnetCidr":"10.0.0.0/19","subnetV6Cidr":"","associationID":""}]
}

// An IPv6-only branch ENI, as the controller writes it in an IPv6 cluster:
// no IPv4 address, the IPv6 address and the subnet's IPv6 CIDR.
func ExampleParse_iPv6() {
	enis, err := podeni.Parse(`[{"eniId":"eni-0123456789abcdef1","ifAddress":"02:ab:cd:ef:01:24","privateIp":"",` +
		`"ipv6Addr":"2600:1f14:abc:de00::7","vlanId":4,"subnetCidr":"10.0.0.0/19","subnetV6Cidr":"2600:1f14:abc:de00::/64"}]`)
	if err != nil {
		fmt.Println(err)
		return
	}
	b := enis[0]
	fmt.Println(b.ID, "IPv4:", b.PrivateIP.IsValid(), "IPv6:", b.IPv6, "in", b.SubnetV6CIDR)

	_, err = podeni.Parse(`[{"eniId":"eni-0123456789abcdef1","ifAddress":"02:ab:cd:ef:01:24","privateIp":"",` +
		`"ipv6Addr":"2600:1f14:abc:de00::7","vlanId":4,"subnetCidr":"10.0.0.0/19","subnetV6Cidr":""}]`)
	fmt.Println(err)
	// Output:
	// eni-0123456789abcdef1 IPv4: false IPv6: 2600:1f14:abc:de00::7 in 2600:1f14:abc:de00::/64
	// pod-eni annotation: [0].subnetV6Cidr "": an IPv6-only branch ENI needs the subnet's IPv6 CIDR, like 2600:1f14:abc:de00::/64
}
