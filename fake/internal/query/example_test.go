package query_test

import (
	"fmt"
	"net/url"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/podsg/podsg/fake/internal/query"
)

func Example() {
	form, _ := url.ParseQuery("SubnetId=subnet-0a1b&SecurityGroupId.1=sg-01&SecurityGroupId.2=sg-02&Description=aws-k8s-branch-eni")
	var in ec2.CreateNetworkInterfaceInput
	if err := query.Decode(form, &in); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(*in.SubnetId, in.Groups, *in.Description)

	out := &ec2.CreateNetworkInterfaceOutput{NetworkInterface: &types.NetworkInterface{
		NetworkInterfaceId: aws.String("eni-0123456789abcdef0"),
		Groups:             []types.GroupIdentifier{{GroupId: aws.String("sg-01")}},
	}}
	_ = query.EncodeOutput(os.Stdout, "CreateNetworkInterface", "req-1", out)
	fmt.Println()

	err := query.Decode(url.Values{"Groups.1": {"sg-01"}}, &in)
	fmt.Println(err)
	// Output:
	// subnet-0a1b [sg-01 sg-02] aws-k8s-branch-eni
	// <?xml version="1.0" encoding="UTF-8"?>
	// <CreateNetworkInterfaceResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>req-1</requestId><networkInterface><groupSet><item><groupId>sg-01</groupId></item></groupSet><networkInterfaceId>eni-0123456789abcdef0</networkInterfaceId></networkInterface></CreateNetworkInterfaceResponse>
	// UnknownParameter: The parameter Groups.1 is not recognized
}
