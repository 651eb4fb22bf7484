package trunk

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/podsg/podsg/api/podeni"
	"github.com/podsg/podsg/eni"
)

// NodePods is a node and its live pods, for ReconcileAll.
type NodePods struct {
	InstanceID string
	// Pods lists the node's live pods with the ENI their annotation names.
	Pods []eni.LivePod
	// Complete vouches that Pods lists every live pod of the node; without
	// it nothing on the node is deleted.
	Complete bool
}

// NodeResult is what ReconcileAll did for one node.
type NodeResult struct {
	// ReconcileResult says what the node's pool adopted, claimed, released
	// and held. Conflicts also name ENIs left alone because EC2's
	// description of them is unusable, and ENIs created but never
	// associated whose deletion failed (garbage collection retries it).
	eni.ReconcileResult
	// Err is nil when the node is served and its state rebuilt. Otherwise
	// the node was skipped and Err says why: it matches ErrUnknownNode when
	// EC2 does not know the instance, the instance is not running or the
	// node was removed; ErrTrunkingUnsupported when its type cannot host a
	// trunk; ErrNoFreeSlot when it has no slot for one; otherwise it carries
	// EC2's error (errors.As to smithy.APIError, or ErrorCode) or the
	// context's. Reconciling the node again later may succeed.
	Err error
}

// ReconcileAll rebuilds, or checks, the state of many nodes from EC2 and the
// nodes' live pods, as after a restart. Each node is handled on its own:
// one that fails (an instance EC2 no longer knows, a type that cannot trunk,
// an EC2 error) is reported in its NodeResult and skipped, and every other
// node is served. The error is nil unless ctx ended or the Manager was
// closed; the results then say which nodes were done.
//
// New nodes are described (one DescribeInstances call per 200 nodes; when
// EC2 refuses a batch for some unknown IDs, its instances are described one
// by one) and their trunks ensured. Then each node's branch ENIs are listed
// with DescribeNetworkInterfaces by the instance and cluster tags, 199 nodes
// per call (EC2 takes 200 filter values per call) and 1,000 ENIs per page,
// on Options.Workers goroutines, and matched with the node's live pods:
//   - ENIs named by a live pod stay in use by that pod, on their VLAN;
//   - associated ENIs no live pod holds go to cool-down (then reuse or
//     deletion, per the policy); their trunk's associations are listed
//     (DescribeTrunkInterfaceAssociations), so that their association IDs
//     are known when they are deleted;
//   - ENIs created but never associated are deleted;
//   - ENIs the pool holds that EC2 no longer lists are forgotten when the
//     previous listing lacked them too, except those the Manager created in
//     the last five minutes, which EC2 may not list yet (it is eventually
//     consistent; see the package doc); a live pod is reported Missing on
//     the same terms;
//   - ENIs adopted that no live pod names are reused only once a listing
//     20 s later confirms them (Run does it), since a listing may still
//     show an ENI deleted moments before.
//
// Without NodePods.Complete nothing is sent towards deletion: ENIs no
// listed pod names are held until a reconcile with a complete list. The
// pods are taken to be listed when ReconcileAll is called, so list them
// just before: an ENI given to a pod after the call started is kept in use
// whatever the list says. Calls for a node wait while it is listed and
// reconciled (every wait ends with its context); ReconcileAll calls may
// overlap.
func (m *Manager) ReconcileAll(ctx context.Context, nodes []NodePods) (map[string]NodeResult, error) {
	listedAt := time.Now()
	results := make(map[string]NodeResult, len(nodes))
	var mu sync.Mutex
	fail := func(id string, err error) {
		mu.Lock()
		results[id] = NodeResult{Err: fmt.Errorf("trunk: reconcile node %s: %w", id, err)}
		mu.Unlock()
	}
	if m.life.Err() != nil {
		return results, ErrClosed
	}

	// One entry per node, in a global order: instance ID.
	type target struct {
		np NodePods
		n  *node
	}
	var ts []target
	count := make(map[string]int, len(nodes))
	for _, np := range nodes {
		count[np.InstanceID]++
	}
	for _, np := range nodes {
		switch {
		case np.InstanceID == "":
			fail("", fmt.Errorf("%w: empty instance ID", ErrUnknownNode))
		case count[np.InstanceID] > 1:
			fail(np.InstanceID, fmt.Errorf("listed %d times: list each node once, with all its pods", count[np.InstanceID]))
		default:
			ts = append(ts, target{np: np, n: m.nodeFor(np.InstanceID)})
		}
	}
	slices.SortFunc(ts, func(a, b target) int { return cmp.Compare(a.np.InstanceID, b.np.InstanceID) })

	// New nodes: describe them in batches, then set them up.
	var fresh []string
	for _, t := range ts {
		if _, p, _, gone := t.n.state(); p == nil && !gone {
			fresh = append(fresh, t.np.InstanceID)
		}
	}
	if len(fresh) > 0 {
		insts, failed := m.describeInstances(ctx, fresh)
		for id, err := range failed {
			fail(id, err)
		}
		var subnets []string
		for _, in := range insts {
			subnets = append(subnets, in.subnet)
		}
		if err := m.loadSubnets(ctx, subnets); err != nil {
			m.log.Warn("reconcile: describing subnets; each node will again", "err", err)
		}
		byID := make(map[string]*node, len(ts))
		for _, t := range ts {
			byID[t.np.InstanceID] = t.n
		}
		m.parallel(len(fresh), func(i int) {
			id := fresh[i]
			inst, ok := insts[id]
			if !ok {
				return
			}
			n := byID[id]
			select {
			case n.setup <- struct{}{}:
				defer func() { <-n.setup }()
			case <-ctx.Done():
				fail(id, ctx.Err())
				return
			}
			if err := m.setUp(ctx, n, &inst); err != nil {
				fail(id, err)
			}
		})
	}

	// Hold every node ready exclusively from listing to reconciling, so
	// that no ENI is created or deleted unseen in between. Locks are taken
	// in instance ID order, the same for every caller.
	var held []target
	defer func() {
		for _, t := range held {
			t.n.op.Unlock()
		}
	}()
	for i, t := range ts {
		if _, done := results[t.np.InstanceID]; done {
			continue
		}
		if err := t.n.op.Lock(ctx); err != nil {
			for _, r := range ts[i:] {
				if _, done := results[r.np.InstanceID]; !done {
					fail(r.np.InstanceID, err)
				}
			}
			break
		}
		held = append(held, t)
	}
	var ready []target
	for _, t := range held {
		id := t.np.InstanceID
		if _, p, _, gone := t.n.state(); gone {
			fail(id, removedError(id))
		} else if p == nil {
			fail(id, fmt.Errorf("%w: set up by another call that failed; reconcile it again", ErrUnknownNode))
		} else if _, done := results[id]; !done {
			ready = append(ready, t)
		}
	}

	// List the nodes' ENIs.
	found := make(map[string][]types.NetworkInterface, len(ready))
	const perList = maxFilterValues - 1 // the cluster tag's value is one more
	batches := (len(ready) + perList - 1) / perList
	m.parallel(batches, func(i int) {
		var ids []string
		for _, t := range ready[i*perList : min(len(ready), (i+1)*perList)] {
			ids = append(ids, t.np.InstanceID)
		}
		local := make(map[string][]types.NetworkInterface, len(ids))
		err := m.listENIs(ctx, PriorityPodStart, m.nodeFilters(ids...), func(page []types.NetworkInterface) {
			for _, ni := range page {
				id, _ := tagValue(ni.TagSet, TagInstanceID)
				local[id] = append(local[id], ni)
			}
		})
		if err != nil {
			for _, id := range ids {
				fail(id, fmt.Errorf("listing its branch ENIs: %w", err))
			}
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, id := range ids {
			found[id] = local[id]
		}
	})

	// Association IDs, which deleting an adopted ENI needs, are only known
	// to the trunk: list the associations of every trunk with an associated
	// ENI that no live pod names, since those go towards deletion. ENIs of
	// live pods are left to look theirs up when deleted, which keeps a
	// rebuild of running pods at its listing calls.
	var subnets, trunks []string
	for _, t := range ready {
		nis, ok := found[t.np.InstanceID]
		if !ok {
			continue
		}
		named := make(map[string]bool, len(t.np.Pods))
		for _, lp := range t.np.Pods {
			named[lp.ENIID] = true
		}
		unnamed := false
		for _, ni := range nis {
			subnets = append(subnets, aws.ToString(ni.SubnetId))
			unnamed = unnamed || ni.Status == types.NetworkInterfaceStatusInUse && !named[aws.ToString(ni.NetworkInterfaceId)]
		}
		if unnamed {
			info, _, _, _ := t.n.state()
			trunks = append(trunks, info.TrunkENIID)
		}
	}
	assocs := make(map[string]types.TrunkInterfaceAssociation)
	if len(trunks) > 0 {
		err := m.trunkAssociations(ctx, PriorityPodStart, trunks, func(a types.TrunkInterfaceAssociation) {
			assocs[aws.ToString(a.BranchInterfaceId)] = a
		})
		if err != nil {
			m.log.Warn("reconcile: listing trunk associations; deletions will look them up", "trunks", len(trunks), "err", err)
		}
	}
	if err := m.loadSubnets(ctx, subnets); err != nil {
		m.log.Warn("reconcile: describing subnets", "err", err)
	}

	m.parallel(len(ready), func(i int) {
		t := ready[i]
		id := t.np.InstanceID
		nis, ok := found[id]
		if !ok {
			return
		}
		res := m.reconcileNode(ctx, t.n, nis, assocs, t.np.Pods, t.np.Complete, listedAt)
		m.markAdopted(t.n)
		mu.Lock()
		results[id] = NodeResult{ReconcileResult: res}
		mu.Unlock()
	})
	if m.life.Err() != nil {
		return results, ErrClosed
	}
	return results, ctx.Err()
}

// reconcileNode reconciles n's pool with the ENIs EC2 listed for it and the
// trunk associations known (by branch ENI ID). n.op must be held
// exclusively. Problems with single ENIs are reported in the result's
// Conflicts.
//
// EC2 is eventually consistent, and one listing proves nothing by its
// absences:
//   - an ENI the Manager deleted in the last settleWindow is ignored: the
//     listing shows the past;
//   - an association made moments before is listed late, the ENI showing
//     as an available interface meanwhile: one that a live pod names and
//     that is tagged with this trunk was associated (a pod is only given an
//     associated ENI), so it is kept, on the VLAN of its tag; and an
//     available one whose deletion EC2 refuses as in use is adopted the
//     same way;
//   - an ENI the pool holds that the listing lacks is kept when the Manager
//     made it in the last settleWindow, or when the previous listing had
//     it: only two listings in a row lacking it make the pool forget it;
//   - likewise a live pod is reported Missing only when two listings in a
//     row lacked its ENI, and never for an ENI EC2 gave the Manager in the
//     last settleWindow;
//   - an ENI it adopts that no live pod names may be one deleted moments
//     before: it is not reused until a listing confirmAfter later shows it
//     again (see confirm).
func (m *Manager) reconcileNode(ctx context.Context, n *node, nis []types.NetworkInterface, assocs map[string]types.TrunkInterfaceAssociation,
	pods []eni.LivePod, complete bool, listedAt time.Time) eni.ReconcileResult {
	info, pool, _, _ := n.state()
	named := make(map[string]eni.PodRef, len(pods))
	for _, lp := range pods {
		if lp.ENIID != "" {
			named[lp.ENIID] = lp.Pod
		}
	}
	var found []eni.Branch
	var stale []types.NetworkInterface
	var problems []string
	listed := make(map[string]bool, len(nis))
	for _, ni := range nis {
		id := aws.ToString(ni.NetworkInterfaceId)
		if ni.InterfaceType == types.NetworkInterfaceTypeTrunk || id == info.TrunkENIID || m.recent.wasDeleted(id) {
			continue
		}
		listed[id] = true
		a, associated := assocs[id]
		if ni.Status == types.NetworkInterfaceStatusAvailable {
			_, claimed := named[id]
			if tag, _ := tagValue(ni.TagSet, TagTrunkENIID); !claimed || tag != info.TrunkENIID {
				if !m.isInflight(id) {
					stale = append(stale, ni)
				}
				continue
			}
			associated = false // listed late: the VLAN is its tag's
		}
		b, ok, problem := m.branchOn(ni, a, associated, info)
		if problem != "" {
			problems = append(problems, problem)
		}
		if ok {
			found = append(found, b)
		}
	}
	if complete {
		for _, ni := range stale {
			id := aws.ToString(ni.NetworkInterfaceId)
			err := m.deleteENI(ctx, id, PriorityBackground)
			switch {
			case err == nil:
			case ErrorCode(err) == "InvalidNetworkInterface.InUse":
				// Associated after all, its association not listed yet.
				if b, ok, _ := m.branchOn(ni, types.TrunkInterfaceAssociation{}, false, info); ok {
					found = append(found, b)
				}
			default:
				problems = append(problems, fmt.Sprintf("branch ENI %s, created but never associated: %v; garbage collection will delete it", id, err))
			}
		}
	}

	// What the pool holds and this listing lacks, it keeps unless the
	// previous listing lacked it too.
	inFound := make(map[string]bool, len(found))
	for _, b := range found {
		inFound[b.ENI.ID] = true
	}
	unlisted := make(map[string]bool)
	for _, e := range pool.Entries() {
		id := e.Branch.ENI.ID
		if id == "" || inFound[id] || e.State == eni.StateCreating {
			continue
		}
		unlisted[id] = true
		if !n.unlisted[id] {
			found = append(found, e.Branch)
			inFound[id] = true
		}
	}
	for id := range named {
		if !inFound[id] && !listed[id] {
			unlisted[id] = true
		}
	}

	res := pool.Reconcile(eni.ReconcileInput{Found: found, Pods: pods, Complete: complete, ListedAt: listedAt,
		MadeAfter: listedAt.Add(-settleWindow), Unconfirmed: true})
	if res.Adopted > 0 && pool.Unconfirmed() {
		m.confirmLater(n)
	}
	enis := make(map[eni.PodRef]string, len(named))
	for id, pod := range named {
		enis[pod] = id
	}
	res.Missing = slices.DeleteFunc(res.Missing, func(pod eni.PodRef) bool {
		id, ok := enis[pod]
		return ok && !inFound[id] && !listed[id] && (!n.unlisted[id] || m.recent.young(id))
	})
	n.unlisted = unlisted
	res.Conflicts = append(res.Conflicts, problems...)
	for _, c := range res.Conflicts {
		m.log.Warn("reconcile conflict", "node", info.InstanceID, "conflict", c)
	}
	return res
}

// branchOn builds the pool's view of a branch ENI on info's trunk from
// EC2's description: the VLAN is the association's when associated is set,
// else the ENI's VLAN tag. ok is false for an ENI on another trunk or one
// whose description is unusable; problem then says why, unless it is on
// another trunk (not this node's to manage).
func (m *Manager) branchOn(ni types.NetworkInterface, a types.TrunkInterfaceAssociation, associated bool, info NodeInfo) (b eni.Branch, ok bool, problem string) {
	id := aws.ToString(ni.NetworkInterfaceId)
	trunkID, _ := tagValue(ni.TagSet, TagTrunkENIID)
	if associated {
		trunkID = aws.ToString(a.TrunkInterfaceId)
	}
	if trunkID != info.TrunkENIID {
		return eni.Branch{}, false, ""
	}
	vs, _ := tagValue(ni.TagSet, TagVLANID)
	vlan, err := strconv.Atoi(vs)
	if associated {
		// The association is EC2's own record; the tag only a copy.
		vlan, err = int(aws.ToInt32(a.VlanId)), nil
	}
	if err != nil || vlan < podeni.MinVLAN || vlan > eni.MaxBranchVLAN {
		return eni.Branch{}, false, fmt.Sprintf("branch ENI %s: tag %s=%q is not a VLAN ID from 1 to %d; left alone", id, TagVLANID, vs, eni.MaxBranchVLAN)
	}
	var gids []string
	for _, g := range ni.Groups {
		gids = append(gids, aws.ToString(g.GroupId))
	}
	groups, err := eni.ParseGroupSet(gids...)
	if err != nil {
		return eni.Branch{}, false, fmt.Sprintf("branch ENI %s: %v; left alone", id, err)
	}
	subnet := aws.ToString(ni.SubnetId)
	m.mu.Lock()
	cidr := m.subnets[subnet]
	m.mu.Unlock()
	pb, err := branchFromEC2(ni, vlan, cidr)
	if err != nil {
		return eni.Branch{}, false, fmt.Sprintf("%v; left alone", err)
	}
	pb.AssociationID = aws.ToString(a.AssociationId)
	return eni.Branch{ENI: pb, Groups: groups, Subnet: subnet}, true, ""
}

// parallel runs fn(0..n-1) on at most Options.Workers goroutines.
func (m *Manager) parallel(n int, fn func(i int)) {
	workers := min(n, m.opts.Workers)
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				fn(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}
