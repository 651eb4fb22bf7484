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
	ipv6      ipv6Spec
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
	draw6, err := f.checkAddrs(s, sp)
	if err != nil {
		return nil, err
	}
	if !s.ipv6Native {
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
	}
	if dryRun {
		return nil, dryRunError()
	}
	e := &netIface{
		meta: f.newMeta(prefixENI, sp.tags), subnetID: s.id, vpcID: s.vpcID, az: s.az,
		desc: sp.desc, ifType: typ, createdType: typ, groups: groups, sourceDest: true,
	}
	e.mac = f.newMAC(e.id)
	if !s.ipv6Native {
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
	}
	f.assign6(s, e, sp.ipv6.explicit, draw6)
	f.st.enis[e.id] = e
	f.st.eniOrder = nil
	return e, nil
}

// deleteENI removes an interface and releases its addresses. Describe calls
// keep showing it, as it was, until the deletion propagates
// (Consistency.Delete).
func (f *EC2) deleteENI(e *netIface) {
	if s := f.st.subnets[e.subnetID]; s != nil {
		s.release(e.ip)
		for _, a := range e.secondary {
			s.release(a)
		}
		for _, a := range e.ipv6 {
			delete(s.used6, a)
		}
	}
	delete(f.st.enis, e.id)
	f.st.eniOrder = nil
	if d := f.lag(lagDelete, e.id); d > 0 {
		ghost := *e
		ghost.goneAt = f.now.Add(d)
		f.st.goneENIs[e.id] = &ghost
	}
}

// shownENI returns the interface Describe calls show under id at now: a
// live one whose creation has propagated, or a deleted one whose deletion
// has not. The caller holds f.mu.
func (f *EC2) shownENI(id string, now time.Time) *netIface {
	if e := f.st.enis[id]; e != nil && e.visible(now) {
		return e
	}
	if g := f.st.goneENIs[id]; g != nil && g.shown(now) {
		return g
	}
	return nil
}

// viewENI returns e as Describe calls show it at now: with an association
// that has not propagated yet hidden, and an attachment or association
// undone too recently to have propagated still in place. It returns e
// itself when there is nothing to change.
func (f *EC2) viewENI(e *netIface, now time.Time) *netIface {
	hideAssoc := e.assocID != "" && !f.assocVisible(e.assocID, now)
	showAssoc := e.assocID == "" && e.prevAssoc != "" && now.Before(e.prevAssocUntil)
	showAtt := e.att == nil && e.prevAtt != nil && now.Before(e.prevAttUntil)
	if !hideAssoc && !showAssoc && !showAtt {
		return e
	}
	v := *e
	switch {
	case hideAssoc:
		v.assocID, v.ifType = "", e.createdType
	case showAssoc:
		v.assocID, v.ifType = e.prevAssoc, types.NetworkInterfaceTypeBranch
	}
	if showAtt {
		a := *e.prevAtt
		a.detaching = true
		v.att = &a
	}
	return &v
}

// assocVisible reports whether the association id has propagated.
func (f *EC2) assocVisible(id string, now time.Time) bool {
	a := f.st.assocs[id]
	return a == nil || a.visible(now)
}

// scanENIs returns, in ID order, the visible ENIs that pass fs and come
// after nextToken's position, stopping once it has one more than
// maxResults: enough for paginate to cut the page and know whether another
// follows, without examining every ENI for every page. f.mu must be held.
func (f *EC2) scanENIs(fs filterSet[*netIface], maxResults int32, nextToken *string, now time.Time) ([]string, error) {
	all := f.listedENIIDs(now)
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
		e := f.shownENI(id, now)
		if e == nil {
			continue
		}
		if v := f.viewENI(e, now); !fs.match(f, v, v.tags) {
			continue
		}
		out = append(out, id)
		if len(out) > int(maxResults) {
			break
		}
	}
	return out, nil
}

// listedENIIDs returns, sorted, the IDs Describe calls may list at now:
// every live interface and the deleted ones still shown.
func (f *EC2) listedENIIDs(now time.Time) []string {
	return withGone(f.st.sortedENIIDs(), f.st.goneENIs, func(e *netIface) *meta { return &e.meta }, now)
}

// lookupENI finds the interface a call names. One whose creation has not
// propagated yet is not found (Consistency.Create).
func (f *EC2) lookupENI(id string) (*netIface, error) {
	if id == "" {
		return nil, missing("NetworkInterfaceId")
	}
	if err := checkID(id, prefixENI, CodeNetworkInterfaceMalformed); err != nil {
		return nil, err
	}
	e := f.st.enis[id]
	if e == nil || !f.sees(&e.meta) {
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

// dnsName is the private DNS name of an IPv4 address; "" for none.
func (f *EC2) dnsName(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	host := "ip-" + strings.ReplaceAll(a.String(), ".", "-")
	if f.opts.Region == "us-east-1" {
		return host + ".ec2.internal"
	}
	return host + "." + f.opts.Region + ".compute.internal"
}

// attachStatus is the status Describe calls show for a at now.
func (f *EC2) attachStatus(a *attachment, now time.Time) types.AttachmentStatus {
	switch {
	case a.detaching:
		return types.AttachmentStatusDetaching
	case now.Before(a.attachedAt):
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
		RequesterManaged:   aws.Bool(false),
		SourceDestCheck:    aws.Bool(e.sourceDest),
		Status:             e.status(),
		TagSet:             e.tags.list(),
		Ipv6Native:         aws.Bool(!e.ip.IsValid()),
	}
	if e.ip.IsValid() {
		out.PrivateIpAddress = aws.String(e.ip.String())
		out.PrivateDnsName = aws.String(f.dnsName(e.ip))
		out.PrivateIpAddresses = append(out.PrivateIpAddresses, types.NetworkInterfacePrivateIpAddress{
			Primary: aws.Bool(true), PrivateIpAddress: aws.String(e.ip.String()), PrivateDnsName: aws.String(f.dnsName(e.ip))})
	}
	for _, a := range e.secondary {
		out.PrivateIpAddresses = append(out.PrivateIpAddresses, types.NetworkInterfacePrivateIpAddress{
			Primary: aws.Bool(false), PrivateIpAddress: aws.String(a.String()), PrivateDnsName: aws.String(f.dnsName(a))})
	}
	// Ipv6Address is the interface's first IPv6 address: the field the VPC
	// resource controller reads a branch ENI's address from
	// (pkg/provider/branch/trunk/trunk.go, CreateAndAssociateBranchENIs).
	for i, a := range e.ipv6 {
		if i == 0 {
			out.Ipv6Address = aws.String(a.String())
		}
		out.Ipv6Addresses = append(out.Ipv6Addresses, types.NetworkInterfaceIpv6Address{
			Ipv6Address: aws.String(a.String()), IsPrimaryIpv6: aws.Bool(false)})
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
// from the subnet (or the one asked for) and a MAC address; IPv6 addresses
// with Ipv6AddressCount or Ipv6Addresses, in a subnet with an IPv6 CIDR (an
// IPv6-only subnet gives one IPv6 address and no IPv4 one). Prefixes,
// primary IPv6 addresses and connection tracking are not modelled and
// refused as such. InterfaceType
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
			if err := createENIUnmodelled(in); err != nil {
				return nil, err
			}
			sp := eniSpec{subnetID: aws.ToString(in.SubnetId), groups: in.Groups, desc: aws.ToString(in.Description),
				ifType: in.InterfaceType, ip: aws.ToString(in.PrivateIpAddress), secondary: int(aws.ToInt32(in.SecondaryPrivateIpAddressCount)),
				ipv6: v6Spec(in.Ipv6AddressCount, in.Ipv6Addresses), tags: t}
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
			out := f.renderENI(e, f.now)
			return &ec2.CreateNetworkInterfaceOutput{NetworkInterface: &out, ClientToken: in.ClientToken}, nil
		}, nil)
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
	if in == nil || !f.sees(&in.meta) {
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
	if st := inst.stateAt(f.now); st != types.InstanceStateNameRunning && st != types.InstanceStateNameStopped {
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
		deleteOnTerm: sp.deleteOnTerm, at: f.now}
	a.attachedAt = f.now.Add(f.lag(lagAttach, a.id))
	e.att = a
	inst.enis = append(inst.enis, e.id)
	f.st.attach[a.id] = e.id
	return a, nil
}

// detach undoes an attachment. Describe calls show it "detaching" until
// the change propagates (Consistency.Detach).
func (f *EC2) detach(e *netIface) {
	a := e.att
	if a == nil {
		return
	}
	if d := f.lag(lagDetach, a.id); d > 0 {
		e.prevAtt, e.prevAttUntil = a, f.now.Add(d)
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

func one(s string) []string { return []string{s} }

// createENIUnmodelled refuses the parameters of CreateNetworkInterface the
// fake does not model, which it would otherwise ignore.
func createENIUnmodelled(in *ec2.CreateNetworkInterfaceInput) error {
	for _, p := range []struct {
		set  bool
		name string
	}{
		{in.Ipv4PrefixCount != nil, "Ipv4PrefixCount"},
		{len(in.Ipv4Prefixes) > 0, "Ipv4Prefixes"},
		{in.Ipv6PrefixCount != nil, "Ipv6PrefixCount"},
		{len(in.Ipv6Prefixes) > 0, "Ipv6Prefixes"},
		{aws.ToBool(in.EnablePrimaryIpv6), "EnablePrimaryIpv6"},
		{in.ConnectionTrackingSpecification != nil, "ConnectionTrackingSpecification"},
	} {
		if p.set {
			return notModelled(ActionCreateNetworkInterface, p.name)
		}
	}
	return nil
}

// addresses returns the interface's private IPv4 addresses, the primary
// first.
func (e *netIface) addresses() []string {
	out := make([]string, 0, 1+len(e.secondary))
	if e.ip.IsValid() {
		out = append(out, e.ip.String())
	}
	for _, a := range e.secondary {
		out = append(out, a.String())
	}
	return out
}

// attachmentField answers an attachment.* filter: nothing for an interface
// that is not attached.
func attachmentField(get func(f *EC2, a *attachment) string) filterField[*netIface] {
	return func(f *EC2, e *netIface) []string {
		if e.att == nil {
			return nil
		}
		return one(get(f, e.att))
	}
}

// none answers a documented filter on something the fake never models
// (Elastic IP associations): no interface has a value, so
// the filter matches nothing, as it would in an account without them.
func none(*EC2, *netIface) []string { return nil }

// eniFilters are the filters of DescribeNetworkInterfaces the fake models.
// Every name is in the SDK's documentation of the operation (checked by a
// test).
var eniFilters = newFilterTable(ActionDescribeNetworkInterfaces, map[string]filterField[*netIface]{
	"network-interface-id": func(_ *EC2, e *netIface) []string { return one(e.id) },
	"subnet-id":            func(_ *EC2, e *netIface) []string { return one(e.subnetID) },
	"vpc-id":               func(_ *EC2, e *netIface) []string { return one(e.vpcID) },
	"availability-zone":    func(_ *EC2, e *netIface) []string { return one(e.az) },
	"description":          func(_ *EC2, e *netIface) []string { return one(e.desc) },
	"interface-type":       func(_ *EC2, e *netIface) []string { return one(string(e.ifType)) },
	"status":               func(_ *EC2, e *netIface) []string { return one(string(e.status())) },
	"mac-address":          func(_ *EC2, e *netIface) []string { return one(e.mac) },
	"owner-id":             func(f *EC2, _ *netIface) []string { return one(f.opts.AccountID) },
	"requester-managed":    func(_ *EC2, e *netIface) []string { return one("false") },
	"source-dest-check":    func(_ *EC2, e *netIface) []string { return one(strconv.FormatBool(e.sourceDest)) },
	"group-id":             func(_ *EC2, e *netIface) []string { return e.groups },
	// "The private IPv4 address or addresses of the network interface."
	"private-ip-address":           func(_ *EC2, e *netIface) []string { return e.addresses() },
	"addresses.private-ip-address": func(_ *EC2, e *netIface) []string { return e.addresses() },
	"addresses.primary": func(_ *EC2, e *netIface) []string {
		switch {
		case !e.ip.IsValid():
			return nil
		case len(e.secondary) > 0:
			return []string{"true", "false"}
		}
		return one("true")
	},
	"private-dns-name": func(f *EC2, e *netIface) []string {
		if !e.ip.IsValid() {
			return nil
		}
		return one(f.dnsName(e.ip))
	},
	"association.allocation-id":        none,
	"association.association-id":       none,
	"association.ip-owner-id":          none,
	"association.public-dns-name":      none,
	"association.public-ip":            none,
	"addresses.association.owner-id":   none,
	"addresses.association.public-ip":  none,
	"ipv6-addresses.ipv6-address":      func(_ *EC2, e *netIface) []string { return ipv6Strings(e.ipv6) },
	"attachment.attachment-id":         attachmentField(func(_ *EC2, a *attachment) string { return a.id }),
	"attachment.instance-id":           attachmentField(func(_ *EC2, a *attachment) string { return a.instanceID }),
	"attachment.instance-owner-id":     attachmentField(func(f *EC2, _ *attachment) string { return f.opts.AccountID }),
	"attachment.device-index":          attachmentField(func(_ *EC2, a *attachment) string { return strconv.Itoa(int(a.device)) }),
	"attachment.status":                attachmentField(func(f *EC2, a *attachment) string { return string(f.attachStatus(a, f.now)) }),
	"attachment.delete-on-termination": attachmentField(func(_ *EC2, a *attachment) string { return strconv.FormatBool(a.deleteOnTerm) }),
	"attachment.attach-time":           attachmentField(func(_ *EC2, a *attachment) string { return a.at.UTC().Format(time.RFC3339) }),
})

// DescribeNetworkInterfaces lists network interfaces in ID order. Unknown IDs
// give InvalidNetworkInterfaceID.NotFound ("The networkInterface ID 'eni-…'
// does not exist"). Filters: those the SDK documents for the operation that
// the fake models (network-interface-id, subnet-id, vpc-id,
// availability-zone, description, interface-type, status, mac-address,
// owner-id, requester-managed, source-dest-check, group-id,
// private-ip-address, addresses.private-ip-address, addresses.primary,
// private-dns-name, ipv6-addresses.ipv6-address, attachment.{attachment-id,
// instance-id, instance-owner-id, device-index, status,
// delete-on-termination, attach-time}, tag:<key>, tag-key, and the Elastic
// IP filters, which match nothing). MaxResults is 5..1000 and cannot be combined with
// NetworkInterfaceIds.
func (f *EC2) DescribeNetworkInterfaces(ctx context.Context, in *ec2.DescribeNetworkInterfacesInput, _ ...func(*ec2.Options)) (*ec2.DescribeNetworkInterfacesOutput, error) {
	narrowed := in != nil && filtered(in.Filters, len(in.NetworkInterfaceIds), in.MaxResults)
	return call(ctx, f, ActionDescribeNetworkInterfaces, in, narrowed, func(in *ec2.DescribeNetworkInterfacesInput) (*ec2.DescribeNetworkInterfacesOutput, error) {
		if err := pages[ActionDescribeNetworkInterfaces].check(in.MaxResults, len(in.NetworkInterfaceIds) > 0); err != nil {
			return nil, err
		}
		fs, err := eniFilters.compile(in.Filters)
		if err != nil {
			return nil, err
		}
		now := f.now
		var ids []string
		if len(in.NetworkInterfaceIds) == 0 && in.MaxResults != nil {
			ids, err = f.scanENIs(fs, *in.MaxResults, in.NextToken, now)
		} else {
			ids, err = f.selectIDs(in.NetworkInterfaceIds, prefixENI, CodeNetworkInterfaceMalformed,
				CodeNetworkInterfaceNotFound, "networkInterface",
				func(id string) (bool, bool) {
					e := f.shownENI(id, now)
					if e == nil {
						return false, false
					}
					v := f.viewENI(e, now)
					return true, fs.match(f, v, v.tags)
				}, f.listedENIIDs(now))
		}
		if err != nil {
			return nil, err
		}
		ids, next, err := pages[ActionDescribeNetworkInterfaces].paginate(ids, in.MaxResults, in.NextToken, len(in.NetworkInterfaceIds) > 0)
		if err != nil {
			return nil, err
		}
		out := &ec2.DescribeNetworkInterfacesOutput{NextToken: next, NetworkInterfaces: make([]types.NetworkInterface, 0, len(ids))}
		for _, id := range ids {
			out.NetworkInterfaces = append(out.NetworkInterfaces, f.renderENI(f.viewENI(f.shownENI(id, now), now), now))
		}
		return out, nil
	})
}
