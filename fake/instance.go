package fake

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// EC2's instance state codes.
var stateCodes = map[types.InstanceStateName]int32{
	types.InstanceStateNamePending:      0,
	types.InstanceStateNameRunning:      16,
	types.InstanceStateNameShuttingDown: 32,
	types.InstanceStateNameTerminated:   48,
	types.InstanceStateNameStopping:     64,
	types.InstanceStateNameStopped:      80,
}

func instanceState(s types.InstanceStateName) *types.InstanceState {
	return &types.InstanceState{Name: s, Code: aws.Int32(stateCodes[s])}
}

// stateAt is the state calls see of inst at now: "pending" until its launch
// completes (Consistency.Launch), "shutting-down" after termination until
// that propagates (Consistency.Delete).
func (inst *instance) stateAt(now time.Time) types.InstanceStateName {
	switch {
	case inst.state == types.InstanceStateNameTerminated && now.Before(inst.goneAt):
		return types.InstanceStateNameShuttingDown
	case inst.state == types.InstanceStateNameRunning && now.Before(inst.runningAt):
		return types.InstanceStateNamePending
	}
	return inst.state
}

// nicSpec is one network interface an instance launches with.
type nicSpec struct {
	eniSpec
	device, card int32
	deleteOnTerm bool
}

type launchSpec struct {
	imageID, instanceType string
	count                 int
	nics                  []nicSpec // nics[0] is the primary, device 0
	az                    string
	tags, eniTags         tags
	clientToken           string
}

// launch validates spec entirely, then creates count instances with their
// interfaces attached. It changes nothing when it fails.
func (f *EC2) launch(sp launchSpec, dryRun bool) ([]*instance, string, error) {
	if sp.imageID == "" {
		return nil, "", missing("ImageId")
	}
	if sp.instanceType == "" {
		return nil, "", missing("InstanceType")
	}
	lim, err := f.limits.Lookup(sp.instanceType)
	if err != nil {
		return nil, "", invalidValue("Invalid value '%s' for InstanceType.", sp.instanceType)
	}
	primary := sp.nics[0]
	s, err := f.lookupSubnet(primary.subnetID)
	if err != nil {
		return nil, "", err
	}
	if sp.az != "" && sp.az != s.az {
		return nil, "", invalidValue("Value (%s) for parameter availabilityZone is invalid. Subnet %s is in %s.", sp.az, s.id, s.az)
	}
	if len(sp.nics) > lim.MaxENIs {
		return nil, "", apiError(CodeAttachmentLimitExceeded, "Interface count %d exceeds the limit for %s", len(sp.nics), lim.InstanceType)
	}
	need := make(map[string]int)
	seen := make(map[[2]int32]bool)
	perCard := make(map[int32]int)
	for i := range sp.nics {
		n := &sp.nics[i]
		if n.subnetID == "" {
			n.subnetID = s.id
		}
		ns, err := f.lookupSubnet(n.subnetID)
		if err != nil {
			return nil, "", err
		}
		if ns.az != s.az || ns.vpcID != s.vpcID {
			return nil, "", apiError(CodeInvalidParameterCombination, "Network interfaces of one instance must be in one VPC and availability zone.")
		}
		if _, err := f.groupsOf(n.groups, ns.vpcID); err != nil {
			return nil, "", err
		}
		if n.ifType == types.NetworkInterfaceCreationTypeTrunk && !lim.TrunkingCompatible {
			return nil, "", apiError(CodeUnsupportedOperation, "Instance type %s does not support trunk network interfaces.", lim.InstanceType)
		}
		if seen[[2]int32{n.card, n.device}] {
			return nil, "", invalidValue("Each network interface requires a unique device index (card %d, index %d).", n.card, n.device)
		}
		seen[[2]int32{n.card, n.device}] = true
		perCard[n.card]++
		if _, err := f.checkAddrs(ns, n.eniSpec); err != nil {
			return nil, "", err
		}
		if len(n.ipv6.explicit) > 0 && sp.count > 1 {
			return nil, "", invalidValue("IPv6 addresses can only be specified when launching a single instance.")
		}
		if !ns.ipv6Native {
			need[ns.id] += (1 + n.secondary) * sp.count
		}
		if n.ip != "" {
			if sp.count > 1 {
				return nil, "", invalidValue("A private IP address can only be specified when launching a single instance.")
			}
			if err := ns.checkAddr(n.ip); err != nil {
				return nil, "", err
			}
		}
	}
	for card, n := range perCard {
		limit := -1
		for _, c := range lim.NetworkCards {
			if int32(c.Index) == card {
				limit = c.MaxENIs
			}
		}
		if limit < 0 {
			return nil, "", invalidValue("Network card index %d is not valid for instance type %s.", card, lim.InstanceType)
		}
		if n > limit {
			return nil, "", apiError(CodeAttachmentLimitExceeded, "Interface count %d exceeds the limit for %s", n, lim.InstanceType)
		}
	}
	for id, n := range need {
		if ns := f.st.subnets[id]; ns.size-len(ns.used) < n {
			return nil, "", apiError(CodeInsufficientFreeAddresses,
				"There are not enough free addresses in subnet '%s' to satisfy the requested number of instances.", id)
		}
	}
	if dryRun {
		return nil, "", dryRunError()
	}
	reservation := f.newID(prefixReservation)
	out := make([]*instance, 0, sp.count)
	for range sp.count {
		inst := &instance{
			meta: f.newMeta(prefixInstance, cloneTags(sp.tags)), typ: lim.InstanceType, lim: lim,
			imageID: sp.imageID, subnetID: s.id, vpcID: s.vpcID, az: s.az,
			state: types.InstanceStateNameRunning, reservation: reservation, clientToken: sp.clientToken,
		}
		inst.runningAt = inst.created.Add(f.lag(lagLaunch, inst.id))
		f.st.instances[inst.id] = inst
		for i, n := range sp.nics {
			es := n.eniSpec
			es.tags = cloneTags(sp.eniTags)
			e, err := f.createENI(es, false)
			if err != nil {
				return nil, "", err
			}
			// The launch's interfaces appear with their instance and are
			// attached once it runs.
			e.visibleAt = inst.visibleAt
			a := &attachment{id: f.newID(prefixAttachment), instanceID: inst.id, device: n.device, card: n.card,
				deleteOnTerm: n.deleteOnTerm, at: inst.created, attachedAt: inst.runningAt}
			e.att = a
			f.st.attach[a.id] = e.id
			inst.enis = append(inst.enis, e.id)
			if i == 0 {
				inst.primaryENI = e.id
				inst.groups = e.groups
			}
		}
		out = append(out, inst)
	}
	return out, reservation, nil
}

func cloneTags(t tags) tags {
	if t == nil {
		return nil
	}
	out := make(tags, len(t))
	for k, v := range t {
		out[k] = v
	}
	return out
}

// RunInstances launches MaxCount instances of a type from the limits table
// (any ImageId is accepted) in a subnet, each with a primary network
// interface at device index 0 that is deleted on termination. Network
// interfaces may also be described in NetworkInterfaces (new interfaces
// only, with device and card indexes). Ipv6AddressCount and Ipv6Addresses,
// of the instance or of an interface, give IPv6 addresses as they do to
// CreateNetworkInterface; in an IPv6-only subnet an instance has no IPv4
// address. ClientToken makes the call idempotent. Instances are running as
// soon as the call returns.
//
// Errors: MissingParameter, InvalidParameterValue (unknown instance type),
// InvalidSubnetID.NotFound, InvalidSecurityGroupID.NotFound,
// InsufficientFreeAddressesInSubnet, AttachmentLimitExceeded,
// VPCIdNotSpecified, IdempotentParameterMismatch.
func (f *EC2) RunInstances(ctx context.Context, in *ec2.RunInstancesInput, _ ...func(*ec2.Options)) (*ec2.RunInstancesOutput, error) {
	return call(ctx, f, ActionRunInstances, in, true, func(in *ec2.RunInstancesInput) (*ec2.RunInstancesOutput, error) {
		return idempotently(f, ActionRunInstances, in.ClientToken, in, func() (*ec2.RunInstancesOutput, error) {
			minCount, maxCount := aws.ToInt32(in.MinCount), aws.ToInt32(in.MaxCount)
			if in.MinCount == nil {
				return nil, missing("MinCount")
			}
			if in.MaxCount == nil {
				return nil, missing("MaxCount")
			}
			if minCount < 1 || maxCount < minCount {
				return nil, invalidValue("Value (%d) for parameter maxCount is invalid. It must be at least minCount (%d), which must be at least 1.", maxCount, minCount)
			}
			t, err := tagSpecs(in.TagSpecifications, types.ResourceTypeInstance, types.ResourceTypeNetworkInterface, types.ResourceTypeVolume)
			if err != nil {
				return nil, err
			}
			eniTags, err := tagSpecs(in.TagSpecifications, types.ResourceTypeNetworkInterface, types.ResourceTypeInstance, types.ResourceTypeVolume)
			if err != nil {
				return nil, err
			}
			sp := launchSpec{imageID: aws.ToString(in.ImageId), instanceType: string(in.InstanceType), count: int(maxCount),
				tags: t, eniTags: eniTags, clientToken: aws.ToString(in.ClientToken)}
			if in.Placement != nil {
				sp.az = aws.ToString(in.Placement.AvailabilityZone)
			}
			groups := slices.Clone(in.SecurityGroupIds)
			primary := nicSpec{eniSpec: eniSpec{subnetID: aws.ToString(in.SubnetId), ip: aws.ToString(in.PrivateIpAddress),
				ipv6: v6Spec(in.Ipv6AddressCount, in.Ipv6Addresses)}, deleteOnTerm: true}
			var extra []nicSpec
			for _, n := range in.NetworkInterfaces {
				if n.NetworkInterfaceId != nil {
					return nil, invalidValue("Launching with an existing network interface (%s) is not supported; attach it after launch.", *n.NetworkInterfaceId)
				}
				ns := nicSpec{
					eniSpec: eniSpec{subnetID: aws.ToString(n.SubnetId), groups: n.Groups, desc: aws.ToString(n.Description),
						ip: aws.ToString(n.PrivateIpAddress), secondary: int(aws.ToInt32(n.SecondaryPrivateIpAddressCount)),
						ipv6:   v6Spec(n.Ipv6AddressCount, n.Ipv6Addresses),
						ifType: types.NetworkInterfaceCreationType(aws.ToString(n.InterfaceType))},
					device: aws.ToInt32(n.DeviceIndex), card: aws.ToInt32(n.NetworkCardIndex),
					deleteOnTerm: n.DeleteOnTermination == nil || *n.DeleteOnTermination,
				}
				if ns.ifType == "interface" {
					ns.ifType = ""
				}
				if ns.device == 0 && ns.card == 0 {
					if in.SubnetId != nil || len(groups) > 0 {
						return nil, apiError(CodeInvalidParameterCombination,
							"Network interfaces and an instance-level subnet ID or security groups may not be specified on the same request")
					}
					primary = ns
				} else {
					extra = append(extra, ns)
				}
			}
			if len(primary.groups) == 0 {
				primary.groups = groups
			}
			if primary.subnetID == "" {
				for _, vid := range sortedIDs(f.st.vpcs) {
					if !f.st.vpcs[vid].isDefault {
						continue
					}
					for _, sid := range sortedIDs(f.st.subnets) {
						if s := f.st.subnets[sid]; s.vpcID == vid && (sp.az == "" || sp.az == s.az) && primary.subnetID == "" {
							primary.subnetID = sid
						}
					}
				}
				if primary.subnetID == "" {
					return nil, apiError(CodeVPCIDNotSpecified, "No default VPC for this user. Specify a subnet.")
				}
			}
			if len(in.SecurityGroups) > 0 {
				if s := f.st.subnets[primary.subnetID]; s != nil {
					for _, name := range in.SecurityGroups {
						id := ""
						for _, gid := range sortedIDs(f.st.groups) {
							if g := f.st.groups[gid]; g.vpcID == s.vpcID && g.name == name {
								id = gid
							}
						}
						if id == "" {
							return nil, apiError(CodeGroupNotFound, "The security group '%s' does not exist in VPC '%s'", name, s.vpcID)
						}
						primary.groups = append(primary.groups, id)
					}
				}
			}
			sp.nics = append([]nicSpec{primary}, extra...)
			insts, reservation, err := f.launch(sp, dry(in.DryRun))
			if err != nil {
				return nil, err
			}
			out := &ec2.RunInstancesOutput{ReservationId: aws.String(reservation), OwnerId: aws.String(f.opts.AccountID)}
			for _, inst := range insts {
				// EC2 answers RunInstances while the instances are still
				// pending, whatever Consistency.Launch says.
				r := f.renderInstance(inst, f.now)
				r.State = instanceState(types.InstanceStateNamePending)
				out.Instances = append(out.Instances, r)
			}
			return out, nil
		}, func(out *ec2.RunInstancesOutput) {
			// "The only information that might vary in the response is
			// the state of the instance."
			for i := range out.Instances {
				if inst := f.st.instances[aws.ToString(out.Instances[i].InstanceId)]; inst != nil {
					out.Instances[i].State = instanceState(inst.stateAt(f.now))
				}
			}
		})
	})
}

// terminate drops the trunk associations of the instance's interfaces,
// deletes the interfaces whose attachment says DeleteOnTermination and
// detaches the others, then marks the instance terminated.
func (f *EC2) terminate(inst *instance) {
	for _, id := range slices.Clone(inst.enis) {
		e := f.st.enis[id]
		for _, aid := range sortedIDs(branchMap(e.branches)) {
			f.disassociate(f.st.assocs[aid])
		}
		deleteIt := e.att.deleteOnTerm
		f.detach(e)
		if deleteIt {
			f.deleteENI(e)
		}
	}
	inst.state = types.InstanceStateNameTerminated
	inst.terminated = f.now
	inst.goneAt = f.now.Add(f.lag(lagDelete, inst.id))
}

// branchMap turns a trunk's VLAN → association map into a set of IDs.
func branchMap(m map[int32]string) map[string]bool {
	out := make(map[string]bool, len(m))
	for _, id := range m {
		out[id] = true
	}
	return out
}

// TerminateInstances terminates instances at once. Every ID must exist
// (InvalidInstanceID.NotFound names the missing ones; nothing is terminated
// then). Trunk associations of the instances' interfaces are dropped — the
// branch interfaces survive, available — interfaces attached with
// DeleteOnTermination are deleted and the others detached. Terminated
// instances stay visible to DescribeInstances.
func (f *EC2) TerminateInstances(ctx context.Context, in *ec2.TerminateInstancesInput, _ ...func(*ec2.Options)) (*ec2.TerminateInstancesOutput, error) {
	return call(ctx, f, ActionTerminateInstances, in, true, func(in *ec2.TerminateInstancesInput) (*ec2.TerminateInstancesOutput, error) {
		if len(in.InstanceIds) == 0 {
			return nil, missing("InstanceId")
		}
		ids := dedupe(in.InstanceIds)
		var missingIDs []string
		for _, id := range ids {
			if err := checkID(id, prefixInstance, CodeInstanceIDMalformed); err != nil {
				return nil, err
			}
			if inst := f.st.instances[id]; inst == nil || !f.sees(&inst.meta) {
				missingIDs = append(missingIDs, id)
			}
		}
		if len(missingIDs) > 0 {
			return nil, notFound(CodeInstanceNotFound, "instance", missingIDs...)
		}
		if dry(in.DryRun) {
			return nil, dryRunError()
		}
		out := &ec2.TerminateInstancesOutput{}
		for _, id := range ids {
			inst := f.st.instances[id]
			prev := inst.stateAt(f.now)
			cur := types.InstanceStateNameTerminated
			if inst.state != types.InstanceStateNameTerminated {
				// EC2 answers while the instance shuts down, whatever
				// Consistency.Delete says.
				f.terminate(inst)
				cur = types.InstanceStateNameShuttingDown
			}
			out.TerminatingInstances = append(out.TerminatingInstances, types.InstanceStateChange{
				InstanceId: aws.String(id), PreviousState: instanceState(prev), CurrentState: instanceState(cur)})
		}
		return out, nil
	})
}

func architecture(typ string) types.ArchitectureValues {
	family, _, _ := strings.Cut(typ, ".")
	if strings.HasPrefix(family, "a1") || (len(family) > 2 && strings.ContainsAny(family[2:], "g")) {
		return types.ArchitectureValuesArm64
	}
	return types.ArchitectureValuesX8664
}

func (f *EC2) renderInstance(inst *instance, now time.Time) types.Instance {
	launch := inst.created
	out := types.Instance{
		InstanceId:      aws.String(inst.id),
		InstanceType:    types.InstanceType(inst.typ),
		ImageId:         aws.String(inst.imageID),
		State:           instanceState(inst.stateAt(now)),
		LaunchTime:      &launch,
		Placement:       &types.Placement{AvailabilityZone: aws.String(inst.az), Tenancy: types.TenancyDefault},
		Architecture:    architecture(inst.typ),
		Hypervisor:      types.HypervisorTypeXen,
		Tags:            inst.tags.list(),
		AmiLaunchIndex:  aws.Int32(0),
		SourceDestCheck: aws.Bool(true),
	}
	if inst.lim.Hypervisor == "nitro" {
		out.Hypervisor = types.HypervisorType("nitro")
	}
	if inst.clientToken != "" {
		out.ClientToken = aws.String(inst.clientToken)
	}
	if inst.state == types.InstanceStateNameTerminated {
		return out
	}
	out.SubnetId = aws.String(inst.subnetID)
	out.VpcId = aws.String(inst.vpcID)
	out.SecurityGroups = f.groupIdentifiers(inst.groups)
	if p := f.st.enis[inst.primaryENI]; p != nil {
		if p.ip.IsValid() {
			out.PrivateIpAddress = aws.String(p.ip.String())
			out.PrivateDnsName = aws.String(f.dnsName(p.ip))
		}
		if len(p.ipv6) > 0 {
			out.Ipv6Address = aws.String(p.ipv6[0].String())
		}
		out.SecurityGroups = f.groupIdentifiers(p.groups)
	}
	ids := slices.Clone(inst.enis)
	slices.SortFunc(ids, func(a, b string) int {
		x, y := f.st.enis[a].att, f.st.enis[b].att
		if x.card != y.card {
			return int(x.card - y.card)
		}
		return int(x.device - y.device)
	})
	for _, id := range ids {
		e := f.st.enis[id]
		ifType := string(e.ifType)
		at := e.att.at
		nic := types.InstanceNetworkInterface{
			NetworkInterfaceId: aws.String(e.id),
			SubnetId:           aws.String(e.subnetID),
			VpcId:              aws.String(e.vpcID),
			Description:        aws.String(e.desc),
			Groups:             f.groupIdentifiers(e.groups),
			InterfaceType:      &ifType,
			MacAddress:         aws.String(e.mac),
			OwnerId:            aws.String(f.opts.AccountID),
			SourceDestCheck:    aws.Bool(e.sourceDest),
			Status:             e.status(),
			Attachment: &types.InstanceNetworkInterfaceAttachment{
				AttachmentId:        aws.String(e.att.id),
				DeviceIndex:         aws.Int32(e.att.device),
				NetworkCardIndex:    aws.Int32(e.att.card),
				DeleteOnTermination: aws.Bool(e.att.deleteOnTerm),
				AttachTime:          &at,
				Status:              f.attachStatus(e.att, now),
			},
		}
		if e.ip.IsValid() {
			nic.PrivateIpAddress = aws.String(e.ip.String())
			nic.PrivateDnsName = aws.String(f.dnsName(e.ip))
			nic.PrivateIpAddresses = append(nic.PrivateIpAddresses, types.InstancePrivateIpAddress{
				Primary: aws.Bool(true), PrivateIpAddress: aws.String(e.ip.String()), PrivateDnsName: aws.String(f.dnsName(e.ip))})
		}
		for _, a := range e.ipv6 {
			nic.Ipv6Addresses = append(nic.Ipv6Addresses, types.InstanceIpv6Address{Ipv6Address: aws.String(a.String()), IsPrimaryIpv6: aws.Bool(false)})
		}
		for _, a := range e.secondary {
			nic.PrivateIpAddresses = append(nic.PrivateIpAddresses, types.InstancePrivateIpAddress{
				Primary: aws.Bool(false), PrivateIpAddress: aws.String(a.String()), PrivateDnsName: aws.String(f.dnsName(a))})
		}
		out.NetworkInterfaces = append(out.NetworkInterfaces, nic)
	}
	return out
}

// live reports whether the instance still has network attributes: a
// terminated instance keeps its ID, type and state, but no subnet, VPC or
// interfaces.
func (inst *instance) live() bool { return inst.state != types.InstanceStateNameTerminated }

// liveField answers a filter that only a live instance has a value for.
func liveField(get func(inst *instance) string) filterField[*instance] {
	return func(_ *EC2, inst *instance) []string {
		if !inst.live() {
			return nil
		}
		return one(get(inst))
	}
}

// eachENI collects values over the instance's attached interfaces.
func eachENI(get func(f *EC2, inst *instance, e *netIface) []string) filterField[*instance] {
	return func(f *EC2, inst *instance) []string {
		var vals []string
		for _, id := range inst.enis {
			vals = append(vals, get(f, inst, f.st.enis[id])...)
		}
		return vals
	}
}

// primaryENI answers a filter on the instance's primary interface.
func primaryENI(get func(f *EC2, e *netIface) []string) filterField[*instance] {
	return func(f *EC2, inst *instance) []string {
		if e := f.st.enis[inst.primaryENI]; e != nil && inst.live() {
			return get(f, e)
		}
		return nil
	}
}

// instanceFilters are the filters of DescribeInstances the fake models.
// Every name is in the SDK's documentation of the operation (checked by a
// test).
var instanceFilters = newFilterTable(ActionDescribeInstances, map[string]filterField[*instance]{
	"instance-id":         func(_ *EC2, inst *instance) []string { return one(inst.id) },
	"instance-type":       func(_ *EC2, inst *instance) []string { return one(inst.typ) },
	"image-id":            func(_ *EC2, inst *instance) []string { return one(inst.imageID) },
	"instance-state-name": func(f *EC2, inst *instance) []string { return one(string(inst.stateAt(f.now))) },
	"instance-state-code": func(f *EC2, inst *instance) []string {
		return one(strconv.Itoa(int(stateCodes[inst.stateAt(f.now)])))
	},
	"availability-zone": func(_ *EC2, inst *instance) []string { return one(inst.az) },
	"reservation-id":    func(_ *EC2, inst *instance) []string { return one(inst.reservation) },
	"owner-id":          func(f *EC2, _ *instance) []string { return one(f.opts.AccountID) },
	"client-token": func(_ *EC2, inst *instance) []string {
		if inst.clientToken == "" {
			return nil
		}
		return one(inst.clientToken)
	},
	"subnet-id": liveField(func(inst *instance) string { return inst.subnetID }),
	"vpc-id":    liveField(func(inst *instance) string { return inst.vpcID }),
	"private-ip-address": primaryENI(func(_ *EC2, e *netIface) []string {
		if !e.ip.IsValid() {
			return nil
		}
		return one(e.ip.String())
	}),
	"instance.group-id": primaryENI(func(_ *EC2, e *netIface) []string { return e.groups }),
	"instance.group-name": primaryENI(func(f *EC2, e *netIface) []string {
		var names []string
		for _, id := range e.groups {
			if g := f.st.groups[id]; g != nil {
				names = append(names, g.name)
			}
		}
		return names
	}),
	"network-interface.network-interface-id": eachENI(func(_ *EC2, _ *instance, e *netIface) []string { return one(e.id) }),
	"network-interface.subnet-id":            eachENI(func(_ *EC2, _ *instance, e *netIface) []string { return one(e.subnetID) }),
	"network-interface.group-id":             eachENI(func(_ *EC2, _ *instance, e *netIface) []string { return e.groups }),
})

// DescribeInstances lists instances, grouped by reservation, in instance ID
// order. Filters: those the SDK documents for the operation that the fake
// models (instance-id, instance-type, image-id, instance-state-name,
// instance-state-code, availability-zone, reservation-id, owner-id,
// client-token, subnet-id, vpc-id, private-ip-address, instance.group-id,
// instance.group-name, network-interface.{network-interface-id, subnet-id,
// group-id}, tag:<key>, tag-key). MaxResults is 5..1000 and cannot be
// combined with InstanceIds.
func (f *EC2) DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	narrowed := in != nil && filtered(in.Filters, len(in.InstanceIds), in.MaxResults)
	return call(ctx, f, ActionDescribeInstances, in, narrowed, func(in *ec2.DescribeInstancesInput) (*ec2.DescribeInstancesOutput, error) {
		if err := pages[ActionDescribeInstances].check(in.MaxResults, len(in.InstanceIds) > 0); err != nil {
			return nil, err
		}
		fs, err := instanceFilters.compile(in.Filters)
		if err != nil {
			return nil, err
		}
		now := f.now
		ids, err := f.selectIDs(in.InstanceIds, prefixInstance, CodeInstanceIDMalformed, CodeInstanceNotFound, "instance",
			func(id string) (bool, bool) {
				inst, ok := f.st.instances[id]
				if !ok || !inst.visible(now) {
					return false, false
				}
				return true, fs.match(f, inst, inst.tags)
			}, sortedIDs(f.st.instances))
		if err != nil {
			return nil, err
		}
		ids, next, err := pages[ActionDescribeInstances].paginate(ids, in.MaxResults, in.NextToken, len(in.InstanceIds) > 0)
		if err != nil {
			return nil, err
		}
		out := &ec2.DescribeInstancesOutput{NextToken: next}
		index := make(map[string]int)
		for _, id := range ids {
			inst := f.st.instances[id]
			i, ok := index[inst.reservation]
			if !ok {
				out.Reservations = append(out.Reservations, types.Reservation{
					ReservationId: aws.String(inst.reservation), OwnerId: aws.String(f.opts.AccountID)})
				i = len(out.Reservations) - 1
				index[inst.reservation] = i
			}
			out.Reservations[i].Instances = append(out.Reservations[i].Instances, f.renderInstance(inst, now))
		}
		return out, nil
	})
}
