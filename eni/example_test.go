package eni_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/podsg/podsg/api/podeni"
	"github.com/podsg/podsg/eni"
)

// exampleBackend hands out made-up ENIs.
type exampleBackend struct{ n int }

func (b *exampleBackend) CreateBranch(_ context.Context, req eni.CreateRequest) (podeni.BranchENI, error) {
	b.n++
	return podeni.BranchENI{
		ID:         fmt.Sprintf("eni-%08x", b.n),
		MAC:        podeni.MAC{2, 0, 0, 0, 0, byte(b.n)},
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
	pool, err := eni.NewPool(&exampleBackend{}, eni.Options{Node: "i-0123456789abcdef0", Limit: 2})
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
			annotation, _ := podeni.Format(b.ENI)
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

// A GroupSet keeps the order it was given in, which is the order EC2
// receives; Canonical and Equal compare the members only.
func ExampleGroupSet() {
	policyOrder := eni.MustGroupSet("sg-0ccccccccccccccc3", "sg-0aaaaaaaaaaaaaaa1", "sg-0ccccccccccccccc3")
	sorted := eni.MustGroupSet("sg-0aaaaaaaaaaaaaaa1", "sg-0ccccccccccccccc3")
	fmt.Println(policyOrder.IDs(), policyOrder.Len())
	fmt.Println(policyOrder == sorted, policyOrder.Equal(sorted), policyOrder.Canonical() == sorted)
	// Output:
	// [sg-0ccccccccccccccc3 sg-0aaaaaaaaaaaaaaa1] 2
	// false true true
}
