package fake

import (
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/podsg/podsg/internal/awsid"
)

// The Add* builders seed state concisely for tests. They apply EC2's rules
// like the API calls do but bypass throttling, latency, faults and the call
// log, so counters start at zero for the code under test. A builder panics
// when the seed breaks a rule (an unknown subnet, an exhausted address
// range, …): seeds are written by the test author, and a wrong one is a bug
// in the test. Use the API methods to exercise errors.

// Rule is a security group rule for AddIngress and AddEgress: a protocol
// ("tcp", "udp", "icmp" or "-1" for all), a port range (ignored for "-1")
// and exactly one peer, CIDR or GroupID. It is a plain value.
type Rule struct {
	Protocol         string
	FromPort, ToPort int32
	CIDR             string
	GroupID          string
	Description      string
}

// TCP returns a rule for one TCP port from peer, a CIDR or a group ID.
func TCP(port int32, peer string) Rule { return portRule("tcp", port, peer) }

// UDP returns a rule for one UDP port from peer, a CIDR or a group ID.
func UDP(port int32, peer string) Rule { return portRule("udp", port, peer) }

// AllTraffic returns a rule for every protocol and port from peer, a CIDR or
// a group ID.
func AllTraffic(peer string) Rule { return portRule("-1", -1, peer) }

func portRule(proto string, port int32, peer string) Rule {
	r := Rule{Protocol: proto, FromPort: port, ToPort: port}
	if awsid.Valid(peer, prefixGroup) {
		r.GroupID = peer
	} else {
		r.CIDR = peer
	}
	return r
}

func (r Rule) permission() types.IpPermission {
	p := types.IpPermission{IpProtocol: aws.String(r.Protocol), FromPort: aws.Int32(r.FromPort), ToPort: aws.Int32(r.ToPort)}
	if r.CIDR != "" {
		p.IpRanges = []types.IpRange{{CidrIp: aws.String(r.CIDR), Description: optString(r.Description)}}
	}
	if r.GroupID != "" {
		p.UserIdGroupPairs = []types.UserIdGroupPair{{GroupId: aws.String(r.GroupID), Description: optString(r.Description)}}
	}
	return p
}

// Node is an instance made by AddNode, a plain value.
type Node struct {
	InstanceID   string
	InstanceType string
	SubnetID     string
	// PrimaryENI is the interface at device index 0.
	PrimaryENI string
	// PrivateIP is the primary interface's IPv4 address; "" in an IPv6-only
	// subnet.
	PrivateIP string
}

func must[T any](what string, v T, err error) T {
	if err != nil {
		panic(fmt.Sprintf("fake: %s: %v", what, err))
	}
	return v
}

// build runs fn with the state locked, as seeding: what it creates is
// known at once (no consistency lag), and it sees everything. Its IDs are
// drawn from what (see draws).
func build[T any](f *EC2, what string, fn func() (T, error)) T {
	key := f.draws.callKey("build", what)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now, f.opKey, f.opN, f.building = time.Now(), key, 0, true
	defer func() { f.building = false }()
	v, err := fn()
	return must(what, v, err)
}

// AddVPC creates a VPC with its default security group and returns its ID.
func (f *EC2) AddVPC(cidr string) string {
	return build(f, "AddVPC "+cidr, func() (string, error) {
		v, err := f.createVPC(cidr, nil, false)
		if err != nil {
			return "", err
		}
		return v.id, nil
	})
}

// AddDefaultVPC creates the account's default VPC, which CreateSecurityGroup
// and RunInstances fall back on when given no VPC or subnet, and returns its
// ID. There can be only one.
func (f *EC2) AddDefaultVPC(cidr string) string {
	return build(f, "AddDefaultVPC "+cidr, func() (string, error) {
		for _, v := range f.st.vpcs {
			if v.isDefault {
				return "", fmt.Errorf("the account already has a default VPC, %s", v.id)
			}
		}
		v, err := f.createVPC(cidr, nil, true)
		if err != nil {
			return "", err
		}
		return v.id, nil
	})
}

// DefaultSecurityGroup returns the ID of a VPC's default security group.
func (f *EC2) DefaultSecurityGroup(vpcID string) string {
	return build(f, "DefaultSecurityGroup "+vpcID, func() (string, error) {
		v, err := f.lookupVPC(vpcID)
		if err != nil {
			return "", err
		}
		return v.defaultSG, nil
	})
}

// AddSubnet creates a subnet in zone az (Region+"a" when empty) and returns
// its ID.
func (f *EC2) AddSubnet(vpcID, cidr, az string) string {
	return build(f, "AddSubnet "+cidr, func() (string, error) {
		s, err := f.createSubnet(subnetSpec{vpcID: vpcID, cidr: cidr, az: az})
		if err != nil {
			return "", err
		}
		return s.id, nil
	})
}

// AddSecurityGroup creates a security group (description = name) with the
// default outbound rule and returns its ID.
func (f *EC2) AddSecurityGroup(vpcID, name string) string {
	return build(f, "AddSecurityGroup "+name, func() (string, error) {
		g, err := f.createGroup(vpcID, name, name, nil, false)
		if err != nil {
			return "", err
		}
		return g.id, nil
	})
}

// AddIngress adds an inbound rule to a group and returns the rule's ID.
func (f *EC2) AddIngress(groupID string, r Rule) string { return f.addBuiltRule(groupID, false, r) }

// AddEgress adds an outbound rule to a group and returns the rule's ID.
func (f *EC2) AddEgress(groupID string, r Rule) string { return f.addBuiltRule(groupID, true, r) }

func (f *EC2) addBuiltRule(groupID string, egress bool, r Rule) string {
	return build(f, "add rule to "+groupID, func() (string, error) {
		g, err := f.lookupGroup(groupID, "")
		if err != nil {
			return "", err
		}
		rules, err := f.authorize(g, egress, []types.IpPermission{r.permission()}, nil, false)
		if err != nil {
			return "", err
		}
		return aws.ToString(rules[0].SecurityGroupRuleId), nil
	})
}

// AddNode launches one running instance of instanceType in a subnet with the
// given security groups (the VPC's default group when none) and returns it.
func (f *EC2) AddNode(instanceType, subnetID string, groupIDs ...string) Node {
	return f.addNode(instanceType, subnetID, 0, groupIDs...).Node
}

// builtNode is a Node and its primary interface's first IPv6 address.
type builtNode struct {
	Node
	ipv6 string
}

// addNode is AddNode with ipv6 IPv6 addresses on the primary interface
// (an IPv6-only subnet gives one whatever ipv6 says).
func (f *EC2) addNode(instanceType, subnetID string, ipv6 int, groupIDs ...string) builtNode {
	return build(f, "AddNode "+instanceType, func() (builtNode, error) {
		spec := eniSpec{subnetID: subnetID, groups: groupIDs}
		if ipv6 > 0 {
			spec.ipv6.count = aws.Int32(int32(ipv6))
		}
		insts, _, err := f.launch(launchSpec{imageID: "ami-0fake0000000000000", instanceType: instanceType, count: 1,
			nics: []nicSpec{{eniSpec: spec, deleteOnTerm: true}}}, false)
		if err != nil {
			return builtNode{}, err
		}
		inst := insts[0]
		n := builtNode{Node: Node{InstanceID: inst.id, InstanceType: inst.typ, SubnetID: inst.subnetID, PrimaryENI: inst.primaryENI}}
		p := f.st.enis[inst.primaryENI]
		if p.ip.IsValid() {
			n.PrivateIP = p.ip.String()
		}
		if len(p.ipv6) > 0 {
			n.ipv6 = p.ipv6[0].String()
		}
		return n, nil
	})
}

// AddENI creates an available network interface and returns its ID.
func (f *EC2) AddENI(subnetID, description string, groupIDs ...string) string {
	return build(f, "AddENI", func() (string, error) {
		e, err := f.createENI(eniSpec{subnetID: subnetID, desc: description, groups: groupIDs}, false)
		if err != nil {
			return "", err
		}
		return e.id, nil
	})
}

// AddTrunk creates a trunk interface (description "aws-k8s-trunk-eni") in the
// node's subnet with the node's security groups, attaches it at deviceIndex
// of card 0 with DeleteOnTermination, and returns its ID.
func (f *EC2) AddTrunk(instanceID string, deviceIndex int32) string {
	return build(f, "AddTrunk "+instanceID, func() (string, error) {
		inst, err := f.lookupInstance(instanceID)
		if err != nil {
			return "", err
		}
		e, err := f.createENI(eniSpec{subnetID: inst.subnetID, groups: f.st.enis[inst.primaryENI].groups,
			desc: "aws-k8s-trunk-eni", ifType: types.NetworkInterfaceCreationTypeTrunk}, false)
		if err != nil {
			return "", err
		}
		if _, err := f.attach(attachSpec{eniID: e.id, instanceID: inst.id, device: deviceIndex, deleteOnTerm: true}, false); err != nil {
			f.deleteENI(e)
			return "", err
		}
		return e.id, nil
	})
}

// AddBranch creates an interface (description "aws-k8s-branch-eni") in the
// trunk's subnet with the given groups, associates it with the trunk under
// vlan, and returns the branch interface and association IDs.
func (f *EC2) AddBranch(trunkID string, vlan int32, groupIDs ...string) (eniID, associationID string) {
	type pair struct{ eni, assoc string }
	p := build(f, "AddBranch "+trunkID, func() (pair, error) {
		trunk, err := f.lookupENI(trunkID)
		if err != nil {
			return pair{}, err
		}
		e, err := f.createENI(eniSpec{subnetID: trunk.subnetID, groups: groupIDs, desc: "aws-k8s-branch-eni"}, false)
		if err != nil {
			return pair{}, err
		}
		a, err := f.associate(assocSpec{trunkID: trunk.id, branchID: e.id, vlan: vlan}, false)
		if err != nil {
			f.deleteENI(e)
			return pair{}, err
		}
		return pair{e.id, a.id}, nil
	})
	return p.eni, p.assoc
}

// Tag sets tags on any resource, given as alternating keys and values.
// Unlike CreateTags it accepts keys starting with "aws:", which EC2 reserves
// for the tags its own services set.
func (f *EC2) Tag(resourceID string, keyValues ...string) {
	build(f, "Tag "+resourceID, func() (struct{}, error) {
		if len(keyValues)%2 != 0 {
			return struct{}{}, fmt.Errorf("odd number of key/value arguments (%d)", len(keyValues))
		}
		m, err := f.tagsOf(resourceID)
		if err != nil {
			return struct{}{}, err
		}
		tt := make([]types.Tag, 0, len(keyValues)/2)
		for i := 0; i < len(keyValues); i += 2 {
			tt = append(tt, types.Tag{Key: aws.String(keyValues[i]), Value: aws.String(keyValues[i+1])})
		}
		return struct{}{}, applyTags(m.tags, tt, false)
	})
}
