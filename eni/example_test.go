package eni_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/podsg/podsg/eni"
)

func ExampleParseAnnotation() {
	enis, err := eni.ParseAnnotation(`[{"eniId":"eni-0123456789abcdef0","ifAddress":"02:ab:cd:ef:01:23",` +
		`"privateIp":"10.0.1.7","vlanId":3,"subnetCidr":"10.0.0.0/19","associationID":"trunk-assoc-1"}]`)
	if err != nil {
		fmt.Println(err)
		return
	}
	b := enis[0]
	fmt.Println(b.ID, b.MAC, b.PrivateIP, "vlan", b.VLANID, "gateway", b.Gateway())

	_, err = eni.ParseAnnotation(`[{"eniId":"eni-0123456789abcdef0","ifAddress":"02:ab:cd:ef:01:23",` +
		`"privateIp":"10.0.1.7","vlanId":0,"subnetCidr":"10.0.0.0/19"}]`)
	fmt.Println(err)
	// Output:
	// eni-0123456789abcdef0 02:ab:cd:ef:01:23 10.0.1.7 vlan 3 gateway 10.0.0.1
	// pod-eni annotation: [0].vlanId 0: want a VLAN ID from 1 to 4094 (0 is reserved)
}

// exampleBackend hands out made-up ENIs.
type exampleBackend struct{ n int }

func (b *exampleBackend) CreateBranch(_ context.Context, req eni.CreateRequest) (eni.BranchENI, error) {
	b.n++
	return eni.BranchENI{
		ID:         fmt.Sprintf("eni-%08x", b.n),
		MAC:        eni.MAC{2, 0, 0, 0, 0, byte(b.n)},
		PrivateIP:  netip.AddrFrom4([4]byte{10, 0, 0, byte(10 + b.n)}),
		VLANID:     req.VLAN,
		SubnetCIDR: netip.MustParsePrefix("10.0.0.0/24"),
	}, nil
}

func (b *exampleBackend) DeleteBranch(context.Context, eni.Branch) error { return nil }

func (b *exampleBackend) RetargetBranch(context.Context, eni.Branch, eni.GroupSet) error {
	return nil
}

func ExamplePool() {
	ctx := context.Background()
	pool, err := eni.NewPool(eni.Config{Node: "i-0123456789abcdef0", Limit: 2, Backend: &exampleBackend{}})
	if err != nil {
		fmt.Println(err)
		return
	}
	web := eni.Key{Groups: eni.MustGroupSet("sg-0123456789abcdef0"), Subnet: "subnet-0123456789abcdef0"}
	for i := range 3 {
		pod := eni.PodRef{Namespace: "default", Name: fmt.Sprintf("web-%d", i), UID: fmt.Sprint(i)}
		b, err := pool.Acquire(ctx, pod, web)
		switch {
		case errors.Is(err, eni.ErrNoCapacity):
			fmt.Println(pod, "stays pending: node full")
		case err != nil:
			fmt.Println(err)
		default:
			annotation, _ := eni.FormatAnnotation(b.ENI)
			fmt.Println(pod, annotation)
		}
	}
	pool.Release(eni.PodRef{Namespace: "default", Name: "web-0", UID: "0"})
	fmt.Printf("%+v\n", pool.Stats())
	// Output:
	// default/web-0 [{"eniId":"eni-00000001","ifAddress":"02:00:00:00:00:01","privateIp":"10.0.0.11","ipv6Addr":"","vlanId":1,"subnetCidr":"10.0.0.0/24","subnetV6Cidr":"","associationID":""}]
	// default/web-1 [{"eniId":"eni-00000002","ifAddress":"02:00:00:00:00:02","privateIp":"10.0.0.12","ipv6Addr":"","vlanId":2,"subnetCidr":"10.0.0.0/24","subnetV6Cidr":"","associationID":""}]
	// default/web-2 stays pending: node full
	// {Limit:2 Creating:0 InUse:1 Cooling:1 Warm:0 Deleting:0 WarmHits:0 Creates:2 Retargets:0 Evictions:0 Deletes:0 Failures:0}
}
