package fake

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// Bounds of a VLAN ID in AssociateTrunkInterface.
const (
	MinVLAN = 1
	MaxVLAN = 4094
)

type assocSpec struct {
	trunkID, branchID string
	vlan              int32
}

// associate validates and performs a trunk association. EC2's rules: the
// trunk is a trunk interface attached to an instance; the branch is an
// unattached, unassociated interface of the same VPC and zone; the VLAN ID
// is in 1..4094 and free on the trunk; the trunk has fewer branches than its
// instance type's branch limit.
func (f *EC2) associate(sp assocSpec, dryRun bool) (*trunkAssoc, error) {
	if sp.trunkID == "" {
		return nil, missing("TrunkInterfaceId")
	}
	if sp.branchID == "" {
		return nil, missing("BranchInterfaceId")
	}
	trunk, err := f.lookupENI(sp.trunkID)
	if err != nil {
		return nil, err
	}
	branch, err := f.lookupENI(sp.branchID)
	if err != nil {
		return nil, err
	}
	if trunk.ifType != types.NetworkInterfaceTypeTrunk {
		return nil, invalidValue("Network interface %s is not a trunk interface (its type is %s).", trunk.id, trunk.ifType)
	}
	if trunk.att == nil {
		return nil, invalidValue("Trunk interface %s is not attached to an instance.", trunk.id)
	}
	if sp.vlan < MinVLAN || sp.vlan > MaxVLAN {
		return nil, invalidValue("Value (%d) for parameter vlanId is invalid. Valid values are %d to %d.", sp.vlan, MinVLAN, MaxVLAN)
	}
	if branch.id == trunk.id || (branch.ifType != types.NetworkInterfaceTypeInterface && branch.ifType != types.NetworkInterfaceTypeBranch) {
		return nil, invalidValue("Network interface %s of type %s cannot be a branch interface.", branch.id, branch.ifType)
	}
	if branch.att != nil {
		return nil, apiError(CodeNetworkInterfaceInUse, "Interface: [%s] in use.", branch.id)
	}
	if branch.assocID != "" {
		return nil, apiError(CodeNetworkInterfaceInUse, "Network interface %s is already associated with a trunk (%s).", branch.id, branch.assocID)
	}
	if branch.vpcID != trunk.vpcID || branch.az != trunk.az {
		return nil, apiError(CodeInvalidParameterCombination,
			"Branch interface %s and trunk interface %s must be in the same VPC and availability zone.", branch.id, trunk.id)
	}
	if other, taken := trunk.branches[sp.vlan]; taken {
		return nil, invalidValue("VLAN ID %d is already in use on trunk interface %s by association %s.", sp.vlan, trunk.id, other)
	}
	inst := f.st.instances[trunk.att.instanceID]
	if limit := inst.lim.MaxBranchENIs; len(trunk.branches)+1 > limit {
		return nil, apiError(CodeAttachmentLimitExceeded,
			"Branch interface count %d exceeds the limit of %d for %s (trunk interface %s).", len(trunk.branches)+1, limit, inst.typ, trunk.id)
	}
	if dryRun {
		return nil, dryRunError()
	}
	a := &trunkAssoc{meta: f.newMeta(prefixAssociation, nil), trunkID: trunk.id, branchID: branch.id,
		vlan: sp.vlan, proto: types.InterfaceProtocolTypeVlan}
	a.visibleAt = f.now.Add(f.lag(lagAssociate, a.id))
	f.st.assocs[a.id] = a
	if trunk.branches == nil {
		trunk.branches = make(map[int32]string)
	}
	trunk.branches[sp.vlan] = a.id
	branch.assocID = a.id
	branch.ifType = types.NetworkInterfaceTypeBranch
	return a, nil
}

// disassociate removes an association; the branch becomes a free interface.
// Describe calls keep showing the association, and the branch as
// associated, until the change propagates (Consistency.Detach).
func (f *EC2) disassociate(a *trunkAssoc) {
	d := f.lag(lagDetach, a.id)
	if !a.visible(f.now) {
		d = 0 // never shown: nothing to keep showing
	}
	if t := f.st.enis[a.trunkID]; t != nil {
		delete(t.branches, a.vlan)
	}
	if b := f.st.enis[a.branchID]; b != nil {
		b.assocID = ""
		b.ifType = b.createdType
		if d > 0 {
			b.prevAssoc, b.prevAssocUntil = a.id, f.now.Add(d)
		}
	}
	delete(f.st.assocs, a.id)
	if d > 0 {
		a.goneAt = f.now.Add(d)
		f.st.goneAssocs[a.id] = a
	}
}

// shownAssoc returns the association Describe calls show under id at now.
func (f *EC2) shownAssoc(id string, now time.Time) *trunkAssoc {
	if a := f.st.assocs[id]; a != nil && a.visible(now) {
		return a
	}
	if g := f.st.goneAssocs[id]; g != nil && g.shown(now) {
		return g
	}
	return nil
}

func (f *EC2) renderAssoc(a *trunkAssoc) types.TrunkInterfaceAssociation {
	return types.TrunkInterfaceAssociation{
		AssociationId:     aws.String(a.id),
		TrunkInterfaceId:  aws.String(a.trunkID),
		BranchInterfaceId: aws.String(a.branchID),
		VlanId:            aws.Int32(a.vlan),
		InterfaceProtocol: a.proto,
		Tags:              a.tags.list(),
	}
}

// AssociateTrunkInterface associates a branch interface with a trunk
// interface under a VLAN ID and returns the association (ID trunk-assoc-…).
// ClientToken makes the call idempotent. GRE associations are not modelled:
// VlanId is required.
//
// Errors: MissingParameter, InvalidNetworkInterfaceID.NotFound,
// InvalidParameterValue (not a trunk, trunk not attached, VLAN out of range or
// in use on the trunk, unsuitable branch), InvalidNetworkInterface.InUse
// (branch attached or associated), InvalidParameterCombination (other VPC or
// zone), AttachmentLimitExceeded (the instance type's branch limit),
// IdempotentParameterMismatch.
func (f *EC2) AssociateTrunkInterface(ctx context.Context, in *ec2.AssociateTrunkInterfaceInput, _ ...func(*ec2.Options)) (*ec2.AssociateTrunkInterfaceOutput, error) {
	return call(ctx, f, ActionAssociateTrunkInterface, in, true, func(in *ec2.AssociateTrunkInterfaceInput) (*ec2.AssociateTrunkInterfaceOutput, error) {
		return idempotently(f, ActionAssociateTrunkInterface, in.ClientToken, in, func() (*ec2.AssociateTrunkInterfaceOutput, error) {
			if in.VlanId == nil {
				if in.GreKey != nil {
					return nil, invalidValue("GRE trunk associations are not supported; specify VlanId.")
				}
				return nil, missing("VlanId")
			}
			a, err := f.associate(assocSpec{trunkID: aws.ToString(in.TrunkInterfaceId), branchID: aws.ToString(in.BranchInterfaceId),
				vlan: *in.VlanId}, dry(in.DryRun))
			if err != nil {
				return nil, err
			}
			out := f.renderAssoc(a)
			return &ec2.AssociateTrunkInterfaceOutput{InterfaceAssociation: &out, ClientToken: in.ClientToken}, nil
		}, nil)
	})
}

// DisassociateTrunkInterface removes a trunk association by ID
// (InvalidAssociationID.NotFound when unknown). The branch interface becomes
// an available interface again, ready to be deleted. ClientToken makes the
// call idempotent.
func (f *EC2) DisassociateTrunkInterface(ctx context.Context, in *ec2.DisassociateTrunkInterfaceInput, _ ...func(*ec2.Options)) (*ec2.DisassociateTrunkInterfaceOutput, error) {
	return call(ctx, f, ActionDisassociateTrunkInterface, in, true, func(in *ec2.DisassociateTrunkInterfaceInput) (*ec2.DisassociateTrunkInterfaceOutput, error) {
		return idempotently(f, ActionDisassociateTrunkInterface, in.ClientToken, in, func() (*ec2.DisassociateTrunkInterfaceOutput, error) {
			id := aws.ToString(in.AssociationId)
			if id == "" {
				return nil, missing("AssociationId")
			}
			a := f.st.assocs[id]
			if a == nil || !f.sees(&a.meta) {
				return nil, notFound(CodeAssociationNotFound, "association", id)
			}
			if dry(in.DryRun) {
				return nil, dryRunError()
			}
			f.disassociate(a)
			return &ec2.DisassociateTrunkInterfaceOutput{Return: aws.Bool(true), ClientToken: in.ClientToken}, nil
		}, nil)
	})
}

// assocFilters are the filters of DescribeTrunkInterfaceAssociations. The
// SDK documents only gre-key and interface-protocol (and no tag filters);
// trunk-interface-association.trunk-interface-id is on the evidence list
// (see UndocumentedFilters). Other names, such as
// trunk-interface-association.branch-interface-id, are refused: nothing
// shows real EC2 accepting them.
var assocFilters = newFilterTable(ActionDescribeTrunkInterfaceAssociations, map[string]filterField[*trunkAssoc]{
	"gre-key":            func(*EC2, *trunkAssoc) []string { return nil }, // VLAN associations only
	"interface-protocol": func(_ *EC2, a *trunkAssoc) []string { return one(string(a.proto)) },
	"trunk-interface-association.trunk-interface-id": func(_ *EC2, a *trunkAssoc) []string { return one(a.trunkID) },
})

// DescribeTrunkInterfaceAssociations lists trunk associations in ID order.
// Filters: gre-key and interface-protocol (what the SDK documents) and
// trunk-interface-association.trunk-interface-id (what the production
// controller uses against EC2). MaxResults is 5..255.
func (f *EC2) DescribeTrunkInterfaceAssociations(ctx context.Context, in *ec2.DescribeTrunkInterfaceAssociationsInput, _ ...func(*ec2.Options)) (*ec2.DescribeTrunkInterfaceAssociationsOutput, error) {
	narrowed := in != nil && filtered(in.Filters, len(in.AssociationIds), in.MaxResults)
	return call(ctx, f, ActionDescribeTrunkInterfaceAssociations, in, narrowed, func(in *ec2.DescribeTrunkInterfaceAssociationsInput) (*ec2.DescribeTrunkInterfaceAssociationsOutput, error) {
		if err := pages[ActionDescribeTrunkInterfaceAssociations].check(in.MaxResults, len(in.AssociationIds) > 0); err != nil {
			return nil, err
		}
		fs, err := assocFilters.compile(in.Filters)
		if err != nil {
			return nil, err
		}
		ids, err := f.selectIDs(in.AssociationIds, "", "", CodeAssociationNotFound, "association",
			func(id string) (bool, bool) {
				a := f.shownAssoc(id, f.now)
				if a == nil {
					return false, false
				}
				return true, fs.match(f, a, a.tags)
			}, withGone(sortedIDs(f.st.assocs), f.st.goneAssocs, func(a *trunkAssoc) *meta { return &a.meta }, f.now))
		if err != nil {
			return nil, err
		}
		ids, next, err := pages[ActionDescribeTrunkInterfaceAssociations].paginate(ids, in.MaxResults, in.NextToken, len(in.AssociationIds) > 0)
		if err != nil {
			return nil, err
		}
		out := &ec2.DescribeTrunkInterfaceAssociationsOutput{NextToken: next, InterfaceAssociations: make([]types.TrunkInterfaceAssociation, 0, len(ids))}
		for _, id := range ids {
			out.InterfaceAssociations = append(out.InterfaceAssociations, f.renderAssoc(f.shownAssoc(id, f.now)))
		}
		return out, nil
	})
}
