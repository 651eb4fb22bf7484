package trunk

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/podsg/podsg/eni"
)

// instanceView is what trunk needs of an instance.
type instanceView struct {
	id, typ, subnet string
	vpc, az         string
	enis            []attachedENI
}

type attachedENI struct {
	id, ifType   string
	subnet       string
	device, card int32
	attachmentID string
	status       types.AttachmentStatus
	deleteOnTerm bool
	groups       []string
}

func viewInstance(in types.Instance) instanceView {
	v := instanceView{id: aws.ToString(in.InstanceId), typ: string(in.InstanceType), subnet: aws.ToString(in.SubnetId),
		vpc: aws.ToString(in.VpcId)}
	if in.Placement != nil {
		v.az = aws.ToString(in.Placement.AvailabilityZone)
	}
	for _, ni := range in.NetworkInterfaces {
		a := attachedENI{id: aws.ToString(ni.NetworkInterfaceId), ifType: aws.ToString(ni.InterfaceType), subnet: aws.ToString(ni.SubnetId)}
		if att := ni.Attachment; att != nil {
			a.device = aws.ToInt32(att.DeviceIndex)
			a.card = aws.ToInt32(att.NetworkCardIndex)
			a.attachmentID = aws.ToString(att.AttachmentId)
			a.status = att.Status
			a.deleteOnTerm = aws.ToBool(att.DeleteOnTermination)
		}
		for _, g := range ni.Groups {
			a.groups = append(a.groups, aws.ToString(g.GroupId))
		}
		v.enis = append(v.enis, a)
	}
	return v
}

func live(in types.Instance) bool {
	if in.State == nil {
		return true
	}
	switch in.State.Name {
	case types.InstanceStateNameShuttingDown, types.InstanceStateNameTerminated:
		return false
	}
	return true
}

func (m *Manager) describeInstance(ctx context.Context, id string) (instanceView, error) {
	got, failed := m.describeInstances(ctx, []string{id})
	if err := failed[id]; err != nil {
		return instanceView{}, err
	}
	return got[id], nil
}

// describeInstances describes instances in batches of 200, and returns the
// live ones and, for every other ID, why not: an error matching
// ErrUnknownNode for an instance EC2 does not know or that is not running,
// or the error of the call. When EC2 refuses a batch because of some IDs
// (InvalidInstanceID.NotFound or .Malformed), the batch's instances are
// described one by one, so the others are not held up.
func (m *Manager) describeInstances(ctx context.Context, ids []string) (map[string]instanceView, map[string]error) {
	out := make(map[string]instanceView, len(ids))
	failed := make(map[string]error)
	var mu sync.Mutex
	describe := func(batch []string) error {
		in := &ec2.DescribeInstancesInput{InstanceIds: batch}
		seen := make(map[string]instanceView, len(batch))
		for {
			res, err := call(ctx, m, "DescribeInstances", PriorityPodStart, in, m.ec2.DescribeInstances)
			if err != nil {
				return err
			}
			for _, r := range res.Reservations {
				for _, i := range r.Instances {
					if live(i) {
						seen[aws.ToString(i.InstanceId)] = viewInstance(i)
					}
				}
			}
			if aws.ToString(res.NextToken) == "" {
				break
			}
			in.NextToken = res.NextToken
		}
		mu.Lock()
		defer mu.Unlock()
		for _, id := range batch {
			if v, ok := seen[id]; ok {
				out[id] = v
			} else {
				failed[id] = fmt.Errorf("%w: instance %s is not running according to DescribeInstances", ErrUnknownNode, id)
			}
		}
		return nil
	}
	idError := func(err error) bool {
		c := ErrorCode(err)
		return c == "InvalidInstanceID.NotFound" || c == "InvalidInstanceID.Malformed"
	}
	for len(ids) > 0 {
		batch := ids[:min(len(ids), 200)]
		ids = ids[len(batch):]
		err := describe(batch)
		switch {
		case err == nil:
		case idError(err) && len(batch) > 1:
			m.parallel(len(batch), func(i int) {
				id := batch[i : i+1]
				if err := describe(id); err != nil {
					mu.Lock()
					failed[id[0]] = describeError(id[0], err, idError(err))
					mu.Unlock()
				}
			})
		default:
			for _, id := range batch {
				failed[id] = describeError(id, err, idError(err))
			}
		}
	}
	return out, failed
}

func describeError(id string, err error, unknown bool) error {
	if unknown {
		return fmt.Errorf("%w: instance %s: %w", ErrUnknownNode, id, err)
	}
	return fmt.Errorf("describing instance %s: %w", id, err)
}

// listENIs calls DescribeNetworkInterfaces with filters, 1,000 per page,
// and passes every page to fn.
func (m *Manager) listENIs(ctx context.Context, p Priority, filters []types.Filter, fn func([]types.NetworkInterface)) error {
	in := &ec2.DescribeNetworkInterfacesInput{Filters: filters, MaxResults: aws.Int32(1000)}
	for {
		out, err := call(ctx, m, "DescribeNetworkInterfaces", p, in, m.ec2.DescribeNetworkInterfaces)
		if err != nil {
			return err
		}
		fn(out.NetworkInterfaces)
		if aws.ToString(out.NextToken) == "" {
			return nil
		}
		in.NextToken = out.NextToken
	}
}

// maxFilterValues is how many filter values EC2 accepts in one call, all
// filters together; more fail with FilterLimitExceeded.
const maxFilterValues = 200

func filter(name string, values ...string) types.Filter {
	return types.Filter{Name: aws.String(name), Values: values}
}

// nodeFilters select the ENIs of this cluster tagged with the instances.
func (m *Manager) nodeFilters(instanceIDs ...string) []types.Filter {
	return []types.Filter{
		filter("tag:"+TagInstanceID, instanceIDs...),
		filter("tag:"+m.clusterTag(), "owned"),
	}
}

func subnetsOf(nis []types.NetworkInterface) []string {
	out := make([]string, 0, len(nis))
	for _, ni := range nis {
		out = append(out, aws.ToString(ni.SubnetId))
	}
	return out
}

// ensureTrunk finds the trunk of inst, or attaches one (found unattached, or
// created in net's subnet with net's groups). fresh reports a trunk attached
// now, which has no branches yet.
func (m *Manager) ensureTrunk(ctx context.Context, inst instanceView, net nodeNet) (info NodeInfo, fresh bool, err error) {
	lim, err := m.opts.Limits.Lookup(inst.typ)
	if err != nil {
		return NodeInfo{}, false, fmt.Errorf("node %s: %w", inst.id, err)
	}
	if !lim.TrunkingCompatible || lim.MaxBranchENIs <= 0 {
		return NodeInfo{}, false, &UnsupportedTypeError{InstanceID: inst.id, InstanceType: inst.typ}
	}
	info = NodeInfo{InstanceID: inst.id, InstanceType: inst.typ, SubnetID: net.subnet, SubnetCIDR: net.cidr.v4,
		SubnetIPv6CIDR: net.cidr.v6, BranchLimit: min(lim.MaxBranchENIs, eni.MaxBranchVLAN)}

	card := int32(lim.DefaultNetworkCard)
	used := map[int32]bool{}
	var groups []string
	for _, e := range inst.enis {
		if e.card == card {
			used[e.device] = true
			if e.device == 0 {
				groups = e.groups
			}
		}
		if e.ifType == string(types.NetworkInterfaceTypeTrunk) {
			info.TrunkENIID = e.id
			m.checkTrunk(net, e.id, e.subnet, e.groups)
			return info, false, m.useTrunk(ctx, inst.id, e)
		}
	}

	dev := int32(-1)
	for d := int32(lim.DefaultCardENIs()) - 1; d >= 0; d-- {
		if !used[d] {
			dev = d
			break
		}
	}
	if dev < 0 {
		return NodeInfo{}, false, fmt.Errorf("node %s (%s): %w: all %d ENI slots of network card %d are taken; "+
			"detach an ENI (or lower the CNI's warm ENI target) so a slot is free for the trunk ENI",
			inst.id, inst.typ, ErrNoFreeSlot, lim.DefaultCardENIs(), card)
	}

	if net.groups != nil {
		groups = net.groups
	}
	trunkID, err := m.findDetachedTrunk(ctx, inst.id)
	if err != nil {
		return NodeInfo{}, false, fmt.Errorf("node %s: looking for its trunk ENI: %w", inst.id, err)
	}
	created := trunkID == ""
	if created {
		out, err := call(ctx, m, "CreateNetworkInterface", PriorityPodStart, &ec2.CreateNetworkInterfaceInput{
			SubnetId:      aws.String(net.subnet),
			InterfaceType: types.NetworkInterfaceCreationTypeTrunk,
			Description:   aws.String(TrunkDescription),
			Groups:        groups,
			TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeNetworkInterface, Tags: []types.Tag{
				{Key: aws.String(m.clusterTag()), Value: aws.String("owned")},
				{Key: aws.String(TagOwner), Value: aws.String(m.opts.Owner)},
				{Key: aws.String(TagInstanceID), Value: aws.String(inst.id)},
			}}},
			// Unique per attempt: a token of an earlier attempt could
			// return a trunk that has been deleted since (EC2 answers a
			// known token with the original result).
			ClientToken: token("trunk", m.opts.ClusterName, inst.id, m.unique(inst.id, 0)),
		}, m.ec2.CreateNetworkInterface)
		if err != nil {
			return NodeInfo{}, false, fmt.Errorf("node %s: creating its trunk ENI: %w", inst.id, err)
		}
		trunkID = aws.ToString(out.NetworkInterface.NetworkInterfaceId)
		m.recent.given(trunkID)
	}
	m.addInflight(trunkID)
	defer m.doneInflight(trunkID)
	info.TrunkENIID = trunkID

	// EC2 may not know a trunk created moments before: NotFound for it is
	// asked again.
	att, err := callNaming(ctx, m, "AttachNetworkInterface", PriorityPodStart, &ec2.AttachNetworkInterfaceInput{
		InstanceId: aws.String(inst.id), NetworkInterfaceId: aws.String(trunkID),
		DeviceIndex: aws.Int32(dev), NetworkCardIndex: aws.Int32(card),
	}, m.ec2.AttachNetworkInterface, trunkID)
	var attachmentID string
	if err == nil {
		attachmentID = aws.ToString(att.AttachmentId)
		m.recent.given(attachmentID)
	} else {
		// A lost response leaves the trunk attached and the retry refused,
		// and another set-up of the instance (another replica, or one for a
		// node removed and added again meanwhile) may have attached its own
		// trunk first: look before giving up, at the instance, which lists
		// its ENIs even when a trunk created moments before is not
		// described yet.
		now, derr := m.describeInstance(ctx, inst.id)
		var other *attachedENI
		for _, e := range now.enis {
			switch {
			case derr != nil:
			case e.id == trunkID:
				attachmentID = e.attachmentID
			case e.ifType == string(types.NetworkInterfaceTypeTrunk):
				other = &e
			}
		}
		if attachmentID == "" && other != nil {
			if created {
				// Unattached and ours alone: it goes (garbage collection
				// would take it otherwise).
				if derr := m.deleteENI(ctx, trunkID, PriorityBackground); derr != nil {
					m.log.Warn("deleting a trunk ENI another set-up made unneeded", "node", inst.id, "trunk", trunkID, "err", derr)
				}
			}
			info.TrunkENIID = other.id
			return info, false, m.useTrunk(ctx, inst.id, *other)
		}
		if attachmentID == "" {
			return NodeInfo{}, false, fmt.Errorf("node %s: attaching trunk ENI %s at device index %d: %w", inst.id, trunkID, dev, err)
		}
	}
	if err := m.setDeleteOnTermination(ctx, trunkID, attachmentID); err != nil {
		return NodeInfo{}, false, fmt.Errorf("node %s: trunk ENI %s: %w", inst.id, trunkID, err)
	}
	if err := m.waitAttached(ctx, inst.id, trunkID); err != nil {
		return NodeInfo{}, false, err
	}
	m.log.Info("trunk ENI attached", "node", inst.id, "trunk", trunkID, "deviceIndex", dev)
	return info, true, nil
}

// useTrunk makes sure the instance's trunk e, found attached, is deleted
// with the instance and attached (not "attaching" any more).
func (m *Manager) useTrunk(ctx context.Context, instanceID string, e attachedENI) error {
	if !e.deleteOnTerm && e.attachmentID != "" {
		if err := m.setDeleteOnTermination(ctx, e.id, e.attachmentID); err != nil {
			return fmt.Errorf("node %s: trunk ENI %s: %w", instanceID, e.id, err)
		}
	}
	if e.status != types.AttachmentStatusAttached {
		return m.waitAttached(ctx, instanceID, e.id)
	}
	return nil
}

// findDetachedTrunk returns a trunk ENI created for the instance but left
// unattached by an interrupted set-up, or "".
func (m *Manager) findDetachedTrunk(ctx context.Context, instanceID string) (string, error) {
	var id string
	err := m.listENIs(ctx, PriorityPodStart, []types.Filter{
		filter("tag:"+TagInstanceID, instanceID),
		filter("tag:"+m.clusterTag(), "owned"),
		filter("interface-type", string(types.NetworkInterfaceTypeTrunk)),
		filter("status", string(types.NetworkInterfaceStatusAvailable)),
	}, func(page []types.NetworkInterface) {
		for _, ni := range page {
			if id == "" {
				id = aws.ToString(ni.NetworkInterfaceId)
			}
		}
	})
	return id, err
}

func (m *Manager) describeENI(ctx context.Context, id string) (types.NetworkInterface, error) {
	out, err := call(ctx, m, "DescribeNetworkInterfaces", PriorityPodStart,
		&ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{id}}, m.ec2.DescribeNetworkInterfaces)
	if err != nil {
		return types.NetworkInterface{}, err
	}
	if len(out.NetworkInterfaces) != 1 {
		return types.NetworkInterface{}, fmt.Errorf("network interface %s: DescribeNetworkInterfaces returned %d", id, len(out.NetworkInterfaces))
	}
	return out.NetworkInterfaces[0], nil
}

func (m *Manager) setDeleteOnTermination(ctx context.Context, eniID, attachmentID string) error {
	_, err := callNaming(ctx, m, "ModifyNetworkInterfaceAttribute", PriorityPodStart, &ec2.ModifyNetworkInterfaceAttributeInput{
		NetworkInterfaceId: aws.String(eniID),
		Attachment:         &types.NetworkInterfaceAttachmentChanges{AttachmentId: aws.String(attachmentID), DeleteOnTermination: aws.Bool(true)},
	}, m.ec2.ModifyNetworkInterfaceAttribute, eniID, attachmentID)
	if err != nil {
		return fmt.Errorf("setting DeleteOnTermination on attachment %s: %w", attachmentID, err)
	}
	return nil
}

// waitAttached polls the trunk until EC2 reports it attached ("attaching"
// until then). EC2 is eventually consistent: a trunk created moments before
// may not be described yet, so NotFound for it is polled again like
// "attaching"; NotFound for a trunk the Manager did not just create is
// final.
func (m *Manager) waitAttached(ctx context.Context, instanceID, trunkID string) error {
	deadline := time.Now().Add(m.opts.TrunkAttachTimeout)
	for {
		ni, err := m.describeENI(ctx, trunkID)
		notYet := ErrorCode(err) == "InvalidNetworkInterfaceID.NotFound" && m.recent.young(trunkID)
		if err != nil && !notYet {
			return fmt.Errorf("node %s: waiting for trunk ENI %s: %w", instanceID, trunkID, err)
		}
		if a := ni.Attachment; err == nil && a != nil && a.Status == types.AttachmentStatusAttached {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("node %s: trunk ENI %s not attached after %v; check the instance's state and ENI attachments",
				instanceID, trunkID, m.opts.TrunkAttachTimeout)
		}
		if err := sleep(ctx, m.opts.TrunkPollInterval); err != nil {
			return fmt.Errorf("node %s: waiting for trunk ENI %s: %w", instanceID, trunkID, err)
		}
	}
}
