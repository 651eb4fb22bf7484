package trunk

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

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

// Reconcile rebuilds, or checks, the state of one node from EC2 and the
// node's live pods. It lists the node's branch ENIs with
// DescribeNetworkInterfaces filtered by the instance tag (1,000 per page),
// then:
//   - ENIs named by a live pod stay in use by that pod, on their VLAN;
//   - associated ENIs no live pod holds go to cool-down (then reuse or
//     deletion, per the policy);
//   - ENIs created but never associated are deleted.
//
// With complete false, nothing is sent towards deletion: ENIs no listed pod
// names are held until a reconcile with a complete list. Calls for the node
// wait while Reconcile runs.
func (m *Manager) Reconcile(ctx context.Context, instanceID string, pods []eni.LivePod, complete bool) (eni.ReconcileResult, error) {
	res, err := m.ReconcileAll(ctx, []NodePods{{InstanceID: instanceID, Pods: pods, Complete: complete}})
	return res[instanceID], err
}

// ReconcileAll reconciles many nodes at once, as after a restart. It costs
// about one DescribeInstances call per 200 new nodes, and one
// DescribeNetworkInterfaces call per 1,000 branch ENIs (nodes are listed 199
// at a time by the instance tag, listings running on Options.Workers
// goroutines). Errors of single nodes are joined; the other nodes are
// reconciled.
func (m *Manager) ReconcileAll(ctx context.Context, nodes []NodePods) (map[string]eni.ReconcileResult, error) {
	var errs []error
	var mu sync.Mutex
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}

	// Nodes: describe the new ones in batches and ensure their trunks.
	var fresh []string
	for _, np := range nodes {
		n := m.nodeFor(np.InstanceID)
		n.initMu.Lock()
		if n.pool == nil {
			fresh = append(fresh, np.InstanceID)
		}
		n.initMu.Unlock()
	}
	if len(fresh) > 0 {
		insts, err := m.describeInstances(ctx, fresh)
		if err != nil {
			return nil, fmt.Errorf("trunk: reconcile: %w", err)
		}
		subnets := make([]string, 0, len(insts))
		for _, in := range insts {
			subnets = append(subnets, in.subnet)
		}
		if err := m.loadSubnets(ctx, subnets); err != nil {
			return nil, fmt.Errorf("trunk: reconcile: %w", err)
		}
		m.parallel(len(fresh), func(i int) {
			id := fresh[i]
			inst, ok := insts[id]
			if !ok {
				fail(fmt.Errorf("trunk: reconcile node %s: %w: not running according to DescribeInstances", id, ErrUnknownNode))
				return
			}
			n := m.nodeFor(id)
			n.initMu.Lock()
			defer n.initMu.Unlock()
			if n.pool == nil {
				if _, err := m.initNode(ctx, n, inst); err != nil {
					fail(fmt.Errorf("trunk: reconcile node %s: %w", id, err))
				}
			}
		})
	}

	// Hold every ready node exclusively from listing to reconciling, so that
	// no ENI is created unseen in between.
	type target struct {
		np NodePods
		n  *node
	}
	var ts []target
	for _, np := range nodes {
		n := m.lookup(np.InstanceID)
		if n == nil {
			continue
		}
		n.initMu.Lock()
		ready := n.pool != nil
		n.initMu.Unlock()
		if ready {
			ts = append(ts, target{np, n})
		}
	}
	for _, t := range ts {
		t.n.opMu.Lock()
	}
	defer func() {
		for _, t := range ts {
			t.n.opMu.Unlock()
		}
	}()

	found := make(map[string][]types.NetworkInterface, len(ts))
	failed := make(map[string]bool)
	// EC2 takes at most maxFilterValues filter values per call, the cluster
	// tag's value included.
	const perList = maxFilterValues - 1
	batches := (len(ts) + perList - 1) / perList
	m.parallel(batches, func(i int) {
		var ids []string
		for _, t := range ts[i*perList : min(len(ts), (i+1)*perList)] {
			ids = append(ids, t.np.InstanceID)
		}
		local := map[string][]types.NetworkInterface{}
		err := m.listENIs(ctx, PriorityPodStart, []types.Filter{
			filter("tag:"+TagInstanceID, ids...),
			filter("tag:"+m.clusterTag(), "owned"),
		}, func(page []types.NetworkInterface) {
			for _, ni := range page {
				id, _ := tagValue(ni.TagSet, TagInstanceID)
				local[id] = append(local[id], ni)
			}
		})
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, fmt.Errorf("trunk: reconcile: listing the branch ENIs of %d nodes: %w", len(ids), err))
			for _, id := range ids {
				failed[id] = true
			}
			return
		}
		for _, id := range ids {
			found[id] = local[id]
		}
	})

	var subnets []string
	for _, nis := range found {
		for _, ni := range nis {
			subnets = append(subnets, aws.ToString(ni.SubnetId))
		}
	}
	if err := m.loadSubnets(ctx, subnets); err != nil {
		return nil, errors.Join(append(errs, fmt.Errorf("trunk: reconcile: %w", err))...)
	}

	results := make(map[string]eni.ReconcileResult, len(ts))
	m.parallel(len(ts), func(i int) {
		t := ts[i]
		if failed[t.np.InstanceID] {
			return
		}
		res, err := m.reconcileNode(ctx, t.n, found[t.np.InstanceID], t.np.Pods, t.np.Complete)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, fmt.Errorf("trunk: reconcile node %s: %w", t.np.InstanceID, err))
		}
		results[t.np.InstanceID] = res
	})
	return results, errors.Join(errs...)
}

// reconcileNode reconciles n's pool with the ENIs EC2 listed for it. n.opMu
// must be held exclusively.
func (m *Manager) reconcileNode(ctx context.Context, n *node, nis []types.NetworkInterface, pods []eni.LivePod, complete bool) (eni.ReconcileResult, error) {
	info := n.info
	var found []eni.Branch
	var stale []string
	var errs []error
	for _, ni := range nis {
		id := aws.ToString(ni.NetworkInterfaceId)
		if ni.InterfaceType == types.NetworkInterfaceTypeTrunk || id == info.TrunkENIID {
			continue
		}
		if ni.Status == types.NetworkInterfaceStatusAvailable {
			if !m.isInflight(id) {
				stale = append(stale, id)
			}
			continue
		}
		trunkID, _ := tagValue(ni.TagSet, TagTrunkENIID)
		if trunkID != info.TrunkENIID {
			continue // on another trunk: not this node's to manage
		}
		vs, _ := tagValue(ni.TagSet, TagVLANID)
		vlan, err := strconv.Atoi(vs)
		if err != nil || vlan < podeni.MinVLAN || vlan > eni.MaxBranchVLAN {
			errs = append(errs, fmt.Errorf("branch ENI %s: tag %s=%q is not a VLAN ID from 1 to %d; left alone", id, TagVLANID, vs, eni.MaxBranchVLAN))
			continue
		}
		var gids []string
		for _, g := range ni.Groups {
			gids = append(gids, aws.ToString(g.GroupId))
		}
		groups, err := eni.ParseGroupSet(gids...)
		if err != nil {
			errs = append(errs, fmt.Errorf("branch ENI %s: %w; left alone", id, err))
			continue
		}
		subnet := aws.ToString(ni.SubnetId)
		m.mu.Lock()
		cidr := m.subnets[subnet]
		m.mu.Unlock()
		b, err := branchFromEC2(ni, vlan, cidr)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w; left alone", err))
			continue
		}
		found = append(found, eni.Branch{ENI: b, Groups: groups, Subnet: subnet})
	}
	res := n.pool.Reconcile(eni.ReconcileInput{Found: found, Pods: pods, Complete: complete})
	for _, c := range res.Conflicts {
		m.log.Warn("reconcile conflict", "node", info.InstanceID, "conflict", c)
	}
	if complete {
		for _, id := range stale {
			if err := m.deleteENI(ctx, id, PriorityBackground); err != nil && ErrorCode(err) != "InvalidNetworkInterface.InUse" {
				errs = append(errs, fmt.Errorf("branch ENI %s created but never associated: %w", id, err))
			}
		}
	}
	return res, errors.Join(errs...)
}

func (m *Manager) isInflight(id string) bool {
	m.inflightMu.Lock()
	defer m.inflightMu.Unlock()
	return m.inflight[id] > 0
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
