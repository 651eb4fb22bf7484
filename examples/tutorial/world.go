package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/podsg/podsg/preflight"
	"github.com/podsg/podsg/trunk"
)

// ec2API is every EC2 call the tutorial makes. *ec2.Client and *fake.EC2
// both satisfy it.
type ec2API interface {
	trunk.EC2
	preflight.EC2
	CreateVpc(ctx context.Context, in *ec2.CreateVpcInput, optFns ...func(*ec2.Options)) (*ec2.CreateVpcOutput, error)
	CreateSubnet(ctx context.Context, in *ec2.CreateSubnetInput, optFns ...func(*ec2.Options)) (*ec2.CreateSubnetOutput, error)
	CreateSecurityGroup(ctx context.Context, in *ec2.CreateSecurityGroupInput, optFns ...func(*ec2.Options)) (*ec2.CreateSecurityGroupOutput, error)
	AuthorizeSecurityGroupIngress(ctx context.Context, in *ec2.AuthorizeSecurityGroupIngressInput, optFns ...func(*ec2.Options)) (*ec2.AuthorizeSecurityGroupIngressOutput, error)
	RevokeSecurityGroupIngress(ctx context.Context, in *ec2.RevokeSecurityGroupIngressInput, optFns ...func(*ec2.Options)) (*ec2.RevokeSecurityGroupIngressOutput, error)
	DescribeSecurityGroupRules(ctx context.Context, in *ec2.DescribeSecurityGroupRulesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupRulesOutput, error)
	DeleteSecurityGroup(ctx context.Context, in *ec2.DeleteSecurityGroupInput, optFns ...func(*ec2.Options)) (*ec2.DeleteSecurityGroupOutput, error)
	RunInstances(ctx context.Context, in *ec2.RunInstancesInput, optFns ...func(*ec2.Options)) (*ec2.RunInstancesOutput, error)
}

// node is one node of the tutorial's node group.
type node struct {
	InstanceID string
	PrivateIP  string
	SubnetID   string
	// Name is the Kubernetes node name, as EKS derives it from the
	// instance's private DNS name.
	Name string
}

// world is what the tutorial assumes exists before its first step: the
// cluster's VPC, its security groups with their rules, and the node group.
type world struct {
	VPCID       string
	Subnets     map[string]string // subnet ID → CIDR
	ClusterSG   string            // $my_cluster_security_group_id
	NodeSG      string
	PodSG       string // $my_pod_security_group_id
	DNSTCPRule  string // $my_tcp_rule_id
	DNSUDPRule  string // $my_udp_rule_id
	PodSelfRule string // $my_inbound_self_rule_id
	Nodes       []node
}

const (
	clusterName  = "my-cluster"
	instanceType = "m5.large"
	nodeCount    = 5
	vpcCIDR      = "192.168.0.0/16"
)

// EC2 is eventually consistent: an ID it has just handed out may be unknown
// to the next call for a while, and Describe calls lag behind changes. EC2's
// advice is to retry "starting with a couple of seconds of wait time, and
// increasing gradually up to five minutes" (EC2 Developer Guide, "Eventual
// consistency in the Amazon EC2 API"). The tutorial starts lower, as most
// lags are short, and doubles up to that bound.
const (
	settleFirstWait = 250 * time.Millisecond
	settleMaxWait   = 10 * time.Second
	settleLimit     = 5 * time.Minute
)

// settle runs fn until it does not fail with a NotFound error: what fn names
// was created a moment ago and EC2 does not know it everywhere yet. Any
// other outcome is returned as it is.
func settle(ctx context.Context, fn func() error) error {
	wait, deadline := settleFirstWait, time.Now().Add(settleLimit)
	for {
		err := fn()
		if !strings.HasSuffix(trunk.ErrorCode(err), ".NotFound") || time.Now().After(deadline) {
			return err
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
		wait = min(2*wait, settleMaxWait)
	}
}

// waitFor polls done until it reports true, with settle's back-off, and
// fails after settleLimit: EC2's Describe calls show a change only once it
// has propagated, so one look is not enough.
func waitFor(ctx context.Context, what string, done func() (bool, error)) error {
	wait, deadline := settleFirstWait, time.Now().Add(settleLimit)
	for {
		ok, err := done()
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %w after %v", what, errNotSettled, settleLimit)
		}
		if err := sleep(ctx, wait); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		wait = min(2*wait, settleMaxWait)
	}
}

// errNotSettled is matched by waitFor's error when time ran out.
var errNotSettled = errors.New("still not the case")

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// buildWorld creates the tutorial's starting point through the EC2 API, so
// that the same steps run against the embedded fake and against any EC2
// endpoint: a VPC with three private subnets, the cluster security group
// (with the DNS rules the tutorial adds for the pod group), the node group's
// group, the pod security group with its self rule for port 80, and five
// m5.large nodes, running. Each call that names something just created
// retries while EC2 does not know it yet (settle).
func buildWorld(ctx context.Context, client ec2API, region string) (*world, error) {
	w := &world{Subnets: map[string]string{}}
	tags := func(rt types.ResourceType, name string) []types.TagSpecification {
		return []types.TagSpecification{{ResourceType: rt, Tags: []types.Tag{
			{Key: aws.String("Name"), Value: aws.String(name)},
			{Key: aws.String(trunk.ClusterTagPrefix + clusterName), Value: aws.String("owned")},
		}}}
	}
	vpc, err := client.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String(vpcCIDR),
		TagSpecifications: tags(types.ResourceTypeVpc, "eksctl-my-cluster-cluster/VPC")})
	if err != nil {
		return nil, fmt.Errorf("creating the VPC: %w", err)
	}
	w.VPCID = aws.ToString(vpc.Vpc.VpcId)
	var subnets []string
	for i, zone := range []string{"a", "b", "c"} {
		cidr := fmt.Sprintf("192.168.%d.0/19", 32*(i+1))
		var out *ec2.CreateSubnetOutput
		err := settle(ctx, func() (err error) {
			out, err = client.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String(cidr),
				AvailabilityZone: aws.String(region + zone), TagSpecifications: tags(types.ResourceTypeSubnet, "eksctl-my-cluster-cluster/SubnetPrivate"+zone)})
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("creating subnet %s: %w", cidr, err)
		}
		id := aws.ToString(out.Subnet.SubnetId)
		w.Subnets[id] = cidr
		subnets = append(subnets, id)
	}
	group := func(name string) (string, error) {
		var out *ec2.CreateSecurityGroupOutput
		err := settle(ctx, func() (err error) {
			out, err = client.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String(name),
				Description: aws.String(name), VpcId: vpc.Vpc.VpcId})
			return err
		})
		if err != nil {
			return "", fmt.Errorf("creating security group %s: %w", name, err)
		}
		return aws.ToString(out.GroupId), nil
	}
	if w.ClusterSG, err = group("eks-cluster-sg-" + clusterName); err != nil {
		return nil, err
	}
	if w.NodeSG, err = group("my-nodegroup"); err != nil {
		return nil, err
	}
	if w.PodSG, err = group("my-pod-security-group"); err != nil {
		return nil, err
	}
	allow := func(groupID, proto string, port int32, from string) (string, error) {
		perm := types.IpPermission{IpProtocol: aws.String(proto), UserIdGroupPairs: []types.UserIdGroupPair{{GroupId: aws.String(from)}}}
		if proto != "-1" {
			perm.FromPort, perm.ToPort = aws.Int32(port), aws.Int32(port)
		}
		var out *ec2.AuthorizeSecurityGroupIngressOutput
		err := settle(ctx, func() (err error) {
			out, err = client.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(groupID),
				IpPermissions: []types.IpPermission{perm}})
			return err
		})
		if err != nil {
			return "", fmt.Errorf("authorizing %s %d from %s on %s: %w", proto, port, from, groupID, err)
		}
		if len(out.SecurityGroupRules) == 0 {
			return "", fmt.Errorf("authorizing %s %d from %s on %s: EC2 returned no rule ID", proto, port, from, groupID)
		}
		return aws.ToString(out.SecurityGroupRules[0].SecurityGroupRuleId), nil
	}
	steps := []struct {
		group, proto string
		port         int32
		from         string
		id           *string
	}{
		{w.ClusterSG, "-1", 0, w.ClusterSG, nil},
		{w.NodeSG, "-1", 0, w.NodeSG, nil},
		{w.NodeSG, "-1", 0, w.ClusterSG, nil},
		{w.PodSG, "tcp", 80, w.PodSG, &w.PodSelfRule},
		{w.ClusterSG, "tcp", 53, w.PodSG, &w.DNSTCPRule},
		{w.ClusterSG, "udp", 53, w.PodSG, &w.DNSUDPRule},
	}
	for _, s := range steps {
		id, err := allow(s.group, s.proto, s.port, s.from)
		if err != nil {
			return nil, err
		}
		if s.id != nil {
			*s.id = id
		}
	}
	var ids []string
	for i := range nodeCount {
		subnet := subnets[i%len(subnets)]
		var out *ec2.RunInstancesOutput
		err := settle(ctx, func() (err error) {
			out, err = client.RunInstances(ctx, &ec2.RunInstancesInput{
				ImageId: aws.String("ami-0eks0node0image0"), InstanceType: types.InstanceType(instanceType),
				MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: aws.String(subnet),
				SecurityGroupIds:  []string{w.ClusterSG, w.NodeSG},
				TagSpecifications: tags(types.ResourceTypeInstance, clusterName+"-my-nodegroup-Node"),
				ClientToken:       aws.String(fmt.Sprintf("%s-%s-node-%d", clusterName, w.VPCID, i)),
			})
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("launching node %d: %w", i+1, err)
		}
		inst := out.Instances[0]
		ip := aws.ToString(inst.PrivateIpAddress)
		w.Nodes = append(w.Nodes, node{
			InstanceID: aws.ToString(inst.InstanceId), PrivateIP: ip, SubnetID: subnet,
			Name: nodeName(ip, region),
		})
		ids = append(ids, aws.ToString(inst.InstanceId))
	}
	// Instances start pending; a trunk ENI attaches only to a running one.
	// The SDK's waiter retries InvalidInstanceID.NotFound too.
	waiter := ec2.NewInstanceRunningWaiter(client, func(o *ec2.InstanceRunningWaiterOptions) {
		o.MinDelay, o.MaxDelay = time.Second, settleMaxWait
	})
	if err := waiter.Wait(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids}, settleLimit); err != nil {
		return nil, fmt.Errorf("waiting for the nodes to run: %w", err)
	}
	return w, nil
}

// nodeName is the node name EKS gives an instance: its private DNS name.
func nodeName(ip, region string) string {
	b := []byte("ip-" + ip)
	for i := range b {
		if b[i] == '.' {
			b[i] = '-'
		}
	}
	if region == "us-east-1" {
		return string(b) + ".ec2.internal"
	}
	return string(b) + "." + region + ".compute.internal"
}
