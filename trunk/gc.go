package trunk

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// GCResult says what a garbage-collection pass did.
type GCResult struct {
	// Available counts the unknown available ENIs with the cluster and owner
	// tags seen in this pass.
	Available int
	// Deleted counts those deleted because the previous pass saw them too.
	Deleted int
}

// CollectGarbage deletes ENIs this cluster's controller leaked: available
// (neither attached nor associated) ENIs that carry the cluster tag and the
// owner tag, that no pool holds and that no call in flight is creating. An
// ENI is deleted only when two consecutive passes have seen it, so one being
// created in between is never taken, and EC2 refuses to delete one whose
// association is not listed yet. ENIs the Manager deleted in the last five
// minutes, which listings may still show, are not counted. Calls run at
// background priority.
func (m *Manager) CollectGarbage(ctx context.Context) (GCResult, error) {
	if err := m.gcMu.Lock(ctx); err != nil {
		return GCResult{}, fmt.Errorf("trunk: garbage collection: %w", err)
	}
	defer m.gcMu.Unlock()
	known := m.knownENIs()
	seen := make(map[string]bool)
	var doomed []string
	err := m.listENIs(ctx, PriorityBackground, []types.Filter{
		filter("tag:"+m.clusterTag(), "owned"),
		filter("tag:"+TagOwner, m.opts.Owner),
		filter("status", string(types.NetworkInterfaceStatusAvailable)),
	}, func(page []types.NetworkInterface) {
		for _, ni := range page {
			id := aws.ToString(ni.NetworkInterfaceId)
			if known[id] || m.isInflight(id) || m.recent.wasDeleted(id) {
				continue // held, being created, or deleted and still listed
			}
			seen[id] = true
			if m.gcPrev[id] {
				doomed = append(doomed, id)
			}
		}
	})
	if err != nil {
		return GCResult{}, fmt.Errorf("trunk: garbage collection: listing available ENIs: %w", err)
	}
	res := GCResult{Available: len(seen)}
	var errs []error
	known = m.knownENIs() // pools may have taken some since the listing
	for _, id := range doomed {
		if m.isInflight(id) || known[id] {
			continue
		}
		err := m.deleteENI(ctx, id, PriorityBackground)
		switch {
		case err == nil:
			res.Deleted++
			delete(seen, id)
		case ErrorCode(err) == "InvalidNetworkInterface.InUse":
			delete(seen, id) // attached or associated since: not garbage
		default:
			errs = append(errs, err)
		}
	}
	m.gcPrev = seen
	if res.Deleted > 0 {
		m.log.Info("garbage collected ENIs", "deleted", res.Deleted)
	}
	return res, errors.Join(errs...)
}

// knownENIs returns the IDs of every ENI a pool holds and every trunk. It
// never waits for EC2.
func (m *Manager) knownENIs() map[string]bool {
	known := make(map[string]bool)
	for _, n := range m.allNodes() {
		info, p, _, _ := n.state()
		if info.TrunkENIID != "" {
			known[info.TrunkENIID] = true
		}
		if p == nil {
			continue
		}
		for _, e := range p.Entries() {
			if e.Branch.ENI.ID != "" {
				known[e.Branch.ENI.ID] = true
			}
		}
	}
	return known
}
