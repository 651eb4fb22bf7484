package trunk

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// confirmAfter is how long after adopting ENIs from a listing the Manager
// lists them again to confirm them. A listing may show an ENI deleted
// moments before (for EC2's usual lag of seconds); an adopted ENI no live
// pod names is only reused once a second listing, this much later, shows
// it too. It is shorter than eni.MinCoolDown, so that such ENIs are
// confirmed before their cool-down ends; one still unconfirmed then is
// deleted instead of reused (eni.ReconcileInput.Unconfirmed).
const confirmAfter = 20 * time.Second

// confirmLater schedules the confirming listing of n's adopted ENIs.
func (m *Manager) confirmLater(n *node) {
	at := time.Now().Add(confirmAfter)
	m.smu.Lock()
	if n.confirmAt.IsZero() || at.Before(n.confirmAt) {
		n.confirmAt = at
	}
	m.smu.Unlock()
	m.schedule(n, at)
}

// takeConfirms returns n and up to maxFilterValues-2 other nodes whose
// confirming listing is due, clearing their due time; nil when n's is not
// due.
func (m *Manager) takeConfirms(n *node, now time.Time) []*node {
	m.smu.Lock()
	defer m.smu.Unlock()
	if n.confirmAt.IsZero() || n.confirmAt.After(now) {
		return nil
	}
	n.confirmAt = time.Time{}
	out := []*node{n}
	for _, o := range m.allNodes() {
		if len(out) == maxFilterValues-1 {
			break
		}
		if o != n && !o.confirmAt.IsZero() && !o.confirmAt.After(now) {
			o.confirmAt = time.Time{}
			out = append(out, o)
		}
	}
	return out
}

// confirm lists the ENIs of nodes in one call (199 instance IDs and the
// cluster tag's value) and confirms, in each node's pool, the adopted ENIs
// the listing shows in use (eni.Pool.Confirm). When the listing fails, it is due
// again after confirmAfter.
func (m *Manager) confirm(ctx context.Context, nodes []*node) {
	ids := make([]string, len(nodes))
	for i, n := range nodes {
		ids[i] = n.id
	}
	listed := make(map[string][]string, len(nodes))
	err := m.listENIs(ctx, PriorityBackground, m.nodeFilters(ids...), func(page []types.NetworkInterface) {
		for _, ni := range page {
			// Only as it was adopted: associated. One disassociated since
			// (by a Manager that crashed before deleting it, say, while
			// the rebuild's listing still showed the association) is not
			// reused either.
			id, _ := tagValue(ni.TagSet, TagInstanceID)
			if eniID := aws.ToString(ni.NetworkInterfaceId); ni.Status == types.NetworkInterfaceStatusInUse && !m.recent.wasDeleted(eniID) {
				listed[id] = append(listed[id], eniID)
			}
		}
	})
	for _, n := range nodes {
		if err != nil {
			m.confirmLater(n)
			continue
		}
		if _, p, _, gone := n.state(); p != nil && !gone {
			p.Confirm(listed[n.id])
		}
	}
	if err != nil && ctx.Err() == nil {
		m.log.Warn("listing adopted ENIs to confirm them; trying again later", "nodes", len(nodes), "err", err)
	}
}
