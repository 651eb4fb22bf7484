package fake_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/podsg/podsg/fake"
)

// ExampleServer serves a fake over HTTP and talks to it with the real SDK
// client, as a program under test would talk to EC2.
func ExampleServer() {
	f := fake.New()
	vpc := f.AddVPC("10.0.0.0/16")
	subnet := f.AddSubnet(vpc, "10.0.0.0/24", "")
	pods := f.AddSecurityGroup(vpc, "pods")

	srv, err := fake.NewServer(f)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		fmt.Println(err)
		return
	}
	defer func() {
		if err := srv.Shutdown(context.Background()); err != nil {
			fmt.Println("shutdown:", err)
		}
	}()

	client := srv.Client() // or fake.NewClient(srv.URL(), srv.Region())
	ctx := context.Background()
	out, err := client.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{
		SubnetId:    aws.String(subnet),
		Groups:      []string{pods},
		Description: aws.String("aws-k8s-branch-eni"),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	eni := out.NetworkInterface
	fmt.Println(eni.InterfaceType, eni.Status, aws.ToString(eni.PrivateIpAddress), aws.ToString(eni.Groups[0].GroupName))

	list, err := client.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{
		Filters: []types.Filter{{Name: aws.String("description"), Values: []string{"aws-k8s-*"}}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(list.NetworkInterfaces), "interface found")

	_, err = client.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(pods)})
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.ErrorCode())
	}
	// Output:
	// interface available 10.0.0.4 pods
	// 1 interface found
	// DependencyViolation
}
