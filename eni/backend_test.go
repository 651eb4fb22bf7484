package eni_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"

	"github.com/podsg/podsg/api/podeni"
	"github.com/podsg/podsg/eni"
)

// memBackend is a Backend that keeps ENIs in memory and records calls.
type memBackend struct {
	mu      sync.Mutex
	next    int
	enis    map[string]eni.Branch // live ENIs by ID
	vlans   map[int]string        // VLAN → ENI ID
	calls   map[string]int
	failOn  map[string]error // method → error returned (once per entry)
	doubt   bool             // CreateBranch reports an in-doubt ENI
	block   chan struct{}    // when set, CreateBranch waits for it
	entered chan struct{}    // when set, CreateBranch signals entry
}

func newMemBackend() *memBackend {
	return &memBackend{enis: map[string]eni.Branch{}, vlans: map[int]string{}, calls: map[string]int{}, failOn: map[string]error{}}
}

func (m *memBackend) fail(method string) error {
	err := m.failOn[method]
	delete(m.failOn, method)
	return err
}

func (m *memBackend) CreateBranch(ctx context.Context, req eni.CreateRequest) (podeni.BranchENI, error) {
	if m.entered != nil {
		m.entered <- struct{}{}
	}
	if m.block != nil {
		select {
		case <-m.block:
		case <-ctx.Done():
			return podeni.BranchENI{}, ctx.Err()
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls["create"]++
	m.next++
	b := podeni.BranchENI{
		ID:            fmt.Sprintf("eni-%08x", m.next),
		MAC:           podeni.MAC{2, 0, 0, 0, byte(m.next >> 8), byte(m.next)},
		PrivateIP:     netip.AddrFrom4([4]byte{10, 0, byte(m.next >> 8), byte(m.next)}),
		VLANID:        req.VLAN,
		SubnetCIDR:    netip.MustParsePrefix("10.0.0.0/16"),
		AssociationID: fmt.Sprintf("trunk-assoc-%08x", m.next),
	}
	if err := m.fail("create"); err != nil {
		if m.doubt {
			m.enis[b.ID] = eni.Branch{ENI: b, Groups: req.Key.Groups, Subnet: req.Key.Subnet}
			m.vlans[req.VLAN] = b.ID
			return podeni.BranchENI{}, &eni.InDoubtError{ENI: b, Err: err}
		}
		return podeni.BranchENI{}, err
	}
	if other, ok := m.vlans[req.VLAN]; ok {
		return podeni.BranchENI{}, fmt.Errorf("VLAN %d already used by %s", req.VLAN, other)
	}
	m.enis[b.ID] = eni.Branch{ENI: b, Groups: req.Key.Groups, Subnet: req.Key.Subnet}
	m.vlans[req.VLAN] = b.ID
	return b, nil
}

func (m *memBackend) DeleteBranch(ctx context.Context, b eni.Branch) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls["delete"]++
	if err := m.fail("delete"); err != nil {
		return err
	}
	if cur, ok := m.enis[b.ENI.ID]; ok {
		delete(m.vlans, cur.ENI.VLANID)
		delete(m.enis, b.ENI.ID)
	}
	return nil
}

func (m *memBackend) RetargetBranch(ctx context.Context, b eni.Branch, groups eni.GroupSet) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls["retarget"]++
	if err := m.fail("retarget"); err != nil {
		return err
	}
	cur, ok := m.enis[b.ENI.ID]
	if !ok {
		return errors.New("no such ENI")
	}
	cur.Groups = groups
	m.enis[b.ENI.ID] = cur
	return nil
}

func (m *memBackend) count(method string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls[method]
}

func (m *memBackend) live() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.enis)
}

func (m *memBackend) found() []eni.Branch {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]eni.Branch, 0, len(m.enis))
	for _, b := range m.enis {
		out = append(out, b)
	}
	return out
}
