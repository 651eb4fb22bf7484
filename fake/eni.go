package fake

import (
	"context"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

type eniSpec struct {
	subnetID  string
	groups    []string
	desc      string
	ifType    types.NetworkInterfaceCreationType
	ip        string
	secondary int      // how many secondary addresses to allocate
	extra     []string // explicit secondary addresses
	tags      tags
}

// createENI validates spec and, unless dryRun, creates the interface.
func (f *EC2) createENI(sp eniSpec, dryRun bool) (*netIface, error) {
	s, err := f.lookupSubnet(sp.subnetID)
	if err != nil {
		return nil, err
	}
	groups, err := f.groupsOf(sp.groups, s.vpcID)
	if err != nil {
		return nil, err
	}
	var typ types.NetworkInterfaceType
	switch sp.ifType {
	case "":
		typ = types.NetworkInterfaceTypeInterface
	case types.NetworkInterfaceCreationTypeTrunk, types.NetworkInterfaceCreationTypeBranch,
		types.NetworkInterfaceCreationTypeEfa, types.NetworkInterfaceCreationTypeEfaOnly:
		typ = types.NetworkInterfaceType(sp.ifType)
	default:
		return nil, invalidValue("Value (%s) for parameter interfaceType is invalid. Valid values are: efa, efa-only, branch, trunk.", sp.ifType)
	}
	if len(sp.desc) > 255 {
		return nil, invalidValue("Description must be at most 255 characters.")
	}
	if sp.secondary < 0 {
		return nil, invalidValue("Value (%d) for parameter secondaryPrivateIpAddressCount is invalid.", sp.secondary)
	}
	need := 1 + sp.secondary + len(sp.extra)
	explicit := sp.extra
	if sp.ip != "" {
		explicit = append([]string{sp.ip}, explicit...)
	}
	for i, a := range explicit {
		if err := s.checkAddr(a); err != nil {
			return nil, err
		}
		if slices.Contains(explicit[:i], a) {
			return nil, invalidValue("Address %s is specified more than once.", a)
		}
	}
	if free := s.size - len(s.used); free < need {
		return nil, apiError(CodeInsufficientFreeAddresses,
			"There are not enough free addresses in subnet '%s' to satisfy the requested number of addresses.", s.id)
	}
	if dryRun {
		return nil, dryRunError()
	}
	e := &netIface{
		meta: f.newMeta(prefixENI, sp.tags), subnetID: s.id, vpcID: s.vpcID, az: s.az,
		desc: sp.desc, mac: f.newMAC(), ifType: typ, createdType: typ, groups: groups, sourceDest: true,
	}
	if sp.ip != "" {
		e.ip, _ = s.reserve(sp.ip, e.id)
	} else {
		e.ip, _ = s.allocate(e.id)
	}
	for _, addr := range sp.extra {
		a, _ := s.reserve(addr, e.id)
		e.secondary = append(e.secondary, a)
	}
	for range sp.secondary {
		a, _ := s.allocate(e.id)
		e.secondary = append(e.secondary, a)
	}
	f.st.enis[e.id] = e
	f.st.eniOrder = nil
	return e, nil
}

// deleteENI removes an interface and releases its addresses.
func (f *EC2) deleteENI(e *netIface) {
	if s := f.st.subnets[e.subnetID]; s != nil {
		s.release(e.ip)
		for _, a := range e.secondary {
			s.release(a)
		}
	}
	delete(f.st.enis, e.id)
	f.st.eniOrder = nil
}

// scanENIs returns, in ID order, the visible ENIs that pass fs and come
// after nextToken's position, stopping once it has one more than
// maxResults: enough for paginate to cut the page and know whether another
// follows, without examining every ENI for every page. f.mu must be held.
func (f *EC2) scanENIs(fs filterSet, maxResults int32, nextToken *string, now time.Time) ([]string, error) {
	all := f.st.sortedENIIDs()
	start := 0
	if tok := aws.ToString(nextToken); tok != "" {
		after, err := decodeToken(tok)
		if err != nil {
			return nil, err
		}
		start, _ = slices.BinarySearch(all, after)
		if start < len(all) && all[start] == after {
			start++
		}
	}
	var out []string
	for _, id := range all[start:] {
		e := f.st.enis[id]
		if !e.meta.visible(now) || !fs.match(e.tags, f.eniField(e)) {
			continue
		}
		out = append(out, id)
		if len(out) > int(maxResults) {
			break
		}
	}
	return out, nil
}

func (f *EC2) lookupENI(id string) (*netIface, error) {
	if id == "" {
		return nil, missing("NetworkInterfaceId")
	}
	if err := checkID(id, prefixENI, CodeNetworkInterfaceMalformed); err != nil {
		return nil, err
	}
	e := f.st.enis[id]
	if e == nil {
		return nil, notFound(CodeNetworkInterfaceNotFound, "networkInterface", id)
	}
	return e, nil
}

func (f *EC2) groupIdentifiers(ids []string) []types.GroupIdentifier {
	out := make([]types.GroupIdentifier, 0, len(ids))
	for _, id := range ids {
		gi := types.GroupIdentifier{GroupId: aws.String(id)}
		if g := f.st.groups[id]; g != nil {
			gi.GroupName = aws.String(g.name)
		}
		out = append(out, gi)
	}
	return out
}

func (f *EC2) dnsName(a netip.Addr) string {
	host := "ip-" + strings.ReplaceAll(a.String(), ".", "-")
	if f.opts.Region == "us-east-1" {
		return host + ".ec2.internal"
	}
	return host + "." + f.opts.Region + ".compute.internal"
}

func (f *EC2) attachStatus(a *attachment, now time.Time) types.AttachmentStatus {
	if now.Before(a.at.Add(f.opts.AttachDelay)) {
		return types.AttachmentStatusAttaching
	}
	return types.AttachmentStatusAttached
}

func (f *EC2) renderENI(e *netIface, now time.Time) types.NetworkInterface {
	out := types.NetworkInterface{
		NetworkInterfaceId: aws.String(e.id),
		SubnetId:           aws.String(e.subnetID),
		VpcId:              aws.String(e.vpcID),
		AvailabilityZone:   aws.String(e.az),
		Description:        aws.String(e.desc),
		Groups:             f.groupIdentifiers(e.groups),
		InterfaceType:      e.ifType,
		MacAddress:         aws.String(e.mac),
		OwnerId:            aws.String(f.opts.AccountID),
		PrivateIpAddress:   aws.String(e.ip.String()),
		PrivateDnsName:     aws.String(f.dnsName(e.ip)),
		RequesterManaged:   aws.Bool(false),
		SourceDestCheck:    aws.Bool(e.sourceDest),
		Status:             e.status(),
		TagSet:             e.tags.list(),
	}
	out.PrivateIpAddresses = append(out.PrivateIpAddresses, types.NetworkInterfacePrivateIpAddress{
		Primary: aws.Bool(true), PrivateIpAddress: aws.String(e.ip.String()), PrivateDnsName: aws.String(f.dnsName(e.ip))})
	for _, a := range e.secondary {
		out.PrivateIpAddresses = append(out.PrivateIpAddresses, types.NetworkInterfacePrivateIpAddress{
			Primary: aws.Bool(false), PrivateIpAddress: aws.String(a.String()), PrivateDnsName: aws.String(f.dnsName(a))})
	}
	if a := e.att; a != nil {
		at := a.at
		out.Attachment = &types.NetworkInterfaceAttachment{
			AttachmentId:        aws.String(a.id),
			InstanceId:          aws.String(a.instanceID),
			InstanceOwnerId:     aws.String(f.opts.AccountID),
			DeviceIndex:         aws.Int32(a.device),
			NetworkCardIndex:    aws.Int32(a.card),
			DeleteOnTermination: aws.Bool(a.deleteOnTerm),
			AttachTime:          &at,
			Status:              f.attachStatus(a, now),
		}
	}
	return out
}

func (e *netIface) status() types.NetworkInterfaceStatus {
	if e.att != nil || e.assocID != "" {
		return types.NetworkInterfaceStatusInUse
	}
	return types.NetworkInterfaceStatusAvailable
}

// CreateNetworkInterface creates a network interface in a subnet, with the
// given security groups (the VPC's default group when none), an address
// from the subnet (or the one asked for) and a MAC address. InterfaceType
// "trunk" creates a trunk interface; an interface associated later with
// AssociateTrunkInterface reports type "branch". ClientToken makes the call
// idempotent.
//
// Errors: MissingParameter, InvalidSubnetID.NotFound,
// InvalidSecurityGroupID.NotFound (message "The securityGroup ID 'sg-…' does
// not exist"), SecurityGroupsPerInterfaceLimitExceeded,
// InsufficientFreeAddressesInSubnet, InvalidIPAddress.InUse,
// InvalidParameterValue, IdempotentParameterMismatch.
func (f *EC2) CreateNetworkInterface(ctx context.Context, in *ec2.CreateNetworkInterfaceInput, _ ...func(*ec2.Options)) (*ec2.CreateNetworkInterfaceOutput, error) {
	return call(ctx, f, ActionCreateNetworkInterface, in, true, func(in *ec2.CreateNetworkInterfaceInput) (*ec2.CreateNetworkInterfaceOutput, error) {
		return idempotently(f, ActionCreateNetworkInterface, in.ClientToken, in, func() (*ec2.CreateNetworkInterfaceOutput, error) {
			t, err := tagSpecs(in.TagSpecifications, types.ResourceTypeNetworkInterface)
			if err != nil {
				return nil, err
			}
			sp := eniSpec{subnetID: aws.ToString(in.SubnetId), groups: in.Groups, desc: aws.ToString(in.Description),
				ifType: in.InterfaceType, ip: aws.ToString(in.PrivateIpAddress), secondary: int(aws.ToInt32(in.SecondaryPrivateIpAddressCount)), tags: t}
			for _, p := range in.PrivateIpAddresses {
				if aws.ToBool(p.Primary) {
					if sp.ip != "" && sp.ip != aws.ToString(p.PrivateIpAddress) {
						return nil, apiError(CodeInvalidParameterCombination, "Only one primary private IP address may be specified.")
					}
					sp.ip = aws.ToString(p.PrivateIpAddress)
				} else {
					sp.extra = append(sp.extra, aws.ToString(p.PrivateIpAddress))
				}
			}
			e, err := f.createENI(sp, dry(in.DryRun))
			if err != nil {
				return nil, err
			}
			out := f.renderENI(e, time.Now())
			return &ec2.CreateNetworkInterfaceOutput{NetworkInterface: &out, ClientToken: in.ClientToken}, nil
		})
	})
}

// DeleteNetworkInterface deletes a network interface and releases its
// addresses. An attached interface, a branch interface still associated with
// a trunk (InvalidNetworkInterface.InUse) and a trunk with branch
// associations (DependencyViolation) cannot be deleted.
func (f *EC2) DeleteNetworkInterface(ctx context.Context, in *ec2.DeleteNetworkInterfaceInput, _ ...func(*ec2.Options)) (*ec2.DeleteNetworkInterfaceOutput, error) {
	return call(ctx, f, ActionDeleteNetworkInterface, in, true, func(in *ec2.DeleteNetworkInterfaceInput) (*ec2.DeleteNetworkInterfaceOutput, error) {
		e, err := f.lookupENI(aws.ToString(in.NetworkInterfaceId))
		if err != nil {
			return nil, err
		}
		if e.att != nil {
			return nil, apiError(CodeNetworkInterfaceInUse, "The network interface '%s' is currently in use (attached to %s).", e.id, e.att.instanceID)
		}
		if e.assocID != "" {
			return nil, apiError(CodeNetworkInterfaceInUse, "The network interface '%s' is currently in use (trunk association %s).", e.id, e.assocID)
		}
		if len(e.branches) > 0 {
			return nil, apiError(CodeDependencyViolation, "The trunk network interface '%s' has %d branch interface associations.", e.id, len(e.branches))
		}
		if dry(in.DryRun) {
			return nil, dryRunError()
		}
		f.deleteENI(e)
		return &ec2.DeleteNetworkInterfaceOutput{}, nil
	})
}

func (f *EC2) lookupInstance(id string) (*instance, error) {
	if id == "" {
		return nil, missing("InstanceId")
	}
	if err := checkID(id, prefixInstance, CodeInstanceIDMalformed); err != nil {
		return nil, err
	}
	in := f.st.instances[id]
	if in == nil {
		return nil, notFound(CodeInstanceNotFound, "instance", id)
	}
	return in, nil
}

type attachSpec struct {
	eniID, instanceID string
	device, card      int32
	deleteOnTerm      bool
}

// attach validates and performs an attachment. EC2's rules: the interface
// must be free and not a branch; the instance running and in the same
// availability zone; the card must exist; the device index must be free on
// that card; the card's interface limit must not be exceeded; a trunk
// interface needs a trunking-compatible instance type.
func (f *EC2) attach(sp attachSpec, dryRun bool) (*attachment, error) {
	e, err := f.lookupENI(sp.eniID)
	if err != nil {
		return nil, err
	}
	inst, err := f.lookupInstance(sp.instanceID)
	if err != nil {
		return nil, err
	}
	if e.att != nil {
		return nil, apiError(CodeNetworkInterfaceInUse, "Interface: [%s] in use.", e.id)
	}
	if e.assocID != "" || e.ifType == types.NetworkInterfaceTypeBranch {
		return nil, invalidValue("Branch network interface %s cannot be attached to an instance; associate it with a trunk interface instead.", e.id)
	}
	if inst.state != types.InstanceStateNameRunning && inst.state != types.InstanceStateNameStopped {
		return nil, apiError(CodeIncorrectInstanceState, "The instance '%s' is not in a valid state for this operation.", inst.id)
	}
	if e.az != inst.az {
		return nil, apiError(CodeInvalidParameterCombination,
			"You may not attach a network interface to an instance if they are not in the same availability zone")
	}
	if e.vpcID != inst.vpcID {
		return nil, invalidValue("Network interface %s and instance %s belong to different networks.", e.id, inst.id)
	}
	if sp.device < 0 {
		return nil, invalidValue("Invalid value '%d' for deviceIndex.", sp.device)
	}
	cardLimit := -1
	for _, c := range inst.lim.NetworkCards {
		if int32(c.Index) == sp.card {
			cardLimit = c.MaxENIs
		}
	}
	if cardLimit < 0 {
		return nil, invalidValue("Network card index %d is not valid for instance type %s.", sp.card, inst.typ)
	}
	onCard := 0
	for _, id := range inst.enis {
		a := f.st.enis[id].att
		if a.card != sp.card {
			continue
		}
		onCard++
		if a.device == sp.device {
			return nil, invalidValue("Instance '%s' already has an interface attached at device index '%d'.", inst.id, sp.device)
		}
	}
	if onCard+1 > cardLimit {
		return nil, apiError(CodeAttachmentLimitExceeded, "Interface count %d exceeds the limit for %s", onCard+1, inst.typ)
	}
	if e.ifType == types.NetworkInterfaceTypeTrunk && !inst.lim.TrunkingCompatible {
		return nil, apiError(CodeUnsupportedOperation,
			"Instance type %s does not support trunk network interfaces; use a trunking-compatible (Nitro) type.", inst.typ)
	}
	if dryRun {
		return nil, dryRunError()
	}
	a := &attachment{id: f.newID(prefixAttachment), instanceID: inst.id, device: sp.device, card: sp.card,
		deleteOnTerm: sp.deleteOnTerm, at: time.Now()}
	e.att = a
	inst.enis = append(inst.enis, e.id)
	f.st.attach[a.id] = e.id
	return a, nil
}

// detach undoes an attachment.
func (f *EC2) detach(e *netIface) {
	a := e.att
	if a == nil {
		return
	}
	if inst := f.st.instances[a.instanceID]; inst != nil {
		inst.enis = slices.DeleteFunc(inst.enis, func(id string) bool { return id == e.id })
	}
	delete(f.st.attach, a.id)
	e.att = nil
}

// AttachNetworkInterface attaches a network interface to an instance at a
// device index of a network card (card 0 by default). DeleteOnTermination of
// the new attachment is false, as in EC2; change it with
// ModifyNetworkInterfaceAttribute.
//
// Errors: InvalidNetworkInterfaceID.NotFound, InvalidInstanceID.NotFound,
// InvalidNetworkInterface.InUse, InvalidParameterValue (device index taken,
// unknown card, branch interface), AttachmentLimitExceeded,
// UnsupportedOperation (trunk on a type that is not trunking-compatible),
// IncorrectInstanceState, InvalidParameterCombination (other zone).
func (f *EC2) AttachNetworkInterface(ctx context.Context, in *ec2.AttachNetworkInterfaceInput, _ ...func(*ec2.Options)) (*ec2.AttachNetworkInterfaceOutput, error) {
	return call(ctx, f, ActionAttachNetworkInterface, in, true, func(in *ec2.AttachNetworkInterfaceInput) (*ec2.AttachNetworkInterfaceOutput, error) {
		if in.DeviceIndex == nil {
			return nil, missing("DeviceIndex")
		}
		a, err := f.attach(attachSpec{eniID: aws.ToString(in.NetworkInterfaceId), instanceID: aws.ToString(in.InstanceId),
			device: *in.DeviceIndex, card: aws.ToInt32(in.NetworkCardIndex)}, dry(in.DryRun))
		if err != nil {
			return nil, err
		}
		return &ec2.AttachNetworkInterfaceOutput{AttachmentId: aws.String(a.id), NetworkCardIndex: aws.Int32(a.card)}, nil
	})
}

// DetachNetworkInterface detaches an interface by attachment ID. The primary
// interface (device index 0) cannot be detached (OperationNotPermitted).
func (f *EC2) DetachNetworkInterface(ctx context.Context, in *ec2.DetachNetworkInterfaceInput, _ ...func(*ec2.Options)) (*ec2.DetachNetworkInterfaceOutput, error) {
	return call(ctx, f, ActionDetachNetworkInterface, in, true, func(in *ec2.DetachNetworkInterfaceInput) (*ec2.DetachNetworkInterfaceOutput, error) {
		id := aws.ToString(in.AttachmentId)
		if id == "" {
			return nil, missing("AttachmentId")
		}
		eid, ok := f.st.attach[id]
		if !ok {
			return nil, notFound(CodeAttachmentNotFound, "attachment", id)
		}
		e := f.st.enis[eid]
		if e.att.device == 0 && e.att.card == 0 {
			return nil, apiError(CodeOperationNotPermitted, "The network interface at device index 0 cannot be detached.")
		}
		if dry(in.DryRun) {
			return nil, dryRunError()
		}
		f.detach(e)
		return &ec2.DetachNetworkInterfaceOutput{}, nil
	})
}

// ModifyNetworkInterfaceAttribute changes one attribute per call, as EC2
// requires: Description, Groups (validated like CreateNetworkInterface's),
// SourceDestCheck, or Attachment.DeleteOnTermination (the AttachmentId must
// be the interface's current attachment).
func (f *EC2) ModifyNetworkInterfaceAttribute(ctx context.Context, in *ec2.ModifyNetworkInterfaceAttributeInput, _ ...func(*ec2.Options)) (*ec2.ModifyNetworkInterfaceAttributeOutput, error) {
	return call(ctx, f, ActionModifyNetworkInterfaceAttribute, in, true, func(in *ec2.ModifyNetworkInterfaceAttributeInput) (*ec2.ModifyNetworkInterfaceAttributeOutput, error) {
		e, err := f.lookupENI(aws.ToString(in.NetworkInterfaceId))
		if err != nil {
			return nil, err
		}
		var set []string
		if in.Description != nil {
			set = append(set, "description")
		}
		if len(in.Groups) > 0 {
			set = append(set, "groupSet")
		}
		if in.SourceDestCheck != nil {
			set = append(set, "sourceDestCheck")
		}
		if in.Attachment != nil {
			set = append(set, "attachment")
		}
		switch len(set) {
		case 0:
			return nil, missing("Description, Groups, SourceDestCheck or Attachment")
		case 1:
		default:
			return nil, apiError(CodeInvalidParameterCombination, "Fields for multiple attribute types specified: %s", strings.Join(set, ", "))
		}
		var apply func()
		switch set[0] {
		case "description":
			d := aws.ToString(in.Description.Value)
			if len(d) > 255 {
				return nil, invalidValue("Description must be at most 255 characters.")
			}
			apply = func() { e.desc = d }
		case "groupSet":
			groups, err := f.groupsOf(in.Groups, e.vpcID)
			if err != nil {
				return nil, err
			}
			apply = func() { e.groups = groups }
		case "sourceDestCheck":
			v := aws.ToBool(in.SourceDestCheck.Value)
			apply = func() { e.sourceDest = v }
		case "attachment":
			aid := aws.ToString(in.Attachment.AttachmentId)
			if aid == "" {
				return nil, missing("Attachment.AttachmentId")
			}
			if e.att == nil || e.att.id != aid {
				return nil, notFound(CodeAttachmentNotFound, "attachment", aid)
			}
			if in.Attachment.DeleteOnTermination == nil {
				return nil, missing("Attachment.DeleteOnTermination")
			}
			v := *in.Attachment.DeleteOnTermination
			apply = func() { e.att.deleteOnTerm = v }
		}
		if dry(in.DryRun) {
			return nil, dryRunError()
		}
		apply()
		return &ec2.ModifyNetworkInterfaceAttributeOutput{}, nil
	})
}

func (f *EC2) eniField(e *netIface) fieldFunc {
	return func(name string) ([]string, bool) {
		switch name {
		case "network-interface-id":
			return []string{e.id}, true
		case "subnet-id":
			return []string{e.subnetID}, true
		case "vpc-id":
			return []string{e.vpcID}, true
		case "availability-zone":
			return []string{e.az}, true
		case "description":
			return []string{e.desc}, true
		case "interface-type":
			return []string{string(e.ifType)}, true
		case "status":
			return []string{string(e.status())}, true
		case "mac-address":
			return []string{e.mac}, true
		case "owner-id":
			return []string{f.opts.AccountID}, true
		case "requester-managed":
			return []string{"false"}, true
		case "source-dest-check":
			return []string{strconv.FormatBool(e.sourceDest)}, true
		case "group-id":
			return e.groups, true
		case "group-name":
			var names []string
			for _, id := range e.groups {
				if g := f.st.groups[id]; g != nil {
					names = append(names, g.name)
				}
			}
			return names, true
		case "private-ip-address", "addresses.private-ip-address":
			vals := []string{e.ip.String()}
			if name == "addresses.private-ip-address" {
				for _, a := range e.secondary {
					vals = append(vals, a.String())
				}
			}
			return vals, true
		case "private-dns-name":
			return []string{f.dnsName(e.ip)}, true
		}
		rest, ok := strings.CutPrefix(name, "attachment.")
		if !ok {
			return nil, false
		}
		a := e.att
		var v string
		switch rest {
		case "attachment-id":
			if a != nil {
				v = a.id
			}
		case "instance-id":
			if a != nil {
				v = a.instanceID
			}
		case "instance-owner-id":
			if a != nil {
				v = f.opts.AccountID
			}
		case "device-index":
			if a != nil {
				v = strconv.Itoa(int(a.device))
			}
		case "network-card-index":
			if a != nil {
				v = strconv.Itoa(int(a.card))
			}
		case "status":
			if a != nil {
				v = string(f.attachStatus(a, time.Now()))
			}
		case "delete-on-termination":
			if a != nil {
				v = strconv.FormatBool(a.deleteOnTerm)
			}
		case "attach-time":
			if a != nil {
				v = a.at.UTC().Format(time.RFC3339)
			}
		default:
			return nil, false
		}
		if v == "" {
			return nil, true
		}
		return []string{v}, true
	}
}

// DescribeNetworkInterfaces lists network interfaces in ID order. Unknown IDs
// give InvalidNetworkInterfaceID.NotFound ("The networkInterface ID 'eni-…'
// does not exist"). Filters: network-interface-id, subnet-id, vpc-id,
// availability-zone, description, interface-type, status, mac-address,
// owner-id, requester-managed, source-dest-check, group-id, group-name,
// private-ip-address, addresses.private-ip-address, private-dns-name,
// attachment.{attachment-id, instance-id, instance-owner-id, device-index,
// network-card-index, status, delete-on-termination, attach-time},
// tag:<key>, tag-key, tag-value. MaxResults is 5..1000 and cannot be
// combined with NetworkInterfaceIds.
func (f *EC2) DescribeNetworkInterfaces(ctx context.Context, in *ec2.DescribeNetworkInterfacesInput, _ ...func(*ec2.Options)) (*ec2.DescribeNetworkInterfacesOutput, error) {
	narrowed := in != nil && filtered(in.Filters, len(in.NetworkInterfaceIds), in.MaxResults)
	return call(ctx, f, ActionDescribeNetworkInterfaces, in, narrowed, func(in *ec2.DescribeNetworkInterfacesInput) (*ec2.DescribeNetworkInterfacesOutput, error) {
		if err := checkFilters(in.Filters, f.eniField(&netIface{})); err != nil {
			return nil, err
		}
		now := time.Now()
		fs := compileFilters(in.Filters)
		var ids []string
		var err error
		if len(in.NetworkInterfaceIds) == 0 && in.MaxResults != nil {
			ids, err = f.scanENIs(fs, *in.MaxResults, in.NextToken, now)
		} else {
			ids, err = f.selectIDs(in.NetworkInterfaceIds, prefixENI, CodeNetworkInterfaceMalformed,
				CodeNetworkInterfaceNotFound, "networkInterface",
				func(id string) (*meta, bool) {
					e, ok := f.st.enis[id]
					if !ok {
						return nil, false
					}
					return &e.meta, fs.match(e.tags, f.eniField(e))
				}, now, f.st.sortedENIIDs())
		}
		if err != nil {
			return nil, err
		}
		ids, next, err := page{idParam: "NetworkInterfaceIds", min: 5, max: 1000}.paginate(ids, in.MaxResults, in.NextToken, len(in.NetworkInterfaceIds) > 0)
		if err != nil {
			return nil, err
		}
		out := &ec2.DescribeNetworkInterfacesOutput{NextToken: next, NetworkInterfaces: make([]types.NetworkInterface, 0, len(ids))}
		for _, id := range ids {
			out.NetworkInterfaces = append(out.NetworkInterfaces, f.renderENI(f.st.enis[id], now))
		}
		return out, nil
	})
}
