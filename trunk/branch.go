package trunk

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/podsg/podsg/api/podeni"
	"github.com/podsg/podsg/eni"
)

// nodeBackend implements eni.Backend on EC2 for one node's trunk.
type nodeBackend struct {
	m    *Manager
	info NodeInfo
}

var _ eni.Replacer = (*nodeBackend)(nil)

// CreateBranch creates a branch ENI (CreateNetworkInterface with the pod's
// groups, the branch description and tags) and associates it with the trunk
// on req.VLAN (AssociateTrunkInterface). Both calls carry a ClientToken
// derived from the request, so retries after lost responses find the same
// ENI and association. When the association fails the ENI is deleted; when
// that cannot be confirmed the error is an *eni.InDoubtError.
func (nb *nodeBackend) CreateBranch(ctx context.Context, req eni.CreateRequest) (podeni.BranchENI, error) {
	c, err := nb.newBranch(ctx, req)
	if err != nil {
		return podeni.BranchENI{}, err
	}
	defer nb.m.doneInflight(c.b.ID)
	return nb.associate(ctx, c)
}

// ReplaceBranch takes old off the trunk (DisassociateTrunkInterface, at
// pod-start priority) while it creates the new branch ENI for req, then
// associates the new one on req.VLAN, which old held. old is left
// unassociated: the pool deletes it afterwards (DeleteBranch with VLAN 0).
// A pod that must evict a warm ENI so waits about as long as for an ENI in
// a free slot, instead of the deletion and then the creation.
func (nb *nodeBackend) ReplaceBranch(ctx context.Context, old eni.Branch, req eni.CreateRequest) (podeni.BranchENI, error) {
	m := nb.m
	if old.ENI.VLANID != req.VLAN {
		return podeni.BranchENI{}, fmt.Errorf("replacing branch ENI %s on VLAN %d by one on VLAN %d: want the same VLAN", old.ENI.ID, old.ENI.VLANID, req.VLAN)
	}
	off := make(chan error, 1)
	go func() {
		off <- m.disassociate(ctx, old.ENI.ID, old.ENI.AssociationID, nb.info.TrunkENIID, PriorityPodStart)
	}()
	c, err := nb.newBranch(ctx, req)
	offErr := <-off
	if err != nil {
		if offErr != nil {
			//nolint:errorlint // the creation's error is the one to match; the other is context
			return podeni.BranchENI{}, fmt.Errorf("%w (taking branch ENI %s off the trunk failed too: %v)", err, old.ENI.ID, offErr)
		}
		return podeni.BranchENI{}, err
	}
	defer m.doneInflight(c.b.ID)
	if offErr != nil {
		// The new ENI cannot take the VLAN: it goes, unassociated.
		return podeni.BranchENI{}, nb.rollback(ctx, c.b, fmt.Errorf("taking branch ENI %s off trunk %s to make room: %w", old.ENI.ID, nb.info.TrunkENIID, offErr))
	}
	return nb.associate(ctx, c)
}

// creation is a branch ENI created and not yet associated.
type creation struct {
	b     podeni.BranchENI
	req   eni.CreateRequest
	prio  Priority
	parts []string // the request's identity, for ClientTokens
}

// newBranch creates the branch ENI of req (CreateNetworkInterface) and marks
// it in flight; the caller calls doneInflight once it is associated or gone.
func (nb *nodeBackend) newBranch(ctx context.Context, req eni.CreateRequest) (creation, error) {
	m, info := nb.m, nb.info
	cidr, err := m.subnetCIDR(ctx, req.Key.Subnet)
	if err != nil {
		return creation{}, err
	}
	// ENIs made ahead of demand wait for spare budget; pods never wait
	// behind them.
	prio := PriorityPodStart
	if req.Pod.IsZero() {
		prio = PriorityBackground
	}
	parts := []string{m.opts.ClusterName, info.InstanceID, info.TrunkENIID, strconv.Itoa(req.VLAN), req.Key.String(), req.Pod.UID,
		m.unique(info.InstanceID, req.VLAN)}
	out, err := call(ctx, m, "CreateNetworkInterface", prio, &ec2.CreateNetworkInterfaceInput{
		SubnetId:    aws.String(req.Key.Subnet),
		Groups:      req.Key.Groups.IDs(),
		Description: aws.String(BranchDescription),
		// One IPv6 address in an IPv6 cluster (see Options.IPv6).
		Ipv6AddressCount: m.ipv6AddressCount(),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeNetworkInterface, Tags: []types.Tag{
			{Key: aws.String(TagVLANID), Value: aws.String(strconv.Itoa(req.VLAN))},
			{Key: aws.String(TagTrunkENIID), Value: aws.String(info.TrunkENIID)},
			{Key: aws.String(TagInstanceID), Value: aws.String(info.InstanceID)},
			{Key: aws.String(TagOwner), Value: aws.String(m.opts.Owner)},
			{Key: aws.String(m.clusterTag()), Value: aws.String("owned")},
		}}},
		ClientToken: token(append([]string{"create"}, parts...)...),
	}, m.ec2.CreateNetworkInterface)
	if err != nil {
		return creation{}, fmt.Errorf("creating branch ENI (VLAN %d, groups %s): %w", req.VLAN, req.Key.Groups, err)
	}
	m.recent.given(aws.ToString(out.NetworkInterface.NetworkInterfaceId))
	b, err := branchFromEC2(*out.NetworkInterface, req.VLAN, cidr)
	if err != nil {
		// An answer that cannot be used: the ENI is not associated, so it
		// holds no VLAN, but it must not stay behind either.
		dctx, cancel := context.WithTimeout(m.life, m.opts.RollbackTimeout)
		defer cancel()
		if derr := m.deleteENI(dctx, b.ID, PriorityPodStart); derr != nil {
			// The pool deletes it later, holding its VLAN until then.
			//nolint:errorlint // only the answer's error is matchable; the clean-up error is context
			return creation{}, &eni.InDoubtError{ENI: b, Err: fmt.Errorf("%w (deleting it failed: %v)", err, derr)}
		}
		return creation{}, err
	}
	m.addInflight(b.ID)
	return creation{b: b, req: req, prio: prio, parts: parts}, nil
}

// associate associates the new branch ENI of c with the trunk on its VLAN,
// deleting it when that fails.
func (nb *nodeBackend) associate(ctx context.Context, c creation) (podeni.BranchENI, error) {
	m, info, b := nb.m, nb.info, c.b
	if !m.opts.associateAtOnce {
		// Wait until EC2 lists the new ENI (see lookout), so that the
		// association is not spent on a NotFound.
		m.awaitListed(ctx, b.ID)
	}
	// EC2 may still not know the new ENI: NotFound for it is asked again.
	aout, err := callNaming(ctx, m, "AssociateTrunkInterface", c.prio, &ec2.AssociateTrunkInterfaceInput{
		BranchInterfaceId: aws.String(b.ID),
		TrunkInterfaceId:  aws.String(info.TrunkENIID),
		VlanId:            aws.Int32(int32(c.req.VLAN)),
		ClientToken:       token(append([]string{"associate", b.ID}, c.parts...)...),
	}, m.ec2.AssociateTrunkInterface, b.ID, info.TrunkENIID)
	if err != nil {
		return podeni.BranchENI{}, nb.rollback(ctx, b, err)
	}
	if a := aout.InterfaceAssociation; a != nil {
		b.AssociationID = aws.ToString(a.AssociationId)
		m.recent.given(b.AssociationID)
	}
	return b, nil
}

// rollback deletes a branch ENI whose association failed with cause.
func (nb *nodeBackend) rollback(ctx context.Context, b podeni.BranchENI, cause error) error {
	m := nb.m
	rctx, cancel := context.WithTimeout(m.life, m.opts.RollbackTimeout)
	defer cancel()
	// EC2 refused the association (rather than failing to answer): the ENI
	// is not associated, so whatever happens to it, it holds no VLAN.
	code := ErrorCode(cause)
	refused := ctx.Err() == nil && code != "" && code != "InvalidNetworkInterface.InUse" && !retryable(cause)
	err := m.deleteBranch(rctx, b.ID, "", nb.info.TrunkENIID, PriorityPodStart)
	switch {
	case err == nil:
		return fmt.Errorf("associating branch ENI %s with trunk %s on VLAN %d (the ENI was deleted): %w",
			b.ID, nb.info.TrunkENIID, b.VLANID, cause)
	case refused:
		//nolint:errorlint // only the association's cause is matchable; the clean-up error is context
		return fmt.Errorf("associating branch ENI %s with trunk %s on VLAN %d: %w (deleting the ENI failed too: %v; garbage collection will delete it)",
			b.ID, nb.info.TrunkENIID, b.VLANID, cause, err)
	default:
		//nolint:errorlint // only the association's cause is matchable; the clean-up error is context
		return &eni.InDoubtError{ENI: b, Err: fmt.Errorf("associating branch ENI %s with trunk %s on VLAN %d: %w (clean-up failed: %v)",
			b.ID, nb.info.TrunkENIID, b.VLANID, cause, err)}
	}
}

// DeleteBranch disassociates b from the trunk and deletes it; one with VLAN
// 0, which ReplaceBranch took off the trunk, is only deleted.
func (nb *nodeBackend) DeleteBranch(ctx context.Context, b eni.Branch) error {
	trunkID := nb.info.TrunkENIID
	if b.ENI.VLANID == 0 {
		trunkID = "" // not associated: no association to look up
	}
	return nb.m.deleteBranch(ctx, b.ENI.ID, b.ENI.AssociationID, trunkID, PriorityBackground)
}

// RetargetBranch replaces b's security groups with one
// ModifyNetworkInterfaceAttribute call.
func (nb *nodeBackend) RetargetBranch(ctx context.Context, b eni.Branch, groups eni.GroupSet) error {
	_, err := callNaming(ctx, nb.m, "ModifyNetworkInterfaceAttribute", PriorityPodStart, &ec2.ModifyNetworkInterfaceAttributeInput{
		NetworkInterfaceId: aws.String(b.ENI.ID),
		Groups:             groups.IDs(),
	}, nb.m.ec2.ModifyNetworkInterfaceAttribute, b.ENI.ID)
	if err != nil {
		return fmt.Errorf("retargeting branch ENI %s to groups %s: %w", b.ENI.ID, groups, err)
	}
	return nil
}

// deleteBranch disassociates the branch ENI id from trunkID (looking its
// association up on the trunk when assocID is empty) and deletes it. An ENI
// or association already gone counts as done. EC2 is eventually
// consistent: an association made moments before may answer NotFound, and
// may not be listed on its trunk yet while it still holds the ENI
// (InvalidNetworkInterface.InUse); both are asked again, with a growing
// wait, while the ENI or association is that fresh.
func (m *Manager) deleteBranch(ctx context.Context, id, assocID, trunkID string, p Priority) error {
	var wait time.Duration
	for attempt := 0; ; attempt++ {
		if err := m.disassociate(ctx, id, assocID, trunkID, p); err != nil {
			return err
		}
		err := m.deleteENI(ctx, id, p)
		if ErrorCode(err) != "InvalidNetworkInterface.InUse" {
			return err
		}
		// Still associated: the association we knew is stale, or one made
		// moments before is not listed yet.
		assocID = ""
		if attempt == 0 {
			continue
		}
		given, young := m.recent.givenAt(id)
		if !young {
			return err
		}
		d, ok := settleWait(given, wait)
		if !ok {
			return err
		}
		wait = d
		m.metrics.notFoundRetry()
		if serr := sleep(ctx, d); serr != nil {
			return fmt.Errorf("%w (not deleted: %w)", err, serr)
		}
	}
}

// disassociate takes the branch ENI id off trunkID: it disassociates assocID,
// or the association the trunk lists for id when assocID is empty (none when
// trunkID is empty too). An association already gone counts as done.
func (m *Manager) disassociate(ctx context.Context, id, assocID, trunkID string, p Priority) error {
	if assocID == "" && trunkID != "" {
		err := m.trunkAssociations(ctx, p, []string{trunkID}, func(a types.TrunkInterfaceAssociation) {
			if aws.ToString(a.BranchInterfaceId) == id {
				assocID = aws.ToString(a.AssociationId)
			}
		})
		if err != nil {
			return fmt.Errorf("looking up the association of branch ENI %s on trunk %s: %w", id, trunkID, err)
		}
	}
	if assocID == "" {
		return nil
	}
	_, err := callNaming(ctx, m, "DisassociateTrunkInterface", p, &ec2.DisassociateTrunkInterfaceInput{
		AssociationId: aws.String(assocID),
		ClientToken:   token("disassociate", assocID),
	}, m.ec2.DisassociateTrunkInterface, assocID)
	if err != nil && ErrorCode(err) != "InvalidAssociationID.NotFound" {
		return fmt.Errorf("disassociating branch ENI %s (%s): %w", id, assocID, err)
	}
	return nil
}

// trunkAssociations passes fn every trunk association of the trunks, listed
// with DescribeTrunkInterfaceAssociations filtered by
// trunk-interface-association.trunk-interface-id, 255 per page. That filter
// name is not in the SDK's documentation of the operation, but it is the one
// the VPC resource controller lists a trunk's branches with against real EC2;
// the documented names (gre-key, interface-protocol) cannot select a trunk.
func (m *Manager) trunkAssociations(ctx context.Context, p Priority, trunkIDs []string, fn func(types.TrunkInterfaceAssociation)) error {
	for len(trunkIDs) > 0 {
		batch := trunkIDs[:min(len(trunkIDs), maxFilterValues)]
		trunkIDs = trunkIDs[len(batch):]
		in := &ec2.DescribeTrunkInterfaceAssociationsInput{
			Filters:    []types.Filter{filter("trunk-interface-association.trunk-interface-id", batch...)},
			MaxResults: aws.Int32(255),
		}
		for {
			out, err := call(ctx, m, "DescribeTrunkInterfaceAssociations", p, in, m.ec2.DescribeTrunkInterfaceAssociations)
			if err != nil {
				return err
			}
			for _, a := range out.InterfaceAssociations {
				fn(a)
			}
			if aws.ToString(out.NextToken) == "" {
				break
			}
			in.NextToken = out.NextToken
		}
	}
	return nil
}

// deleteENI deletes an unassociated ENI; one already gone counts as
// deleted. NotFound for an ENI created moments before that EC2 has not
// confirmed since means EC2 does not know it yet, not that it is gone: the
// deletion is asked again until EC2 knows it (see callNaming).
func (m *Manager) deleteENI(ctx context.Context, id string, p Priority) error {
	if id == "" {
		return nil
	}
	_, err := callNaming(ctx, m, "DeleteNetworkInterface", p, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: aws.String(id)},
		m.ec2.DeleteNetworkInterface, id)
	if err != nil && ErrorCode(err) != "InvalidNetworkInterfaceID.NotFound" {
		return fmt.Errorf("deleting ENI %s: %w", id, err)
	}
	m.recent.markDeleted(id)
	return nil
}

// branchFromEC2 builds the annotation value of a branch ENI from EC2's
// description and the CIDRs of its subnet, as the VPC resource controller
// writes it: "privateIp" is the ENI's IPv4 address ("" in an IPv6-only
// subnet), "ipv6Addr" its IPv6 address when it has one, and "subnetCidr"
// and "subnetV6Cidr" the subnet's CIDRs when it has them. b.ID is set even
// when an error is returned.
func branchFromEC2(ni types.NetworkInterface, vlan int, cidr subnetCIDRs) (podeni.BranchENI, error) {
	b := podeni.BranchENI{ID: aws.ToString(ni.NetworkInterfaceId), VLANID: vlan, SubnetCIDR: cidr.v4, SubnetV6CIDR: cidr.v6}
	var err error
	if b.MAC, err = podeni.ParseMAC(aws.ToString(ni.MacAddress)); err != nil {
		return b, fmt.Errorf("branch ENI %s: %w", b.ID, err)
	}
	if ni.PrivateIpAddress != nil {
		if b.PrivateIP, err = netip.ParseAddr(*ni.PrivateIpAddress); err != nil {
			return b, fmt.Errorf("branch ENI %s: private IP %q: %w", b.ID, *ni.PrivateIpAddress, err)
		}
	}
	v6 := ni.Ipv6Address
	if v6 == nil && len(ni.Ipv6Addresses) > 0 {
		v6 = ni.Ipv6Addresses[0].Ipv6Address
	}
	if v6 != nil {
		if b.IPv6, err = netip.ParseAddr(*v6); err != nil {
			return b, fmt.Errorf("branch ENI %s: IPv6 address %q: %w", b.ID, *v6, err)
		}
	}
	if !b.PrivateIP.IsValid() && !b.IPv6.IsValid() {
		return b, fmt.Errorf("branch ENI %s: EC2 describes it without a private IPv4 or an IPv6 address", b.ID)
	}
	return b, nil
}

func tagValue(tags []types.Tag, key string) (string, bool) {
	for _, t := range tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value), true
		}
	}
	return "", false
}
